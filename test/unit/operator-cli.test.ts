import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeFile, deployOptions, saveSettings } from '../../scripts/lib/deploy.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { login } from '../../scripts/lib/login.js';
import { leftBehind, purgeRefusal } from '../../scripts/lib/purge.js';
import { setupCredentials } from '../../scripts/lib/secrets.js';
import { withJob, withoutJob } from '../../scripts/lib/sync-service.js';
import { parseBlobStoreUrl, prepareBlobStore } from '../../scripts/lib/blob-store.js';
import { prepareExternalPostgres } from '../../scripts/lib/external-postgres.js';
import { prepareWebhooks } from '../../scripts/lib/webhooks.js';
import { topology } from '../../stacks/topology.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs an operator script as `npm run` does, and returns what the operator would see. */
function script(name: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'coffer-cli-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('operator scripts refuse what they do not know', () => {
  for (const [name, bad, valid] of [
    [
      'up',
      '--domian',
      '--project, --domain, --https-port, --http-port, --sigv2, --bucket-defaults, --preset, --archive-buckets, --retention-days, --retention-mode, --with-monitoring, --without-monitoring, --monitoring-port, --blob-store, --blob-store-region, --blob-store-credentials, --gateways, --database-url-file, --webhooks-file, --without-webhooks, --engine, --stack, --help',
    ],
    ['status', '--bogus', '--project, --domain, --https-port, --http-port, --help'],
    ['down', '--purge', '--project, --domain, --https-port, --http-port, --purge-data, --yes, --help'],
    [
      'setup-credentials',
      '--forse',
      '--domain, --host, --ip, --force, --renew-server-cert, --rotate-postgres-password, --help',
    ],
    ['login', '--totp-code', '--project, --domain, --https-port, --http-port, --totp, --help'],
  ] as const) {
    it(`${name} ${bad}: one line naming the valid options, and nothing done`, () => {
      const r = script(name, bad, 'x');
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(bad);
      expect(lines[0]).toContain(`valid options: ${valid}`);
    });
  }

  it('refuses words after the options where a script takes none', () => {
    const r = script('status', 'extra');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('backup, restore, migrate and sync refuse missing or wrong arguments in one line, before touching anything', () => {
    for (const [name, args, message] of [
      ['backup', ['--passphrase-file', 'p'], '--to DIR is required'],
      ['restore', [], '--from DIR is required'],
      ['migrate', ['--from', 'https://s3.example.com'], '--from an endpoint needs --key-file'],
      ['sync', ['sideways', 'dir', 'coffer:b'], 'usage: npm run sync -- push|pull|two-way'],
    ] as const) {
      const r = script(name, ...args);
      expect(r.status, name).toBe(1);
      expect(r.stderr.trim().split('\n'), name).toEqual([expect.stringContaining(message)]);
    }
  });

  it('still prints --help', () => {
    const r = script('up', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run up/);
  });
});

describe('npm run down -- --purge-data', () => {
  it('deletes nothing unconfirmed: off a terminal it needs --yes, and --yes alone means nothing', () => {
    const unconfirmed = script('down', '--purge-data');
    expect([unconfirmed.status, unconfirmed.stderr.trim()]).toEqual([
      1,
      'coffer: --purge-data deletes every stored object and the metadata database: confirm on a terminal, or pass --yes',
    ]);
    expect(script('down', '--yes').stderr.trim()).toBe(
      'coffer: --yes confirms --purge-data, which was not given',
    );
  });

  it('never purges a compliance archive, and names what a purge leaves behind', () => {
    const preset = { buckets: ['records'], retentionMode: 'COMPLIANCE' as const, retentionDays: 400 };
    expect(purgeRefusal({ preset })).toBe(
      'this deployment is a compliance archive (buckets records, COMPLIANCE retention of 400 days): --purge-data would delete data under retention, and is refused; nothing was removed',
    );
    expect(purgeRefusal({})).toBeUndefined();
    expect(leftBehind('/root/.config/rclone/rclone.conf', 'coffer').join('\n')).toMatch(
      /secrets\/[\s\S]*credentials\.json[\s\S]*rclone remote "coffer" in \/root\/\.config\/rclone\/rclone\.conf/,
    );
    // Data outside the volumes is named, for the operator to delete with the tools that hold it.
    const store = {
      endpoint: 'https://rgw.lan',
      bucket: 'coffer-blobs',
      region: 'us-east-1',
      prefix: 'site-a/',
    };
    expect(leftBehind('/r.conf', 'coffer', { externalPostgres: true, blobStore: store }).slice(0, 2)).toEqual(
      [
        'the metadata in the external Postgres (secrets/external_database_url.txt): drop its database yourself',
        "the sealed blobs under https://rgw.lan/coffer-blobs/site-a/: delete them with the store's tools",
      ],
    );
  });
});

describe('scripts run against a deployment that is not there', () => {
  it('login with secrets/ missing says what to run, without a stack trace', async () => {
    const report = await login(root, 'https://localhost:1');
    expect(report.ok).toBe(false);
    expect(report.error).toMatchObject({ error: 'SecretsMissing' });
    expect(report.error!.message).toContain('npm run up');
  });

  it('login while the deployment is down says so and names npm run up', async () => {
    await setupCredentials({ root, domain: 'localhost', extraHosts: [], extraIps: [], force: false });
    const report = await login(root, `https://localhost:${await freePort()}`);
    expect(report.error).toMatchObject({ error: 'DeploymentDown', code: 'ECONNREFUSED' });
    expect(report.error!.message).toContain('npm run up');
  });

  it('rclone-config while the deployment is down says so before writing anything', async () => {
    const config = path.join(root, 'rclone.conf');
    const r = script('rclone-config', '--https-port', String(await freePort()), '--config', config);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^coffer: nothing answers at https:\/\/localhost:\d+: .*npm run up$/);
  });
});

describe('up --blob-store URL --blob-store-credentials FILE', () => {
  it('reads endpoint, bucket and prefix from one URL', () => {
    expect(parseBlobStoreUrl('https://rgw.lan:7480/coffer-blobs', undefined)).toEqual({
      endpoint: 'https://rgw.lan:7480',
      bucket: 'coffer-blobs',
      region: 'us-east-1',
      prefix: 'blobs/',
    });
    expect(parseBlobStoreUrl('http://10.0.0.9/shared/site-a', 'eu-west-1')).toMatchObject({
      bucket: 'shared',
      region: 'eu-west-1',
      prefix: 'site-a/',
    });
    expect(() => parseBlobStoreUrl('rgw.lan/b', undefined)).toThrow(/--blob-store takes https:\/\/HOST/);
    expect(() => parseBlobStoreUrl('https://rgw.lan/', undefined)).toThrow(/--blob-store: bucket ''/);
  });

  it("keeps the store's keys in secrets/ once, never over others, and never moves a deployment holding data", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-store-'));
    await mkdir(path.join(dir, 'secrets'));
    const store = parseBlobStoreUrl('https://rgw.lan:7480/coffer-blobs', undefined);
    const keys = path.join(dir, 'keys.json');
    await writeFile(keys, JSON.stringify({ access_key_id: 'A', secret_access_key: 'S' }));
    await expect(prepareBlobStore(dir, undefined, store, undefined, undefined)).rejects.toThrow(
      /--blob-store needs the store's keys once/,
    );
    await prepareBlobStore(dir, undefined, store, keys, undefined);
    const secret = path.join(dir, 'secrets/blob_store_credentials.json');
    expect(JSON.parse(await readFile(secret, 'utf8'))).toEqual({
      access_key_id: 'A',
      secret_access_key: 'S',
    });
    expect((await stat(secret)).mode & 0o777).toBe(0o600);
    // The same keys again are fine; other keys are refused and the secret stays.
    await prepareBlobStore(dir, store, store, keys, 'coffer_coffer-data');
    await writeFile(keys, JSON.stringify({ access_key_id: 'B', secret_access_key: 'T' }));
    await expect(prepareBlobStore(dir, store, store, keys, undefined)).rejects.toThrow(
      /already holds other keys/,
    );
    expect(JSON.parse(await readFile(secret, 'utf8')).access_key_id).toBe('A');
    // Data on the volume, or in another store: not moved.
    await expect(prepareBlobStore(dir, undefined, store, undefined, 'coffer_coffer-data')).rejects.toThrow(
      /holds data whose blobs are on the data volume; moving them to another store is not supported/,
    );
    await expect(prepareBlobStore(dir, store, undefined, undefined, 'coffer_coffer-data')).rejects.toThrow(
      /blobs are in https:\/\/rgw.lan:7480\/coffer-blobs\/blobs\//,
    );
    await rm(dir, { recursive: true });
  });
});

describe('up --gateways N --database-url-file FILE', () => {
  it('refuses a replica count it cannot run, and names the option', () => {
    const r = script('up', '--gateways', '0');
    expect([r.status, r.stderr.trim()]).toEqual([
      1,
      'coffer: --gateways must be a whole number from 1 to 16 (got 0)',
    ]);
  });

  it('keeps the URL in secrets/ once, never over another, never prints it, and never leaves the bundled Postgres behind', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-pg-'));
    await mkdir(path.join(dir, 'secrets'));
    const file = path.join(dir, 'url.txt');
    const external = { externalPostgres: true, wasExternal: false };
    await writeFile(file, 'mysql://coffer:hunter2-secret@db.lan/coffer\n');
    const bad = await prepareExternalPostgres(dir, external, file, undefined).catch((e: Error) => e.message);
    expect(bad).toBe(
      `--database-url-file: the URL in ${file} must start with postgres:// or postgresql:// (not mysql://)`,
    );
    await expect(prepareExternalPostgres(dir, external, undefined, undefined)).rejects.toThrow(
      /secrets\/external_database_url.txt is missing: pass --database-url-file FILE again/,
    );
    await writeFile(file, 'postgres://coffer:hunter2-secret@pg-vip.lan:5432/coffer\n');
    await expect(prepareExternalPostgres(dir, external, file, 'coffer_postgres-data')).rejects.toThrow(
      /the volume coffer_postgres-data holds this deployment's metadata in the bundled Postgres/,
    );
    await prepareExternalPostgres(dir, external, file, undefined);
    const secret = path.join(dir, 'secrets/external_database_url.txt');
    expect(await readFile(secret, 'utf8')).toBe('postgres://coffer:hunter2-secret@pg-vip.lan:5432/coffer\n');
    expect((await stat(secret)).mode & 0o777).toBe(0o600);
    // Kept: the same URL again, or none, is fine; another is refused and the secret stays.
    await prepareExternalPostgres(dir, { externalPostgres: true, wasExternal: true }, file, undefined);
    await prepareExternalPostgres(dir, { externalPostgres: true, wasExternal: true }, undefined, undefined);
    await writeFile(file, 'postgres://coffer:other@pg2.lan/coffer');
    const other = await prepareExternalPostgres(dir, external, file, undefined).catch(
      (e: Error) => e.message,
    );
    expect(other).toMatch(/already holds another database URL; it was left as it is/);
    expect(other).not.toMatch(/hunter2|other@/);
    expect(await readFile(secret, 'utf8')).toMatch(/hunter2-secret/);
    await rm(dir, { recursive: true });
  });
});

describe('up --webhooks-file FILE', () => {
  it('keeps the targets in secrets/ once, checks the kept file at every up, and names it by a digest that follows its edits', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-hooks-'));
    await mkdir(path.join(dir, 'secrets'));
    const file = path.join(dir, 'hooks.json');
    const hook = {
      name: 'n8n',
      user: 'alice',
      url: 'https://n8n.lan/webhook/s3',
      auth: 'hmac',
      secret: 'hmac-secret-0123456789',
    };
    await writeFile(file, JSON.stringify([{ ...hook, secret: 'short' }]));
    const bad = await prepareWebhooks(dir, true, file).catch((e: Error) => e.message);
    expect(bad).toBe(`--webhooks-file: ${file} entry 1 (n8n): secret: 16 to 4096 characters on one line`);
    await expect(prepareWebhooks(dir, true, undefined)).rejects.toThrow(
      /secrets\/webhooks.json is missing: pass --webhooks-file FILE again/,
    );
    expect(await prepareWebhooks(dir, false, undefined)).toBeUndefined();
    await writeFile(file, JSON.stringify([hook]));
    const first = await prepareWebhooks(dir, true, file);
    const kept = path.join(dir, 'secrets/webhooks.json');
    expect((await stat(kept)).mode & 0o777).toBe(0o600);
    expect(first?.digest).toMatch(/^[0-9a-f]{16}$/);
    expect(await prepareWebhooks(dir, true, undefined)).toEqual(first);
    // Other targets handed in are refused (the kept file is where they change), and nothing is printed of them.
    await writeFile(file, JSON.stringify([{ ...hook, url: 'https://other.lan/' }]));
    const other = await prepareWebhooks(dir, true, file).catch((e: Error) => e.message);
    expect(other).toMatch(
      /secrets\/webhooks.json already holds other webhook targets \(edit it there instead\)/,
    );
    expect(other).not.toContain('hmac-secret');
    // Edited in place: a new digest, so the gateways are recreated and apply it; broken, nothing runs.
    await writeFile(kept, JSON.stringify([{ ...hook, url: 'https://n8n.lan/webhook/v2' }]));
    const edited = await prepareWebhooks(dir, true, undefined);
    expect(edited?.digest).not.toBe(first?.digest);
    await writeFile(kept, '[{"name": "n8n"');
    await expect(prepareWebhooks(dir, true, undefined)).rejects.toThrow(
      'secrets/webhooks.json is not JSON: fix it, then run up again (nothing was changed)',
    );
    const gateway = topology({ webhooks: edited }).services.find((s) => s.name === 'gateway')!;
    expect(gateway.env).toMatchObject({
      WEBHOOKS_FILE: '/run/secrets/webhooks_json',
      WEBHOOKS_DIGEST: edited!.digest,
    });
    expect(gateway.secrets).toContainEqual({ name: 'webhooks_json' });
    expect(topology({ webhooks: edited }).secrets.webhooks_json).toBe('secrets/webhooks.json');
    expect(topology().secrets).not.toHaveProperty('webhooks_json');
    await rm(dir, { recursive: true });
  });

  it('keeps declaring them until --without-webhooks, and refuses both at once', () => {
    const r = script('up', '--webhooks-file', 'x.json', '--without-webhooks');
    expect([r.status, r.stderr.trim()]).toEqual([
      1,
      'coffer: --webhooks-file and --without-webhooks contradict each other',
    ]);
  });
});

describe('npm run sync -- ... --install NAME', () => {
  it('refuses a job it could not run, before touching the deployment', () => {
    const refusal = (...args: string[]) => {
      const r = script('sync', ...args);
      return [r.status, r.stderr.trim()];
    };
    expect(
      refusal('push', '/nonexistent/scans', 'coffer:scans', '--install', 'scans', '--every', '15m'),
    ).toEqual([1, 'coffer: /nonexistent/scans is not a directory on this host; a scheduled sync needs one']);
    expect(refusal('push', ROOT, 'coffer:scans', '--install', 'scans')).toEqual([
      1,
      'coffer: --install needs --every: how often the service runs',
    ]);
    expect(refusal('pull', 'elsewhere:b', 'coffer:scans', '--install', 'scans', '--every', '1h')).toEqual([
      1,
      'coffer: --install needs a directory on this host; an rclone remote syncs with --every',
    ]);
    expect(
      refusal(
        'two-way',
        ROOT,
        'coffer:scans',
        '--install',
        'scans',
        '--every',
        '1h',
        '--after-copy',
        'delete',
      ),
    ).toEqual([1, 'coffer: sync job scans: after-copy delete needs push or pull: two-way keeps both sides']);
    expect(refusal('push', ROOT, 'coffer:scans', '--install', 'Scans', '--every', '1h')).toEqual([
      1,
      'coffer: sync job Scans: its name must be a lower-case name of at most 31 letters, digits and hyphens',
    ]);
    expect(refusal('--uninstall', 'scans')).toEqual([
      1,
      'coffer: no scheduled sync is named scans (there are none)',
    ]);
    expect(script('sync', '--list').stdout.trim()).toBe(
      'no scheduled sync is installed (npm run sync -- ... --install NAME)',
    );
  });

  it('replaces a job of the same name and forgets one by name, keeping the others', () => {
    const o = deployOptions({}, root);
    const job = {
      name: 'a',
      direction: 'push',
      hostDir: root,
      target: 'bucket-a',
      afterCopy: 'keep',
      every: '1h',
    } as const;
    const two = withJob(withJob(o, job), { ...job, name: 'b' });
    expect(two.syncJobs.map((j) => j.name)).toEqual(['a', 'b']);
    const moved = withJob(two, { ...job, every: '2h' });
    expect(moved.syncJobs.map((j) => `${j.name} ${j.every}`)).toEqual(['b 1h', 'a 2h']);
    expect(withoutJob(moved, 'a').syncJobs.map((j) => j.name)).toEqual(['b']);
  });
});

describe('deployment settings persist beside secrets/', () => {
  it('a plain command reuses what up --domain was given, and a flag still overrides it', async () => {
    expect(deployOptions({}, root)).toEqual({
      project: 'coffer',
      domain: 'localhost',
      httpsPort: 443,
      httpPort: 80,
      extraHostNames: [],
      extraIps: [],
      signatureV2: true,
      bucketDefaults: 'current',
      monitoring: false,
      monitoringPort: 9090,
      syncJobs: [],
      gateways: 1,
      externalPostgres: false,
    });
    await saveSettings(
      root,
      deployOptions(
        {
          project: 'coffer-lab',
          domain: 's3.site.lan',
          'https-port': '8443',
          host: ['backup.lan'],
          sigv2: 'off',
          'bucket-defaults': 'legacy',
          'with-monitoring': true,
          'monitoring-port': '9191',
          gateways: '3',
          'database-url-file': '/etc/coffer/db-url',
        },
        root,
      ),
    );
    expect(deployOptions({}, root)).toEqual({
      project: 'coffer-lab',
      domain: 's3.site.lan',
      httpsPort: 8443,
      httpPort: 80,
      extraHostNames: ['backup.lan'],
      extraIps: [],
      signatureV2: false,
      bucketDefaults: 'legacy',
      monitoring: true,
      monitoringPort: 9191,
      syncJobs: [],
      gateways: 3,
      externalPostgres: true,
    });
    expect(deployOptions({ 'without-monitoring': true }, root).monitoring).toBe(false);
    expect(deployOptions({ gateways: '1' }, root).gateways).toBe(1);
    const gateway = topology(deployOptions({}, root)).services.find((s) => s.name === 'gateway')!;
    expect(gateway.env).toMatchObject({ SIGV2_ENABLED: 'false', BUCKET_DEFAULTS: 'legacy' });
    expect(deployOptions({ domain: 'other.lan' }, root).domain).toBe('other.lan');
  });

  it('runs a second deployment on the same host as another compose project', async () => {
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'coffer-lab-'));
    const o = deployOptions({ project: 'lab' }, fresh);
    await rm(fresh, { recursive: true });
    // Only the project differs: the checked-in file, run as project "lab" (its own containers and volumes).
    expect(await composeFile(o)).toEqual({
      file: path.join(ROOT, 'docker-compose.yaml'),
      project: 'lab',
      gateways: ['gateway'],
      externalPostgres: false,
    });
    const bad = script('status', '--project', 'Lab_1');
    expect([bad.status, bad.stderr.trim()]).toEqual([
      1,
      'coffer: --project must be a lower-case name of at most 31 letters, digits and hyphens (got Lab_1)',
    ]);
  });

  it('nginx serves exactly the names the certificate covers', () => {
    const nginx = topology({
      domain: 's3.site.lan',
      extraHostNames: ['backup.lan'],
      extraIps: ['10.0.0.5'],
    }).services.find((s) => s.name === 'nginx')!;
    expect(nginx.env.SERVER_NAMES).toBe(
      's3.site.lan *.s3.site.lan localhost nginx backup.lan 127.0.0.1 10.0.0.5',
    );
  });
});
