/** scripts/sync: push, pull or two-way sync between a local directory (or rclone remote) and Coffer. */
import os from 'node:os';
import path from 'node:path';
import {
  intervalMs,
  intervalProblem,
  SYNC_DIRECTIONS,
  type SyncDirection,
} from '../service/src/parse/sync-job.js';
import { rcloneFailure, rcloneWith } from '../service/src/transfer/rclone.js';
import { syncOnce } from '../service/src/transfer/sync.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { deployOptions, type DeployOptions } from './lib/deploy.js';
import { deploymentRemote } from './lib/deployment-remote.js';
import { fail, OperatorError } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { applySyncJobs, withJob, withoutJob } from './lib/sync-service.js';

const USAGE = `usage: npm run sync -- push|pull|two-way LOCAL_OR_REMOTE coffer:BUCKET[/PATH]
       [--after-copy keep|delete] [--every 15m [--install NAME]]
       npm run sync -- --uninstall NAME | --list

push      makes coffer:BUCKET/PATH what LOCAL is: new and changed files copied, files gone from LOCAL deleted
pull      the other way round
two-way   keeps new, changed and deleted files of both sides (rclone bisync; the first run takes both
          sides as they are). Its listings are kept in ~/.local/state/coffer-sync

--after-copy delete (push or pull): moves instead, deleting each source file once its copy arrived;
nothing is deleted at the destination. --every runs again at that interval until stopped (Ctrl-C).
LOCAL_OR_REMOTE is a directory or an rclone remote from your rclone config; "coffer:" (the deployment's
project name) is this deployment, with its first credential.

--install NAME runs the sync inside the deployment instead, as the service sync-NAME, every --every,
surviving restarts and reboots: LOCAL must then be a directory on this host, which the service reads and
writes as the directory's owner. It is kept in deployment.json (a later up keeps it); npm run logs --
sync-NAME shows its runs, and its health turns unhealthy while its last run failed. --uninstall NAME
stops and forgets it (the directory and the bucket stay as they are); --list shows the installed ones.`;

const { values: argv, positionals } = parseCli({
  usage: USAGE,
  options: {
    ...DEPLOY_OPTIONS,
    'after-copy': { type: 'string' },
    every: { type: 'string' },
    install: { type: 'string' },
    uninstall: { type: 'string' },
    list: { type: 'boolean' },
  },
  positionals: true,
});
const o = deployOptions(argv);

/** The scheduled syncs the deployment runs, one per line. */
function list(): void {
  if (!o.syncJobs.length) console.log('no scheduled sync is installed (npm run sync -- ... --install NAME)');
  for (const j of o.syncJobs)
    console.log(
      `sync-${j.name}: ${j.direction} ${j.hostDir} ${o.project}:${j.target} every ${j.every}` +
        (j.afterCopy === 'delete' ? ', deleting each source file once copied' : ''),
    );
}

const run = async () => {
  if (argv.list || argv.uninstall !== undefined) {
    if (positionals.length || argv.install !== undefined)
      throw new OperatorError('--list and --uninstall take no sync to run');
    if (argv.list) return list();
    const name = String(argv.uninstall);
    await applySyncJobs(ROOT, o, withoutJob(o, name), name);
    console.log(`sync-${name} is stopped and forgotten; ${o.project} and the directory are as they were`);
    return;
  }
  const [direction, other, coffer, ...rest] = positionals;
  if (!SYNC_DIRECTIONS.includes(direction as SyncDirection) || !other || !coffer || rest.length)
    throw new OperatorError('usage: npm run sync -- push|pull|two-way LOCAL_OR_REMOTE coffer:BUCKET[/PATH]');
  if (!coffer.startsWith(`${o.project}:`) || coffer.length === o.project.length + 1)
    throw new OperatorError(`the Coffer side must be ${o.project}:BUCKET[/PATH] (got ${coffer})`);
  const afterCopy = String(argv['after-copy'] ?? 'keep');
  if (afterCopy !== 'keep' && afterCopy !== 'delete')
    throw new OperatorError('--after-copy takes keep or delete');
  const every = argv.every === undefined ? undefined : String(argv.every);
  const everyProblem = every === undefined ? undefined : intervalProblem(every);
  if (everyProblem) throw new OperatorError(`--every ${everyProblem}`);
  const isRemote = /^[\w.-]+:/.test(other);
  const target = coffer.slice(o.project.length + 1);
  const install = argv.install === undefined ? undefined : String(argv.install);
  let next: DeployOptions | undefined;
  if (install !== undefined) {
    if (every === undefined) throw new OperatorError('--install needs --every: how often the service runs');
    if (isRemote)
      throw new OperatorError(
        '--install needs a directory on this host; an rclone remote syncs with --every',
      );
    next = withJob(o, {
      name: install,
      direction: direction as SyncDirection,
      hostDir: path.resolve(other),
      target,
      afterCopy,
      every,
    });
  }
  const rclone = await rcloneWith({ cofferdest: await deploymentRemote(ROOT, o) });
  try {
    if (install !== undefined && next) {
      // A push makes its bucket; a pull or two-way would only report a missing one as failed runs: say it now.
      const bucket = target.split('/')[0]!;
      const probe =
        direction === 'push'
          ? undefined
          : await rclone.run(['lsf', '--max-depth', '1', '--dirs-only', `cofferdest:${bucket}`]);
      if (probe && probe.code !== 0)
        throw new OperatorError(`${o.project}:${bucket} cannot be listed: ${rcloneFailure(probe.stderr)}`);
      await applySyncJobs(ROOT, o, next, install);
      console.log(`sync-${install} runs every ${every}; npm run logs -- sync-${install} shows its runs`);
      return;
    }
    const once = async () => {
      const started = Date.now();
      const r = await syncOnce({
        rclone,
        direction: direction as SyncDirection,
        other: isRemote ? other : path.resolve(other),
        coffer: `cofferdest:${target}`,
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
    await once();
    if (every === undefined) return;
    for (;;) {
      await new Promise((r) => setTimeout(r, intervalMs(every)));
      // A failed run is reported and the schedule goes on: the next run picks up where it stopped.
      await once().catch((err: Error) => console.error(`coffer: ${err.message}`));
    }
  } finally {
    await rclone.close();
  }
};
await run().catch((err: Error) => fail(err.message));
