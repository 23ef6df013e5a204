/**
 * scripts/render-openapi — writes service/openapi.json, the management API's OpenAPI document as the
 * gateway serves it (generated from the route schemas). A test fails when the checked-in copy drifts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildGateway } from '../service/src/app.js';
import { loadConfig } from '../service/src/config.js';
import { createTestEnv } from '../service/test/support/gateway.js';
import { ROOT } from './lib/images.js';

// The document comes from a real gateway's routes, so it needs a throw-away database to start one.
const env = await createTestEnv({ LOG_LEVEL: 'error' });
try {
  const { app } = await buildGateway(await loadConfig(env.env));
  await app.ready();
  const file = path.join(ROOT, 'service/openapi.json');
  await writeFile(file, JSON.stringify(app.swagger(), null, 2) + '\n');
  await app.close();
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
} finally {
  await env.stop();
}
