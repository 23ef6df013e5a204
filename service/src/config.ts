import { readFile } from 'node:fs/promises';
import { parseCredentialsJson, type S3Credential } from './auth/credentials.js';
import { MasterKey } from './blobs/keys.js';

export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  dbPoolMax: number;
  dataDir: string;
  masterKey: MasterKey;
  credentials: S3Credential[];
  region: string;
  /** Host suffix for virtual-hosted style (bucket.DOMAIN); path style always works. */
  domain?: string;
  enforcePayloadVerification: boolean;
  inlineMaxBytes: number;
  gcIntervalSeconds: number;
  gcGraceSeconds: number;
  /** Incomplete multipart uploads older than this are aborted by the collector. */
  multipartExpiryHours: number;
  logLevel: string;
}

/** A configuration problem, reported as one line naming the setting. */
export class ConfigError extends Error {
  constructor(setting: string, problem: string) {
    super(`configuration: ${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw) || +raw < min || +raw > max) {
    throw new ConfigError(name, `must be an integer between ${min} and ${max} (got '${raw}')`);
  }
  return +raw;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `must be true or false (got '${env[name]}')`);
}

async function readSecretFile(setting: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(setting, `points at ${file}, which cannot be read (${code ?? String(err)})`);
  }
}

/** `NAME` or, as the official Postgres image does, `NAME_FILE` naming a secret file that holds it. */
async function secret(env: Env, name: string): Promise<string> {
  const file = env[`${name}_FILE`];
  if (file) return (await readSecretFile(`${name}_FILE`, file)).toString('utf8').trim();
  const value = env[name];
  if (value) return value;
  throw new ConfigError(`${name}_FILE`, 'is not set (or set ' + name + ')');
}

function required(env: Env, name: string): string {
  const v = env[name];
  if (!v) throw new ConfigError(name, 'is not set');
  return v;
}

export async function loadConfig(env: Env): Promise<Config> {
  const masterKeyFile = required(env, 'MASTER_KEY_FILE');
  let masterKey: MasterKey;
  try {
    masterKey = MasterKey.parse(await readSecretFile('MASTER_KEY_FILE', masterKeyFile));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('MASTER_KEY_FILE', `(${masterKeyFile}) ${(err as Error).message}`);
  }
  const credentialsFile = required(env, 'CREDENTIALS_FILE');
  let credentials: S3Credential[];
  try {
    credentials = parseCredentialsJson(
      (await readSecretFile('CREDENTIALS_FILE', credentialsFile)).toString('utf8'),
    );
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('CREDENTIALS_FILE', `(${credentialsFile}) ${(err as Error).message}`);
  }
  const databaseUrl = await secret(env, 'DATABASE_URL');
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL');
  }
  const region = env.S3_REGION || 'us-east-1';
  if (!/^[a-z0-9-]{1,32}$/.test(region))
    throw new ConfigError('S3_REGION', `is not a valid region name ('${region}')`);
  const domain = env.S3_DOMAIN?.trim().toLowerCase() || undefined;
  if (domain && !/^[a-z0-9.-]+$/.test(domain))
    throw new ConfigError('S3_DOMAIN', `is not a host name ('${domain}')`);
  return {
    host: env.HOST || '0.0.0.0',
    port: int(env, 'PORT', 3000, 0, 65535),
    databaseUrl,
    dbPoolMax: int(env, 'DB_POOL_MAX', 20, 2, 500),
    dataDir: required(env, 'DATA_DIR'),
    masterKey,
    credentials,
    region,
    domain,
    enforcePayloadVerification: bool(env, 'ENFORCE_PAYLOAD_VERIFICATION', true),
    inlineMaxBytes: int(env, 'INLINE_MAX_BYTES', 128 * 1024, 0, 4 * 1024 * 1024),
    gcIntervalSeconds: int(env, 'GC_INTERVAL_SECONDS', 600, 0, 86400 * 7),
    gcGraceSeconds: int(env, 'GC_GRACE_SECONDS', 3600, 0, 86400 * 7),
    multipartExpiryHours: int(env, 'MULTIPART_EXPIRY_HOURS', 24 * 7, 1, 24 * 365),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
