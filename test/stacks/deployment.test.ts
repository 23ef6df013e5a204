import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { envFromList, fromPulumi, TYPES } from '../../policies/model.js';
import { evaluate } from '../../policies/rules.js';
import { setupCredentials } from '../../scripts/lib/secrets.js';
import { parseDeploymentConfig, StackConfigError, type RawConfig } from '../../stacks/config.js';
import { CofferDeployment } from '../../stacks/deployment.js';
import { existingSecrets, ExistingSecretsError } from '../../stacks/existing-secrets.js';
import { apiKeyDigest } from '../../service/src/crypto/api-keys.js';
import { verifyPassword } from '../../service/src/management/password.js';
import { SECRET_FILES, topology } from '../../stacks/topology.js';
import { installMocks, resolve, type MockRecorder } from '../support/pulumi-mocks.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let mocks: MockRecorder;

beforeAll(async () => {
  mocks = await installMocks();
});
beforeEach(() => mocks.reset());

/** Declares a deployment from raw stack config and waits until every resource is registered. */
async function deploy(raw: RawConfig = {}, baseDir = ROOT) {
  const config = parseDeploymentConfig(raw);
  const d = new CofferDeployment(
    'coffer',
    { config, existing: existingSecrets(config, baseDir) },
    { transformations: [mocks.transformation] },
  );
  const outputs: pulumi.Output<unknown>[] = [
    ...Object.values(d.containers).map((c) => c.id),
    d.credentials,
    d.rootCaPem,
  ];
  await resolve(pulumi.all(outputs));
  return d;
}

const containers = () => mocks.records.filter((r) => r.type === TYPES.container);
const container = (service: string) => mocks.find(TYPES.container, service).props;
type Upload = { file: string; content: string; permissions: string };

describe('the Pulumi program declares the topology', () => {
  it('three containers from the locally built images, each with its env, secrets as files, volumes, network and healthcheck', async () => {
    const d = await deploy();
    const t = topology();
    expect(containers().map((r) => r.name)).toEqual(['postgres', 'gateway', 'nginx']);
    for (const s of t.services) {
      const p = container(s.name);
      expect(p.name).toBe(`coffer-${s.name}`);
      expect(p.image).toBe(`coffer/${s.name}:0.1.0`);
      expect(p.envs).toEqual(Object.entries(s.env).map(([k, v]) => `${k}=${v}`));
      expect((p.uploads as Upload[]).map((u) => u.file)).toEqual(
        s.secrets.map((x) => `/run/secrets/${x.name}`),
      );
      for (const u of p.uploads as Upload[]) expect(u.permissions).toBe('0400');
      expect(p.volumes).toEqual(
        s.volumes.map((v) => ({ volumeName: `coffer_${v.volume}`, containerPath: v.target })),
      );
      expect(p.restart).toBe('unless-stopped');
      expect(p.healthcheck).toEqual({
        tests: s.healthcheck.test,
        interval: `${s.healthcheck.intervalSeconds}s`,
        timeout: `${s.healthcheck.timeoutSeconds}s`,
        retries: s.healthcheck.retries,
        startPeriod: `${s.healthcheck.startPeriodSeconds}s`,
      });
      expect(p.networksAdvanced).toEqual([{ name: 'coffer_backend', aliases: [s.name] }]);
      expect(p.wait).toBe(true);
    }
    expect(container('gateway').ports).toEqual([]);
    expect(container('postgres').ports).toEqual([]);
    expect(container('nginx').ports).toEqual([
      { internal: 443, external: 443, ip: '0.0.0.0' },
      { internal: 80, external: 80, ip: '0.0.0.0' },
    ]);
    expect(container('gateway').tmpfs).toEqual({ '/run/coffer': 'rw,nosuid,nodev,noexec' });

    const volumes = mocks.records.filter((r) => r.type === TYPES.volume);
    expect(volumes.map((v) => v.props.name)).toEqual(['coffer_coffer-data', 'coffer_postgres-data']);
    for (const v of volumes) expect(v.props.driverOpts).toBeUndefined();
    expect(mocks.find('docker:index/network:Network', 'backend').props.name).toBe('coffer_backend');
    expect(await resolve(d.endpoint)).toBe('https://localhost');
  });

  it('keeps every secret a Pulumi secret and out of every env', async () => {
    const d = await deploy();
    expect(await pulumi.isSecret(d.credentials)).toBe(true);
    expect(await pulumi.isSecret(d.rootCaPem)).toBe(false);
    for (const [name, value] of Object.entries(d.secretFiles))
      expect(await pulumi.isSecret(value), `${name} must be secret`).toBe(true);
    const secretValues = await Promise.all(Object.values(d.secretFiles).map((o) => resolve(o)));
    for (const c of containers()) {
      // The uploads reach the provider as a secret (the SDK marks the whole property), so the engine
      // encrypts them in state; the environment is plain and holds nothing secret.
      expect(c.secretPaths, c.name).toEqual(['uploads']);
    }
    for (const c of containers())
      for (const env of c.props.envs as string[])
        for (const v of secretValues.filter((x) => x.trim().length > 8)) expect(env).not.toContain(v.trim());

    const creds = await resolve(d.credentials);
    expect(creds).toEqual([{ accessKeyId: 'AKIAMOCK0123456789AB', secretAccessKey: expect.any(String) }]);
    const uploaded = (service: string, secret: string) =>
      (container(service).uploads as Upload[]).find((u) => u.file === `/run/secrets/${secret}`)!.content;
    expect(JSON.parse(uploaded('gateway', 'credentials_json'))).toEqual([
      { client_id: creds[0]!.accessKeyId, client_secret: creds[0]!.secretAccessKey, user_name: 'admin' },
    ]);
    expect(uploaded('gateway', 'master_key')).toBe('ab'.repeat(32) + '\n');
    // The gateway gets only digests of the admin password and API key; the plaintext is a secret output.
    const login = await resolve(d.consoleLogin);
    expect(await pulumi.isSecret(d.consoleLogin)).toBe(true);
    const admin = JSON.parse(uploaded('gateway', 'admin_json'));
    expect(admin).toEqual({
      username: 'admin',
      password_hash: expect.stringMatching(/^scrypt\$/),
      api_key_sha256: apiKeyDigest(login!.managementApiKey),
    });
    expect(await verifyPassword(login!.password, admin.password_hash)).toBe(true);
    expect(uploaded('gateway', 'admin_json')).not.toContain(login!.password);
    const password = uploaded('postgres', 'postgres_password');
    expect(uploaded('gateway', 'database_url')).toBe(`postgres://coffer:${password}@postgres:5432/coffer`);
    // Random secrets and private keys are declared secret outputs, so the engine encrypts them in state.
    expect(
      mocks.find('random:index/randomPassword:RandomPassword', 'postgres-password').additionalSecretOutputs,
    ).toContain('result');
    expect(mocks.find(TYPES.privateKey, 'root-ca-key').additionalSecretOutputs).toContain('privateKeyPem');
  });

  it('wires the CA flags and the SANs from config', async () => {
    const d = await deploy({
      domain: 's3.storage.internal',
      extraHostNames: '["coffer.lan","backup.lan"]',
      extraIps: '["10.20.0.15","fd00::15"]',
      httpsPort: '8443',
      httpPort: '8080',
    });
    const ca = mocks.find(TYPES.selfSignedCert, 'root-ca').props;
    expect(ca.isCaCertificate).toBe(true);
    expect(ca.allowedUses).toEqual(['cert_signing', 'crl_signing']);
    expect(ca.privateKeyPem).toBe(mocks.find(TYPES.privateKey, 'root-ca-key').props.privateKeyPem);
    const csr = mocks.find('tls:index/certRequest:CertRequest', 'server-csr').props;
    expect(csr.dnsNames).toEqual([
      's3.storage.internal',
      '*.s3.storage.internal',
      'localhost',
      // What services inside the deployment (scheduled syncs) reach nginx by.
      'nginx',
      'coffer.lan',
      'backup.lan',
    ]);
    expect(csr.ipAddresses).toEqual(['127.0.0.1', '10.20.0.15', 'fd00::15']);
    expect(csr.subject).toEqual({ commonName: 's3.storage.internal' });
    expect(csr.privateKeyPem).toBe(mocks.find(TYPES.privateKey, 'server-key').props.privateKeyPem);
    const cert = mocks.find(TYPES.locallySignedCert, 'server-cert');
    expect(cert.props.caCertPem).toBe(ca.certPem);
    expect(cert.props.caPrivateKeyPem).toBe(ca.privateKeyPem);
    expect(cert.props.allowedUses).toEqual(['digital_signature', 'key_encipherment', 'server_auth']);
    expect(cert.additionalSecretOutputs).toContain('caPrivateKeyPem');
    expect(await resolve(d.rootCaPem)).toBe(ca.certPem);
    const nginx = (container('nginx').uploads as Upload[]).map((u) => [u.file, u.content]);
    expect(Object.fromEntries(nginx)).toEqual({
      '/run/secrets/server_crt': cert.props.certPem,
      '/run/secrets/server_key': mocks.find(TYPES.privateKey, 'server-key').props.privateKeyPem,
    });
    expect(container('nginx').ports).toEqual([
      { internal: 443, external: 8443, ip: '0.0.0.0' },
      { internal: 80, external: 8080, ip: '0.0.0.0' },
    ]);
    expect(container('nginx').envs).toContain('PUBLIC_HTTPS_PORT=8443');
    expect(container('gateway').envs).toContain('S3_DOMAIN=s3.storage.internal');
    expect(await resolve(d.endpoint)).toBe('https://s3.storage.internal:8443');
  });

  it('puts data on bind-backed named volumes when data paths are configured', async () => {
    await deploy({ dataPath: '/srv/coffer/data', postgresDataPath: '/srv/coffer/pg', project: 'vault' });
    expect(mocks.find(TYPES.volume, 'coffer-data').props).toMatchObject({
      name: 'vault_coffer-data',
      driverOpts: { type: 'none', o: 'bind', device: '/srv/coffer/data' },
    });
    expect(mocks.find(TYPES.volume, 'postgres-data').props.driverOpts).toEqual({
      type: 'none',
      o: 'bind',
      device: '/srv/coffer/pg',
    });
    expect(container('gateway').volumes).toEqual([
      { volumeName: 'vault_coffer-data', containerPath: '/var/lib/coffer' },
    ]);
  });

  it('passes every policy rule over the mocked stack, and fails one when config weakens the deployment', async () => {
    await deploy();
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
    mocks.reset();
    await deploy({ enforcePayloadVerification: 'false' });
    const failed = evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length);
    expect(failed.map((r) => r.rule)).toEqual(['payload-verification-enforced']);
  });
});

describe('coffer:preset compliance-archive', () => {
  const preset = {
    preset: 'compliance-archive',
    archiveBuckets: '["records","ledgers"]',
    archiveRetentionDays: '400',
  };

  it('declares what up --preset deploys, with protected keys, and passes the archive rules', async () => {
    const d = await deploy(preset);
    const gateway = envFromList(container('gateway').envs as string[]);
    expect(gateway).toMatchObject({
      PRESET: 'compliance-archive',
      ARCHIVE_BUCKETS: 'records,ledgers',
      ARCHIVE_RETENTION_MODE: 'COMPLIANCE',
      ARCHIVE_RETENTION_DAYS: '400',
      SIGV2_ENABLED: 'false',
      AUDIT_RETENTION_DAYS: '400',
    });
    expect(envFromList(container('nginx').envs as string[]).TLS_MIN_VERSION).toBe('1.3');
    const upload = (container('gateway').uploads as Upload[]).find(
      (u) => u.file === '/run/secrets/archive_credentials_json',
    )!;
    const keys = JSON.parse(upload.content) as Record<string, { client_id: string }>;
    expect(Object.keys(keys)).toEqual(['ingest', 'reader']);
    expect(await pulumi.isSecret(d.archiveCredentials!)).toBe(true);
    // Dropping the preset would delete these: Pulumi refuses while they are protected.
    const randoms = mocks.records.filter((r) => r.name.startsWith('archive-'));
    expect(randoms).toHaveLength(4);
    for (const r of randoms) expect(r.protect, r.name).toBe(true);
    const site = { requireArchive: true, minRetentionDays: 365 };
    expect(evaluate(fromPulumi(mocks.records), site).filter((r) => r.violations.length)).toEqual([]);
  });

  it('is refused by a site that requires archives when the stack has none', async () => {
    await deploy();
    const failed = evaluate(fromPulumi(mocks.records), { requireArchive: true }).filter(
      (r) => r.violations.length,
    );
    expect(failed.map((r) => r.rule)).toEqual(['archive-preset-complete']);
  });

  it('refuses settings the preset turns off, and archive settings without the preset', () => {
    expect(() => parseDeploymentConfig({ ...preset, signatureV2: 'true', tlsMinVersion: '1.2' })).toThrow(
      /coffer:signatureV2 true contradicts coffer:preset compliance-archive[\s\S]*coffer:tlsMinVersion 1.2 contradicts/,
    );
    expect(() => parseDeploymentConfig({ archiveRetentionDays: '30' })).toThrow(
      'coffer:archiveRetentionDays needs coffer:preset compliance-archive',
    );
    expect(() => parseDeploymentConfig({ ...preset, archiveRetentionDays: '0' })).toThrow(
      /coffer:archiveRetentionDays must be a number of days from 1 to 36500/,
    );
  });
});

describe('coffer:monitoring', () => {
  it('declares Prometheus on 127.0.0.1 with the management API key as a secret file, and passes every rule', async () => {
    const d = await deploy({ monitoring: 'true', monitoringPort: '9191', bindAddress: '0.0.0.0' });
    expect(containers().map((r) => r.name)).toEqual(['postgres', 'gateway', 'nginx', 'prometheus']);
    const prom = container('prometheus');
    expect(prom.image).toBe('coffer/prometheus:0.1.0');
    expect(prom.ports).toEqual([{ internal: 9090, external: 9191, ip: '127.0.0.1' }]);
    const key = (prom.uploads as Upload[]).find((u) => u.file === '/run/secrets/management_api_key')!;
    const login = await resolve(d.consoleLogin);
    expect(key.content.trim()).toBe(login!.managementApiKey);
    expect(mocks.records.some((r) => r.type === TYPES.volume && r.name === 'prometheus-data')).toBe(true);
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('is refused by the policy when Prometheus is published beyond loopback', async () => {
    await deploy({ monitoring: 'true' });
    const records = mocks.records.map((r) =>
      r.type === TYPES.container && r.name === 'prometheus'
        ? { ...r, props: { ...r.props, ports: [{ internal: 9090, external: 9090, ip: '0.0.0.0' }] } }
        : r,
    );
    const failed = evaluate(fromPulumi(records)).filter((r) => r.violations.length);
    expect(failed.map((r) => r.rule)).toEqual(['only-nginx-publishes-ports']);
    expect(failed[0]!.violations[0]).toMatch(/beyond loopback/);
  });
});

describe('coffer:syncJobs', () => {
  const job = { name: 'scans', direction: 'push', hostDir: '/srv/scans', target: 'scans', every: '15m' };

  it('declares each job as a container of the gateway image with its host directory bound, and passes every rule', async () => {
    const d = await deploy({ syncJobs: JSON.stringify([job]) });
    expect(containers().map((r) => r.name)).toEqual(['postgres', 'gateway', 'nginx', 'sync-scans']);
    const sync = container('sync-scans');
    expect(sync.image).toBe('coffer/sync:0.1.0');
    expect(sync.entrypoints).toEqual(['/usr/local/bin/coffer-sync-entrypoint']);
    expect(sync.envs).toContain('SYNC_AFTER_COPY=keep');
    const ca = (sync.uploads as Upload[]).find((u) => u.file === '/run/secrets/root_crt')!;
    expect(ca.content).toBe(await resolve(d.rootCaPem));
    const volume = mocks.find(TYPES.volume, 'sync-scans').props;
    expect(volume.driverOpts).toEqual({ type: 'none', o: 'bind', device: '/srv/scans' });
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('refuses a job that cannot run, naming it', () => {
    expect(() =>
      parseDeploymentConfig({ syncJobs: JSON.stringify([{ ...job, hostDir: 'scans', every: '10s' }]) }),
    ).toThrow(
      /coffer:syncJobs: sync job scans: its directory must be an absolute path \(got scans\)[\s\S]*every must be at least 1m/,
    );
    expect(() => parseDeploymentConfig({ syncJobs: '{"name":' })).toThrow(/coffer:syncJobs must be a list/);
  });
});

describe('coffer:blobStore', () => {
  const store = { endpoint: 'https://rgw.lan:7480', bucket: 'coffer-blobs' };
  const keys = { blobStoreAccessKeyId: 'STOREKEY', blobStoreSecretAccessKey: 'store-secret-0123456789' };

  it('points the gateway at the store with its keys uploaded as a secret file, and passes every rule', async () => {
    await deploy({ blobStore: JSON.stringify(store), ...keys });
    const gateway = container('gateway');
    expect(gateway.envs).toEqual(
      expect.arrayContaining(['BLOB_BACKEND=s3', 'BLOB_S3_BUCKET=coffer-blobs', 'BLOB_S3_PREFIX=blobs/']),
    );
    const file = (gateway.uploads as Upload[]).find((u) => u.file === '/run/secrets/blob_store_credentials')!;
    expect(JSON.parse(file.content)).toEqual({
      access_key_id: 'STOREKEY',
      secret_access_key: 'store-secret-0123456789',
    });
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('refuses a store without its keys, keys without a store, and a store it cannot use', () => {
    expect(() => parseDeploymentConfig({ blobStore: JSON.stringify(store) })).toThrow(
      /coffer:blobStore needs the secrets coffer:blobStoreAccessKeyId and coffer:blobStoreSecretAccessKey/,
    );
    expect(() => parseDeploymentConfig(keys)).toThrow(/need coffer:blobStore/);
    expect(() =>
      parseDeploymentConfig({ blobStore: JSON.stringify({ ...store, endpoint: 'rgw.lan' }), ...keys }),
    ).toThrow(/coffer:blobStore endpoint must be an http\(s\) URL/);
  });
});

describe('coffer:gateways', () => {
  it('declares every replica with the same settings, reachable as `gateway`, publishing nothing', async () => {
    await deploy({ gateways: '3' });
    expect(containers().map((r) => r.name)).toEqual([
      'postgres',
      'gateway',
      'gateway-2',
      'gateway-3',
      'nginx',
    ]);
    for (const name of ['gateway-2', 'gateway-3']) {
      const replica = container(name);
      expect(replica.name).toBe(`coffer-${name}`);
      expect(replica.image).toBe('coffer/gateway:0.1.0');
      expect(replica.envs).toEqual(container('gateway').envs);
      expect(replica.uploads).toEqual(container('gateway').uploads);
      expect(replica.ports).toEqual([]);
      expect(replica.networksAdvanced).toEqual([{ name: 'coffer_backend', aliases: [name, 'gateway'] }]);
    }
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('refuses a count it cannot run', () => {
    for (const bad of ['0', '17', '2.5', 'three'])
      expect(() => parseDeploymentConfig({ gateways: bad })).toThrow(
        /coffer:gateways must be a whole number 1-16/,
      );
  });
});

describe('coffer:databaseUrl', () => {
  const url = 'postgres://coffer:pg-secret-123@pg-vip.lan:5432/coffer';

  it('runs no Postgres container: the gateway gets the operator URL as its database_url secret', async () => {
    await deploy({ databaseUrl: url, gateways: '2' });
    expect(containers().map((r) => r.name)).toEqual(['gateway', 'gateway-2', 'nginx']);
    expect(mocks.records.filter((r) => r.type === TYPES.volume).map((r) => r.name)).toEqual(['coffer-data']);
    for (const name of ['gateway', 'gateway-2']) {
      const file = (container(name).uploads as Upload[]).find((u) => u.file === '/run/secrets/database_url')!;
      expect(file.content).toBe(url);
    }
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('refuses a URL it cannot use without showing it', () => {
    const err = (() => {
      try {
        parseDeploymentConfig({ databaseUrl: 'mysql://coffer:pg-secret-123@db/coffer' });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toMatch(/coffer:databaseUrl must start with postgres:\/\/ or postgresql:\/\//);
    expect(err).not.toMatch(/pg-secret-123/);
  });
});

describe('coffer:webhooks', () => {
  const hooks = JSON.stringify([
    {
      name: 'n8n',
      user: 'alice',
      url: 'https://n8n.lan/hook',
      auth: 'bearer',
      secret: 'bearer-token-0123456789',
    },
  ]);

  it('gives every gateway the declared targets as a secret file, and nothing of them in its environment', async () => {
    await deploy({ webhooks: hooks, gateways: '2' });
    for (const name of ['gateway', 'gateway-2']) {
      const file = (container(name).uploads as Upload[]).find(
        (u) => u.file === '/run/secrets/webhooks_json',
      )!;
      expect(file.content).toBe(hooks);
      const env = (container(name).envs as string[]).join('\n');
      expect(env).toContain('WEBHOOKS_FILE=/run/secrets/webhooks_json');
      expect(env).toMatch(/WEBHOOKS_DIGEST=[0-9a-f]{16}/);
      expect(env).not.toContain('bearer-token');
    }
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
  });

  it('refuses targets it cannot use without showing their secrets', () => {
    const err = (() => {
      try {
        parseDeploymentConfig({ webhooks: hooks.replace('https://', 'ftp://') });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(err).toMatch(/coffer:webhooks entry 1 \(n8n\): url: must be http or https/);
    expect(err).not.toContain('bearer-token');
  });
});

describe('master-key rotation (coffer:previousMasterKeys)', () => {
  const current = 'ab'.repeat(32);
  const next = 'cd'.repeat(32);

  it('gives the gateway the new key first and the retiring one after it, and the current key as a secret output', async () => {
    const before = await deploy({ masterKey: current });
    expect(await resolve(before.masterKey)).toBe(current);
    expect(await pulumi.isSecret(before.masterKey)).toBe(true);
    mocks.reset();
    const during = await deploy({ masterKey: next, previousMasterKeys: JSON.stringify([current]) });
    const file = (container('gateway').uploads as Upload[]).find(
      (u) => u.file === '/run/secrets/master_key',
    )!;
    expect(file.content).toBe(`${next}\n${current}\n`);
    expect(await resolve(during.masterKey)).toBe(next);
  });

  it('refuses a rotation without the key it moves to, or one that retires the current key', () => {
    expect(() => parseDeploymentConfig({ previousMasterKeys: JSON.stringify([current]) })).toThrow(
      /coffer:previousMasterKeys needs coffer:masterKey/,
    );
    expect(() =>
      parseDeploymentConfig({
        masterKey: current,
        previousMasterKeys: JSON.stringify([current.toUpperCase()]),
      }),
    ).toThrow(/coffer:previousMasterKeys names coffer:masterKey itself/);
    expect(() => parseDeploymentConfig({ masterKey: next, previousMasterKeys: '["abc"]' })).toThrow(
      /coffer:previousMasterKeys must be a list of master keys/,
    );
  });
});

describe('moving a compose deployment to Pulumi', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coffer-stack-'));
    await setupCredentials({ root: dir, domain: 'localhost', extraHosts: [], extraIps: [], force: false });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the credentials, Postgres password, master key and root CA of secrets/', async () => {
    const d = await deploy({ secretsDir: 'secrets' }, dir);
    const file = (rel: string) => readFileSync(path.join(dir, rel), 'utf8');
    const uploaded = (service: string, secret: string) =>
      (container(service).uploads as Upload[]).find((u) => u.file === `/run/secrets/${secret}`)!.content;
    expect(uploaded('gateway', 'master_key').trim()).toBe(file(SECRET_FILES.master_key).trim());
    expect(uploaded('postgres', 'postgres_password')).toBe(file(SECRET_FILES.postgres_password).trim());
    expect(JSON.parse(uploaded('gateway', 'credentials_json'))).toEqual(
      JSON.parse(file(SECRET_FILES.credentials_json)),
    );
    const creds = JSON.parse(file(SECRET_FILES.credentials_json)) as Array<{
      client_id: string;
      client_secret: string;
    }>;
    expect(await resolve(d.credentials)).toEqual(
      creds.map((c) => ({ accessKeyId: c.client_id, secretAccessKey: c.client_secret })),
    );
    expect(await resolve(d.rootCaPem)).toBe(file('secrets/root.crt'));
    expect(uploaded('gateway', 'admin_json')).toBe(file(SECRET_FILES.admin_json).trim());
    expect(await resolve(d.consoleLogin)).toEqual({
      username: 'admin',
      password: file('secrets/admin_password.txt').trim(),
      managementApiKey: file('secrets/management_api_key.txt').trim(),
    });
    // No new CA: the server certificate is signed by the one clients already trust.
    expect(mocks.records.some((r) => r.type === TYPES.privateKey && r.name === 'root-ca-key')).toBe(false);
    const cert = mocks.find(TYPES.locallySignedCert, 'server-cert').props;
    expect(String(cert.caPrivateKeyPem).trim()).toBe(file('secrets/ca.key').trim());
    expect(mocks.records.some((r) => r.type.startsWith('random:'))).toBe(false);
    expect(evaluate(fromPulumi(mocks.records)).filter((r) => r.violations.length)).toEqual([]);
    for (const v of Object.values(d.secretFiles)) expect(await pulumi.isSecret(v)).toBe(true);
  });

  it('refuses a secrets directory that lacks the master key, naming the file', () => {
    const config = parseDeploymentConfig({ secretsDir: path.join(dir, 'nowhere') });
    expect(() => existingSecrets(config, dir)).toThrow(ExistingSecretsError);
    const partial = mkdtempSync(path.join(tmpdir(), 'coffer-partial-'));
    try {
      expect(() => existingSecrets(parseDeploymentConfig({ secretsDir: partial }), dir)).toThrow(
        /lacks postgres_user\.txt, postgres_password\.txt, master_key\.txt, credentials_json\.txt/,
      );
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  });
});

describe('stack config', () => {
  it('has defaults equal to the compose deployment', () => {
    const c = parseDeploymentConfig({});
    expect(c).toMatchObject({
      domain: 'localhost',
      httpsPort: 443,
      httpPort: 80,
      imageTag: '0.1.0',
      region: 'us-east-1',
      enforcePayloadVerification: true,
      tlsMinVersion: '1.2',
      extraHostNames: [],
      extraIps: [],
    });
  });

  it('rejects bad values with one line per key', () => {
    let error: unknown;
    try {
      parseDeploymentConfig({
        domain: 'not_a host',
        httpsPort: '70000',
        imageTag: 'latest',
        extraIps: '["10.0.0.300"]',
        tlsMinVersion: '1.0',
        enforcePayloadVerification: 'yes',
        masterKey: 'short',
        accessKeyId: 'AKIAEXAMPLEEXAMPLE',
        dataPath: 'relative/dir',
        colour: 'blue',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    const message = (error as Error).message;
    for (const line of [
      'coffer:domain must be a DNS host name (got "not_a host")',
      'coffer:httpsPort must be a port number 1-65535 (got "70000")',
      'coffer:imageTag must be a pinned image tag, not "latest" (got "latest")',
      'coffer:extraIps must be a list of IP addresses (got "[\\"10.0.0.300\\"]")',
      'coffer:tlsMinVersion must be one of 1.2, 1.3 (got "1.0")',
      'coffer:enforcePayloadVerification must be true or false (got "yes")',
      'coffer:masterKey must be 64 hex digits (32 bytes)',
      'coffer:accessKeyId and coffer:secretAccessKey must be set together',
      'coffer:dataPath must be an absolute host path (got "relative/dir")',
      'coffer:colour is not a known setting',
    ])
      expect(message).toContain(line);
    expect(() => parseDeploymentConfig({ httpsPort: 8443, httpPort: '8443' })).toThrow(
      'coffer:httpPort must differ from coffer:httpsPort',
    );
  });

  it('checks in an example stack that validates', () => {
    const doc = parse(readFileSync(path.join(ROOT, 'Pulumi.onprem.yaml'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const raw = Object.fromEntries(
      Object.entries(doc.config).map(([k, v]) => [k.replace(/^coffer:/, ''), v]),
    );
    expect(parseDeploymentConfig(raw)).toMatchObject({
      domain: 's3.storage.internal',
      secretsDir: 'secrets',
      gateways: 3,
      syncJobs: [expect.objectContaining({ name: 'scans', hostDir: '/srv/scans', every: '15m' })],
    });
  });
});

describe('parity with docker-compose.yaml', () => {
  it('declares the same services, images, environment, secrets, volumes, networks, healthchecks and published ports', async () => {
    await deploy();
    const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yaml'), 'utf8')) as {
      services: Record<string, Record<string, unknown>>;
      secrets: Record<string, unknown>;
      volumes: Record<string, unknown>;
      networks: Record<string, unknown>;
    };
    const unprefix = (name: unknown) => String(name).replace(/^coffer_/, '');
    expect(containers().map((r) => r.name)).toEqual(Object.keys(compose.services));
    for (const [name, s] of Object.entries(compose.services)) {
      const p = container(name);
      const env = envFromList(p.envs as string[]);
      const declared = {
        image: p.image,
        restart: p.restart,
        environment: env,
        secrets: (p.uploads as Upload[]).map((u) => path.basename(u.file)),
        volumes: (p.volumes as Array<{ volumeName: string; containerPath: string }>).map(
          (v) => `${unprefix(v.volumeName)}:${v.containerPath}`,
        ),
        tmpfs: Object.keys(p.tmpfs as object),
        ports: (p.ports as Array<{ internal: number; external: number }>).map(
          (x) => `${x.external}:${x.internal}`,
        ),
        healthcheck: (p.healthcheck as { tests: string[] }).tests,
        networks: (p.networksAdvanced as Array<{ name: string }>).map((n) => unprefix(n.name)),
      };
      expect(declared, name).toEqual({
        image: s.image,
        restart: s.restart,
        environment: s.environment,
        secrets: s.secrets ?? [],
        volumes: s.volumes ?? [],
        tmpfs: s.tmpfs ?? [],
        ports: s.ports ?? [],
        healthcheck: (s.healthcheck as { test: string[] }).test,
        networks: s.networks,
      });
    }
    expect(mocks.records.filter((r) => r.type === TYPES.volume).map((v) => unprefix(v.props.name))).toEqual(
      Object.keys(compose.volumes),
    );
    expect(
      mocks.records
        .filter((r) => r.type === 'docker:index/network:Network')
        .map((n) => unprefix(n.props.name)),
    ).toEqual(Object.keys(compose.networks));
    const uploaded = new Set(
      containers().flatMap((c) => (c.props.uploads as Upload[]).map((u) => path.basename(u.file))),
    );
    expect([...uploaded].sort()).toEqual(Object.keys(compose.secrets).sort());
  });
});
