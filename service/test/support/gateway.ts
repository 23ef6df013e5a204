import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../scripts/lib/embedded-postgres.js';
import { freePort } from '../../../scripts/lib/free-port.js';
import { buildGateway, type Gateway } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { apiKeyDigest, newApiKey } from '../../src/crypto/api-keys.js';
import { hashPassword } from '../../src/management/password.js';

export interface TestCredential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface TestAdmin {
  username: string;
  password: string;
  apiKey: string;
}

export interface TestEnv {
  pg: RunningPostgres;
  admin: TestAdmin;
  dir: string;
  env: Record<string, string>;
  creds: TestCredential[];
  stop(): Promise<void>;
}

/** Real Postgres plus the secret files a deployment would mount, in a throw-away directory. */
export async function createTestEnv(extra: Record<string, string> = {}): Promise<TestEnv> {
  const pg = await startEmbeddedPostgres({ port: await freePort() });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-test-'));
  const creds: TestCredential[] = [
    { accessKeyId: 'AKIATESTPRIMARY0001', secretAccessKey: randomBytes(20).toString('base64') },
    { accessKeyId: 'AKIATESTSECOND00002', secretAccessKey: randomBytes(20).toString('base64') },
  ];
  await writeFile(path.join(dir, 'master.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  await writeFile(
    path.join(dir, 'credentials.json'),
    JSON.stringify(creds.map((c) => ({ client_id: c.accessKeyId, client_secret: c.secretAccessKey }))),
    { mode: 0o600 },
  );
  await writeFile(path.join(dir, 'database_url.txt'), pg.url, { mode: 0o600 });
  const admin: TestAdmin = {
    username: 'admin',
    password: randomBytes(12).toString('base64url'),
    apiKey: newApiKey(),
  };
  await writeFile(
    path.join(dir, 'admin.json'),
    JSON.stringify({
      username: admin.username,
      password_hash: await hashPassword(admin.password),
      api_key_sha256: apiKeyDigest(admin.apiKey),
    }),
    { mode: 0o600 },
  );
  const env = {
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: path.join(dir, 'data'),
    MASTER_KEY_FILE: path.join(dir, 'master.key'),
    CREDENTIALS_FILE: path.join(dir, 'credentials.json'),
    DATABASE_URL_FILE: path.join(dir, 'database_url.txt'),
    ADMIN_FILE: path.join(dir, 'admin.json'),
    LOG_LEVEL: 'warn',
    GC_INTERVAL_SECONDS: '0',
    ...extra,
  };
  return {
    pg,
    admin,
    dir,
    env,
    creds,
    async stop() {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningGateway {
  gateway: Gateway;
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export async function startGateway(
  env: Record<string, string>,
  logStream?: { write(line: string): void },
): Promise<RunningGateway> {
  const gateway = await buildGateway(await loadConfig(env), logStream);
  await gateway.app.listen({ host: '127.0.0.1', port: Number(env.PORT ?? 0) });
  const { port } = gateway.app.server.address() as AddressInfo;
  return { gateway, port, endpoint: `http://127.0.0.1:${port}`, close: () => gateway.app.close() };
}

/**
 * Turns a test environment into a compliance archive: writes the ingest and reader keys file and sets
 * PRESET with `settings` (ARCHIVE_BUCKETS, ARCHIVE_RETENTION_DAYS, ...) and what the preset demands.
 */
export async function makeArchive(
  env: TestEnv,
  names: { ingest: string; reader: string },
  settings: Record<string, string>,
): Promise<{ ingest: TestCredential; reader: TestCredential }> {
  const ingest = { accessKeyId: names.ingest, secretAccessKey: randomBytes(24).toString('base64') };
  const reader = { accessKeyId: names.reader, secretAccessKey: randomBytes(24).toString('base64') };
  const file = path.join(env.dir, 'archive.json');
  const entry = (c: TestCredential) => ({ client_id: c.accessKeyId, client_secret: c.secretAccessKey });
  await writeFile(file, JSON.stringify({ ingest: entry(ingest), reader: entry(reader) }), { mode: 0o600 });
  Object.assign(env.env, {
    PRESET: 'compliance-archive',
    ARCHIVE_CREDENTIALS_FILE: file,
    SIGV2_ENABLED: 'false',
    ...settings,
  });
  return { ingest, reader };
}

export interface GatewayProcess {
  process: ChildProcess;
  endpoint: string;
  /** SIGKILL by default: a crash, not a shutdown. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The compiled gateway (dist/main.js) in its own process, as deployed, once /health answers on `port`. */
export async function startGatewayProcess(
  env: Record<string, string>,
  port: number,
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../dist/main.js')], {
    env: { ...process.env, ...env, PORT: String(port), GATEWAY_WORKERS: '1' },
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${endpoint}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    process: child,
    endpoint,
    stop: (signal = 'SIGKILL') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}
