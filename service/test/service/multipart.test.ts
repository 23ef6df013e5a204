import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { createChecksum } from '../../src/integrity/checksums.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { cleanEnv, rcloneEnv, thirdPartyClient, run } from '../support/run.js';
import { startTlsProxy, type TlsProxy } from '../support/tls-proxy.js';
import { pathStyleClient } from '../support/s3-client.js';
import { sql } from '../support/sql.js';

const MiB = 1024 * 1024;
let env: TestEnv;
let gw: RunningGateway;
let tls: TlsProxy;
let s3: S3Client;

const md5 = (b: Buffer) => createHash('md5').update(b).digest();
/** AWS's multipart ETag: MD5 of the concatenated binary part MD5s, then "-<part count>". */
function multipartEtag(data: Buffer, partSize: number): string {
  const sums: Buffer[] = [];
  for (let i = 0; i < data.length; i += partSize) sums.push(md5(data.subarray(i, i + partSize)));
  return `"${createHash('md5').update(Buffer.concat(sums)).digest('hex')}-${sums.length}"`;
}

async function download(Key: string, Bucket = 'mpu'): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function s3Error(p: Promise<unknown>): Promise<string> {
  const { code } = await outcome(p);
  if (code === 'OK') throw new Error('expected an S3 error');
  return code;
}

async function blobBytes(): Promise<number> {
  let total = 0;
  const dir = path.join(env.env.DATA_DIR!, 'blobs');
  for (const d of await readdir(dir))
    for (const f of await readdir(path.join(dir, d))) total += (await stat(path.join(dir, d, f))).size;
  return total;
}

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  tls = await startTlsProxy(env.dir, gw.port);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'mpu' }));
});

afterAll(async () => {
  s3?.destroy();
  await tls?.close();
  await gw?.close();
  await env?.stop();
});

describe('multipart uploads with real clients', () => {
  it('lib-storage Upload of 200 MiB with default settings', async () => {
    const data = randomBytes(200 * MiB);
    const upload = new Upload({
      client: s3,
      params: { Bucket: 'mpu', Key: 'lib-storage/200MiB.bin', Body: data },
    });
    const out = await upload.done();
    expect(out.ETag).toBe(multipartEtag(data, 5 * MiB));
    expect((await download('lib-storage/200MiB.bin')).equals(data)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'lib-storage/200MiB.bin' }));
    expect(head.ContentLength).toBe(200 * MiB);
    const part2 = await s3.send(
      new GetObjectCommand({ Bucket: 'mpu', Key: 'lib-storage/200MiB.bin', PartNumber: 2 }),
    );
    expect(part2.PartsCount).toBe(40);
    expect(
      Buffer.from(await part2.Body!.transformToByteArray()).equals(data.subarray(5 * MiB, 10 * MiB)),
    ).toBe(true);
  });

  it.runIf(thirdPartyClient('aws'))(
    'aws CLI s3 cp of 100 MiB over HTTPS (multipart with trailers)',
    async () => {
      const data = randomBytes(100 * MiB);
      const file = path.join(env.dir, 'cli-100MiB.bin');
      await writeFile(file, data);
      const awsEnv = cleanEnv({
        AWS_ACCESS_KEY_ID: env.creds[0]!.accessKeyId,
        AWS_SECRET_ACCESS_KEY: env.creds[0]!.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: path.join(env.dir, 'none'),
      });
      const endpoint = ['--endpoint-url', `https://localhost:${tls.port}`, '--ca-bundle', tls.caFile];
      await run('aws', [...endpoint, 's3', 'cp', file, 's3://mpu/cli/100MiB.bin'], awsEnv);
      const head = JSON.parse(
        (
          await run(
            'aws',
            [...endpoint, 's3api', 'head-object', '--bucket', 'mpu', '--key', 'cli/100MiB.bin'],
            awsEnv,
          )
        ).stdout,
      );
      expect(head.ETag).toBe(multipartEtag(data, 8 * MiB));
      expect((await download('cli/100MiB.bin')).equals(data)).toBe(true);
    },
  );

  it.runIf(thirdPartyClient('rclone'))(
    'rclone copy above its upload cutoff, then check --download',
    async () => {
      const dir = path.join(env.dir, 'rclone-mp');
      await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
      const data = randomBytes(23 * MiB);
      await writeFile(path.join(dir, 'big.bin'), data);
      const rc = rcloneEnv('c', gw.endpoint, env.creds[0]!, path.join(env.dir, 'rclone-mp.conf'));
      await run(
        'rclone',
        ['copy', '--s3-upload-cutoff', '10M', '--s3-chunk-size', '5M', dir, 'c:mpu/rclone'],
        rc,
      );
      await run('rclone', ['check', '--download', dir, 'c:mpu/rclone'], rc);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key: 'rclone/big.bin' }));
      expect(head.ETag).toBe(multipartEtag(data, 5 * MiB));
    },
  );

  it('minio-js fPutObject above its multipart threshold', async () => {
    const data = randomBytes(70 * MiB);
    const file = path.join(env.dir, 'minio-70MiB.bin');
    await writeFile(file, data);
    const client = new Minio.Client({
      endPoint: '127.0.0.1',
      port: gw.port,
      useSSL: false,
      accessKey: env.creds[0]!.accessKeyId,
      secretKey: env.creds[0]!.secretAccessKey,
      region: 'us-east-1',
      pathStyle: true,
    });
    const out = await client.fPutObject('mpu', 'minio/70MiB.bin', file);
    const stat = await client.statObject('mpu', 'minio/70MiB.bin');
    expect(stat.size).toBe(data.length);
    expect(`"${stat.etag}"`).toMatch(/-\d+"$/);
    expect(out.etag).toBe(stat.etag);
    expect((await download('minio/70MiB.bin')).equals(data)).toBe(true);
  });
});

describe('multipart protocol', () => {
  const part = (n: number, size: number) => Buffer.alloc(size, n);

  it('answers every Complete error with its code', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'errors' }));
    const p1 = await s3.send(
      new UploadPartCommand({
        Bucket: 'mpu',
        Key: 'errors',
        UploadId,
        PartNumber: 1,
        Body: part(1, 5 * MiB),
      }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({ Bucket: 'mpu', Key: 'errors', UploadId, PartNumber: 2, Body: part(2, 1024) }),
    );
    const p3 = await s3.send(
      new UploadPartCommand({ Bucket: 'mpu', Key: 'errors', UploadId, PartNumber: 3, Body: part(3, 1024) }),
    );
    const complete = (Parts: Array<{ PartNumber: number; ETag?: string }>, id = UploadId) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'mpu',
          Key: 'errors',
          UploadId: id,
          MultipartUpload: { Parts },
        }),
      );
    expect(await s3Error(complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]))).toBe(
      'InvalidPart',
    );
    expect(await s3Error(complete([{ PartNumber: 7, ETag: p1.ETag }]))).toBe('InvalidPart');
    expect(
      await s3Error(
        complete([
          { PartNumber: 2, ETag: p2.ETag },
          { PartNumber: 1, ETag: p1.ETag },
        ]),
      ),
    ).toBe('InvalidPartOrder');
    expect(
      await s3Error(
        complete([
          { PartNumber: 1, ETag: p1.ETag },
          { PartNumber: 2, ETag: p2.ETag },
          { PartNumber: 3, ETag: p3.ETag },
        ]),
      ),
    ).toBe('EntityTooSmall');
    expect(await s3Error(complete([{ PartNumber: 1, ETag: p1.ETag }], 'no-such-upload'))).toBe(
      'NoSuchUpload',
    );
    expect(
      await s3Error(
        s3.send(
          new UploadPartCommand({ Bucket: 'mpu', Key: 'errors', UploadId, PartNumber: 10001, Body: 'x' }),
        ),
      ),
    ).toBe('InvalidArgument');
    // Re-uploading a part replaces it; parts may arrive in any order.
    const p2b = await s3.send(
      new UploadPartCommand({ Bucket: 'mpu', Key: 'errors', UploadId, PartNumber: 2, Body: part(9, 2048) }),
    );
    const done = await complete([
      { PartNumber: 1, ETag: p1.ETag },
      { PartNumber: 2, ETag: p2b.ETag },
    ]);
    expect(done.ETag).toMatch(/-2"$/);
    expect((await download('errors')).equals(Buffer.concat([part(1, 5 * MiB), part(9, 2048)]))).toBe(true);
    expect(await s3Error(s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'errors', UploadId })))).toBe(
      'NoSuchUpload',
    );
  });

  it('lists uploads and parts with paging', async () => {
    const ids: string[] = [];
    for (const Key of ['lu/a', 'lu/b', 'lu/c/d', 'other']) {
      ids.push((await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key }))).UploadId!);
    }
    for (let n = 1; n <= 5; n++) {
      await s3.send(
        new UploadPartCommand({
          Bucket: 'mpu',
          Key: 'lu/a',
          UploadId: ids[0],
          PartNumber: n,
          Body: part(n, 100),
        }),
      );
    }
    const listed = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: 'mpu', Prefix: 'lu/', Delimiter: '/' }),
    );
    expect(listed.Uploads?.map((u) => u.Key)).toEqual(['lu/a', 'lu/b']);
    expect(listed.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['lu/c/']);
    const page1 = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: 'mpu', Prefix: 'lu/', MaxUploads: 1 }),
    );
    expect(page1.IsTruncated).toBe(true);
    const page2 = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: 'mpu',
        Prefix: 'lu/',
        MaxUploads: 5,
        KeyMarker: page1.NextKeyMarker,
        UploadIdMarker: page1.NextUploadIdMarker,
      }),
    );
    expect(page2.Uploads?.map((u) => u.Key)).toEqual(['lu/b', 'lu/c/d']);
    const parts1 = await s3.send(
      new ListPartsCommand({ Bucket: 'mpu', Key: 'lu/a', UploadId: ids[0], MaxParts: 2 }),
    );
    expect(parts1.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
    expect(parts1.IsTruncated).toBe(true);
    const parts2 = await s3.send(
      new ListPartsCommand({
        Bucket: 'mpu',
        Key: 'lu/a',
        UploadId: ids[0],
        PartNumberMarker: parts1.NextPartNumberMarker,
      }),
    );
    expect(parts2.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([
      [3, 100],
      [4, 100],
      [5, 100],
    ]);
    for (const [i, Key] of ['lu/a', 'lu/b', 'lu/c/d', 'other'].entries()) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key, UploadId: ids[i] }));
    }
  });

  it('frees the parts’ storage on abort', async () => {
    const before = await blobBytes();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'aborted' }));
    for (let n = 1; n <= 4; n++) {
      await s3.send(
        new UploadPartCommand({
          Bucket: 'mpu',
          Key: 'aborted',
          UploadId,
          PartNumber: n,
          Body: randomBytes(5 * MiB),
        }),
      );
    }
    expect(await blobBytes()).toBeGreaterThan(before + 20 * MiB);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'aborted', UploadId }));
    expect(await blobBytes()).toBe(before);
    expect(
      await s3Error(s3.send(new AbortMultipartUploadCommand({ Bucket: 'mpu', Key: 'aborted', UploadId }))),
    ).toBe('NoSuchUpload');
  });

  /** A completed two-part upload with a composite SHA-256: 5 MiB + 10 bytes, in blobs of their own. */
  async function completedUpload(Key: string): Promise<string> {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'mpu', Key, ChecksumAlgorithm: 'SHA256' }),
    );
    const Parts = [];
    for (const [i, size] of [5 * MiB, 10].entries()) {
      const { ETag, ChecksumSHA256 } = await s3.send(
        new UploadPartCommand({
          Bucket: 'mpu',
          Key,
          UploadId,
          PartNumber: i + 1,
          Body: part(i + 1, size),
          ChecksumAlgorithm: 'SHA256',
        }),
      );
      Parts.push({ PartNumber: i + 1, ETag, ChecksumSHA256 });
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: 'mpu', Key, UploadId, MultipartUpload: { Parts } }),
    );
    return done.ETag!;
  }

  it('replaces an object a multipart upload made by a PUT, a conditional PUT or a copy, freeing its parts', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'mpu', Key: 'copy-source', Body: 'copied over' }));
    const before = await blobBytes();
    const writes: Array<[string, (etag: string) => Promise<unknown>, string]> = [
      [
        'by-put',
        () => s3.send(new PutObjectCommand({ Bucket: 'mpu', Key: 'by-put', Body: 'put over' })),
        'put over',
      ],
      [
        'by-if-match',
        (etag) =>
          s3.send(
            new PutObjectCommand({ Bucket: 'mpu', Key: 'by-if-match', Body: 'matched', IfMatch: etag }),
          ),
        'matched',
      ],
      [
        'by-copy',
        () =>
          s3.send(new CopyObjectCommand({ Bucket: 'mpu', Key: 'by-copy', CopySource: 'mpu/copy-source' })),
        'copied over',
      ],
    ];
    for (const [Key, write, body] of writes) {
      const etag = await completedUpload(Key);
      expect(etag).toMatch(/-2"$/);
      await write(etag);
      expect((await download(Key)).toString()).toBe(body);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key, ChecksumMode: 'ENABLED' }));
      expect(head.ETag).toBe(`"${md5(Buffer.from(body)).toString('hex')}"`);
      expect(head.ContentLength).toBe(body.length);
      // Nothing of the upload is left: no part count, no composite checksum.
      expect(head.PartsCount).toBeUndefined();
      expect(head.ChecksumSHA256).toBeUndefined();
      expect(head.ChecksumType).not.toBe('COMPOSITE');
    }
    expect(await blobBytes()).toBe(before);
  });

  it('frees the parts of the object an upload replaces when it completes', async () => {
    await completedUpload('twice');
    const once = await blobBytes();
    await completedUpload('twice');
    expect(await blobBytes()).toBe(once);
    const got = await download('twice');
    expect(got.equals(Buffer.concat([part(1, 5 * MiB), part(2, 10)]))).toBe(true);
  });

  it('keeps per-part checksums and answers the composite checksum', async () => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'sums', ChecksumAlgorithm: 'SHA256' }),
    );
    const a = part(1, 5 * MiB);
    const b = part(2, 10);
    const pa = await s3.send(
      new UploadPartCommand({
        Bucket: 'mpu',
        Key: 'sums',
        UploadId,
        PartNumber: 1,
        Body: a,
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const pb = await s3.send(
      new UploadPartCommand({
        Bucket: 'mpu',
        Key: 'sums',
        UploadId,
        PartNumber: 2,
        Body: b,
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'mpu',
        Key: 'sums',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: pa.ETag, ChecksumSHA256: pa.ChecksumSHA256 },
            { PartNumber: 2, ETag: pb.ETag, ChecksumSHA256: pb.ChecksumSHA256 },
          ],
        },
      }),
    );
    const raw = Buffer.concat([
      createHash('sha256').update(a).digest(),
      createHash('sha256').update(b).digest(),
    ]);
    const expected = `${createHash('sha256').update(raw).digest('base64')}-2`;
    expect(done.ChecksumSHA256).toBe(expected);
    const head = await s3.send(
      new HeadObjectCommand({ Bucket: 'mpu', Key: 'sums', ChecksumMode: 'ENABLED' }),
    );
    expect(head.ChecksumSHA256).toBe(expected);
  });

  it('answers a FULL_OBJECT CRC for a multipart upload, and refuses a wrong one at Complete', async () => {
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
      const Key = `full-${alg}`;
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: 'mpu',
          Key,
          ChecksumAlgorithm: alg,
          ChecksumType: 'FULL_OBJECT',
        }),
      );
      const a = randomBytes(5 * MiB);
      const b = randomBytes(777);
      const field = `Checksum${alg}` as const;
      const pa = await s3.send(
        new UploadPartCommand({
          Bucket: 'mpu',
          Key,
          UploadId,
          PartNumber: 1,
          Body: a,
          ChecksumAlgorithm: alg,
        }),
      );
      const pb = await s3.send(
        new UploadPartCommand({
          Bucket: 'mpu',
          Key,
          UploadId,
          PartNumber: 2,
          Body: b,
          ChecksumAlgorithm: alg,
        }),
      );
      const parts = [
        { PartNumber: 1, ETag: pa.ETag, [field]: pa[field] },
        { PartNumber: 2, ETag: pb.ETag, [field]: pb[field] },
      ];
      const whole = createChecksum(alg.toLowerCase() as 'crc32');
      whole.update(Buffer.concat([a, b]));
      const expected = await whole.digest();
      const wrong = await s3Error(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'mpu',
            Key,
            UploadId,
            MultipartUpload: { Parts: parts },
            [field]: 'AAAAAAAAAAA=',
          }),
        ),
      );
      expect(wrong).toBe('BadDigest');
      const done = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'mpu',
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      expect(done[field]).toBe(expected);
      expect(done.ChecksumType).toBe('FULL_OBJECT');
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'mpu', Key, ChecksumMode: 'ENABLED' }));
      expect(head[field]).toBe(expected);
      expect(head.ChecksumType).toBe('FULL_OBJECT');
    }
    expect(
      await s3Error(
        s3.send(
          new CreateMultipartUploadCommand({
            Bucket: 'mpu',
            Key: 'x',
            ChecksumAlgorithm: 'SHA256',
            ChecksumType: 'FULL_OBJECT',
          }),
        ),
      ),
    ).toBe('InvalidRequest');
  });

  it('uploads a file stream in parts with lib-storage, byte-exact (memory: streaming-memory.test.ts)', async () => {
    const data = randomBytes(12 * MiB);
    const file = path.join(env.dir, 'stream-12MiB.bin');
    await writeFile(file, data);
    const up = new Upload({
      client: s3,
      params: { Bucket: 'mpu', Key: 'stream.bin', Body: createReadStream(file) },
    });
    await up.done();
    expect((await download('stream.bin')).equals(data)).toBe(true);
  });
});

describe('incomplete uploads', () => {
  it('are aborted by the collector once older than the configured age, freeing their parts', async () => {
    const before = await blobBytes();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'mpu', Key: 'forgotten' }));
    await s3.send(
      new UploadPartCommand({
        Bucket: 'mpu',
        Key: 'forgotten',
        UploadId,
        PartNumber: 1,
        Body: randomBytes(MiB),
      }),
    );
    // Nothing is that old yet: the default age (7 days) keeps it.
    await gw.gateway.collector.runOnce();
    expect(
      (await s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'forgotten', UploadId }))).Parts?.length,
    ).toBe(1);
    // Two hours later, as the database sees it, a collector configured for one hour removes it.
    await sql(
      env.pg.url,
      `UPDATE uploads SET initiated_at = now() - interval '2 hours' WHERE upload_id = $1`,
      [UploadId],
    );
    await gw.gateway.collector.runOnce();
    expect(
      (await s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'forgotten', UploadId }))).Parts?.length,
    ).toBe(1);
    const hourly = await startGateway({ ...env.env, MULTIPART_EXPIRY_HOURS: '1' });
    try {
      expect((await hourly.gateway.collector.runOnce())?.staleUploads).toBe(1);
    } finally {
      await hourly.close();
    }
    expect(await s3Error(s3.send(new ListPartsCommand({ Bucket: 'mpu', Key: 'forgotten', UploadId })))).toBe(
      'NoSuchUpload',
    );
    expect(await blobBytes()).toBe(before);
  });
});
