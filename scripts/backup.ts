/** scripts/backup: a consistent snapshot of the running deployment into a directory, while it serves. */
import { composeFile, deployOptions, requireDocker, requireRunning } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { backupDeployment, readPassphrase } from './lib/backup.js';

const { values: argv } = parseCli({
  usage: `usage: npm run backup -- --to DIR|REMOTE:PATH [--with-master-key [--passphrase-file FILE]]

Takes a snapshot while the gateway keeps serving: the metadata (pg_dump, one snapshot) into
DIR/snapshots/<time>/, and into DIR/blobs/ every sealed blob that snapshot references, as stored
(still encrypted). A later backup into the same DIR copies only blobs it does not hold yet.
REMOTE:PATH is an rclone remote from your rclone config (another S3 store, say): only the blobs it
lacks are staged in .coffer-build/ and uploaded, before the snapshot that needs them.

The master key is not in the backup unless --with-master-key: then it is sealed under a passphrase
(at least 12 characters; typed twice, or the first line of --passphrase-file). Without it, a restore
needs the key from credentials.json.`,
  options: {
    ...DEPLOY_OPTIONS,
    to: { type: 'string' },
    'with-master-key': { type: 'boolean' },
    'passphrase-file': { type: 'string' },
  },
});
if (!argv.to) fail('--to DIR is required: where the backup goes');
if (argv['passphrase-file'] && !argv['with-master-key'])
  fail('--passphrase-file seals the master key, which only --with-master-key puts into the backup');
await requireDocker();
const o = deployOptions(argv);
await requireRunning(o.project);
const r = await (async () => {
  const passphrase = argv['with-master-key']
    ? await readPassphrase(argv['passphrase-file'] as string | undefined, 'seal')
    : undefined;
  return backupDeployment(ROOT, await composeFile(o), { to: String(argv.to), passphrase });
})().catch((err: Error) => fail(err.message));
console.log(`
${r.summary}
backup:     ${r.dir}/snapshots/${r.name}
master key: ${r.withMasterKey ? 'in the backup, sealed under your passphrase' : 'not in the backup; restoring needs the one in credentials.json'}
restore:    npm run down -- --purge-data, then npm run restore -- --from ${r.dir}, then npm run up`);
