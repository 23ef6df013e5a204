/** scripts/rotate-master-key: a new master key for the running deployment, everything rewrapped online. */
import path from 'node:path';
import { composeFile, deployOptions, requireDocker } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { rotateMasterKey } from './lib/rotate-master-key.js';

const { values: argv } = parseCli({
  usage: `usage: npm run rotate-master-key

Makes a new master key and moves every wrapped data key and sealed secret under it while the
deployment serves; object data is not rewritten. The new key goes into credentials.json first (the
backup from before is kept as credentials.before-<key id>.json), then into secrets/ ahead of the old
one; the old key is retired once nothing refers to it. Stopped at any point, run it again: it finishes
the same rotation.`,
  options: { ...DEPLOY_OPTIONS },
});
await requireDocker();
const o = deployOptions(argv);
const r = await rotateMasterKey(ROOT, await composeFile(o)).catch((err: Error) => fail(err.message));
console.log(`
master key ${r.current} is in use; ${r.retired.join(', ')} retired (nothing refers to ${r.retired.length > 1 ? 'them' : 'it'}).
credentials.json now backs up the new key: copy it offline again. The backup from before the rotation
is ${path.relative(ROOT, r.keptBackup)}; keep it until your offline copy holds the new key.`);
