/**
 * What a Coffer deployment is, as plain data: every engine (docker-compose rendering, Pulumi, the
 * Testcontainers suite, the policy rules) derives from this and nothing else.
 */
import type { ArchivePreset } from '../service/src/parse/archive-preset.js';
import type { BlobStore } from '../service/src/parse/blob-store.js';
import type { SyncJob } from '../service/src/parse/sync-job.js';

export interface SecretRef {
  /** Name of the secret (a file under secrets/, mounted at /run/secrets/<name>). */
  name: string;
}

export interface HealthcheckSpec {
  test: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  startPeriodSeconds: number;
}

export interface ServiceSpec {
  name: string;
  image: string;
  /** Directory (relative to the repository) the image is built from, by scripts/build-images. */
  buildContext: string;
  env: Record<string, string>;
  secrets: SecretRef[];
  volumes: Array<{ volume: string; target: string }>;
  tmpfs: string[];
  /** `hostIp` binds the published port to one address (loopback for what only this host may reach). */
  ports: Array<{ published: number; target: number; hostIp?: string }>;
  healthcheck: HealthcheckSpec;
  restart: 'unless-stopped' | 'always';
  dependsOn: string[];
  networks: string[];
  /** More names the service answers to on its networks (every gateway replica also answers to `gateway`). */
  networkAliases: string[];
  /** Replaces the image's entrypoint (a scheduled sync runs the gateway image as another program). */
  entrypoint?: string[];
}

export interface Topology {
  project: string;
  services: ServiceSpec[];
  /** Secret name to the file that holds it, relative to the repository root. */
  secrets: Record<string, string>;
  volumes: string[];
  /** Volumes that are a directory of the host (a sync job's local side), by volume name. */
  hostDirs: Record<string, string>;
  networks: string[];
}

export interface TopologyOptions {
  /** Host name clients use; `*.domain` serves virtual-hosted style. */
  domain: string;
  httpsPort: number;
  httpPort: number;
  region: string;
  enforcePayloadVerification: boolean;
  /** Accept Signature Version 2 (aws CLI v1, boto3 and s3cmd presign with it). */
  signatureV2: boolean;
  /** New buckets: AWS's defaults since 2023 (ACLs disabled, public access blocked), or the legacy ones. */
  bucketDefaults: BucketDefaults;
  imageTag: string;
  /** Lowest TLS version nginx accepts. */
  tlsMinVersion: TlsVersion;
  /** More names and addresses clients use; the certificate covers them and nginx serves them. */
  extraHostNames: string[];
  extraIps: string[];
  /** The compliance-archive preset, which also decides the settings it depends on (see withPreset). */
  preset?: ArchivePreset;
  /** Prometheus scraping every gateway, with Coffer's alert rules, on this host's loopback only. */
  monitoring: boolean;
  monitoringPort: number;
  /** Scheduled syncs, each its own service running the gateway image's sync-cli. */
  syncJobs: SyncJob[];
  /** Sealed blobs in a bucket of a remote S3-compatible store instead of the data volume. */
  blobStore?: BlobStore;
  /** Gateway replicas nginx balances across: `gateway`, `gateway-2`, ... all answering to `gateway`. */
  gateways: number;
  /**
   * Metadata in a Postgres the operator runs (highly available with their own tools) instead of the
   * bundled container: the gateways' database_url comes from EXTERNAL_DATABASE_URL_FILE.
   */
  externalPostgres: boolean;
  /**
   * Webhook targets the deployment declares (WEBHOOK_SECRET_FILES, up --webhooks-file, coffer:webhooks),
   * with the digest of that file: a changed file changes the gateways' settings, so they are recreated.
   */
  webhooks?: { digest: string };
}

export const TLS_VERSIONS = ['1.2', '1.3'] as const;
export const BUCKET_DEFAULTS = ['current', 'legacy'] as const;
export type BucketDefaults = (typeof BUCKET_DEFAULTS)[number];
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export const DEFAULT_OPTIONS: TopologyOptions = {
  domain: 'localhost',
  httpsPort: 443,
  httpPort: 80,
  region: 'us-east-1',
  enforcePayloadVerification: true,
  signatureV2: true,
  bucketDefaults: 'current',
  imageTag: '0.1.0',
  tlsMinVersion: '1.2',
  extraHostNames: [],
  extraIps: [],
  monitoring: false,
  monitoringPort: 9090,
  syncJobs: [],
  gateways: 1,
  externalPostgres: false,
};

/** More replicas than this on one deployment is a typo, not a plan (each runs a worker per core). */
export const MAX_GATEWAYS = 16;

/** The one place that names the gateway replicas: the first keeps the name single-gateway deployments have. */
export function gatewayNames(gateways: number): string[] {
  return Array.from({ length: gateways }, (_, i) =>
    i === 0 ? GATEWAY_SERVICE : `${GATEWAY_SERVICE}-${i + 1}`,
  );
}

/** What nginx, Prometheus and operator commands (exec) reach a gateway by. */
export const GATEWAY_SERVICE = 'gateway';

/** Files setup-credentials writes, by secret name. */
export const SECRET_FILES = {
  postgres_user: 'secrets/postgres_user.txt',
  postgres_password: 'secrets/postgres_password.txt',
  database_url: 'secrets/database_url.txt',
  credentials_json: 'secrets/credentials_json.txt',
  master_key: 'secrets/master_key.txt',
  /** The first admin: username, scrypt password hash and the management API key's SHA-256. */
  admin_json: 'secrets/admin_json.txt',
  server_crt: 'secrets/server.crt',
  server_key: 'secrets/server.key',
} as const;

/** The database URL of an external Postgres (up --database-url-file), in the secret the gateways read it from. */
export const EXTERNAL_DATABASE_URL_FILE = 'secrets/external_database_url.txt';

/** The deployment's own secrets: with an external Postgres, its URL stands in for the bundled one's. */
function baseSecrets(external: boolean): Record<string, string> {
  if (!external) return SECRET_FILES;
  const { postgres_user: _, postgres_password: __, ...rest } = SECRET_FILES;
  return { ...rest, database_url: EXTERNAL_DATABASE_URL_FILE };
}

/** What Prometheus scrapes the gateways with: the management API key, as a bearer token. */
export const MONITORING_SECRET_FILES = {
  management_api_key: 'secrets/management_api_key.txt',
} as const;

/** The remote blob store's access keys, `{"access_key_id", "secret_access_key"}`. */
export const BLOB_STORE_SECRET_FILES = {
  blob_store_credentials: 'secrets/blob_store_credentials.json',
} as const;

/** The webhook targets a deployment declares (a JSON array; it holds their secrets). */
export const WEBHOOK_SECRET_FILES = {
  webhooks_json: 'secrets/webhooks.json',
} as const;

/** What a scheduled sync needs besides the S3 credentials: the root CA that signs nginx's certificate. */
export const SYNC_SECRET_FILES = {
  root_crt: 'secrets/root.crt',
} as const;

/** The name services inside the deployment reach nginx by; the server certificate covers it. */
export const INTERNAL_S3_HOST = 'nginx';

/** Where Prometheus listens inside its container; published on the host's loopback only. */
export const PROMETHEUS_PORT = 9090;

/** The preset's own secret: the ingest and reader keys. */
export const ARCHIVE_SECRET_FILES = {
  archive_credentials_json: 'secrets/archive_credentials_json.txt',
} as const;

/** Audit records are kept at least a year, and never for less time than the objects they describe. */
export const MIN_AUDIT_RETENTION_DAYS = 365;

/**
 * What the compliance-archive preset demands of the rest of the deployment: no SigV2, every payload
 * verified, TLS 1.3 only, AWS's current bucket defaults. The preset wins over options that say otherwise.
 */
export function withPreset(o: TopologyOptions): TopologyOptions {
  if (!o.preset) return o;
  return {
    ...o,
    signatureV2: false,
    enforcePayloadVerification: true,
    tlsMinVersion: '1.3',
    bucketDefaults: 'current',
  };
}

/** The gateway's settings for the preset, none without one. */
function presetEnv(preset: ArchivePreset | undefined): Record<string, string> {
  if (!preset) return {};
  return {
    PRESET: 'compliance-archive',
    ARCHIVE_BUCKETS: preset.buckets.join(','),
    ARCHIVE_RETENTION_MODE: preset.retentionMode,
    ARCHIVE_RETENTION_DAYS: String(preset.retentionDays),
    ARCHIVE_CREDENTIALS_FILE: '/run/secrets/archive_credentials_json',
    AUDIT_RETENTION_DAYS: String(Math.max(MIN_AUDIT_RETENTION_DAYS, preset.retentionDays)),
  };
}

/** The gateway's settings for a remote blob store; none keeps blobs on the data volume. */
function blobStoreEnv(store: BlobStore | undefined): Record<string, string> {
  if (!store) return {};
  return {
    BLOB_BACKEND: 's3',
    BLOB_S3_ENDPOINT: store.endpoint,
    BLOB_S3_BUCKET: store.bucket,
    BLOB_S3_REGION: store.region,
    BLOB_S3_PREFIX: store.prefix,
    BLOB_S3_CREDENTIALS_FILE: '/run/secrets/blob_store_credentials',
  };
}

export const GATEWAY_PORT = 3000;

/** The first admin setup-credentials (or the Pulumi stack) creates. */
export const ADMIN_USERNAME = 'admin';

export function topology(options: Partial<TopologyOptions> = {}): Topology {
  const o = withPreset({ ...DEFAULT_OPTIONS, ...options });
  const image = (name: string) => `coffer/${name}:${o.imageTag}`;
  return {
    project: 'coffer',
    networks: ['backend'],
    volumes: [
      'coffer-data',
      ...(o.externalPostgres ? [] : ['postgres-data']),
      ...(o.monitoring ? ['prometheus-data'] : []),
      ...(o.syncJobs.length ? ['sync-state', ...o.syncJobs.map((j) => `sync-${j.name}`)] : []),
    ],
    hostDirs: Object.fromEntries(o.syncJobs.map((j) => [`sync-${j.name}`, j.hostDir])),
    secrets: {
      ...baseSecrets(o.externalPostgres),
      ...(o.preset ? ARCHIVE_SECRET_FILES : {}),
      ...(o.monitoring ? MONITORING_SECRET_FILES : {}),
      ...(o.syncJobs.length ? SYNC_SECRET_FILES : {}),
      ...(o.blobStore ? BLOB_STORE_SECRET_FILES : {}),
      ...(o.webhooks ? WEBHOOK_SECRET_FILES : {}),
    },
    services: [
      ...(o.externalPostgres ? [] : [postgresService(image('postgres'))]),
      ...gatewayNames(o.gateways).map((name) => gatewayService(o, name, image('gateway'))),
      {
        name: 'nginx',
        image: image('nginx'),
        buildContext: 'ops/nginx',
        env: {
          PUBLIC_HTTPS_PORT: String(o.httpsPort),
          S3_DOMAIN: o.domain,
          // Every other Host is answered with an error naming these, never served as path style.
          SERVER_NAMES: servedNames(o).join(' '),
          GATEWAY_UPSTREAM: `${GATEWAY_SERVICE}:${GATEWAY_PORT}`,
          TLS_MIN_VERSION: o.tlsMinVersion,
        },
        secrets: [{ name: 'server_crt' }, { name: 'server_key' }],
        volumes: [],
        tmpfs: [],
        ports: [
          { published: o.httpsPort, target: 443 },
          { published: o.httpPort, target: 80 },
        ],
        healthcheck: {
          test: ['CMD', 'nginx-health'],
          intervalSeconds: 2,
          timeoutSeconds: 5,
          retries: 30,
          startPeriodSeconds: 5,
        },
        restart: 'unless-stopped',
        dependsOn: [GATEWAY_SERVICE],
        networks: ['backend'],
        networkAliases: [],
      },
      ...(o.monitoring ? [prometheusService(o, image('prometheus'))] : []),
      // The gateway's image under its own name, so that policies tell a sync from a gateway by its image.
      ...o.syncJobs.map((j) => syncService(o, j, image('sync'))),
    ],
  };
}

/** The bundled Postgres, unless the operator runs their own. */
function postgresService(image: string): ServiceSpec {
  return {
    name: 'postgres',
    image,
    buildContext: 'ops/postgres',
    env: {
      POSTGRES_USER_FILE: '/run/secrets/postgres_user',
      POSTGRES_PASSWORD_FILE: '/run/secrets/postgres_password',
      POSTGRES_DB: 'coffer',
      PGDATA: '/var/lib/postgresql/data',
    },
    secrets: [{ name: 'postgres_user' }, { name: 'postgres_password' }],
    volumes: [{ volume: 'postgres-data', target: '/var/lib/postgresql/data' }],
    tmpfs: [],
    ports: [],
    healthcheck: {
      test: ['CMD', 'pg-ready'],
      intervalSeconds: 2,
      timeoutSeconds: 5,
      retries: 30,
      startPeriodSeconds: 10,
    },
    restart: 'unless-stopped',
    dependsOn: [],
    networks: ['backend'],
    networkAliases: [],
  };
}

/** One gateway replica; replicas differ only in name and share the data volume (with BLOB_BACKEND=fs, the blobs). */
function gatewayService(o: TopologyOptions, name: string, image: string): ServiceSpec {
  return {
    name,
    image,
    buildContext: 'service',
    env: {
      PORT: String(GATEWAY_PORT),
      DATA_DIR: '/var/lib/coffer',
      DATABASE_URL_FILE: '/run/secrets/database_url',
      CREDENTIALS_FILE: '/run/secrets/credentials_json',
      MASTER_KEY_FILE: '/run/secrets/master_key',
      ADMIN_FILE: '/run/secrets/admin_json',
      // Its expiry is a metric (coffer_tls_certificate_expiry_timestamp_seconds), alerted on before it lapses.
      TLS_CERT_FILE: '/run/secrets/server_crt',
      S3_REGION: o.region,
      S3_DOMAIN: o.domain,
      ENFORCE_PAYLOAD_VERIFICATION: String(o.enforcePayloadVerification),
      SIGV2_ENABLED: String(o.signatureV2),
      BUCKET_DEFAULTS: o.bucketDefaults,
      // Only nginx reaches the gateway (it publishes no port); it sets X-Forwarded-For to the client.
      TRUST_PROXY: 'loopback,uniquelocal',
      LOG_LEVEL: 'info',
      ...presetEnv(o.preset),
      ...blobStoreEnv(o.blobStore),
      ...(o.webhooks
        ? { WEBHOOKS_FILE: '/run/secrets/webhooks_json', WEBHOOKS_DIGEST: o.webhooks.digest }
        : {}),
    },
    secrets: [
      { name: 'database_url' },
      { name: 'credentials_json' },
      { name: 'master_key' },
      { name: 'admin_json' },
      { name: 'server_crt' },
      ...(o.preset ? [{ name: 'archive_credentials_json' }] : []),
      ...(o.blobStore ? [{ name: 'blob_store_credentials' }] : []),
      ...(o.webhooks ? [{ name: 'webhooks_json' }] : []),
    ],
    volumes: [{ volume: 'coffer-data', target: '/var/lib/coffer' }],
    tmpfs: ['/run/coffer'],
    ports: [],
    healthcheck: {
      test: ['CMD', 'coffer-health'],
      intervalSeconds: 2,
      timeoutSeconds: 5,
      retries: 30,
      startPeriodSeconds: 10,
    },
    restart: 'unless-stopped',
    dependsOn: o.externalPostgres ? [] : ['postgres'],
    networks: ['backend'],
    // Every replica answers to `gateway` too: nginx and Prometheus resolve that name to all of them.
    networkAliases: name === GATEWAY_SERVICE ? [] : [GATEWAY_SERVICE],
  };
}

/** One scheduled sync: the gateway image's sync-cli (tagged coffer/sync), as the owner of the host directory, through nginx. */
function syncService(o: TopologyOptions, job: SyncJob, image: string): ServiceSpec {
  return {
    name: `sync-${job.name}`,
    image,
    buildContext: 'service',
    entrypoint: ['/usr/local/bin/coffer-sync-entrypoint'],
    env: {
      SYNC_NAME: job.name,
      SYNC_DIRECTION: job.direction,
      SYNC_LOCAL: '/sync/data',
      SYNC_TARGET: job.target,
      SYNC_AFTER_COPY: job.afterCopy,
      SYNC_EVERY: job.every,
      SYNC_STATE_DIR: `/var/lib/coffer-sync/${job.name}`,
      // Through nginx over TLS, as any client: bucket policies that demand TLS hold for it too.
      S3_ENDPOINT: `https://${INTERNAL_S3_HOST}`,
      S3_REGION: o.region,
      CREDENTIALS_FILE: '/run/secrets/credentials_json',
      CA_FILE: '/run/secrets/root_crt',
    },
    secrets: [{ name: 'credentials_json' }, { name: 'root_crt' }],
    volumes: [
      { volume: `sync-${job.name}`, target: '/sync/data' },
      { volume: 'sync-state', target: '/var/lib/coffer-sync' },
    ],
    tmpfs: ['/run/coffer-sync'],
    ports: [],
    healthcheck: {
      test: ['CMD', 'coffer-sync-health'],
      intervalSeconds: 10,
      timeoutSeconds: 5,
      retries: 3,
      startPeriodSeconds: 10,
    },
    restart: 'unless-stopped',
    dependsOn: ['nginx'],
    networks: ['backend'],
    networkAliases: [],
  };
}

/** Prometheus (Debian's package) scraping every gateway the name `gateway` resolves to. */
function prometheusService(o: TopologyOptions, image: string): ServiceSpec {
  return {
    name: 'prometheus',
    image,
    buildContext: 'ops/prometheus',
    env: {
      // Every address `gateway` resolves to is scraped: one per replica when the gateway is scaled out.
      GATEWAY_NAME: GATEWAY_SERVICE,
      RETENTION_TIME: '30d',
    },
    secrets: [{ name: 'management_api_key' }],
    volumes: [{ volume: 'prometheus-data', target: '/var/lib/prometheus' }],
    tmpfs: ['/run/prometheus'],
    ports: [{ published: o.monitoringPort, target: PROMETHEUS_PORT, hostIp: '127.0.0.1' }],
    healthcheck: {
      test: ['CMD', 'prometheus-health'],
      intervalSeconds: 5,
      timeoutSeconds: 5,
      retries: 30,
      startPeriodSeconds: 10,
    },
    restart: 'unless-stopped',
    dependsOn: [GATEWAY_SERVICE],
    networks: ['backend'],
    networkAliases: [],
  };
}

/** Names the server certificate covers, for every engine: path-style and virtual-hosted style, plus loopback. */
export function serverCertNames(
  domain: string,
  extraHosts: string[] = [],
  extraIps: string[] = [],
): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: [...new Set([domain, `*.${domain}`, 'localhost', INTERNAL_S3_HOST, ...extraHosts])],
    ipAddresses: [...new Set(['127.0.0.1', ...extraIps])],
  };
}

/** The Host names nginx serves: exactly those the server certificate covers. */
export function servedNames(o: Pick<TopologyOptions, 'domain' | 'extraHostNames' | 'extraIps'>): string[] {
  const { dnsNames, ipAddresses } = serverCertNames(o.domain, o.extraHostNames, o.extraIps);
  return [...dnsNames, ...ipAddresses];
}

/** The URL clients use: the port is left out when it is HTTPS's own. */
export function endpointOf(o: { domain: string; httpsPort: number }): string {
  return o.httpsPort === 443 ? `https://${o.domain}` : `https://${o.domain}:${o.httpsPort}`;
}
