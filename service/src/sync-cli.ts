/**
 * A scheduled sync inside the deployment (its service sync-NAME runs this): a directory mounted from the
 * host kept in step with BUCKET[/PATH] through nginx over TLS, every SYNC_EVERY, until stopped. Each run's
 * outcome is one line on stdout and the status file the service's healthcheck reads.
 */
import { readFileSync } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCredentialsJson } from './auth/credentials.js';
import { fail } from './cli-support.js';
import { intervalMs, syncJobProblems, type SyncJob } from './parse/sync-job.js';
import { rcloneWith } from './transfer/rclone.js';
import { syncOnce } from './transfer/sync.js';

const STATUS_FILE = '/run/coffer-sync/status';

interface Setup {
  job: SyncJob;
  endpoint: string;
  region: string;
  credentialsFile: string;
  caFile: string;
  stateDir: string;
  statusFile: string;
}

/** The job as the topology put it in the environment; a missing or wrong setting stops the service. */
function setupFromEnv(env: NodeJS.ProcessEnv): Setup {
  const need = (name: string) => {
    const v = env[name];
    if (!v) fail(`configuration: ${name} is not set`, 78);
    return v;
  };
  const job: SyncJob = {
    name: need('SYNC_NAME'),
    direction: need('SYNC_DIRECTION') as SyncJob['direction'],
    hostDir: need('SYNC_LOCAL'),
    target: need('SYNC_TARGET'),
    afterCopy: (env.SYNC_AFTER_COPY ?? 'keep') as SyncJob['afterCopy'],
    every: need('SYNC_EVERY'),
  };
  const [problem] = syncJobProblems([job]);
  if (problem) fail(`configuration: ${problem}`, 78);
  return {
    job,
    endpoint: need('S3_ENDPOINT'),
    region: env.S3_REGION ?? 'us-east-1',
    credentialsFile: need('CREDENTIALS_FILE'),
    caFile: need('CA_FILE'),
    stateDir: need('SYNC_STATE_DIR'),
    statusFile: env.SYNC_STATUS_FILE ?? STATUS_FILE,
  };
}

async function writeStatus(file: string, line: string): Promise<void> {
  await writeFile(`${file}.new`, line + '\n');
  await rename(`${file}.new`, file);
}

/** rclone bisync leaves a lock when stopped mid-run; this service is the only one using its state directory. */
async function clearStaleLocks(dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  for (const e of entries) if (e.endsWith('.lck')) await rm(path.join(dir, e), { force: true });
}

async function main(): Promise<void> {
  const s = setupFromEnv(process.env);
  let cred;
  try {
    [cred] = parseCredentialsJson(readFileSync(s.credentialsFile, 'utf8'));
  } catch (err) {
    fail(`configuration: ${s.credentialsFile} ${(err as Error).message}`, 78);
  }
  const every = intervalMs(s.job.every)!;
  const rclone = await rcloneWith({
    coffer: {
      endpoint: s.endpoint,
      region: s.region,
      accessKeyId: cred!.accessKeyId,
      secretAccessKey: cred!.secretAccessKey,
      caFile: s.caFile,
    },
  });
  await clearStaleLocks(s.stateDir);
  let running: Promise<void> | undefined;
  let stopping = false;
  // docker stop gives ten seconds: a run in progress gets most of them to finish, then the service ends.
  process.once('SIGTERM', () => {
    stopping = true;
    void Promise.race([running, new Promise((r) => setTimeout(r, 8000))]).then(async () => {
      await rclone.close();
      process.exit(0);
    });
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `sync ${s.job.name}: ${s.job.direction} ${s.job.hostDir} and coffer:${s.job.target} every ${s.job.every}` +
      (s.job.afterCopy === 'delete' ? ', deleting each source file once copied' : ''),
  );
  while (!stopping) {
    const started = Date.now();
    running = syncOnce({
      rclone,
      direction: s.job.direction,
      other: s.job.hostDir,
      coffer: `coffer:${s.job.target}`,
      afterCopy: s.job.afterCopy,
      stateDir: s.stateDir,
      say: (line) => say(`sync ${s.job.name}: ${line}`),
    }).then(
      async (r) => {
        const line = `ok ${new Date().toISOString()} ${r.copied} copied, ${r.deleted} deleted (${Math.round((Date.now() - started) / 1000)} s)`;
        say(`sync ${s.job.name}: ${line}`);
        await writeStatus(s.statusFile, line);
      },
      // A failed run is reported and the schedule goes on: the next run picks up where it stopped.
      async (err: Error) => {
        const line = `failed ${new Date().toISOString()} ${err.message}`;
        say(`sync ${s.job.name}: ${line}`);
        await writeStatus(s.statusFile, line);
      },
    );
    await running;
    running = undefined;
    if (!stopping) await new Promise((r) => setTimeout(r, every));
  }
}

await main().catch((err: Error) => fail(err.message));
