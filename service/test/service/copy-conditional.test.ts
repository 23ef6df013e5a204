import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { rcloneEnv, thirdPartyClient, run } from '../support/run.js';
import { signedFetch } from '../support/signed-fetch.js';
import { pathStyleClient } from '../support/s3-client.js';

const MiB = 1024 * 1024;
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

async function body(Key: string, Bucket = 'copies'): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function status(p: Promise<unknown>): Promise<number> {
  return (await outcome(p)).status;
}

/** CopySource as the SDKs want it: bucket/key with the key URL-encoded. */
const source = (bucket: string, key: string) =>
  `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'copies' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'copies-other' }));
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

describe('CopyObject', () => {
  it('copies data and metadata (COPY) or takes new metadata (REPLACE), across buckets, with awkward keys', async () => {
    const data = randomBytes(300_000);
    await s3.send(
      new PutObjectCommand({
        Bucket: 'copies',
        Key: 'src dir/a+b ü.bin',
        Body: data,
        ContentType: 'application/x-src',
        Metadata: { origin: 'src' },
      }),
    );
    const copied = await s3.send(
      new CopyObjectCommand({
        Bucket: 'copies-other',
        Key: 'dst/copy.bin',
        CopySource: source('copies', 'src dir/a+b ü.bin'),
      }),
    );
    expect(copied.CopyObjectResult?.ETag).toBeTruthy();
    expect((await body('dst/copy.bin', 'copies-other')).equals(data)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'copies-other', Key: 'dst/copy.bin' }));
    expect(head).toMatchObject({
      ContentType: 'application/x-src',
      Metadata: { origin: 'src' },
      ETag: copied.CopyObjectResult!.ETag,
    });
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'copies',
        Key: 'replaced.bin',
        CopySource: source('copies', 'src dir/a+b ü.bin'),
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-new',
        Metadata: { fresh: 'yes' },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'replaced.bin' }));
    expect(replaced.ContentType).toBe('text/x-new');
    expect(replaced.Metadata).toEqual({ fresh: 'yes' });
  });

  it('updates metadata in place on the same key, and refuses a same-key COPY that changes nothing', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: 'copies', Key: 'self', Body: 'self', Metadata: { mtime: '1' } }),
    );
    await s3.send(
      new CopyObjectCommand({
        Bucket: 'copies',
        Key: 'self',
        CopySource: source('copies', 'self'),
        MetadataDirective: 'REPLACE',
        Metadata: { mtime: '2' },
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'copies', Key: 'self' }))).Metadata).toEqual({
      mtime: '2',
    });
    expect((await body('self')).toString()).toBe('self');
    expect(
      await status(
        s3.send(
          new CopyObjectCommand({ Bucket: 'copies', Key: 'self', CopySource: source('copies', 'self') }),
        ),
      ),
    ).toBe(400);
  });

  it('honours the copy-source conditions', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'cond', Body: 'x' }));
    const copy = (extra: Record<string, unknown>) =>
      s3.send(
        new CopyObjectCommand({
          Bucket: 'copies',
          Key: 'cond-copy',
          CopySource: source('copies', 'cond'),
          ...extra,
        }),
      );
    expect(await status(copy({ CopySourceIfMatch: put.ETag }))).toBe(200);
    expect(await status(copy({ CopySourceIfMatch: '"0000"' }))).toBe(412);
    expect(await status(copy({ CopySourceIfNoneMatch: put.ETag }))).toBe(412);
    expect(await status(copy({ CopySourceIfModifiedSince: new Date(Date.now() + 60_000) }))).toBe(412);
    expect(await status(copy({ CopySourceIfUnmodifiedSince: new Date(Date.now() - 3600_000) }))).toBe(412);
    expect(
      await status(
        s3.send(
          new CopyObjectCommand({ Bucket: 'copies', Key: 'x', CopySource: source('copies', 'missing') }),
        ),
      ),
    ).toBe(404);
  });

  it('copies 100 MiB as a stream: the gateway does not hold the object in memory', async () => {
    const data = randomBytes(100 * MiB);
    await new Upload({ client: s3, params: { Bucket: 'copies', Key: 'big', Body: data } }).done();
    let peak = process.memoryUsage().rss;
    const before = peak;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    await s3.send(
      new CopyObjectCommand({ Bucket: 'copies', Key: 'big-copy', CopySource: source('copies', 'big') }),
    );
    clearInterval(sampler);
    expect(peak - before).toBeLessThan(48 * MiB);
    expect((await body('big-copy')).equals(data)).toBe(true);
  });

  it('copies ranges into parts (UploadPartCopy)', async () => {
    const data = randomBytes(7 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'ranged-src', Body: data }));
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'copies', Key: 'assembled' }),
    );
    const p1 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: 'copies',
        Key: 'assembled',
        UploadId,
        PartNumber: 1,
        CopySource: source('copies', 'ranged-src'),
        CopySourceRange: `bytes=0-${5 * MiB - 1}`,
      }),
    );
    const p2 = await s3.send(
      new UploadPartCopyCommand({
        Bucket: 'copies',
        Key: 'assembled',
        UploadId,
        PartNumber: 2,
        CopySource: source('copies', 'ranged-src'),
        CopySourceRange: `bytes=${5 * MiB}-${7 * MiB - 1}`,
      }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'copies',
        Key: 'assembled',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.CopyPartResult!.ETag },
            { PartNumber: 2, ETag: p2.CopyPartResult!.ETag },
          ],
        },
      }),
    );
    expect((await body('assembled')).equals(data)).toBe(true);
  });

  it.runIf(thirdPartyClient('rclone'))(
    'lets rclone update a modification time with a server-side copy',
    async () => {
      const dir = path.join(env.dir, 'touch');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'f.txt'), 'content');
      const rc = rcloneEnv('c', gw.endpoint, env.creds[0]!, path.join(env.dir, 'none.conf'));
      await run('rclone', ['copy', dir, 'c:copies/rclone'], rc);
      await run('rclone', ['touch', '--timestamp', '2020-01-02T03:04:05', 'c:copies/rclone/f.txt'], rc);
      const listing = JSON.parse((await run('rclone', ['lsjson', 'c:copies/rclone'], rc)).stdout) as Array<{
        ModTime: string;
      }>;
      expect(listing[0]!.ModTime).toMatch(/^2020-01-02T03:04:05/);
      expect((await body('rclone/f.txt')).toString()).toBe('content');
    },
  );
});

describe('conditional writes', () => {
  it('lets exactly one of two racing If-None-Match: * PUTs win', async () => {
    for (let i = 0; i < 10; i++) {
      const Key = `race/${i}`;
      const results = await Promise.all(
        [1, 2].map((n) =>
          status(
            s3.send(new PutObjectCommand({ Bucket: 'copies', Key, Body: `writer ${n}`, IfNoneMatch: '*' })),
          ),
        ),
      );
      expect(results.sort()).toEqual([200, 412]);
    }
  });

  it('replaces only the version If-Match names, and 404s a missing key', async () => {
    const v1 = await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'cas', Body: 'v1' }));
    expect(
      await status(
        s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'cas', Body: 'v2', IfMatch: '"deadbeef"' })),
      ),
    ).toBe(412);
    expect(
      await status(
        s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'cas', Body: 'v2', IfMatch: v1.ETag })),
      ),
    ).toBe(200);
    expect((await body('cas')).toString()).toBe('v2');
    expect(
      await status(
        s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'nope', Body: 'x', IfMatch: v1.ETag })),
      ),
    ).toBe(404);
    const raw = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/copies/cas',
      body: 'v3',
      headers: { 'if-none-match': '"abc"' },
    });
    expect(raw.status).toBe(501);
  });

  it('applies If-None-Match: * to CompleteMultipartUpload', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'copies', Key: 'taken', Body: 'already here' }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'copies', Key: 'taken' }));
    const p = await s3.send(
      new UploadPartCommand({ Bucket: 'copies', Key: 'taken', UploadId, PartNumber: 1, Body: 'late' }),
    );
    const complete = s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'copies',
        Key: 'taken',
        UploadId,
        IfNoneMatch: '*',
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] },
      }),
    );
    expect(await status(complete)).toBe(412);
    expect((await body('taken')).toString()).toBe('already here');
  });
});
