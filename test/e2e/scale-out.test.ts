import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  GenericContainer,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials, setupCredentials } from '../../scripts/lib/secrets.js';
import { requireBinary } from '../../service/test/support/run.js';
import { pathStyleClient } from '../../service/test/support/s3-client.js';
import {
  BLOB_STORE_SECRET_FILES,
  EXTERNAL_DATABASE_URL_FILE,
  type TopologyOptions,
} from '../../stacks/topology.js';
import {
  awsCli,
  rcloneCli,
  createVolumes,
  removeVolumes,
  restartEach,
  startDeployment,
  stopDeployment,
  volumeNames,
  type Deployment,
} from './deployment.js';
import { dockerAvailable } from './docker.js';
import { rgwPeerAvailable, startRgw, type StartedRgw } from './rgw-peer.js';

/**
 * Issue 18's deployment: three gateways behind nginx TLS, a Postgres of the operator's (external: the
 * deployment reaches it by URL, as it would an HA endpoint) and Ceph RGW (RADOS) as the blob store, from
 * the project's images and the topology; clients only ever talk to nginx.
 */
const enabled = dockerAvailable() && rgwPeerAvailable();
const GATEWAYS = ['gateway', 'gateway-2', 'gateway-3'];
const BLOB_BUCKET = 'coffer-blobs';
const BLOB_PREFIX = 'sealed/';

let root: string;
let network: StartedNetwork;
let rgw: StartedRgw;
let postgres: StartedTestContainer;
let deployment: Deployment;
let volumes: Record<string, string>;
let cred: { accessKeyId: string; secretAccessKey: string };
let ca: Buffer;
/** Every object a client was told is stored, with its MD5: all must read back after kills and restarts. */
const acknowledged = new Map<string, string>();

const md5 = (b: Buffer | Uint8Array) => createHash('md5').update(b).digest('hex');

function s3(extra: { maxAttempts?: number } = {}): S3Client {
  return pathStyleClient(deployment.endpoint, cred, {
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
    ...extra,
  });
}

const rgwClient = () => pathStyleClient(rgw.endpoint(), rgw.keys, { requestHandler: new NodeHttpHandler() });

async function body(client: S3Client, Bucket: string, Key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

const gateway = (name: string): StartedTestContainer => deployment.containers.get(name)!;
const logsOf = (name: string) =>
  execFileSync('docker', ['logs', gateway(name).getId()], { encoding: 'utf8', maxBuffer: 256 << 20 });

/** Every sealed blob the store holds under the deployment's prefix, read back through RGW's own S3 API. */
async function sealedBlobs(): Promise<Array<{ key: string; bytes: Buffer }>> {
  const client = rgwClient();
  const out: Array<{ key: string; bytes: Buffer }> = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BLOB_BUCKET, Prefix: BLOB_PREFIX, ContinuationToken }),
    );
    for (const o of page.Contents ?? [])
      out.push({ key: o.Key!, bytes: await body(client, BLOB_BUCKET, o.Key!) });
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  client.destroy();
  return out;
}

async function waitHealthy(c: StartedTestContainer, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = execFileSync('docker', ['inspect', '-f', '{{.State.Health.Status}}', c.getId()], {
      encoding: 'utf8',
    }).trim();
    if (health === 'healthy') return;
    if (Date.now() > deadline) throw new Error(`${c.getName()} is ${health} after ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.runIf(enabled)('three gateways over Ceph RGW behind nginx TLS (Testcontainers)', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'coffer-e2e-scale-'));
    await setupCredentials({ root, domain: 'localhost', extraHosts: [], extraIps: [], force: false });
    const [c] = await readCredentials(root);
    cred = { accessKeyId: c!.client_id, secretAccessKey: c!.client_secret };
    ca = await readFile(path.join(root, 'secrets/root.crt'));
    network = await new Network().start();
    rgw = await startRgw(network);
    // The operator's Postgres: its superuser makes an ordinary role and an empty database, as the README says.
    const superuser = randomBytes(18).toString('base64url');
    const password = randomBytes(18).toString('base64url');
    postgres = await new GenericContainer('coffer/postgres:0.1.0')
      .withNetwork(network)
      .withNetworkAliases('pg-primary')
      .withEnvironment({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: superuser })
      .withHealthCheck({
        test: ['CMD', 'pg-ready'],
        interval: 1000,
        timeout: 5000,
        retries: 60,
        startPeriod: 2000,
      })
      .withWaitStrategy(Wait.forHealthCheck())
      .start();
    for (const sql of [
      `CREATE ROLE coffer LOGIN PASSWORD '${password}'`,
      'CREATE DATABASE metadata OWNER coffer',
    ]) {
      const r = await postgres.exec(
        ['psql', '-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql],
        {
          env: { PGPASSWORD: superuser },
        },
      );
      expect(r.exitCode, r.output).toBe(0);
    }
    await writeFile(
      path.join(root, EXTERNAL_DATABASE_URL_FILE),
      `postgres://coffer:${password}@pg-primary:5432/metadata\n`,
      { mode: 0o600 },
    );
    const admin = rgwClient();
    await admin.send(new CreateBucketCommand({ Bucket: BLOB_BUCKET }));
    admin.destroy();
    await writeFile(
      path.join(root, BLOB_STORE_SECRET_FILES.blob_store_credentials),
      JSON.stringify({ access_key_id: rgw.keys.accessKeyId, secret_access_key: rgw.keys.secretAccessKey }),
      { mode: 0o600 },
    );
    const opts: Partial<TopologyOptions> = {
      gateways: GATEWAYS.length,
      externalPostgres: true,
      blobStore: {
        endpoint: rgw.internalEndpoint,
        bucket: BLOB_BUCKET,
        region: 'us-east-1',
        prefix: BLOB_PREFIX,
      },
    };
    volumes = volumeNames(`coffer-e2e-${randomBytes(3).toString('hex')}`, opts);
    createVolumes(volumes);
    deployment = await startDeployment(root, volumes, opts, network);
    await s3().send(new CreateBucketCommand({ Bucket: 'fleet' }));
  }, 900_000);

  afterAll(async () => {
    if (deployment) await stopDeployment(deployment);
    if (rgw) await rgw.container.stop({ timeout: 30_000, remove: true, removeVolumes: true });
    if (postgres) await postgres.stop({ timeout: 10_000, remove: true, removeVolumes: true });
    if (network) await network.stop();
    if (volumes) removeVolumes(volumes);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('serves the AWS SDK: a multipart upload whose parts land on different gateways completes into one object', async () => {
    const client = s3();
    const data = randomBytes(12 * 5 * 1024 * 1024 + 777);
    const before = Object.fromEntries(GATEWAYS.map((g) => [g, logsOf(g).split('"UploadPart"').length]));
    await new Upload({
      client,
      params: { Bucket: 'fleet', Key: 'sdk/multipart.bin', Body: data },
      partSize: 5 * 1024 * 1024,
      queueSize: 4,
    }).done();
    const got = await body(client, 'fleet', 'sdk/multipart.bin');
    expect(got.length).toBe(data.length);
    expect(md5(got)).toBe(md5(data));
    acknowledged.set('sdk/multipart.bin', md5(data));
    // nginx spread the 13 parts: more than one gateway wrote some of them, and together they wrote all.
    const parts = GATEWAYS.map((g) => logsOf(g).split('"UploadPart"').length - before[g]!);
    expect(parts.reduce((a, b) => a + b)).toBe(13);
    expect(parts.filter((n) => n > 0).length).toBeGreaterThan(1);
    client.destroy();
  });

  it('serves the aws CLI (multipart cp, ls, cp back)', async () => {
    const file = path.join(root, 'cli.bin');
    const data = randomBytes(20 * 1024 * 1024);
    await writeFile(file, data);
    const aws = awsCli(root, () => deployment.endpoint, cred);
    await aws('s3', 'cp', file, 's3://fleet/cli/file.bin');
    expect((await aws('s3', 'ls', 's3://fleet/cli/')).stdout).toMatch(/20971520 file\.bin/);
    await aws('s3', 'cp', 's3://fleet/cli/file.bin', path.join(root, 'cli.back'));
    expect(md5(await readFile(path.join(root, 'cli.back')))).toBe(md5(data));
    acknowledged.set('cli/file.bin', md5(data));
  });

  it.runIf(requireBinary('rclone'))('serves rclone: copy, sync and check --download', async () => {
    const rclone = await rcloneCli(root, deployment.endpoint);
    const src = path.join(root, 'rclone-src');
    await mkdir(path.join(src, 'nested'), { recursive: true });
    for (let i = 0; i < 8; i++) await writeFile(path.join(src, `f${i}.bin`), randomBytes(300_000 + i));
    await writeFile(path.join(src, 'nested/small.txt'), 'small');
    await rclone('copy', src, 'coffer:fleet/rclone');
    await writeFile(path.join(src, 'nested/small.txt'), 'changed');
    await rclone('sync', src, 'coffer:fleet/rclone');
    await rclone('check', '--download', src, 'coffer:fleet/rclone');
  });

  it('keeps every acknowledged write when a gateway is killed during uploads: clients retry onto the others', async () => {
    const client = s3({ maxAttempts: 8 });
    const victim = gateway('gateway-2');
    let stop = false;
    let killedAt = 0;
    const failures: string[] = [];
    let afterKill = 0;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `load/w${w}-${i}`;
        const data = randomBytes(150_000 + ((w * 7919 + i * 104_729) % 600_000));
        try {
          await client.send(new PutObjectCommand({ Bucket: 'fleet', Key: key, Body: data }));
          acknowledged.set(key, md5(data));
          if (killedAt) afterKill++;
        } catch (err) {
          failures.push(`${key}: ${(err as Error).name} ${(err as Error).message}`);
        }
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    await new Promise((r) => setTimeout(r, 3000));
    execFileSync('docker', ['kill', '--signal', 'KILL', victim.getId()]);
    killedAt = Date.now();
    await new Promise((r) => setTimeout(r, 8000));
    stop = true;
    await Promise.all(writers);
    expect(failures).toEqual([]);
    expect(afterKill).toBeGreaterThan(10);
    // What was acknowledged is there, read through the two gateways left.
    for (const [key, sum] of acknowledged) expect(md5(await body(client, 'fleet', key)), key).toBe(sum);
    execFileSync('docker', ['start', victim.getId()]);
    await waitHealthy(victim);
    client.destroy();
  }, 300_000);

  it('keeps its data when everything restarts: the store, Postgres, every gateway and nginx', async () => {
    await rgw.container.restart({ timeout: 30_000 });
    await postgres.restart({ timeout: 10_000 });
    await waitHealthy(postgres);
    await restartEach(deployment);
    const client = s3({ maxAttempts: 8 });
    for (const [key, sum] of acknowledged) expect(md5(await body(client, 'fleet', key)), key).toBe(sum);
    client.destroy();
  }, 600_000);

  it('leaves no plaintext in the Ceph store: every object there is sealed', async () => {
    const marker = `COFFER-PLAINTEXT-${randomBytes(8).toString('hex')}`;
    const text = Buffer.from(`${marker}\n`.repeat(Math.ceil((3 * 1024 * 1024) / (marker.length + 1))));
    const client = s3();
    await client.send(new PutObjectCommand({ Bucket: 'fleet', Key: 'canary.txt', Body: text }));
    await new Upload({
      client,
      params: { Bucket: 'fleet', Key: 'canary-multipart.txt', Body: Buffer.concat([text, text]) },
      partSize: 5 * 1024 * 1024,
    }).done();
    expect(await body(client, 'fleet', 'canary.txt')).toEqual(text);
    client.destroy();
    const blobs = await sealedBlobs();
    // The store holds the data (sealed, so at least as many bytes as were written), and none of it is readable.
    const stored = blobs.reduce((n, b) => n + b.bytes.length, 0);
    expect(stored).toBeGreaterThan(3 * text.length);
    const needle = Buffer.from(marker.slice(0, 24));
    expect(blobs.filter((b) => b.bytes.includes(needle)).map((b) => b.key)).toEqual([]);
    for (const b of blobs) expect(b.key.startsWith(BLOB_PREFIX)).toBe(true);
  }, 300_000);
});
