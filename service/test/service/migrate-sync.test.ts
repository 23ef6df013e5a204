import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, parseBucketMap } from '../../../scripts/lib/migrate.js';
import { rcloneWith, type Rclone } from '../../src/transfer/rclone.js';
import { syncOnce, type SyncOptions } from '../../src/transfer/sync.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { requireBinary } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';

/**
 * npm run migrate and npm run sync as their libraries run them, with rclone as the engine, between two
 * independent Coffer gateways: the other provider (each with its own Postgres and data) and this one.
 */
const enabled = requireBinary('rclone');
let other: { env: TestEnv; gw: RunningGateway; s3: S3Client };
let coffer: { env: TestEnv; gw: RunningGateway; s3: S3Client };
let rclone: Rclone;
let tmp: string;
const said: string[] = [];

async function gateway() {
  const env = await createTestEnv();
  const gw = await startGateway(env.env);
  return { env, gw, s3: pathStyleClient(gw.endpoint, env.creds[0]!) };
}

const remote = (g: typeof other) => ({
  endpoint: g.gw.endpoint,
  accessKeyId: g.env.creds[0]!.accessKeyId,
  secretAccessKey: g.env.creds[0]!.secretAccessKey,
});

async function keys(s3: S3Client, Bucket: string, Prefix?: string): Promise<string[]> {
  const out: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
    out.push(...(page.Contents ?? []).map((c) => c.Key!));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return out.sort();
}

const body = async (s3: S3Client, Bucket: string, Key: string) =>
  Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());

beforeAll(async () => {
  if (!enabled) return;
  tmp = await mkdtemp(path.join(os.tmpdir(), 'coffer-migrate-'));
  // The operator's rclone config stays out of it: remotes come from the environment alone.
  process.env.RCLONE_CONFIG = path.join(tmp, 'rclone.conf');
  [other, coffer] = [await gateway(), await gateway()];
  rclone = await rcloneWith({ other: remote(other), coffer: remote(coffer) });
}, 120_000);

afterAll(async () => {
  await rclone?.close();
  for (const g of [other, coffer]) {
    g?.s3.destroy();
    await g?.gw.close();
    await g?.env.stop();
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe.runIf(enabled)('npm run migrate from another S3 provider', () => {
  const written = new Map<string, Buffer>();
  const big = randomBytes(12 * 1024 * 1024 + 5);

  beforeAll(async () => {
    const put = async (Bucket: string, Key: string, Body: Buffer, extra: Record<string, unknown> = {}) => {
      await other.s3.send(new PutObjectCommand({ Bucket, Key, Body, ...extra }));
      written.set(`${Bucket}/${Key}`, Body);
    };
    for (const b of ['photos', 'docs', 'old']) await other.s3.send(new CreateBucketCommand({ Bucket: b }));
    const writes: Array<Promise<void>> = [];
    for (let i = 0; i < 250; i++)
      writes.push(put('photos', `2026/${i % 7}/img ${i} ü.jpg`, randomBytes(100 + i * 37)));
    for (let i = 0; i < 20; i++) writes.push(put('old', `k${i}`, randomBytes(1000)));
    await Promise.all(writes);
    await put('docs', 'report.pdf', randomBytes(50_000), {
      ContentType: 'application/pdf',
      Metadata: { author: 'ops', quarter: 'q3' },
      CacheControl: 'max-age=60',
    });
    // A multipart object: its ETag is no MD5, so only a download can verify its copy.
    await new Upload({
      client: other.s3,
      params: { Bucket: 'docs', Key: 'big.bin', Body: big, Metadata: { kind: 'multipart' } },
    }).done();
    written.set('docs/big.bin', big);
  }, 120_000);

  it('copies every bucket with its metadata, renames mapped ones, and verifies every object', async () => {
    const reports = await migrate({
      rclone,
      from: 'other:',
      to: 'coffer:',
      bucketMap: parseBucketMap('old:archive-old'),
      verify: 'hash',
      say: (l) => said.push(l),
    });
    expect(reports.map((r) => [r.source, r.target, r.objects, r.copied, r.failed.length])).toEqual([
      ['docs', 'docs', 2, 2, 0],
      ['old', 'archive-old', 20, 20, 0],
      ['photos', 'photos', 250, 250, 0],
    ]);
    const docs = reports[0]!;
    expect(docs.verifiedByDownload).toBeGreaterThanOrEqual(1);
    expect(docs.verifiedByHash + docs.verifiedByDownload).toBe(2);
    expect(said.some((l) => /photos → photos: 250 objects/.test(l))).toBe(true);

    expect(await keys(coffer.s3, 'photos')).toEqual(await keys(other.s3, 'photos'));
    expect(await keys(coffer.s3, 'archive-old')).toHaveLength(20);
    for (const [where, data] of written) {
      const [bucket, ...rest] = where.split('/');
      const target = bucket === 'old' ? 'archive-old' : bucket!;
      if (Math.random() < 0.2 || bucket === 'docs')
        expect((await body(coffer.s3, target, rest.join('/'))).equals(data), where).toBe(true);
    }
    const head = await coffer.s3.send(new HeadObjectCommand({ Bucket: 'docs', Key: 'report.pdf' }));
    expect(head.ContentType).toBe('application/pdf');
    expect(head.CacheControl).toBe('max-age=60');
    expect(head.Metadata).toMatchObject({ author: 'ops', quarter: 'q3' });
    const bigHead = await coffer.s3.send(new HeadObjectCommand({ Bucket: 'docs', Key: 'big.bin' }));
    expect(bigHead.Metadata).toMatchObject({ kind: 'multipart' });
  });

  it('resumes: a second run copies only what is missing or differs, and verifies everything again', async () => {
    await coffer.s3.send(new DeleteObjectCommand({ Bucket: 'photos', Key: '2026/3/img 3 ü.jpg' }));
    // Same size, other bytes: only a checksum tells them apart.
    await coffer.s3.send(new PutObjectCommand({ Bucket: 'archive-old', Key: 'k5', Body: randomBytes(1000) }));
    const reports = await migrate({
      rclone,
      from: 'other:',
      to: 'coffer:',
      bucketMap: { old: 'archive-old' },
      verify: 'hash',
      say: () => undefined,
    });
    expect(reports.map((r) => [r.source, r.copied, r.failed.length])).toEqual([
      ['docs', 0, 0],
      ['old', 1, 0],
      ['photos', 1, 0],
    ]);
    expect((await body(coffer.s3, 'archive-old', 'k5')).equals(written.get('old/k5')!)).toBe(true);
  });

  it('names what did not verify, and refuses a bucket map that names an unknown bucket', async () => {
    await expect(
      migrate({
        rclone,
        from: 'other:',
        to: 'coffer:',
        bucketMap: { nope: 'x' },
        verify: 'hash',
        say: () => {},
      }),
    ).rejects.toThrow(/--bucket-map names nope, which other: does not hold/);
    expect(() => parseBucketMap('a:b,c')).toThrow(/source:target pairs/);
    expect(() => parseBucketMap('a:x,b:x')).toThrow(/two buckets into x/);
    // A copy changed after the migration, then verified by download: the report names it.
    await coffer.s3.send(
      new PutObjectCommand({ Bucket: 'docs', Key: 'report.pdf', Body: randomBytes(50_000) }),
    );
    const reports = await migrate({
      rclone,
      from: 'other:docs',
      to: 'coffer:',
      bucketMap: {},
      verify: 'download',
      verifyOnly: true,
      say: () => {},
    });
    expect(reports[0]!.failed).toEqual([{ key: 'report.pdf', why: 'differs' }]);
  });
});

describe.runIf(enabled)('npm run sync between a directory and Coffer', () => {
  let local: string;
  const sync = (
    direction: SyncOptions['direction'],
    dir: string,
    prefix: string,
    afterCopy: 'keep' | 'delete' = 'keep',
  ) =>
    syncOnce({
      rclone,
      direction,
      other: dir,
      coffer: `coffer:sync/${prefix}`,
      afterCopy,
      stateDir: path.join(tmp, 'state'),
      say: (l) => said.push(l),
    });
  const files = async (dir: string) =>
    (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();

  beforeAll(async () => {
    await coffer.s3.send(new CreateBucketCommand({ Bucket: 'sync' }));
    local = path.join(tmp, 'local');
    await mkdir(path.join(local, 'sub'), { recursive: true });
    for (const f of ['a.txt', 'b.txt', 'sub/c.txt']) await writeFile(path.join(local, f), `${f} v1`);
  });

  it('pushes new, changed and deleted files', async () => {
    expect(await sync('push', local, 'mirror')).toEqual({ copied: 3, deleted: 0 });
    expect(await keys(coffer.s3, 'sync', 'mirror/')).toEqual([
      'mirror/a.txt',
      'mirror/b.txt',
      'mirror/sub/c.txt',
    ]);
    await writeFile(path.join(local, 'b.txt'), 'b.txt v2, longer');
    await rm(path.join(local, 'sub/c.txt'));
    await writeFile(path.join(local, 'd.txt'), 'd');
    // A push makes Coffer's side what the directory is: what only Coffer holds goes too.
    await coffer.s3.send(new PutObjectCommand({ Bucket: 'sync', Key: 'mirror/only-there.txt', Body: 'x' }));
    expect(await sync('push', local, 'mirror')).toEqual({ copied: 2, deleted: 2 });
    expect(await keys(coffer.s3, 'sync', 'mirror/')).toEqual([
      'mirror/a.txt',
      'mirror/b.txt',
      'mirror/d.txt',
    ]);
    expect((await body(coffer.s3, 'sync', 'mirror/b.txt')).toString()).toBe('b.txt v2, longer');
  });

  it('pulls what changed in Coffer', async () => {
    await coffer.s3.send(new PutObjectCommand({ Bucket: 'sync', Key: 'mirror/e.txt', Body: 'from coffer' }));
    await coffer.s3.send(new DeleteObjectCommand({ Bucket: 'sync', Key: 'mirror/a.txt' }));
    await writeFile(path.join(local, 'only-here.txt'), 'y');
    expect(await sync('pull', local, 'mirror')).toEqual({ copied: 1, deleted: 2 });
    expect(await files(local)).toEqual(['b.txt', 'd.txt', 'e.txt']);
    expect(await readFile(path.join(local, 'e.txt'), 'utf8')).toBe('from coffer');
  });

  it('keeps changes from both sides two-way, deletions included', async () => {
    const two = path.join(tmp, 'two');
    await mkdir(two);
    await writeFile(path.join(two, 'x.txt'), 'x');
    await writeFile(path.join(two, 'gone.txt'), 'gone soon');
    await sync('two-way', two, 'two');
    expect(await keys(coffer.s3, 'sync', 'two/')).toEqual(['two/gone.txt', 'two/x.txt']);
    await writeFile(path.join(two, 'y.txt'), 'made locally');
    await coffer.s3.send(new PutObjectCommand({ Bucket: 'sync', Key: 'two/z.txt', Body: 'made in coffer' }));
    await coffer.s3.send(new DeleteObjectCommand({ Bucket: 'sync', Key: 'two/gone.txt' }));
    await sync('two-way', two, 'two');
    expect(await files(two)).toEqual(['x.txt', 'y.txt', 'z.txt']);
    expect(await keys(coffer.s3, 'sync', 'two/')).toEqual(['two/x.txt', 'two/y.txt', 'two/z.txt']);
    expect(await readFile(path.join(two, 'z.txt'), 'utf8')).toBe('made in coffer');
  });

  it('with --after-copy delete, removes at the source only what arrived, and nothing at the destination', async () => {
    const outbox = path.join(tmp, 'outbox');
    await mkdir(outbox);
    const sent = { 'm1.bin': randomBytes(3000), 'm2.bin': randomBytes(70_000) };
    for (const [f, data] of Object.entries(sent)) await writeFile(path.join(outbox, f), data);
    // A link rclone does not follow is never copied, so it stays where it is.
    await symlink('/nonexistent', path.join(outbox, 'link.bin'));
    await coffer.s3.send(new PutObjectCommand({ Bucket: 'sync', Key: 'inbox/earlier.bin', Body: 'kept' }));
    const r = await sync('push', outbox, 'inbox', 'delete');
    expect(r.copied).toBe(2);
    expect(await readdir(outbox)).toEqual(['link.bin']);
    expect(await keys(coffer.s3, 'sync', 'inbox/')).toEqual([
      'inbox/earlier.bin',
      'inbox/m1.bin',
      'inbox/m2.bin',
    ]);
    for (const [f, data] of Object.entries(sent))
      expect((await body(coffer.s3, 'sync', `inbox/${f}`)).equals(data)).toBe(true);
    await expect(sync('two-way', outbox, 'inbox', 'delete')).rejects.toThrow(/needs push or pull/);
    expect(existsSync(outbox)).toBe(true);
  });
});
