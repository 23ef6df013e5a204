/** scripts/down: stops the deployment; data volumes stay unless --purge-data. */
import { compose, composeFile, deployOptions, requireDocker } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run down -- [--purge-data]

Stops and removes the containers. Objects and Postgres stay in their volumes for the next up.
--purge-data also deletes the volumes: every stored object is gone.`,
  options: { ...DEPLOY_OPTIONS, 'purge-data': { type: 'boolean' } },
});
await requireDocker();
const file = await composeFile(deployOptions(argv));
const r = await compose(file, ['down', ...(argv['purge-data'] ? ['--volumes'] : [])], { quiet: false });
if (r.exitCode !== 0) fail(`docker compose down failed: ${r.stderr.trim().split('\n').pop()}`);
