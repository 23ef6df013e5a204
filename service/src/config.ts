import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import {
  parseArchiveKeys,
  parseCredentialsJson,
  type ArchiveKeys,
  type S3Credential,
} from './auth/credentials.js';
import type { AdminSeed, LoginPolicy } from './management/admin-store.js';
import { isPasswordHash } from './management/password.js';
import { BLOB_BACKENDS, type BlobBackendKind } from './blobs/backends.js';
import type { S3BackendSettings } from './blobs/s3-backend.js';
import { blobStoreProblems, DEFAULT_BLOB_PREFIX } from './parse/blob-store.js';
import { MasterKey } from './crypto/master-key.js';
import type { RequestLimits } from './http/request-limits.js';
import type { DeliverySettings } from './events/worker.js';
import { parseWebhooksFile, type NewTarget } from './parse/webhook-targets.js';
import type { DatabaseLimits } from './db/database.js';
import { integerIn } from './parse/integer.js';
import {
  ARCHIVE_DEFAULTS,
  ARCHIVE_RETENTION_MODES,
  archivePresetProblems,
  MAX_RETENTION_DAYS,
  PRESETS,
  type ArchivePreset,
} from './parse/archive-preset.js';

export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  database: DatabaseLimits;
  dataDir: string;
  /** The certificate clients are served (TLS_CERT_FILE), read at each scrape for its expiry; optional. */
  tlsCertFile?: string;
  /** Where sealed object data lives (BLOB_BACKEND); `fs` keeps it under dataDir. */
  blobBackend: BlobBackendKind;
  /** BLOB_DIRECT_IO: `auto` writes (and reads large) blob files with O_DIRECT where the filesystem takes it. */
  blobDirectIo: 'auto' | 'off';
  /** The remote store of BLOB_BACKEND=s3 (BLOB_S3_*); its keys come from a secret file. */
  blobStore?: S3BackendSettings;
  masterKey: MasterKey;
  /** Started on older keys besides the current one, rewrap under it in the background (REWRAP_ON_START). */
  rewrapOnStart: boolean;
  credentials: S3Credential[];
  region: string;
  /** Host suffix for virtual-hosted style (bucket.DOMAIN); path style always works. */
  domain?: string;
  enforcePayloadVerification: boolean;
  /** Signature Version 2 (header and query string), which aws CLI v1, boto3 and s3cmd presign with. */
  signatureV2: boolean;
  /**
   * Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (addresses, CIDRs, or loopback,
   * linklocal, uniquelocal): aws:SourceIp and aws:SecureTransport come from them.
   */
  trustProxy: string[];
  /**
   * What new buckets start with: `current` is AWS's since 2023 (ACLs disabled, public access blocked),
   * `legacy` the earlier one older tools and Ceph RGW assume (ACLs honoured, nothing blocked).
   */
  bucketDefaults: 'current' | 'legacy';
  inlineMaxBytes: number;
  /** Gateway processes sharing the port (GATEWAY_WORKERS); 1 serves from this process. */
  workers: number;
  /** Threads that digest large bodies beside the event loop; 0 keeps every digest on it. */
  digestThreads: number;
  /** Threads that decrypt large downloads beside the event loop; 0 decrypts every read on it. */
  decryptThreads: number;
  gcIntervalSeconds: number;
  gcGraceSeconds: number;
  /** How often stored bytes are sampled for the console's chart; 0 samples never. */
  usageSampleSeconds: number;
  /** Incomplete multipart uploads older than this are aborted by the collector. */
  multipartExpiryHours: number;
  /** Bucket lifecycle rules: how often they are applied, and how long their "day" is. */
  lifecycle: { intervalMs: number; dayMs: number; maxActions: number };
  /** Bucket event delivery to webhook targets: polling, timeout, retry backoff and when to give up. */
  events: DeliverySettings;
  /** Webhook targets the deployment declares (WEBHOOKS_FILE); undefined leaves them to admins. */
  webhooks?: NewTarget[];
  /** The audit trail: reads recorded too, how long records are kept, how often its head is exported. */
  audit: { reads: boolean; retentionDays: number; headFile: string; headIntervalMs: number };
  logLevel: string;
  limits: RequestLimits;
  /** The first admin and its API key (digests only), from ADMIN_FILE; undefined leaves the admins table as is. */
  admin?: AdminSeed;
  login: LoginPolicy;
  /** PRESET=compliance-archive: the archive buckets and keys the gateway keeps as the preset says. */
  archive?: { preset: ArchivePreset; keys: ArchiveKeys };
}

/** TRUST_PROXY: a comma-separated list of addresses, CIDR ranges or proxy-addr's range names. */
function trustedProxies(env: Env): string[] {
  const items = (env.TRUST_PROXY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    const [address, bits] = item.split('/');
    const version = isIP(address ?? '');
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(item);
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (version === 6 ? 128 : 32));
    if (!named && (!version || !okBits))
      throw new ConfigError(
        'TRUST_PROXY',
        `has '${item}', which is not an address, a CIDR range or loopback/linklocal/uniquelocal`,
      );
  }
  return items;
}

/** A configuration problem, reported as one line naming the setting. */
export class ConfigError extends Error {
  constructor(setting: string, problem: string) {
    super(`configuration: ${setting} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Default decrypt threads: the cores but one, at most 4, and at least two from two cores on. */
function decryptThreadsFor(cores: number): number {
  return Math.min(4, Math.max(Math.min(2, cores), cores - 1));
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = integerIn(raw, min, max);
  if (n === undefined)
    throw new ConfigError(name, `must be an integer between ${min} and ${max} (got '${raw}')`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw))
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got '${raw}')`);
  return raw as T;
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

/** ADMIN_FILE: `{"username", "password_hash", "api_key_sha256"}` as setup-credentials writes it. */
export function parseAdminSeed(text: string): AdminSeed {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error('is not valid JSON');
  }
  if (typeof data.username !== 'string' || !/^[A-Za-z0-9._@-]{1,128}$/.test(data.username))
    throw new Error('needs a username of 1-128 letters, digits or ._@-');
  if (typeof data.password_hash !== 'string' || !isPasswordHash(data.password_hash))
    throw new Error('needs a password_hash in scrypt$N$r$p$salt$hash form');
  if (data.api_key_sha256 !== undefined && !/^[0-9a-f]{64}$/.test(String(data.api_key_sha256)))
    throw new Error('api_key_sha256 must be 64 hex digits');
  return {
    username: data.username,
    passwordHash: data.password_hash,
    apiKeySha256: data.api_key_sha256 as string | undefined,
  };
}

/**
 * BLOB_BACKEND=s3's store: BLOB_S3_ENDPOINT, BLOB_S3_BUCKET, BLOB_S3_REGION (us-east-1), BLOB_S3_PREFIX
 * (blobs/) and BLOB_S3_CREDENTIALS_FILE, a secret file `{"access_key_id", "secret_access_key"}`.
 */
async function blobStore(env: Env): Promise<S3BackendSettings> {
  const store = {
    endpoint: required(env, 'BLOB_S3_ENDPOINT'),
    bucket: required(env, 'BLOB_S3_BUCKET'),
    region: env.BLOB_S3_REGION || 'us-east-1',
    prefix: env.BLOB_S3_PREFIX ?? DEFAULT_BLOB_PREFIX,
  };
  const [problem] = blobStoreProblems(store);
  if (problem) throw new ConfigError('BLOB_S3_*', problem);
  const file = required(env, 'BLOB_S3_CREDENTIALS_FILE');
  let keys: { access_key_id?: unknown; secret_access_key?: unknown };
  try {
    keys = JSON.parse((await readSecretFile('BLOB_S3_CREDENTIALS_FILE', file)).toString('utf8'));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('BLOB_S3_CREDENTIALS_FILE', `(${file}) is not valid JSON`);
  }
  if (typeof keys.access_key_id !== 'string' || typeof keys.secret_access_key !== 'string')
    throw new ConfigError('BLOB_S3_CREDENTIALS_FILE', `(${file}) needs access_key_id and secret_access_key`);
  return { ...store, accessKeyId: keys.access_key_id, secretAccessKey: keys.secret_access_key };
}

export async function loadConfig(env: Env): Promise<Config> {
  const blobBackend = oneOf(env, 'BLOB_BACKEND', BLOB_BACKENDS, 'fs');
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
  const adminFile = env.ADMIN_FILE;
  let admin: AdminSeed | undefined;
  if (adminFile) {
    try {
      admin = parseAdminSeed((await readSecretFile('ADMIN_FILE', adminFile)).toString('utf8'));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('ADMIN_FILE', `(${adminFile}) ${(err as Error).message}`);
    }
  }
  const webhooksFile = env.WEBHOOKS_FILE || undefined;
  let webhooks: NewTarget[] | undefined;
  if (webhooksFile) {
    try {
      webhooks = parseWebhooksFile((await readSecretFile('WEBHOOKS_FILE', webhooksFile)).toString('utf8'));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError('WEBHOOKS_FILE', `(${webhooksFile}) ${(err as Error).message}`);
    }
  }
  const tlsCertFile = env.TLS_CERT_FILE || undefined;
  if (tlsCertFile) {
    try {
      new X509Certificate(await readSecretFile('TLS_CERT_FILE', tlsCertFile));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(
        'TLS_CERT_FILE',
        `(${tlsCertFile}) is not a PEM certificate: ${(err as Error).message}`,
      );
    }
  }
  const archive = await archiveSettings(env);
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
    database: {
      poolMax: int(env, 'DB_POOL_MAX', 20, 2, 500),
      connectTimeoutMs: int(env, 'DB_CONNECT_TIMEOUT_SECONDS', 5, 1, 600) * 1000,
      acquireTimeoutMs: int(env, 'DB_ACQUIRE_TIMEOUT_SECONDS', 5, 1, 600) * 1000,
      statementTimeoutMs: int(env, 'DB_STATEMENT_TIMEOUT_SECONDS', 15, 1, 3600) * 1000,
    },
    dataDir: required(env, 'DATA_DIR'),
    tlsCertFile,
    blobBackend,
    blobDirectIo: oneOf(env, 'BLOB_DIRECT_IO', ['auto', 'off'] as const, 'auto'),
    blobStore: blobBackend === 's3' ? await blobStore(env) : undefined,
    masterKey,
    rewrapOnStart: bool(env, 'REWRAP_ON_START', true),
    credentials,
    region,
    domain,
    enforcePayloadVerification: bool(env, 'ENFORCE_PAYLOAD_VERIFICATION', true),
    signatureV2: bool(env, 'SIGV2_ENABLED', true),
    trustProxy: trustedProxies(env),
    bucketDefaults: oneOf(env, 'BUCKET_DEFAULTS', ['current', 'legacy'] as const, 'current'),
    inlineMaxBytes: int(env, 'INLINE_MAX_BYTES', 128 * 1024, 0, 4 * 1024 * 1024),
    workers: int(env, 'GATEWAY_WORKERS', availableParallelism(), 1, 256),
    // One core stays the event loop's: on two cores, one thread for MD5 and SHA-256 together beat two.
    digestThreads: int(env, 'DIGEST_THREADS', Math.max(1, Math.min(4, availableParallelism() - 1)), 0, 64),
    // A download keeps two batches being opened: two threads open them side by side even on two cores.
    decryptThreads: int(env, 'DECRYPT_THREADS', decryptThreadsFor(availableParallelism()), 0, 64),
    gcIntervalSeconds: int(env, 'GC_INTERVAL_SECONDS', 600, 0, 86400 * 7),
    gcGraceSeconds: int(env, 'GC_GRACE_SECONDS', 3600, 0, 86400 * 7),
    usageSampleSeconds: int(env, 'USAGE_SAMPLE_SECONDS', 300, 0, 86400),
    multipartExpiryHours: int(env, 'MULTIPART_EXPIRY_HOURS', 24 * 7, 1, 24 * 365),
    lifecycle: {
      intervalMs: int(env, 'LIFECYCLE_INTERVAL_SECONDS', 3600, 0, 86400) * 1000,
      dayMs: int(env, 'LIFECYCLE_DAY_SECONDS', 86400, 1, 86400) * 1000,
      maxActions: int(env, 'LIFECYCLE_MAX_ACTIONS', 10_000, 1, 1_000_000),
    },
    events: {
      pollMs: int(env, 'EVENT_POLL_MS', 1000, 50, 60_000),
      timeoutMs: int(env, 'EVENT_TIMEOUT_SECONDS', 10, 1, 300) * 1000,
      retryBaseMs: int(env, 'EVENT_RETRY_BASE_MS', 1000, 10, 3_600_000),
      retryMaxMs: int(env, 'EVENT_RETRY_MAX_SECONDS', 300, 1, 86400) * 1000,
      giveUpMs: int(env, 'EVENT_GIVE_UP_SECONDS', 86400, 1, 30 * 86400) * 1000,
      concurrency: int(env, 'EVENT_CONCURRENCY', 8, 1, 256),
    },
    audit: {
      reads: bool(env, 'AUDIT_READS', false),
      retentionDays: int(env, 'AUDIT_RETENTION_DAYS', 365, 1, 36500),
      headFile: env.AUDIT_HEAD_FILE || path.join(required(env, 'DATA_DIR'), 'audit-head.json'),
      headIntervalMs: int(env, 'AUDIT_HEAD_INTERVAL_SECONDS', 60, 1, 86400) * 1000,
    },
    logLevel: env.LOG_LEVEL || 'info',
    limits: {
      headersTimeoutMs: int(env, 'HEADERS_TIMEOUT_SECONDS', 30, 1, 3600) * 1000,
      bodyIdleTimeoutMs: int(env, 'BODY_IDLE_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
      smallBodyTimeoutMs: int(env, 'SMALL_BODY_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
    },
    admin,
    webhooks,
    archive,
    login: {
      maxFailures: int(env, 'LOGIN_MAX_FAILURES', 5, 1, 100),
      lockSeconds: int(env, 'LOGIN_LOCK_SECONDS', 900, 1, 86400),
      sessionSeconds: int(env, 'SESSION_HOURS', 8, 1, 24 * 30) * 3600,
    },
  };
}

/**
 * PRESET=compliance-archive with ARCHIVE_BUCKETS, ARCHIVE_RETENTION_MODE, ARCHIVE_RETENTION_DAYS and
 * ARCHIVE_CREDENTIALS_FILE. The settings the preset depends on must agree with it: a deployment that
 * says "compliance archive" and accepts SigV2 or unverified payloads does not start.
 */
async function archiveSettings(env: Env): Promise<{ preset: ArchivePreset; keys: ArchiveKeys } | undefined> {
  const name = oneOf(env, 'PRESET', ['none', ...PRESETS] as const, 'none');
  if (name === 'none') {
    for (const setting of ['ARCHIVE_BUCKETS', 'ARCHIVE_RETENTION_MODE', 'ARCHIVE_RETENTION_DAYS'])
      if (env[setting]) throw new ConfigError(setting, 'is set, but PRESET is not compliance-archive');
    return undefined;
  }
  const preset: ArchivePreset = {
    buckets: (env.ARCHIVE_BUCKETS ?? ARCHIVE_DEFAULTS.buckets.join(','))
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    retentionMode: oneOf(
      env,
      'ARCHIVE_RETENTION_MODE',
      ARCHIVE_RETENTION_MODES,
      ARCHIVE_DEFAULTS.retentionMode,
    ),
    retentionDays: int(env, 'ARCHIVE_RETENTION_DAYS', ARCHIVE_DEFAULTS.retentionDays, 1, MAX_RETENTION_DAYS),
  };
  const [problem] = archivePresetProblems(preset);
  if (problem) throw new ConfigError('ARCHIVE_BUCKETS', problem);
  const demands: Array<[string, boolean, string]> = [
    ['SIGV2_ENABLED', bool(env, 'SIGV2_ENABLED', true), 'false'],
    ['ENFORCE_PAYLOAD_VERIFICATION', !bool(env, 'ENFORCE_PAYLOAD_VERIFICATION', true), 'true'],
    ['BUCKET_DEFAULTS', env.BUCKET_DEFAULTS === 'legacy', 'current'],
  ];
  for (const [setting, wrong, wanted] of demands)
    if (wrong) throw new ConfigError(setting, `must be ${wanted} with PRESET=compliance-archive`);
  const auditDays = int(env, 'AUDIT_RETENTION_DAYS', 365, 1, 36500);
  if (auditDays < preset.retentionDays)
    throw new ConfigError(
      'AUDIT_RETENTION_DAYS',
      `(${auditDays}) must be at least ARCHIVE_RETENTION_DAYS (${preset.retentionDays}) with PRESET=compliance-archive`,
    );
  const file = required(env, 'ARCHIVE_CREDENTIALS_FILE');
  try {
    return {
      preset,
      keys: parseArchiveKeys((await readSecretFile('ARCHIVE_CREDENTIALS_FILE', file)).toString('utf8')),
    };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('ARCHIVE_CREDENTIALS_FILE', `(${file}) ${(err as Error).message}`);
  }
}
