/**
 * The stack's configuration (namespace `coffer`), typed and validated in one place so that `pulumi up`
 * stops before creating anything when a value is wrong, with every problem named by its config key.
 */
import { isIP } from 'node:net';
import {
  ARCHIVE_DEFAULTS,
  ARCHIVE_RETENTION_MODES,
  archivePresetProblems,
  MAX_RETENTION_DAYS,
  PRESETS,
  type ArchivePreset,
  type ArchiveRetentionMode,
} from '../service/src/parse/archive-preset.js';
import { blobStoreProblems, DEFAULT_BLOB_PREFIX, type BlobStore } from '../service/src/parse/blob-store.js';
import { databaseUrlProblem } from '../service/src/parse/database-url.js';
import { parseWebhooksFile } from '../service/src/parse/webhook-targets.js';
import { syncJobProblems, type SyncJob } from '../service/src/parse/sync-job.js';
import {
  BUCKET_DEFAULTS,
  DEFAULT_OPTIONS,
  MAX_GATEWAYS,
  TLS_VERSIONS,
  type BucketDefaults,
  type TlsVersion,
} from './topology.js';

export interface DeploymentConfig {
  /** Container, network and volume names start with this. */
  project: string;
  domain: string;
  extraHostNames: string[];
  extraIps: string[];
  httpsPort: number;
  httpPort: number;
  /** Address nginx's published ports bind to (0.0.0.0 = every interface). */
  bindAddress: string;
  /** A host directory holding the object data, or undefined for a Docker-managed named volume. */
  dataPath?: string;
  postgresDataPath?: string;
  imageTag: string;
  region: string;
  enforcePayloadVerification: boolean;
  signatureV2: boolean;
  bucketDefaults: BucketDefaults;
  tlsMinVersion: TlsVersion;
  /** coffer:preset compliance-archive, with coffer:archiveBuckets, archiveRetentionMode, archiveRetentionDays. */
  preset?: ArchivePreset;
  /** Prometheus with Coffer's alert rules, published on 127.0.0.1:monitoringPort only. */
  monitoring: boolean;
  monitoringPort: number;
  /** coffer:syncJobs: scheduled syncs between host directories and paths in this deployment. */
  syncJobs: SyncJob[];
  /** coffer:blobStore: sealed blobs in a remote S3-compatible store, with the secrets blobStoreAccessKeyId and blobStoreSecretAccessKey. */
  blobStore?: BlobStore;
  blobStoreAccessKeyId?: string;
  blobStoreSecretAccessKey?: string;
  /** coffer:gateways: gateway replicas behind nginx (1 to MAX_GATEWAYS). */
  gateways: number;
  /** coffer:databaseUrl (secret): a Postgres the operator runs (HA with their tools); no bundled one then. */
  databaseUrl?: string;
  /** coffer:webhooks (secret): the webhook targets the deployment declares, as a webhooks file's JSON array. */
  webhooks?: string;
  /** A compose deployment's secrets/ directory whose credentials, master key and CA to keep. */
  secretsDir?: string;
  masterKey?: string;
  /**
   * Keys a rotation moves away from (coffer:previousMasterKeys): they only unwrap, while the gateway rewraps
   * everything under masterKey in the background; removed once its log says nothing refers to them.
   */
  previousMasterKeys: string[];
  postgresPassword?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** Values as `pulumi.Config` hands them over: strings, or already-parsed YAML values. */
export type RawConfig = Record<string, unknown>;

export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'StackConfigError';
  }
}

/** Keys read from the stack, so the program can ask `pulumi.Config` for exactly these. */
export const CONFIG_KEYS = [
  'project',
  'domain',
  'extraHostNames',
  'extraIps',
  'httpsPort',
  'httpPort',
  'bindAddress',
  'dataPath',
  'postgresDataPath',
  'imageTag',
  'region',
  'enforcePayloadVerification',
  'signatureV2',
  'bucketDefaults',
  'tlsMinVersion',
  'preset',
  'archiveBuckets',
  'archiveRetentionMode',
  'archiveRetentionDays',
  'monitoring',
  'monitoringPort',
  'syncJobs',
  'blobStore',
  'blobStoreAccessKeyId',
  'blobStoreSecretAccessKey',
  'gateways',
  'databaseUrl',
  'webhooks',
  'secretsDir',
  'masterKey',
  'previousMasterKeys',
  'postgresPassword',
  'accessKeyId',
  'secretAccessKey',
] as const;

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const isHostName = (v: string) =>
  v.length <= 253 &&
  v
    .toLowerCase()
    .split('.')
    .every((l) => HOST_LABEL.test(l));

export function parseDeploymentConfig(raw: RawConfig): DeploymentConfig {
  const problems: string[] = [];
  const bad = (key: string, why: string, got: unknown) =>
    problems.push(`coffer:${key} ${why} (got ${JSON.stringify(got)})`);
  const present = (key: string) => raw[key] !== undefined && raw[key] !== '';

  const str = (key: string, def: string, valid: (v: string) => boolean, why: string): string => {
    if (!present(key)) return def;
    const v = raw[key];
    if (typeof v !== 'string' || !valid(v)) {
      bad(key, why, v);
      return def;
    }
    return v;
  };
  const optional = (key: string, valid: (v: string) => boolean, why: string): string | undefined =>
    present(key) ? str(key, '', valid, why) || undefined : undefined;
  const integer = (key: string, def: number, max: number, why: string): number => {
    if (!present(key)) return def;
    const n = typeof raw[key] === 'string' ? Number(raw[key]) : raw[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) {
      bad(key, why, raw[key]);
      return def;
    }
    return n;
  };
  const port = (key: string, def: number) => integer(key, def, 65535, 'must be a port number 1-65535');
  const list = (key: string, valid: (v: string) => boolean, why: string): string[] => {
    if (!present(key)) return [];
    const given = raw[key];
    let v: unknown = given;
    if (typeof given === 'string') {
      // `pulumi config set --path 'coffer:extraIps[0]'` stores JSON; a plain `a,b` list is accepted too.
      try {
        v = JSON.parse(given);
      } catch {
        v = given.split(',').map((x) => x.trim());
      }
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && valid(x))) {
      bad(key, why, raw[key]);
      return [];
    }
    return v as string[];
  };
  const bool = (key: string, def: boolean): boolean => {
    if (!present(key)) return def;
    const v = raw[key];
    if (v === true || v === 'true') return true;
    if (v === false || v === 'false') return false;
    bad(key, 'must be true or false', v);
    return def;
  };
  /** The preset and its settings; the settings it turns off must not be asked for explicitly. */
  const preset = (): ArchivePreset | undefined => {
    const name = str(
      'preset',
      'none',
      (v) => v === 'none' || (PRESETS as readonly string[]).includes(v),
      `must be ${PRESETS.join(', ')} or none`,
    );
    const tuning = ['archiveBuckets', 'archiveRetentionMode', 'archiveRetentionDays'].filter(present);
    if (name === 'none') {
      for (const key of tuning) problems.push(`coffer:${key} needs coffer:preset compliance-archive`);
      return undefined;
    }
    const buckets = present('archiveBuckets')
      ? list('archiveBuckets', () => true, 'must be a list of bucket names')
      : ARCHIVE_DEFAULTS.buckets;
    const p: ArchivePreset = {
      buckets,
      retentionMode: str(
        'archiveRetentionMode',
        ARCHIVE_DEFAULTS.retentionMode,
        (v) => (ARCHIVE_RETENTION_MODES as readonly string[]).includes(v),
        `must be ${ARCHIVE_RETENTION_MODES.join(' or ')}`,
      ) as ArchiveRetentionMode,
      retentionDays: integer(
        'archiveRetentionDays',
        ARCHIVE_DEFAULTS.retentionDays,
        MAX_RETENTION_DAYS,
        `must be a number of days from 1 to ${MAX_RETENTION_DAYS}`,
      ),
    };
    for (const problem of archivePresetProblems(p))
      problems.push(`coffer:preset compliance-archive: ${problem}`);
    const contradictions: Array<[string, unknown]> = [
      ['signatureV2', true],
      ['enforcePayloadVerification', false],
      ['bucketDefaults', 'legacy'],
      ['tlsMinVersion', '1.2'],
    ];
    for (const [key, value] of contradictions)
      if (present(key) && String(raw[key]) === String(value))
        problems.push(`coffer:${key} ${String(value)} contradicts coffer:preset compliance-archive`);
    return p;
  };
  /** A list of jobs, as YAML in the stack file or JSON from `pulumi config set`. */
  const syncJobs = (): SyncJob[] => {
    if (!present('syncJobs')) return [];
    let v = raw.syncJobs;
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v);
      } catch {
        bad('syncJobs', 'must be a list of {name, direction, hostDir, target, afterCopy, every}', v);
        return [];
      }
    }
    if (!Array.isArray(v) || !v.every((j) => typeof j === 'object' && j !== null)) {
      bad('syncJobs', 'must be a list of {name, direction, hostDir, target, afterCopy, every}', v);
      return [];
    }
    const jobs = (v as Array<Record<string, unknown>>).map((j): SyncJob => ({
      name: String(j.name ?? ''),
      direction: String(j.direction ?? '') as SyncJob['direction'],
      hostDir: String(j.hostDir ?? ''),
      target: String(j.target ?? ''),
      afterCopy: String(j.afterCopy ?? 'keep') as SyncJob['afterCopy'],
      every: String(j.every ?? ''),
    }));
    for (const problem of syncJobProblems(jobs)) problems.push(`coffer:syncJobs: ${problem}`);
    return jobs;
  };
  /** An object {endpoint, bucket, region?, prefix?}, as YAML in the stack file or JSON from `pulumi config set`. */
  // Its value holds a password: a problem is named without it.
  const databaseUrl = (): string | undefined => {
    if (!present('databaseUrl')) return undefined;
    const v = raw.databaseUrl;
    const why = typeof v === 'string' ? databaseUrlProblem(v) : 'must be a string';
    if (!why) return (v as string).trim();
    problems.push(`coffer:databaseUrl ${why} (the value is not shown: it holds a password)`);
    return undefined;
  };
  // Its value holds the targets' secrets: a problem is named without them (parseWebhooksFile never echoes one).
  const webhooks = (): string | undefined => {
    if (!present('webhooks')) return undefined;
    const v = raw.webhooks;
    try {
      if (typeof v !== 'string') throw new Error('must be a JSON array, as text');
      parseWebhooksFile(v);
      return v;
    } catch (err) {
      problems.push(`coffer:webhooks ${(err as Error).message}`);
      return undefined;
    }
  };
  const blobStore = (): BlobStore | undefined => {
    if (!present('blobStore')) return undefined;
    let v = raw.blobStore;
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v);
      } catch {
        v = undefined;
      }
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      bad('blobStore', 'must be {endpoint, bucket, region, prefix}', raw.blobStore);
      return undefined;
    }
    const o = v as Record<string, unknown>;
    const store: BlobStore = {
      endpoint: String(o.endpoint ?? ''),
      bucket: String(o.bucket ?? ''),
      region: String(o.region ?? 'us-east-1'),
      prefix: String(o.prefix ?? DEFAULT_BLOB_PREFIX),
    };
    for (const problem of blobStoreProblems(store)) problems.push(`coffer:blobStore ${problem}`);
    return store;
  };
  const absolute = (v: string) => v.startsWith('/') && !v.split('/').includes('..');

  const config: DeploymentConfig = {
    project: str('project', 'coffer', (v) => /^[a-z][a-z0-9-]{0,30}$/.test(v), 'must be a lower-case name'),
    domain: str('domain', DEFAULT_OPTIONS.domain, isHostName, 'must be a DNS host name'),
    extraHostNames: list('extraHostNames', isHostName, 'must be a list of DNS host names'),
    extraIps: list('extraIps', (v) => isIP(v) !== 0, 'must be a list of IP addresses'),
    httpsPort: port('httpsPort', DEFAULT_OPTIONS.httpsPort),
    httpPort: port('httpPort', DEFAULT_OPTIONS.httpPort),
    bindAddress: str('bindAddress', '0.0.0.0', (v) => isIP(v) !== 0, 'must be an IP address'),
    dataPath: optional('dataPath', absolute, 'must be an absolute host path'),
    postgresDataPath: optional('postgresDataPath', absolute, 'must be an absolute host path'),
    imageTag: str(
      'imageTag',
      DEFAULT_OPTIONS.imageTag,
      (v) => /^[\w][\w.-]{0,127}$/.test(v) && v !== 'latest',
      'must be a pinned image tag, not "latest"',
    ),
    region: str(
      'region',
      DEFAULT_OPTIONS.region,
      (v) => /^[a-z]{2}(-[a-z0-9]+)+$/.test(v),
      'must be like us-east-1',
    ),
    enforcePayloadVerification: bool(
      'enforcePayloadVerification',
      DEFAULT_OPTIONS.enforcePayloadVerification,
    ),
    signatureV2: bool('signatureV2', DEFAULT_OPTIONS.signatureV2),
    bucketDefaults: str(
      'bucketDefaults',
      DEFAULT_OPTIONS.bucketDefaults,
      (v) => (BUCKET_DEFAULTS as readonly string[]).includes(v),
      `must be one of ${BUCKET_DEFAULTS.join(', ')}`,
    ) as BucketDefaults,
    tlsMinVersion: str(
      'tlsMinVersion',
      DEFAULT_OPTIONS.tlsMinVersion,
      (v) => (TLS_VERSIONS as readonly string[]).includes(v),
      `must be one of ${TLS_VERSIONS.join(', ')}`,
    ) as TlsVersion,
    monitoring: bool('monitoring', DEFAULT_OPTIONS.monitoring),
    monitoringPort: port('monitoringPort', DEFAULT_OPTIONS.monitoringPort),
    syncJobs: syncJobs(),
    blobStore: blobStore(),
    blobStoreAccessKeyId: optional('blobStoreAccessKeyId', (v) => v.trim() !== '', 'must not be empty'),
    blobStoreSecretAccessKey: optional(
      'blobStoreSecretAccessKey',
      (v) => v.trim() !== '',
      'must not be empty',
    ),
    gateways: integer(
      'gateways',
      DEFAULT_OPTIONS.gateways,
      MAX_GATEWAYS,
      `must be a whole number 1-${MAX_GATEWAYS}`,
    ),
    databaseUrl: databaseUrl(),
    webhooks: webhooks(),
    secretsDir: optional('secretsDir', (v) => v.trim() !== '', 'must be a directory'),
    masterKey: optional(
      'masterKey',
      (v) => /^[0-9a-f]{64}$/i.test(v.trim()),
      'must be 64 hex digits (32 bytes)',
    ),
    previousMasterKeys: list(
      'previousMasterKeys',
      (v) => /^[0-9a-f]{64}$/i.test(v.trim()),
      'must be a list of master keys (64 hex digits each)',
    ).map((k) => k.trim().toLowerCase()),
    postgresPassword: optional('postgresPassword', (v) => v.length >= 12, 'must be at least 12 characters'),
    accessKeyId: optional(
      'accessKeyId',
      (v) => /^[A-Z0-9]{16,128}$/.test(v),
      'must be 16-128 upper-case letters or digits',
    ),
    secretAccessKey: optional('secretAccessKey', (v) => v.length >= 30, 'must be at least 30 characters'),
  };
  config.preset = preset();
  if (config.blobStore && (!config.blobStoreAccessKeyId || !config.blobStoreSecretAccessKey))
    problems.push(
      'coffer:blobStore needs the secrets coffer:blobStoreAccessKeyId and coffer:blobStoreSecretAccessKey (pulumi config set --secret)',
    );
  if (!config.blobStore && (config.blobStoreAccessKeyId || config.blobStoreSecretAccessKey))
    problems.push('coffer:blobStoreAccessKeyId and coffer:blobStoreSecretAccessKey need coffer:blobStore');
  if (config.previousMasterKeys.length && !config.masterKey)
    problems.push(
      'coffer:previousMasterKeys needs coffer:masterKey: the key a rotation moves to (pulumi stack output --show-secrets masterKey gives the current one)',
    );
  if (config.masterKey && config.previousMasterKeys.includes(config.masterKey.trim().toLowerCase()))
    problems.push(
      'coffer:previousMasterKeys names coffer:masterKey itself: list only the keys being retired',
    );
  if (config.httpPort === config.httpsPort)
    bad('httpPort', 'must differ from coffer:httpsPort', config.httpPort);
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined))
    problems.push('coffer:accessKeyId and coffer:secretAccessKey must be set together');
  for (const key of Object.keys(raw))
    if (!(CONFIG_KEYS as readonly string[]).includes(key))
      problems.push(`coffer:${key} is not a known setting`);
  if (problems.length) throw new StackConfigError(problems);
  return config;
}

/** The project's keys out of `pulumi.runtime.allConfig()` ("coffer:domain" → "domain"). */
export function rawConfig(all: Record<string, string>, namespace: string): RawConfig {
  const prefix = `${namespace}:`;
  return Object.fromEntries(
    Object.entries(all)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}
