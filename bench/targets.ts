/** The servers the bench compares, each started fresh for the run and stopped after it. */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../scripts/lib/free-port.js';
import { withMallocTuning } from '../service/src/malloc-tuning.js';
import type { Target } from './client.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');
export const RGW_DIR = path.resolve(ROOT, '..', 'shared', 'peers', 'rgw');

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up`);
}

export interface CofferOptions {
  dir: string;
  databaseUrl: string;
  postgresPid: number;
  env?: Record<string, string>;
  /** Another build's main.js (a checkout of an earlier commit), to compare two builds in one run. */
  entry?: string;
}

/** The built gateway (service/dist) over the run's embedded Postgres. */
export async function startCoffer(opts: CofferOptions): Promise<Target> {
  const { dir } = opts;
  const port = await freePort();
  // Later gateways of the run use the same database: they must find the same master key and credential.
  const credFile = path.join(dir, 'creds.json');
  if (!existsSync(credFile)) {
    await writeFile(path.join(dir, 'master.key'), randomBytes(32).toString('hex'));
    await writeFile(
      credFile,
      JSON.stringify([{ client_id: 'AKIABENCH', client_secret: randomBytes(20).toString('hex') }]),
    );
  }
  const [entry] = JSON.parse(await readFile(credFile, 'utf8')) as Array<{
    client_id: string;
    client_secret: string;
  }>;
  // BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof") profiles the gateway without touching the load generator.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, opts.entry ?? path.join(ROOT, 'service/dist/main.js')], {
    // As the image starts it (its Dockerfile sets GLIBC_TUNABLES), also with GATEWAY_WORKERS=1.
    env: withMallocTuning({
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dir, 'coffer-data'),
      MASTER_KEY_FILE: path.join(dir, 'master.key'),
      CREDENTIALS_FILE: credFile,
      DATABASE_URL: opts.databaseUrl,
      LOG_LEVEL: 'warn',
      ...opts.env,
    }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const endpoint = new URL(`http://127.0.0.1:${port}`);
  await waitHttp(`${endpoint}health`);
  return {
    name: 'coffer',
    endpoint,
    cred: { accessKeyId: entry!.client_id, secretAccessKey: entry!.client_secret },
    roots: async () => [proc.pid!, opts.postgresPid],
    pid: proc.pid!,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Several gateways on one database and data directory, as one target the client spreads requests over. */
export async function startCofferFleet(opts: CofferOptions, count: number): Promise<Target> {
  const gateways: Target[] = [];
  try {
    for (let i = 0; i < count; i++) gateways.push(await startCoffer(opts));
  } catch (err) {
    for (const g of gateways) await g.stop();
    throw err;
  }
  const first = gateways[0]!;
  return {
    name: `coffer ×${count}`,
    endpoint: first.endpoint,
    endpoints: gateways.map((g) => g.endpoint),
    cred: first.cred,
    roots: async () => [...new Set((await Promise.all(gateways.map((g) => g.roots()))).flat())],
    stop: async () => void (await Promise.all(gateways.map((g) => g.stop()))),
  };
}

/**
 * Coffer keeping its sealed blobs in a bucket of `store` (BLOB_BACKEND=s3): its CPU counts the store's
 * processes too, since they do the storing.
 */
export async function startCofferOver(opts: CofferOptions, store: Target): Promise<Target> {
  const keys = path.join(opts.dir, 'blob-store-keys.json');
  await writeFile(
    keys,
    JSON.stringify({ access_key_id: store.cred.accessKeyId, secret_access_key: store.cred.secretAccessKey }),
  );
  const coffer = await startCoffer({
    ...opts,
    env: {
      ...opts.env,
      BLOB_BACKEND: 's3',
      BLOB_S3_ENDPOINT: store.endpoint.origin,
      BLOB_S3_BUCKET: 'coffer-blobs',
      BLOB_S3_REGION: 'us-east-1',
      BLOB_S3_PREFIX: 'bench/',
      BLOB_S3_CREDENTIALS_FILE: keys,
    },
  });
  return {
    ...coffer,
    name: `coffer over ${store.name}`,
    roots: async () => [...(await coffer.roots()), ...(await store.roots())],
  };
}

/** bench/floor-server.ts: what the machine costs for the same requests with no server logic at all. */
export async function startFloor(opts: CofferOptions): Promise<Target> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench/floor-server.ts'), opts.dir, opts.databaseUrl, String(port)],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const endpoint = new URL(`http://127.0.0.1:${port}`);
  await waitHttp(endpoint.toString());
  return {
    name: 'floor',
    endpoint,
    cred: { accessKeyId: 'FLOOR', secretAccessKey: 'FLOOR' },
    roots: async () => [proc.pid!, opts.postgresPid],
    stop: async () => void proc.kill('SIGKILL'),
  };
}

export async function startS3rver(dir: string): Promise<Target> {
  const port = await freePort();
  const script = `import S3rver from 's3rver'; await new S3rver({ port: ${port}, address: '127.0.0.1', directory: ${JSON.stringify(
    path.join(dir, 's3rver-data'),
  )}, silent: true }).run();`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const endpoint = new URL(`http://127.0.0.1:${port}`);
  await waitHttp(endpoint.toString());
  return {
    name: 's3rver',
    endpoint,
    cred: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    roots: async () => [proc.pid!],
    stop: async () => void proc.kill('SIGKILL'),
  };
}

/**
 * Ceph RGW from ../shared/peers/rgw (a tool beside the project, not part of it): undefined, with the
 * reason, when Docker, the script or its image is missing.
 */
export async function startRgw(): Promise<Target | string> {
  const script = path.join(RGW_DIR, 'peer-rgw.sh');
  if (!existsSync(script)) return `skipped: ${RGW_DIR} is not beside this checkout`;
  try {
    await run('docker', ['image', 'inspect', 'peer/rgw:18']);
  } catch {
    return `skipped: no Docker engine or no peer/rgw:18 image (${script} build)`;
  }
  const port = await freePort();
  const { stdout } = await run(
    script,
    ['start', '--fresh', '--port', String(port), '--name', 'coffer-bench-rgw'],
    {
      timeout: 180_000,
    },
  );
  const keys = /access_key=(\S+) secret_key=(\S+)/.exec(stdout);
  if (!keys) throw new Error(`RGW did not report its keys: ${stdout}`);
  const pid = async () => {
    const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Pid}}', 'coffer-bench-rgw']);
    return [Number(stdout.trim())];
  };
  return {
    name: 'rgw',
    endpoint: new URL(`http://127.0.0.1:${port}`),
    cred: { accessKeyId: keys[1]!, secretAccessKey: keys[2]! },
    roots: pid,
    stop: async () => void (await run(script, ['stop', '--purge', '--name', 'coffer-bench-rgw'])),
  };
}
