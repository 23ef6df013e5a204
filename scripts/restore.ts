/** scripts/restore: a backup's snapshot into an empty deployment, which `npm run up` then starts. */
import path from 'node:path';
import {
  composeFile,
  deploymentSecrets,
  deployOptions,
  existingDataVolume,
  requireDocker,
  saveSettings,
} from './lib/deploy.js';
import { fail, step } from './lib/exec.js';
import { buildImages, ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import {
  chooseSnapshot,
  fetchSnapshot,
  isRemote,
  provideMasterKeys,
  readPassphrase,
  restoreDeployment,
} from './lib/backup.js';

const { values: argv } = parseCli({
  usage: `usage: npm run restore -- --from DIR|REMOTE:PATH [--snapshot NAME] [--passphrase-file FILE]

Restores the newest snapshot in DIR, or in an rclone remote's REMOTE:PATH (or --snapshot NAME) into this deployment while it is down and
its volumes are empty (npm run down -- --purge-data), keeping secrets/ (made by setup-credentials when
missing). When the key file lacks the master key the snapshot's data is wrapped by, the backup's sealed
copy is opened with the passphrase (typed, or the first line of --passphrase-file) and that key is added
after the existing ones. Stopped part-way, run it again. Then: npm run up.`,
  options: {
    ...DEPLOY_OPTIONS,
    from: { type: 'string' },
    snapshot: { type: 'string' },
    'passphrase-file': { type: 'string' },
  },
});
if (!argv.from) fail('--from DIR is required: the backup to restore (a directory or an rclone REMOTE:PATH)');
await requireDocker();
const o = deployOptions(argv);
const from = String(argv.from);
const done = await (async () => {
  // A remote backup is fetched first: the snapshot and exactly the blobs it references.
  const fetched = isRemote(from)
    ? await fetchSnapshot(ROOT, from, argv.snapshot as string | undefined)
    : undefined;
  const dir = fetched?.dir ?? path.resolve(from);
  try {
    return await restoreFrom(
      dir,
      fetched?.snapshot ?? (await chooseSnapshot(dir, argv.snapshot as string | undefined)),
    );
  } finally {
    await fetched?.cleanup();
  }
})().catch((err: Error) => fail(err.message));

async function restoreFrom(dir: string, snapshot: Awaited<ReturnType<typeof chooseSnapshot>>) {
  step('secrets');
  await deploymentSecrets(ROOT, o, await existingDataVolume(o.project));
  const added = await provideMasterKeys(ROOT, dir, snapshot, () =>
    readPassphrase(argv['passphrase-file'] as string | undefined, 'open'),
  );
  if (added.length)
    step(`master key ${added.join(', ')} from the backup added to the key file and credentials.json`);
  await saveSettings(ROOT, o);
  await buildImages(o);
  return { summary: await restoreDeployment(await composeFile(o), dir, snapshot), added };
}
console.log(`
${done.summary}
Start it with npm run up.${
  done.added.length
    ? `\nThe key file now holds the backup's master key after this deployment's own; npm run rotate-master-key
moves everything under the first and retires the rest. Copy credentials.json offline again.`
    : ''
}`);
