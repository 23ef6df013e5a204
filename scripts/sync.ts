/** scripts/sync: push, pull or two-way sync between a local directory (or rclone remote) and Coffer. */
import os from 'node:os';
import path from 'node:path';
import { deployOptions } from './lib/deploy.js';
import { deploymentRemote } from './lib/deployment-remote.js';
import { fail, OperatorError } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { rcloneWith } from './lib/rclone-transfer.js';
import { DIRECTIONS, parseEvery, syncOnce, type SyncDirection } from './lib/sync.js';

const { values: argv, positionals } = parseCli({
  usage: `usage: npm run sync -- push|pull|two-way LOCAL_OR_REMOTE coffer:BUCKET[/PATH]
       [--after-copy keep|delete] [--every 15m]

push      makes coffer:BUCKET/PATH what LOCAL is: new and changed files copied, files gone from LOCAL deleted
pull      the other way round
two-way   keeps new, changed and deleted files of both sides (rclone bisync; the first run takes both
          sides as they are). Its listings are kept in ~/.local/state/coffer-sync

--after-copy delete (push or pull): moves instead, deleting each source file once its copy arrived;
nothing is deleted at the destination. --every runs again at that interval until stopped (Ctrl-C).
LOCAL_OR_REMOTE is a directory or an rclone remote from your rclone config; "coffer:" (the deployment's
project name) is this deployment, with its first credential.`,
  options: {
    ...DEPLOY_OPTIONS,
    'after-copy': { type: 'string' },
    every: { type: 'string' },
  },
  positionals: true,
});
const o = deployOptions(argv);
const run = async () => {
  const [direction, other, coffer, ...rest] = positionals;
  if (!DIRECTIONS.includes(direction as SyncDirection) || !other || !coffer || rest.length)
    throw new OperatorError('usage: npm run sync -- push|pull|two-way LOCAL_OR_REMOTE coffer:BUCKET[/PATH]');
  if (!coffer.startsWith(`${o.project}:`) || coffer.length === o.project.length + 1)
    throw new OperatorError(`the Coffer side must be ${o.project}:BUCKET[/PATH] (got ${coffer})`);
  const afterCopy = String(argv['after-copy'] ?? 'keep');
  if (afterCopy !== 'keep' && afterCopy !== 'delete')
    throw new OperatorError('--after-copy takes keep or delete');
  const every = argv.every === undefined ? undefined : parseEvery(String(argv.every));
  const rclone = await rcloneWith({ cofferdest: await deploymentRemote(ROOT, o) });
  const once = async () => {
    const started = Date.now();
    const r = await syncOnce({
      rclone,
      direction: direction as SyncDirection,
      other: /^[\w.-]+:/.test(other) ? other : path.resolve(other),
      coffer: `cofferdest:${coffer.slice(o.project.length + 1)}`,
      afterCopy,
      stateDir: path.join(
        process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local/state'),
        'coffer-sync',
      ),
      say: (line) => console.log(`• ${line}`),
    });
    console.log(
      `${new Date().toISOString()} ${direction}: ${r.copied} copied, ${r.deleted} deleted (${Math.round((Date.now() - started) / 1000)} s)`,
    );
  };
  try {
    await once();
    if (every === undefined) return;
    for (;;) {
      await new Promise((r) => setTimeout(r, every));
      // A failed run is reported and the schedule goes on: the next run picks up where it stopped.
      await once().catch((err: Error) => console.error(`coffer: ${err.message}`));
    }
  } finally {
    await rclone.close();
  }
};
await run().catch((err: Error) => fail(err.message));
