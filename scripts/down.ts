/** scripts/down: stops the deployment; data volumes stay unless --purge-data, confirmed. */
import { createInterface } from 'node:readline/promises';
import { compose, composeFile, deployOptions, requireDocker } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { leftBehind, purgeRefusal } from './lib/purge.js';
import { defaultRcloneConfigPath } from './lib/rclone.js';

const { values: argv } = parseCli({
  usage: `usage: npm run down -- [--purge-data [--yes]]

Stops and removes the containers. Objects and Postgres stay in their volumes for the next up.
--purge-data also deletes the volumes: every stored object is gone. It asks for confirmation on a
terminal; --yes confirms for scripts. A compliance archive's data is never purged.`,
  options: { ...DEPLOY_OPTIONS, 'purge-data': { type: 'boolean' }, yes: { type: 'boolean' } },
});
const o = deployOptions(argv);
const purge = Boolean(argv['purge-data']);
if (argv.yes && !purge) fail('--yes confirms --purge-data, which was not given');
// With metadata or blobs outside the volumes, a purge deletes only what the volumes hold.
const purged =
  o.externalPostgres || o.blobStore
    ? "this deployment's volumes (what the external Postgres or the blob store holds stays)"
    : 'every stored object and the metadata database';
if (purge) {
  const refusal = purgeRefusal(o);
  if (refusal) fail(refusal);
  if (!argv.yes) {
    if (!process.stdin.isTTY) fail(`--purge-data deletes ${purged}: confirm on a terminal, or pass --yes`);
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await rl.question(`This deletes ${purged} for good. Type "delete" to go on: `);
    rl.close();
    if (answer.trim() !== 'delete') fail('not confirmed; nothing was removed');
  }
}
await requireDocker();
const file = await composeFile(o);
const r = await compose(file, ['down', ...(purge ? ['--volumes'] : [])], { quiet: false });
if (r.exitCode !== 0) fail(`docker compose down failed: ${r.stderr.trim().split('\n').pop()}`);
if (purge) {
  console.log('\nThe data volumes are deleted. Left behind, on purpose:');
  for (const line of leftBehind(await defaultRcloneConfigPath(), o.project, o)) console.log(`  - ${line}`);
}
