import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { fetchSnapshot } from '../../scripts/lib/backup.js';
import { readCredentials } from '../../scripts/lib/secrets.js';
import { pathStyleClient } from '../../service/test/support/s3-client.js';
import { cleanEnv, requireBinary, run } from '../../service/test/support/run.js';
import { dockerAvailable } from './docker.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const enabled = dockerAvailable();
let tmp: string;
let upOutput = '';
let createdVolumes = false;
let settingsBefore: string | undefined;

const volumeExists = (name: string) =>
  spawnSync('docker', ['volume', 'inspect', name], { stdio: 'ignore' }).status === 0;

/** An operator script from this checkout, as `npm run <name>` runs it. */
const script = (name: string, args: string[] = [], timeout = 600_000) =>
  spawnSync(process.execPath, ['--import', 'tsx', `scripts/${name}.ts`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      RCLONE_CONFIG: path.join(tmp, 'rclone.conf'),
      AWS_CONFIG_FILE: path.join(tmp, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'aws-credentials'),
    },
    timeout,
  });

/** The aws CLI as a user of the deployment runs it: the first credential, the generated root CA. */
async function awsCli(...args: string[]) {
  const [cred] = await readCredentials(ROOT);
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: cred!.client_id,
    AWS_SECRET_ACCESS_KEY: cred!.client_secret,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: path.join(tmp, 'none'),
  });
  return run('aws', [...args, '--ca-bundle', './root.crt', '--endpoint-url', 'https://localhost'], env, ROOT);
}

/** The running gateway container of the compose project. */
const gatewayContainer = () =>
  spawnSync(
    'docker',
    [
      'ps',
      '-q',
      '--filter',
      'label=com.docker.compose.project=coffer',
      '--filter',
      'label=com.docker.compose.service=gateway',
    ],
    { encoding: 'utf8' },
  ).stdout.trim();

/**
 * The README's first command, for real: `npm run up` from this checkout brings the checked-in
 * docker-compose.yaml up with docker-compose and ends with commands that must work as printed.
 */
describe.runIf(enabled)('npm run up with the checked-in docker-compose.yaml', () => {
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'coffer-up-'));
    createdVolumes = !volumeExists('coffer_postgres-data');
    settingsBefore = await readFile(path.join(ROOT, 'deployment.json'), 'utf8').catch(() => undefined);
    const up = script('up', [], 900_000);
    upOutput = up.stdout + up.stderr;
    if (up.status !== 0) throw new Error(`npm run up failed:\n${upOutput}`);
  }, 900_000);

  afterAll(async () => {
    // Data the test created goes with it; an operator's existing deployment keeps its volumes.
    const down = ['--import', 'tsx', 'scripts/down.ts', ...(createdVolumes ? ['--purge-data', '--yes'] : [])];
    spawnSync(process.execPath, down, { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
    // The settings the suite's commands saved (--with-monitoring) go back to what they were.
    if (settingsBefore === undefined) await rm(path.join(ROOT, 'deployment.json'), { force: true });
    else await writeFile(path.join(ROOT, 'deployment.json'), settingsBefore);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('prints the endpoint and the root certificate', () => {
    expect(upOutput).toContain('endpoint:   https://localhost');
    expect(upOutput).toContain(`root CA:    ${path.join(ROOT, 'root.crt')}`);
    expect(upOutput).toContain(
      `backup:     ${path.join(ROOT, 'credentials.json')} holds the master key in clear`,
    );
  });

  it('runs up again with nothing changed without rebuilding an image or recreating a container', () => {
    const before = gatewayContainer();
    const again = script('up');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/building coffer\//);
    for (const image of ['coffer/postgres', 'coffer/gateway', 'coffer/nginx'])
      expect(again.stdout).toMatch(new RegExp(`${image}:\\S+ is up to date`));
    expect(gatewayContainer()).toBe(before);
  });

  it('serves the console through nginx and logs the admin in with npm run login', async () => {
    expect(upOutput).toContain('console:    https://localhost/_coffer/console/');
    const ca = await readFile(path.join(ROOT, 'root.crt'));
    const page = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
      https
        .get('https://localhost/_coffer/console/', { ca }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
          );
        })
        .on('error', reject);
    });
    expect(page.status).toBe(200);
    expect(page.type).toContain('text/html');
    expect(page.body).toContain('<title>Coffer console</title>');
    const login = script('login', [], 60_000);
    expect(login.status, login.stderr).toBe(0);
    expect(login.stdout).toContain('console admin and management API key accepted');
    expect(login.stdout).toContain('  aws --profile coffer s3 ls');
  });

  it('reports services, endpoint, certificate expiry and disk use with npm run status', () => {
    const status = script('status', [], 120_000);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/gateway.*\(healthy\)/);
    expect(status.stdout).toContain('endpoint:     https://localhost');
    expect(status.stdout).toMatch(/certificate: {2}expires \d{4}-\d\d-\d\d \(8\d\d days\)/);
    expect(status.stdout).toMatch(/object data: {2}\d+\.\d GiB of \d+\.\d GiB used \(\d+%\)/);
    expect(status.stdout).toMatch(/postgres: {5}\d+\.\d GiB of \d+\.\d GiB used \(\d+%\)/);
    // A fresh deployment's jobs wait for their first interval; a run shows when and what it did.
    expect(status.stdout).toMatch(/collector: {4}(has not run yet|ran \d{4}-\d\d-\d\d \d\d:\d\d UTC)/);
    expect(status.stdout).toMatch(/lifecycle: {4}(has not run yet|ran \d{4}-\d\d-\d\d \d\d:\d\d UTC)/);
  });

  it.runIf(requireBinary('aws'))('leaves an aws CLI profile that needs no flags', async () => {
    const env = cleanEnv({
      AWS_CONFIG_FILE: path.join(tmp, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(tmp, 'aws-credentials'),
    });
    const out = await run('aws', ['--profile', 'coffer', 's3api', 'list-buckets'], env, tmp);
    expect(JSON.parse(out.stdout).Owner.ID).toMatch(/^[0-9a-f]{64}$/);
  });

  it.runIf(requireBinary('aws'))(
    'answers aws s3api list-buckets --ca-bundle ./root.crt --endpoint-url https://localhost',
    async () => {
      const [cred] = await readCredentials(ROOT);
      const out = await awsCli('s3api', 'list-buckets');
      // The credential's user: an AWS-shaped canonical id, and its name as DisplayName.
      expect(JSON.parse(out.stdout).Owner).toEqual({
        ID: expect.stringMatching(/^[0-9a-f]{64}$/),
        DisplayName: cred!.user_name ?? cred!.client_id,
      });
    },
  );

  it.runIf(requireBinary('rclone'))(
    'runs the printed rclone command as printed, whatever AWS_CA_BUNDLE says',
    async () => {
      const line = upOutput.split('\n').find((l) => l.trim().startsWith('env -u AWS_CA_BUNDLE rclone'));
      expect(line).toBeDefined();
      const r = spawnSync('sh', ['-c', line!.trim()], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' },
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
    },
  );

  it('rotates the Postgres password of the running deployment without losing data or access', async () => {
    await awsCli('s3api', 'create-bucket', '--bucket', 'before-rotation');
    const before = await readFile(path.join(ROOT, 'secrets/postgres_password.txt'), 'utf8');
    const rotate = script('setup-credentials', ['--rotate-postgres-password'], 300_000);
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(await readFile(path.join(ROOT, 'secrets/postgres_password.txt'), 'utf8')).not.toBe(before);
    const buckets = JSON.parse((await awsCli('s3api', 'list-buckets')).stdout) as {
      Buckets: Array<{ Name: string }>;
    };
    expect(buckets.Buckets.map((b) => b.Name)).toContain('before-rotation');
    // A fresh gateway connection authenticates with the new password: restart it and ask again.
    const gateway = gatewayContainer();
    expect(gateway).not.toBe('');
    spawnSync('docker', ['restart', gateway], { stdio: 'ignore', timeout: 120_000 });
    for (let i = 0; i < 120; i++) {
      const health = spawnSync('docker', ['inspect', '--format', '{{.State.Health.Status}}', gateway], {
        encoding: 'utf8',
      }).stdout.trim();
      if (health === 'healthy') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const login = script('login', [], 120_000);
    expect(login.status, login.stderr + login.stdout).toBe(0);
  });

  it('rotates the master key while serving: objects sealed before read back, the old key is retired', async () => {
    const file = path.join(tmp, 'sealed-before.txt');
    await writeFile(file, 'sealed under the first master key\n');
    await awsCli('s3', 'cp', file, 's3://before-rotation/old.txt');
    const keyFile = path.join(ROOT, 'secrets/master_key.txt');
    const before = (await readFile(keyFile, 'utf8')).trim();
    const rotate = script('rotate-master-key', [], 300_000);
    expect(rotate.status, rotate.stderr).toBe(0);
    const [, current, retired] = /master key ([0-9a-f]{8}) is in use; ([0-9a-f]{8}) retired/.exec(
      rotate.stdout,
    )!;
    expect(current).not.toBe(retired);
    const after = (await readFile(keyFile, 'utf8')).trim();
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    expect(after).not.toBe(before);
    // The backup holds the key in use; the one from before the rotation is kept beside it, 0600.
    const backup = JSON.parse(await readFile(path.join(ROOT, 'credentials.json'), 'utf8')) as {
      master_key: string;
    };
    expect(backup.master_key).toBe(after);
    const kept = path.join(ROOT, `credentials.before-${current}.json`);
    expect((JSON.parse(await readFile(kept, 'utf8')) as { master_key: string }).master_key).toBe(before);
    expect((await stat(kept)).mode & 0o777).toBe(0o600);
    expect((await awsCli('s3', 'cp', 's3://before-rotation/old.txt', '-')).stdout).toBe(
      'sealed under the first master key\n',
    );
    await rm(kept);
  });

  // Takes the deployment down, restores it and brings it up again: minutes on a slow machine.
  it('backs up while writing, and a purged deployment restores every acknowledged object with its versions, lock and tags', async () => {
    const [cred] = await readCredentials(ROOT);
    const s3 = pathStyleClient(
      'https://localhost',
      { accessKeyId: cred!.client_id, secretAccessKey: cred!.client_secret },
      {
        requestHandler: new NodeHttpHandler({
          httpsAgent: new https.Agent({ ca: await readFile(path.join(ROOT, 'root.crt')) }),
        }),
      },
    );
    const body = async (Bucket: string, Key: string, VersionId?: string) =>
      Buffer.from(
        await (await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body!.transformToByteArray(),
      );
    // Fresh names: a deployment this suite did not create may already hold older runs' buckets.
    const run = randomBytes(3).toString('hex');
    const [kept, busy] = [`kept-${run}`, `busy-${run}`];
    try {
      // Objects above 128 KiB, so they are blobs rather than inline rows. Before the backup: a locked,
      // tagged object with metadata and an older version, a multipart object, and objects that will be
      // deleted or replaced while the backup runs.
      await s3.send(new CreateBucketCommand({ Bucket: kept, ObjectLockEnabledForBucket: true }));
      const v1 = randomBytes(200_000);
      const first = await s3.send(new PutObjectCommand({ Bucket: kept, Key: 'doc', Body: v1 }));
      const v2 = randomBytes(300_000);
      const retainUntil = new Date(Date.now() + 86_400_000);
      await s3.send(
        new PutObjectCommand({
          Bucket: kept,
          Key: 'doc',
          Body: v2,
          Metadata: { owner: 'ops' },
          Tagging: 'class=ledger',
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: retainUntil,
        }),
      );
      const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: kept, Key: 'multi' }));
      const etags = [];
      for (const [i, Body] of parts.entries())
        etags.push(
          (
            await s3.send(
              new UploadPartCommand({ Bucket: kept, Key: 'multi', UploadId, PartNumber: i + 1, Body }),
            )
          ).ETag,
        );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: kept,
          Key: 'multi',
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      await s3.send(new CreateBucketCommand({ Bucket: busy }));
      const acknowledged = new Map<string, Buffer>();
      for (let i = 0; i < 40; i++) {
        const data = randomBytes(140_000 + i);
        await s3.send(new PutObjectCommand({ Bucket: busy, Key: `before/${i}`, Body: data }));
        acknowledged.set(`before/${i}`, data);
      }

      // The backup runs while writes, overwrites and deletes go on.
      const dir = path.join(tmp, 'backup');
      const backup = spawn(process.execPath, ['--import', 'tsx', 'scripts/backup.ts', '--to', dir], {
        cwd: ROOT,
      });
      let out = '';
      backup.stdout.on('data', (d: Buffer) => (out += d.toString()));
      backup.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => backup.on('close', r));
      let running = true;
      void exited.then(() => (running = false));
      const during = new Map<string, Buffer>();
      /** What a key changed while the backup ran may hold after the restore, besides what it held before. */
      const changed = new Map<string, string>();
      for (let i = 0; running; i++) {
        const data = randomBytes(140_000);
        await s3.send(new PutObjectCommand({ Bucket: busy, Key: `during/${i}`, Body: data }));
        during.set(`during/${i}`, data);
        if (i >= 40) continue;
        changed.set(`before/${i}`, i % 2 ? 'replaced' : 'NoSuchKey');
        if (i % 2 === 0) await s3.send(new DeleteObjectCommand({ Bucket: busy, Key: `before/${i}` }));
        else await s3.send(new PutObjectCommand({ Bucket: busy, Key: `before/${i}`, Body: 'replaced' }));
      }
      expect(await exited, out).toBe(0);
      expect(during.size).toBeGreaterThan(0);
      expect(out).toMatch(/snapshot \d{8}T\d{6}Z taken .*: \d+ buckets, \d+ objects/);

      s3.destroy();
      const purge = script('down', ['--purge-data', '--yes'], 120_000);
      expect(purge.status, purge.stderr).toBe(0);
      expect(volumeExists('coffer_coffer-data')).toBe(false);
      const restore = script('restore', ['--from', dir], 600_000);
      expect(restore.status, restore.stderr + restore.stdout).toBe(0);
      expect(restore.stdout).toMatch(/restored snapshot .*: \d+ buckets, \d+ objects/);
      const up = script('up', [], 600_000);
      expect(up.status, up.stderr).toBe(0);
      // An rclone remote as the target (a local one here; another S3 store goes the same way): the first
      // backup uploads every blob, the next only what the remote lacks (what a directory lacks, for a
      // directory), and a restore fetches exactly the snapshot's blobs.
      await appendFile(path.join(tmp, 'rclone.conf'), '\n[offsite]\ntype = local\n');
      const offsite = `offsite:${path.join(tmp, 'offsite')}`;
      const uploaded = script('backup', ['--to', offsite], 300_000);
      expect(uploaded.status, uploaded.stderr).toBe(0);
      const [, blobs, fresh] = /; (\d+) blobs \(.*\), (\d+) of them new/.exec(uploaded.stdout)!;
      expect(fresh).toBe(blobs);
      const reupload = script('backup', ['--to', offsite], 300_000);
      expect(reupload.stdout).toMatch(/, 0 of them new \(0 B\)/);
      const rcloneConfig = process.env.RCLONE_CONFIG;
      process.env.RCLONE_CONFIG = path.join(tmp, 'rclone.conf');
      const fetched = await fetchSnapshot(ROOT, offsite);
      try {
        const manifest = JSON.parse(
          await readFile(path.join(fetched.dir, 'snapshots', fetched.snapshot.name, 'manifest.json'), 'utf8'),
        ) as { blobs: Array<{ id: string; length: number }> };
        expect(manifest.blobs).toHaveLength(Number(blobs));
        for (const b of manifest.blobs)
          expect((await stat(path.join(fetched.dir, 'blobs', b.id.slice(0, 2), b.id))).size).toBe(b.length);
      } finally {
        await fetched.cleanup();
        if (rcloneConfig === undefined) delete process.env.RCLONE_CONFIG;
        else process.env.RCLONE_CONFIG = rcloneConfig;
      }

      // Everything acknowledged before the backup began reads back as it was when the snapshot was taken.
      expect((await body(kept, 'doc')).equals(v2)).toBe(true);
      expect((await body(kept, 'doc', first.VersionId)).equals(v1)).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: kept, Key: 'doc' }));
      expect(head.Metadata).toEqual({ owner: 'ops' });
      expect(head.ObjectLockMode).toBe('GOVERNANCE');
      expect(Math.abs(head.ObjectLockRetainUntilDate!.getTime() - retainUntil.getTime())).toBeLessThan(1000);
      expect((await s3.send(new GetObjectTaggingCommand({ Bucket: kept, Key: 'doc' }))).TagSet).toEqual([
        { Key: 'class', Value: 'ledger' },
      ]);
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: kept, Prefix: 'doc' }));
      expect(versions.Versions).toHaveLength(2);
      // Retention still binds: the locked version cannot be deleted.
      await expect(
        s3.send(new DeleteObjectCommand({ Bucket: kept, Key: 'doc', VersionId: head.VersionId })),
      ).rejects.toMatchObject({ name: 'AccessDenied' });
      expect((await body(kept, 'multi')).equals(Buffer.concat(parts))).toBe(true);
      // Keys left alone read back exactly; keys changed while the backup ran hold what they held before
      // or what changed them, depending on whether the change came before the snapshot.
      for (const [key, data] of acknowledged) {
        const got = await body(busy, key).catch((err: { name?: string }) => err.name);
        const seen = Buffer.isBuffer(got) ? (got.equals(data) ? 'as before' : got.toString()) : got;
        expect(['as before', ...(changed.has(key) ? [changed.get(key)] : [])], key).toContain(seen);
      }
      for (const [key, data] of during) {
        const got = await body(busy, key).catch((err: { name?: string }) => err.name);
        if (Buffer.isBuffer(got)) expect(got.equals(data)).toBe(true);
        else expect(got).toBe('NoSuchKey');
      }
    } finally {
      s3.destroy();
    }
  }, 600_000);

  it('names the service that fails and its reason, instead of the nginx that waits for it', async () => {
    const adminFile = path.join(ROOT, 'secrets/admin_json.txt');
    const good = await readFile(adminFile, 'utf8');
    const gateway = gatewayContainer();
    try {
      await writeFile(adminFile, 'not json\n');
      spawnSync('docker', ['restart', gateway], { stdio: 'ignore', timeout: 120_000 });
      const up = script('up');
      expect(up.status).toBe(1);
      const last = up.stderr.trim().split('\n').pop()!;
      // compose itself may give up first (nginx waits for a healthy gateway), or up's own wait does.
      expect(last).toMatch(
        /^coffer: (docker compose up failed|a service keeps failing): .*gateway.*ADMIN_FILE .* is not valid JSON/,
      );
      expect(last).not.toMatch(/nginx/);
    } finally {
      await writeFile(adminFile, good);
      spawnSync('docker', ['restart', gateway], { stdio: 'ignore', timeout: 120_000 });
    }
    const again = script('up');
    expect(again.status, again.stderr).toBe(0);
  });

  it('verifies the audit chain of the deployment and exports it with npm run audit', async () => {
    await awsCli('s3api', 'create-bucket', '--bucket', 'audited-bucket');
    const verify = script('audit', ['verify'], 120_000);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^audit chain verified: \d+ records 1\.\.\d+/);
    const out = path.join(tmp, 'audit.jsonl');
    const exported = script('audit', ['export', '--out', out], 120_000);
    expect(exported.status, exported.stderr).toBe(0);
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { operation: string; bucket: string | null });
    expect(records).toContainEqual(
      expect.objectContaining({ operation: 'CreateBucket', bucket: 'audited-bucket' }),
    );
    expect(script('audit', ['export', '--out', out]).stderr).toContain(
      'exists; export never overwrites a file',
    );
  });

  it('writes the compliance report as HTML, and as PDF with Chromium, never over an earlier one', async () => {
    const out = path.join(tmp, 'report.html');
    const report = script('compliance-report', ['--out', out], 120_000);
    expect(report.status, report.stderr).toBe(0);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('The audit chain is intact');
    // The bucket the audit test made, and the TLS front's minimum, which only the host knows.
    expect(html).toMatch(/<b>audited-bucket<\/b>/);
    expect(html).toContain('<td>TLS minimum version</td><td>1.2</td>');
    if (requireBinary('chromium'))
      expect((await readFile(path.join(tmp, 'report.pdf'))).subarray(0, 5).toString()).toBe('%PDF-');
    const again = script('compliance-report', ['--out', out]);
    expect([again.status, again.stderr.trim()]).toEqual([
      1,
      `coffer: ${out} exists; the report never overwrites a file`,
    ]);
  });

  it('keeps secrets out of the repository (gitignored) and 0600', async () => {
    const ignored = spawnSync(
      'git',
      ['check-ignore', 'secrets/master_key.txt', 'credentials.json', 'root.crt'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(ignored.stdout.trim().split('\n')).toEqual([
      'secrets/master_key.txt',
      'credentials.json',
      'root.crt',
    ]);
    expect(await readFile(path.join(ROOT, 'secrets/master_key.txt'), 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
  });
});
