/**
 * scripts/render-openapi — writes service/openapi.json, the management API's OpenAPI document as the
 * gateway serves it (generated from the route schemas), and the console's types generated from it. Tests
 * fail when either checked-in copy drifts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildGateway } from '../service/src/app.js';
import { loadConfig } from '../service/src/config.js';
import { createTestEnv } from '../service/test/support/gateway.js';
import { API_TYPES_FILE, renderApiTypes } from './lib/api-types.js';
import { ROOT } from './lib/images.js';

// The document comes from a real gateway's routes, so it needs a throw-away database to start one.
const env = await createTestEnv({ LOG_LEVEL: 'error' });
try {
  const { app } = await buildGateway(await loadConfig(env.env));
  await app.ready();
  const file = path.join(ROOT, 'service/openapi.json');
  const document = app.swagger();
  await writeFile(file, JSON.stringify(document, null, 2) + '\n');
  await app.close();
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
  // Through JSON, as a client reads the file: the generator must see exactly what is checked in.
  await writeFile(
    path.join(ROOT, API_TYPES_FILE),
    await renderApiTypes(JSON.parse(JSON.stringify(document))),
  );
  console.log(`wrote ${API_TYPES_FILE}`);
} finally {
  await env.stop();
}
