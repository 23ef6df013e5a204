import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { writeAwsProfile } from '../../scripts/lib/aws-profile.js';
import { renderCompose } from '../../scripts/lib/compose.js';
import { upsertSection } from '../../scripts/lib/rclone.js';
import { fromCompose } from '../../policies/model.js';
import { evaluate } from '../../policies/rules.js';
import { blobStoreProblems } from '../../service/src/parse/blob-store.js';
import { intervalMs, syncJobProblems } from '../../service/src/parse/sync-job.js';
import { GATEWAY_PORT, SECRET_FILES, topology } from '../../stacks/topology.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('topology and docker-compose.yaml', () => {
  it('docker-compose.yaml is exactly what the topology renders (run npm run render-compose)', () => {
    expect(readFileSync(path.join(ROOT, 'docker-compose.yaml'), 'utf8')).toBe(renderCompose(topology()));
  });

  it('publishes ports only on nginx and never the gateway port', () => {
    const t = topology({ httpsPort: 8443, httpPort: 8080 });
    for (const s of t.services) {
      if (s.name === 'nginx')
        expect(s.ports).toEqual([
          { published: 8443, target: 443 },
          { published: 8080, target: 80 },
        ]);
      else expect(s.ports).toEqual([]);
    }
    const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yaml'), 'utf8'));
    const published = Object.entries(compose.services as Record<string, { ports?: string[] }>).flatMap(
      ([n, s]) => (s.ports ?? []).map((p) => `${n}:${p}`),
    );
    expect(published).toEqual(['nginx:443:443', 'nginx:80:80']);
    expect(published.some((p) => p.endsWith(`:${GATEWAY_PORT}`))).toBe(false);
  });

  it('passes secrets only as files: every *_FILE points into /run/secrets and no env value is a secret', () => {
    const t = topology();
    for (const s of t.services) {
      for (const [k, v] of Object.entries(s.env)) {
        expect(k, `${s.name}.${k}`).not.toMatch(/PASSWORD$|SECRET|KEY$|TOKEN/);
        if (k.endsWith('_FILE')) {
          expect(v).toMatch(/^\/run\/secrets\//);
          expect(s.secrets.map((x) => `/run/secrets/${x.name}`)).toContain(v);
        }
      }
      for (const secret of s.secrets) expect(Object.keys(SECRET_FILES)).toContain(secret.name);
    }
  });

  it('gives every service a healthcheck, a restart policy and named volumes for its data', () => {
    const t = topology();
    for (const s of t.services) {
      expect(s.healthcheck.test.length).toBeGreaterThan(0);
      expect(s.restart).toBe('unless-stopped');
      for (const v of s.volumes) expect(t.volumes).toContain(v.volume);
    }
    expect(t.services.find((s) => s.name === 'gateway')!.volumes.map((v) => v.target)).toEqual([
      '/var/lib/coffer',
    ]);
    expect(t.services.find((s) => s.name === 'postgres')!.volumes.map((v) => v.target)).toEqual([
      '/var/lib/postgresql/data',
    ]);
  });
});

describe('the gateway image', () => {
  it('copies every secret file a gateway is told of into its private tmpfs before dropping root', () => {
    // Every option that gives the gateway a secret file at once.
    const t = topology({
      preset: { buckets: ['archive'], retentionMode: 'COMPLIANCE', retentionDays: 365 },
      blobStore: { endpoint: 'https://rgw.lan', bucket: 'blobs', region: 'us-east-1', prefix: 'blobs/' },
      webhooks: { digest: '0123456789abcdef' },
      externalPostgres: true,
    });
    const gateway = t.services.find((s) => s.name === 'gateway')!;
    const files = Object.entries(gateway.env)
      .filter(([k, v]) => k.endsWith('_FILE') && v.startsWith('/run/secrets/'))
      .map(([k]) => k);
    expect(files).toContain('WEBHOOKS_FILE');
    const script = readFileSync(path.join(ROOT, 'service/docker/entrypoint.sh'), 'utf8');
    const copied = /^for var in (.+); do$/m.exec(script)![1]!.split(' ');
    expect(files.filter((f) => !copied.includes(f))).toEqual([]);
  });
});

describe('--with-monitoring', () => {
  it("adds Prometheus scraping the gateways with the API key, on this host's loopback only, with its own volume", () => {
    const t = topology({ monitoring: true, monitoringPort: 9191 });
    const prom = t.services.find((s) => s.name === 'prometheus')!;
    expect(prom.image).toBe('coffer/prometheus:0.1.0');
    expect(prom.buildContext).toBe('ops/prometheus');
    expect(prom.ports).toEqual([{ published: 9191, target: 9090, hostIp: '127.0.0.1' }]);
    expect(prom.secrets).toEqual([{ name: 'management_api_key' }]);
    expect(t.secrets.management_api_key).toBe('secrets/management_api_key.txt');
    expect(prom.env).toMatchObject({ GATEWAY_NAME: 'gateway' });
    const scrape = parse(readFileSync(path.join(ROOT, 'ops/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ metrics_path?: string; dns_sd_configs?: Array<{ port: number }> }>;
    };
    expect(scrape.scrape_configs[0]!.dns_sd_configs![0]!.port).toBe(GATEWAY_PORT);
    expect(scrape.scrape_configs[0]!.metrics_path).toBe('/_coffer/api/v1/metrics');
    expect(t.volumes).toContain('prometheus-data');
    expect(prom.dependsOn).toEqual(['gateway']);
    const compose = parse(renderCompose(t)) as { services: Record<string, { ports?: string[] }> };
    expect(compose.services.prometheus!.ports).toEqual(['127.0.0.1:9191:9090']);
    // Without it, nothing of it: no service, no secret, no volume.
    const plain = topology();
    expect(plain.services.map((s) => s.name)).toEqual(['postgres', 'gateway', 'nginx']);
    expect(plain.secrets).not.toHaveProperty('management_api_key');
    expect(plain.volumes).not.toContain('prometheus-data');
  });

  it('tells the gateway where the served certificate is, for its expiry metric', () => {
    const gateway = topology().services.find((s) => s.name === 'gateway')!;
    expect(gateway.env.TLS_CERT_FILE).toBe('/run/secrets/server_crt');
    expect(gateway.secrets).toContainEqual({ name: 'server_crt' });
    expect(gateway.secrets).not.toContainEqual({ name: 'server_key' });
  });
});

describe('scheduled syncs (npm run sync -- ... --install NAME)', () => {
  const job = {
    name: 'scans',
    direction: 'push' as const,
    hostDir: '/srv/scans',
    target: 'scans/in',
    afterCopy: 'delete' as const,
    every: '15m',
  };

  it('runs each job as its own service of the gateway image, its directory a bind volume, through nginx over TLS', () => {
    const t = topology({ syncJobs: [job] });
    const s = t.services.find((x) => x.name === 'sync-scans')!;
    expect([s.image, s.buildContext]).toEqual(['coffer/sync:0.1.0', 'service']);
    expect(s.entrypoint).toEqual(['/usr/local/bin/coffer-sync-entrypoint']);
    expect(s.env).toMatchObject({
      SYNC_NAME: 'scans',
      SYNC_DIRECTION: 'push',
      SYNC_TARGET: 'scans/in',
      SYNC_AFTER_COPY: 'delete',
      SYNC_EVERY: '15m',
      S3_ENDPOINT: 'https://nginx',
    });
    expect(s.secrets).toEqual([{ name: 'credentials_json' }, { name: 'root_crt' }]);
    expect(t.secrets.root_crt).toBe('secrets/root.crt');
    expect(s.volumes).toEqual([
      { volume: 'sync-scans', target: '/sync/data' },
      { volume: 'sync-state', target: '/var/lib/coffer-sync' },
    ]);
    expect(t.hostDirs).toEqual({ 'sync-scans': '/srv/scans' });
    expect(s.ports).toEqual([]);
    expect(s.dependsOn).toEqual(['nginx']);
    // The name it reaches nginx by is one the certificate covers and nginx serves.
    const nginx = t.services.find((x) => x.name === 'nginx')!;
    expect(nginx.env.SERVER_NAMES!.split(' ')).toContain('nginx');
    const compose = parse(renderCompose(t)) as {
      services: Record<string, { entrypoint?: string[] }>;
      volumes: Record<string, unknown>;
    };
    expect(compose.services['sync-scans']!.entrypoint).toEqual(['/usr/local/bin/coffer-sync-entrypoint']);
    expect(compose.volumes['sync-scans']).toEqual({
      driver: 'local',
      driver_opts: { type: 'none', o: 'bind', device: '/srv/scans' },
    });
    expect(compose.volumes['sync-state']).toEqual({});
    expect(evaluate(fromCompose(compose)).filter((r) => r.violations.length)).toEqual([]);
    const plain = topology();
    expect(plain.secrets).not.toHaveProperty('root_crt');
    expect(plain.volumes).not.toContain('sync-state');
  });

  it('names what is wrong with a job', () => {
    expect(syncJobProblems([job])).toEqual([]);
    expect(
      syncJobProblems([
        { ...job, name: 'Scans', hostDir: 'rel/dir', every: '30s' },
        { ...job, direction: 'two-way', afterCopy: 'delete', target: 'UP/x', every: '5 minutes' },
        { ...job },
      ]),
    ).toEqual([
      'sync job Scans: its name must be a lower-case name of at most 31 letters, digits and hyphens',
      'sync job Scans: its directory must be an absolute path (got rel/dir)',
      'sync job Scans: every must be at least 1m (got "30s")',
      'sync job scans: target bucket "UP" must be between 3 and 63 characters long',
      'sync job scans: after-copy delete needs push or pull: two-way keeps both sides',
      'sync job scans: every takes a number and s, m or h (got "5 minutes")',
      'sync job scans: is named twice',
    ]);
    expect(intervalMs('90s')).toBe(90_000);
    expect(intervalMs('2h')).toBe(7_200_000);
    expect(syncJobProblems([{ ...job, every: '169h' }])).toEqual([
      'sync job scans: every must be at most 168h (got "169h")',
    ]);
  });
});

describe('a remote blob store (up --blob-store)', () => {
  const store = {
    endpoint: 'https://rgw.lan:7480',
    bucket: 'coffer-blobs',
    region: 'us-east-1',
    prefix: 'site-a/',
  };

  it("points the gateway at the store, with the store's keys as a secret file, and passes every rule", () => {
    const t = topology({ blobStore: store });
    const gateway = t.services.find((s) => s.name === 'gateway')!;
    expect(gateway.env).toMatchObject({
      BLOB_BACKEND: 's3',
      BLOB_S3_ENDPOINT: 'https://rgw.lan:7480',
      BLOB_S3_BUCKET: 'coffer-blobs',
      BLOB_S3_PREFIX: 'site-a/',
      BLOB_S3_CREDENTIALS_FILE: '/run/secrets/blob_store_credentials',
    });
    expect(gateway.secrets).toContainEqual({ name: 'blob_store_credentials' });
    expect(t.secrets.blob_store_credentials).toBe('secrets/blob_store_credentials.json');
    const compose = parse(renderCompose(t)) as Record<string, never>;
    expect(evaluate(fromCompose(compose)).filter((r) => r.violations.length)).toEqual([]);
    // The keys in the environment instead: refused.
    const leaky = parse(renderCompose(t)) as {
      services: Record<string, { environment: Record<string, string>; secrets: string[] }>;
    };
    leaky.services.gateway!.environment.BLOB_S3_CREDENTIALS_FILE = '/etc/keys.json';
    const failed = evaluate(fromCompose(leaky)).filter((r) => r.violations.length);
    expect(failed.map((r) => r.rule)).toEqual(['blob-store-keys-as-secret']);
    expect(topology().services.find((s) => s.name === 'gateway')!.env).not.toHaveProperty('BLOB_BACKEND');
  });

  it('names what is wrong with a store', () => {
    expect(blobStoreProblems(store)).toEqual([]);
    expect(
      blobStoreProblems({ endpoint: 'ftp://x/path', bucket: 'B', region: 'mars', prefix: 'no-slash' }),
    ).toEqual([
      "endpoint must be an http(s) URL with no path (got 'ftp://x/path')",
      "bucket 'B' must be between 3 and 63 characters long",
      "region must be like us-east-1 (got 'mars')",
      "prefix must be empty or end with / (got 'no-slash')",
    ]);
  });
});

describe('gateway replicas (up --gateways N)', () => {
  it('runs N identical gateways that all answer to `gateway`, behind the one nginx, and passes every rule', () => {
    const t = topology({ gateways: 3 });
    const gateways = t.services.filter((s) => s.image.startsWith('coffer/gateway:'));
    expect(gateways.map((s) => [s.name, s.networkAliases])).toEqual([
      ['gateway', []],
      ['gateway-2', ['gateway']],
      ['gateway-3', ['gateway']],
    ]);
    for (const g of gateways) {
      const { name: _, networkAliases: __, ...rest } = g;
      const { name: ___, networkAliases: ____, ...first } = gateways[0]!;
      expect(rest).toEqual(first);
      expect(g.ports).toEqual([]);
    }
    expect(t.services.find((s) => s.name === 'nginx')!.env.GATEWAY_UPSTREAM).toBe(`gateway:${GATEWAY_PORT}`);
    const compose = parse(renderCompose(t)) as {
      services: Record<string, { networks: unknown; ports?: string[] }>;
    };
    expect(compose.services['gateway']!.networks).toEqual(['backend']);
    expect(compose.services['gateway-3']!.networks).toEqual({ backend: { aliases: ['gateway'] } });
    expect(evaluate(fromCompose(compose as never)).filter((r) => r.violations.length)).toEqual([]);
    // A replica that publishes the gateway's port: refused by name.
    compose.services['gateway-2']!.ports = [`${GATEWAY_PORT}:${GATEWAY_PORT}`];
    const failed = evaluate(fromCompose(compose as never)).filter((r) => r.violations.length);
    expect(failed.map((r) => [r.rule, r.violations])).toEqual([
      [
        'only-nginx-publishes-ports',
        [`gateway-2 publishes port ${GATEWAY_PORT}: the gateway must only be reached through nginx TLS`],
      ],
    ]);
  });

  it('keeps a single gateway exactly as before', () => {
    expect(topology({ gateways: 1 })).toEqual(topology());
    expect(topology().services.map((s) => s.name)).toEqual(['postgres', 'gateway', 'nginx']);
  });
});

describe('an external Postgres (up --database-url-file)', () => {
  it('drops the bundled Postgres: the gateways read the operator URL as their database_url, and every rule passes', () => {
    const t = topology({ externalPostgres: true, gateways: 2 });
    expect(t.services.map((s) => s.name)).toEqual(['gateway', 'gateway-2', 'nginx']);
    expect(t.volumes).toEqual(['coffer-data']);
    expect(t.secrets.database_url).toBe('secrets/external_database_url.txt');
    expect(t.secrets).not.toHaveProperty('postgres_password');
    for (const g of t.services.filter((s) => s.name.startsWith('gateway'))) {
      expect(g.dependsOn).toEqual([]);
      expect(g.env.DATABASE_URL_FILE).toBe('/run/secrets/database_url');
      expect(g.secrets).toContainEqual({ name: 'database_url' });
    }
    const compose = parse(renderCompose(t)) as Record<string, never>;
    expect(compose['secrets']).toMatchObject({
      database_url: { file: './secrets/external_database_url.txt' },
    });
    expect(evaluate(fromCompose(compose)).filter((r) => r.violations.length)).toEqual([]);
  });
});

describe('rclone config editing', () => {
  it('replaces its own section and keeps every other remote', () => {
    const before =
      '[other]\ntype = local\n\n[coffer]\ntype = s3\nendpoint = https://old\n\n[last]\ntype = drive\n';
    const after = upsertSection(before, 'coffer', { type: 's3', endpoint: 'https://new' });
    expect(after).toBe(
      '[other]\ntype = local\n\n[last]\ntype = drive\n\n[coffer]\ntype = s3\nendpoint = https://new\n',
    );
    expect(upsertSection('', 'coffer', { type: 's3' })).toBe('[coffer]\ntype = s3\n');
  });
});

describe('aws CLI profile', () => {
  it('writes its own profile and keys, keeps every other profile, and keeps the keys 0600', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-aws-'));
    try {
      const files = { config: path.join(dir, 'config'), credentials: path.join(dir, 'credentials') };
      await writeFile(files.config, '[default]\nregion = eu-west-1\n\n[profile work]\nregion = us-west-2\n');
      await writeFile(files.credentials, '[work]\naws_access_key_id = AKIAWORK\n');
      const profile = {
        name: 'coffer',
        endpoint: 'https://s3.lan',
        caBundle: '/srv/coffer/root.crt',
        region: 'us-east-1',
        accessKeyId: 'AKIACOFFER',
        secretAccessKey: 'secret',
      };
      await writeAwsProfile({ ...profile, endpoint: 'https://old.lan' }, files);
      await writeAwsProfile(profile, files);
      expect(await readFile(files.config, 'utf8')).toBe(
        '[default]\nregion = eu-west-1\n\n[profile work]\nregion = us-west-2\n\n' +
          '[profile coffer]\nregion = us-east-1\nendpoint_url = https://s3.lan\nca_bundle = /srv/coffer/root.crt\n',
      );
      expect(await readFile(files.credentials, 'utf8')).toBe(
        '[work]\naws_access_key_id = AKIAWORK\n\n[coffer]\naws_access_key_id = AKIACOFFER\naws_secret_access_key = secret\n',
      );
      expect((await stat(files.credentials)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
