import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { GenericContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials, setupCredentials } from '../../scripts/lib/secrets.js';
import { requireBinary } from '../../service/test/support/run.js';
import { dockerAvailable } from './docker.js';
import { topology, type TopologyOptions } from '../../stacks/topology.js';
import {
  awsCli,
  rcloneCli,
  createVolumes,
  httpsJson,
  removeVolumes,
  startDeployment,
  stopDeployment,
  volumeNames,
  type Deployment,
} from './deployment.js';
import { pathStyleClient } from '../../service/test/support/s3-client.js';
import { verifySignature } from '../../service/test/support/webhook-receiver.js';

const enabled = dockerAvailable();
let root: string;
let deployment: Deployment;
let volumes: Record<string, string>;
let cred: { accessKeyId: string; secretAccessKey: string };
let ca: Buffer;
let lockedVersion: string;
let syncDir: string;
/** The uid that owns the synced directory: the scheduled sync runs as it, not as root or the gateway's user. */
const SYNC_OWNER = 4321;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function s3(): S3Client {
  return pathStyleClient(deployment.endpoint, cred, {
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
  });
}

const aws = (...args: string[]) => awsCli(root, () => deployment.endpoint, cred)(...args);

async function objectText(client: S3Client, Bucket: string, Key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await out.Body!.transformToByteArray()).toString('utf8');
}

describe.runIf(enabled)('deployed through nginx TLS (Testcontainers)', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'coffer-e2e-'));
    await setupCredentials({ root, domain: 'localhost', extraHosts: [], extraIps: [], force: false });
    const [c] = await readCredentials(root);
    cred = { accessKeyId: c!.client_id, secretAccessKey: c!.client_secret };
    ca = await readFile(path.join(root, 'secrets/root.crt'));
    // A directory for a scheduled sync to push, with files already waiting in it.
    syncDir = await mkdtemp(path.join(os.tmpdir(), 'coffer-e2e-sync-'));
    await mkdir(path.join(syncDir, 'sub'));
    await writeFile(path.join(syncDir, 'a.txt'), 'scanned a');
    await writeFile(path.join(syncDir, 'sub/b.txt'), 'scanned b');
    execFileSync('chown', ['-R', `${SYNC_OWNER}:${SYNC_OWNER}`, syncDir]);
    // With Prometheus (--with-monitoring), which this suite checks scrapes the gateway it starts, and the sync.
    const opts: Partial<TopologyOptions> = {
      monitoring: true,
      syncJobs: [
        {
          name: 'scans',
          direction: 'push',
          hostDir: syncDir,
          target: 'scans/in',
          afterCopy: 'delete',
          every: '1h',
        },
      ],
    };
    volumes = volumeNames(`coffer-e2e-${randomBytes(3).toString('hex')}`, opts);
    createVolumes(volumes, topology(opts).hostDirs);
    deployment = await startDeployment(root, volumes, opts);
  }, 900_000);

  afterAll(async () => {
    if (deployment) await stopDeployment(deployment);
    if (volumes) removeVolumes(volumes);
    if (root) await rm(root, { recursive: true, force: true });
    if (syncDir) await rm(syncDir, { recursive: true, force: true });
  });

  it('runs a scheduled sync inside the deployment: a host directory moved into a bucket through nginx, as its owner', async () => {
    const client = s3();
    const keys = async () =>
      (
        (await client.send(new ListObjectsV2Command({ Bucket: 'scans' })).catch(() => undefined))?.Contents ??
        []
      )
        .map((o) => o.Key)
        .sort();
    // Its first run starts with the service; rclone creates the bucket with the deployment's first credential.
    await expect.poll(keys, { timeout: 60_000, interval: 1000 }).toEqual(['in/a.txt', 'in/sub/b.txt']);
    expect(await objectText(client, 'scans', 'in/sub/b.txt')).toBe('scanned b');
    // --after-copy delete: each source file went once its copy arrived, deleted as the directory's owner.
    const sync = deployment.containers.get('sync-scans')!;
    await expect
      .poll(async () => (await readdir(syncDir, { recursive: true })).filter((f) => f.endsWith('.txt')), {
        timeout: 10_000,
      })
      .toEqual([]);
    const status = () =>
      execFileSync('docker', ['exec', sync.getId(), 'cat', '/run/coffer-sync/status'], { encoding: 'utf8' });
    await expect.poll(status, { timeout: 10_000 }).toMatch(/^ok \S+ 2 copied/);
    // PID 1 is sync-cli itself (the entrypoint execs it).
    const uid = execFileSync('docker', ['exec', sync.getId(), 'stat', '-c', '%u', '/proc/1'], {
      encoding: 'utf8',
    }).trim();
    expect(uid).toBe(String(SYNC_OWNER));
    client.destroy();
  });

  it('is watched by Prometheus: the gateway scraped with the API key, every alert rule loaded, the certificate expiry read', async () => {
    const port = deployment.containers.get('prometheus')!.getMappedPort(9090);
    const api = async <T>(p: string) =>
      ((await (await fetch(`http://127.0.0.1:${port}/api/v1/${p}`)).json()) as { data: T }).data;
    // The first scrape and the first rule evaluation come within one interval (15 s).
    await expect
      .poll(
        async () =>
          (
            await api<{ activeTargets: Array<{ labels: { job: string }; health: string }> }>('targets')
          ).activeTargets
            .filter((t) => t.labels.job === 'coffer-gateway')
            .map((t) => t.health),
        { timeout: 60_000, interval: 1000 },
      )
      .toEqual(['up']);
    await expect
      .poll(
        async () =>
          (
            await api<{ groups: Array<{ rules: Array<{ name: string; health: string }> }> }>('rules')
          ).groups.flatMap((g) => g.rules.map((r) => `${r.name} ${r.health}`)),
        { timeout: 60_000, interval: 1000 },
      )
      .toEqual([
        'CofferHigh5xxRate ok',
        'CofferPostgresUnavailable ok',
        'CofferGatewayDown ok',
        'CofferDiskNearlyFull ok',
        'CofferCertificateExpiresSoon ok',
      ]);
    const expiry = await api<{ result: Array<{ value: [number, string] }> }>(
      `query?query=${encodeURIComponent('coffer_tls_certificate_expiry_timestamp_seconds')}`,
    );
    expect(Number(expiry.result[0]!.value[1])).toBeGreaterThan(Date.now() / 1000 + 30 * 86400);
  });

  it.runIf(requireBinary('aws'))(
    'serves the aws CLI: bucket, 100 MiB multipart object, listing',
    async () => {
      await aws('s3', 'mb', 's3://cli-bucket');
      const file = path.join(root, 'cli.bin');
      // 100 MiB: the CLI switches to multipart above 8 MiB and streams parts through nginx.
      const data = randomBytes(100 * 1024 * 1024);
      await writeFile(file, data);
      await aws('s3', 'cp', file, 's3://cli-bucket/dir/cli file.bin');
      const ls = await aws('s3', 'ls', '--recursive', 's3://cli-bucket');
      expect(ls.stdout).toContain('dir/cli file.bin');
      const head = JSON.parse(
        (await aws('s3api', 'head-object', '--bucket', 'cli-bucket', '--key', 'dir/cli file.bin')).stdout,
      );
      expect(head.ContentLength).toBe(data.length);
      expect(head.ETag).toMatch(/-13"$/);
      await aws('s3', 'cp', 's3://cli-bucket/dir/cli file.bin', path.join(root, 'cli.back'));
      expect((await readFile(path.join(root, 'cli.back'))).equals(data)).toBe(true);
    },
  );

  it('serves the AWS SDK v3 with default settings', async () => {
    const client = s3();
    await client.send(new CreateBucketCommand({ Bucket: 'sdk-bucket' }));
    const body = randomBytes(3 * 1024 * 1024 + 7);
    const put = await client.send(new PutObjectCommand({ Bucket: 'sdk-bucket', Key: 'blob', Body: body }));
    expect(put.ETag).toBe(`"${md5(body)}"`);
    const got = await client.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key: 'blob' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    await client.send(
      new PutObjectCommand({ Bucket: 'sdk-bucket', Key: 'survivor.txt', Body: 'still here' }),
    );
    // A compliance archive's record, locked for a day: the restart test below tries to delete it.
    await client.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }));
    lockedVersion = (
      await client.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'record.txt',
          Body: 'kept for a day',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
        }),
      )
    ).VersionId!;
    client.destroy();
  });

  it.runIf(requireBinary('rclone'))(
    'serves rclone with the generated config: copy, sync, check --download',
    async () => {
      const rclone = await rcloneCli(root, deployment.endpoint);
      const src = path.join(root, 'rclone-src');
      await mkdir(path.join(src, 'nested'), { recursive: true });
      await writeFile(path.join(src, 'a.bin'), randomBytes(2 * 1024 * 1024));
      await writeFile(path.join(src, 'nested/b c.txt'), 'b');
      await rclone('mkdir', 'coffer:rclone-bucket');
      await rclone('copy', src, 'coffer:rclone-bucket/data');
      await writeFile(path.join(src, 'nested/b c.txt'), 'changed');
      await rclone('sync', src, 'coffer:rclone-bucket/data');
      await rclone('check', '--download', src, 'coffer:rclone-bucket/data');
    },
  );

  it('delivers bucket events from S3 writes through nginx TLS to a receiver container, signed, over TLS from the deployment CA', async () => {
    // The receiver's certificate comes from the deployment's own CA: the target trusts it by its CA bundle.
    const dir = await mkdtemp(path.join(root, 'receiver-'));
    const ext = path.join(dir, 'san.ext');
    await writeFile(ext, 'subjectAltName=DNS:receiver,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl(
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      path.join(dir, 'receiver.key'),
    );
    openssl(
      'req',
      '-new',
      '-key',
      path.join(dir, 'receiver.key'),
      '-subj',
      '/CN=receiver',
      '-out',
      path.join(dir, 'receiver.csr'),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      path.join(dir, 'receiver.csr'),
      '-CA',
      path.join(root, 'secrets/root.crt'),
      '-CAkey',
      path.join(root, 'secrets/ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      ext,
      '-out',
      path.join(dir, 'receiver.crt'),
    );
    await writeFile(
      path.join(dir, 'webhook-receiver.mjs'),
      await readFile(path.join(import.meta.dirname, 'receiver/webhook-receiver.mjs')),
    );
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const receiver = await new GenericContainer(
      topology({}).services.find((s) => s.name === 'gateway')!.image,
    )
      .withNetwork(deployment.network)
      .withNetworkAliases('receiver')
      .withBindMounts([{ source: dir, target: '/receiver', mode: 'ro' }])
      .withEntrypoint(['node', '/receiver/webhook-receiver.mjs'])
      .withExposedPorts(8443)
      .withWaitStrategy(Wait.forLogMessage('receiver listening'))
      .start();
    try {
      const key = (await readFile(path.join(root, 'secrets/management_api_key.txt'), 'utf8')).trim();
      const secret = randomBytes(24).toString('base64url');
      const users = (await httpsJson(`${deployment.endpoint}/_coffer/api/v1/users`, ca, { auth: { key } }))
        .body.users as Array<{ name: string; access_keys: Array<{ access_key: string }> }>;
      const owner = users.find((u) => u.access_keys.some((k) => k.access_key === cred.accessKeyId))!;
      const target = await httpsJson(`${deployment.endpoint}/_coffer/api/v1/webhooks`, ca, {
        method: 'POST',
        auth: { key },
        body: JSON.stringify({
          name: 'receiver',
          user: owner.name,
          url: 'https://receiver:8443/hook',
          auth: 'hmac',
          secret,
          ca_bundle: ca.toString('utf8'),
        }),
      });
      expect(target.status).toBe(201);
      const client = s3();
      await client.send(new CreateBucketCommand({ Bucket: 'events-bucket' }));
      await client.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'events-bucket',
          NotificationConfiguration: {
            QueueConfigurations: [
              { Id: 'e2e', QueueArn: String(target.body.arn), Events: ['s3:ObjectCreated:*'] },
            ],
          },
        }),
      );
      const put = await client.send(
        new PutObjectCommand({ Bucket: 'events-bucket', Key: 'inbox/scan 1.pdf', Body: 'pdf' }),
      );
      const url = `https://localhost:${receiver.getMappedPort(8443)}/received`;
      let received: Array<{ headers: Record<string, string>; body: string }> = [];
      await expect
        .poll(
          async () => {
            received = (await httpsJson(url, ca)).body as unknown as typeof received;
            return received.length;
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBe(1);
      const [{ headers, body }] = received as [(typeof received)[0]];
      expect(verifySignature(headers['x-coffer-signature'], secret, body)).toBe(true);
      expect(JSON.parse(body).Records[0]).toMatchObject({
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: cred.accessKeyId },
        s3: {
          configurationId: 'e2e',
          bucket: { name: 'events-bucket' },
          object: { key: 'inbox/scan+1.pdf', size: 3, eTag: put.ETag!.replace(/"/g, '') },
        },
      });
    } finally {
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sees through nginx that requests arrive over TLS, so a policy requiring it lets them in', async () => {
    const client = s3();
    await client.send(new CreateBucketCommand({ Bucket: 'tls-only' }));
    await client.send(
      new PutBucketPolicyCommand({
        Bucket: 'tls-only',
        Policy: JSON.stringify({
          Statement: [
            {
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: ['arn:aws:s3:::tls-only', 'arn:aws:s3:::tls-only/*'],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        }),
      }),
    );
    await client.send(new PutObjectCommand({ Bucket: 'tls-only', Key: 'k', Body: 'over TLS' }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'tls-only', Key: 'k' }));
    expect(await got.Body!.transformToString()).toBe('over TLS');
  });

  it('keeps data across docker restart of the gateway and of Postgres', async () => {
    await deployment.containers.get('gateway')!.restart({ timeout: 10_000 });
    const postgres = deployment.containers.get('postgres')!;
    await postgres.restart({ timeout: 10_000 });
    const logs = execFileSync('docker', ['logs', postgres.getId()], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const all =
      logs +
      execFileSync('sh', ['-c', `docker logs ${postgres.getId()} 2>&1 >/dev/null`], { encoding: 'utf8' });
    // SIGTERM is turned into a fast shutdown that completes inside docker's grace (no SIGKILL), and no crash recovery after.
    expect(all).toContain('received fast shutdown request');
    expect(all).toContain('database system is shut down');
    expect(all).not.toMatch(/not properly shut down|automatic recovery in progress/);
    // The gateway reconnects to the restarted Postgres through its pool; give the healthcheck a moment.
    const client = s3();
    let text = '';
    for (let i = 0; i < 60 && text !== 'still here'; i++) {
      text = await objectText(client, 'sdk-bucket', 'survivor.txt').catch(() => '');
      if (text !== 'still here') await new Promise((r) => setTimeout(r, 1000));
    }
    expect(text).toBe('still here');
    client.destroy();
  });

  it('does not publish the gateway or Postgres, and no container carries a secret value', async () => {
    const secretsDir = path.join(root, 'secrets');
    const secretValues: string[] = [];
    for (const f of await readdir(secretsDir)) {
      const content = (await readFile(path.join(secretsDir, f), 'utf8')).trim();
      // The Postgres user name ("coffer") is a secret file but not a secret: it is also the project's name.
      if ((f.endsWith('.txt') || f.endsWith('.key')) && f !== 'postgres_user.txt') secretValues.push(content);
    }
    secretValues.push(cred.secretAccessKey);
    for (const [name, c] of deployment.containers) {
      const inspect = execFileSync('docker', ['inspect', c.getId()], { encoding: 'utf8' });
      for (const v of secretValues) expect(inspect.includes(v), `${name} inspect holds a secret`).toBe(false);
      const bindings = JSON.parse(inspect)[0].HostConfig.PortBindings ?? {};
      if (name === 'nginx') expect(Object.keys(bindings).sort()).toEqual(['443/tcp', '80/tcp']);
      // Testcontainers maps Prometheus's port for the suite to query; compose and Pulumi bind it to
      // 127.0.0.1 (topology, stack and policy tests).
      else if (name === 'prometheus') expect(Object.keys(bindings)).toEqual(['9090/tcp']);
      else expect(bindings).toEqual({});
    }
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(3000, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('speaks only TLS 1.2 and 1.3, redirects HTTP, and refuses clients that trust another CA', async () => {
    const handshake = (flag: string) =>
      spawnSync(
        'openssl',
        [
          's_client',
          '-connect',
          `127.0.0.1:${deployment.httpsPort}`,
          flag,
          '-cipher',
          'DEFAULT@SECLEVEL=0',
          '-servername',
          'localhost',
        ],
        {
          input: '',
          encoding: 'utf8',
          timeout: 20_000,
        },
      );
    expect(handshake('-tls1_2').status).toBe(0);
    expect(handshake('-tls1_3').status).toBe(0);
    for (const old of ['-tls1', '-tls1_1']) {
      const r = handshake(old);
      expect(r.status, `${old} handshake`).not.toBe(0);
      // The server's own refusal (alert 70), not a client that could not offer the version.
      expect(r.stdout + r.stderr).toMatch(/alert protocol version/);
    }
    const redirect = await fetch(`http://127.0.0.1:${deployment.httpPort}/bucket/key?x=1`, {
      redirect: 'manual',
    });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toMatch(/^https:\/\/127\.0\.0\.1(:\d+)?\/bucket\/key\?x=1$/);
    const hsts = await new Promise<string | undefined>((resolve, reject) =>
      https
        .get(
          `${deployment.endpoint}/health`,
          { ca },
          (res) => (res.resume(), resolve(res.headers['strict-transport-security'] as string)),
        )
        .on('error', reject),
    );
    // No includeSubDomains on localhost: it would force HTTPS on every *.localhost dev server for a year.
    expect(hsts).toBe('max-age=31536000');
    const otherRoot = await mkdtemp(path.join(os.tmpdir(), 'coffer-otherca-'));
    await setupCredentials({
      root: otherRoot,
      domain: 'localhost',
      extraHosts: [],
      extraIps: [],
      force: false,
    });
    const otherCa = await readFile(path.join(otherRoot, 'secrets/root.crt'));
    const err = await new Promise<Error | undefined>((resolve) =>
      https
        .get(`${deployment.endpoint}/health`, { ca: otherCa }, (res) => (res.resume(), resolve(undefined)))
        .on('error', resolve),
    );
    expect(err?.message).toMatch(/certificate|self.signed|unable to verify/i);
    await rm(otherRoot, { recursive: true, force: true });
  });

  it('logs requests as JSON lines, leaving out its own healthchecks', () => {
    const nginx = deployment.containers.get('nginx')!;
    const lines = execFileSync('docker', ['logs', nginx.getId()], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { remote_addr: string; uri: string; method: string });
    // The healthcheck has run every 5 s since the start; the /health fetched from the host above is logged.
    expect(lines.filter((l) => l.uri === '/health' && l.remote_addr === '127.0.0.1')).toEqual([]);
    expect(lines.some((l) => l.uri === '/health')).toBe(true);
    expect(lines.some((l) => l.method === 'PUT')).toBe(true);
  });

  it('answers a Host it does not serve with an error naming the served names, never as path style', async () => {
    const url = new URL(deployment.endpoint);
    const asHost = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) =>
        https
          .get(
            {
              host: url.hostname,
              port: url.port,
              path: '/key-not-bucket',
              ca,
              servername: 'localhost',
              headers: { host },
            },
            (res) => {
              let body = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (body += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
            },
          )
          .on('error', reject),
      );
    const other = await asHost('s3.elsewhere.example');
    expect(other.status).toBe(421);
    expect(other.body).toContain('<Code>InvalidRequest</Code>');
    expect(other.body).toContain('localhost *.localhost nginx 127.0.0.1');
    // The served names still reach the gateway: an unsigned request for a bucket that does not exist is
    // S3's NoSuchBucket (path style names 'key-not-bucket', virtual-hosted style 'bucket').
    for (const host of [`localhost:${url.port}`, `bucket.localhost:${url.port}`]) {
      const served = await asHost(host);
      expect([served.status, served.body.match(/<Code>(\w+)</)?.[1]]).toEqual([404, 'NoSuchBucket']);
    }
  });

  it('keeps data, and object lock, across a full down and up on the same volumes', async () => {
    await stopDeployment(deployment);
    deployment = await startDeployment(root, volumes);
    const client = s3();
    expect(await objectText(client, 'sdk-bucket', 'survivor.txt')).toBe('still here');
    const list = await client.send(new ListObjectsV2Command({ Bucket: 'sdk-bucket' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['blob', 'survivor.txt']);
    // Every container is new: the COMPLIANCE-locked version is still there, and still cannot be deleted.
    const locked = { Bucket: 'vault', Key: 'record.txt', VersionId: lockedVersion };
    const got = await client.send(new GetObjectCommand(locked));
    expect(await got.Body!.transformToString()).toBe('kept for a day');
    const refused = await client.send(new DeleteObjectCommand(locked)).then(
      () => 'deleted',
      (err: Error) => err.name,
    );
    expect(refused).toBe('AccessDenied');
    client.destroy();
  });
});
