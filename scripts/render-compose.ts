/** Writes docker-compose.yaml from stacks/topology.ts (default options). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { topology } from '../stacks/topology.js';
import { renderCompose } from './lib/compose.js';

const out = path.resolve(import.meta.dirname, '..', 'docker-compose.yaml');
await writeFile(out, renderCompose(topology()));
console.log(`wrote ${path.relative(process.cwd(), out) || out}`);
