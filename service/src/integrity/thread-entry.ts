import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread's module beside the module at `base`: the compiled one, or from TypeScript sources
 * (tests, tsx), where there is none, an entry that registers tsx before loading the source.
 */
export function threadEntry(base: string, name: string): { filename: string | URL; options: WorkerOptions } {
  const compiled = new URL(`./${name}.js`, base);
  if (existsSync(fileURLToPath(compiled))) return { filename: compiled, options: {} };
  const source = JSON.stringify(new URL(`./${name}.ts`, base).href);
  return {
    filename: `import('tsx/esm/api').then(({ register }) => { register(); return import(${source}); });`,
    options: { eval: true },
  };
}
