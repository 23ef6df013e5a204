import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { pathStyleClient } from '../support/s3-client.js';
import { signedFetch } from '../support/signed-fetch.js';

// A gateway whose blobs live in a remote S3-compatible store (BLOB_BACKEND=s3): here a second, independent
// Coffer gateway with its own Postgres, which sees only sealed bytes under blobs/.
describe('BLOB_BACKEND=s3: sealed blobs in a remote S3 store', () => {
  let storeEnv: TestEnv;
  let store: RunningGateway;
  let storeS3: S3Client;
  let env: TestEnv;
  let gw: RunningGateway;
  let s3: S3Client;
  const marker = randomBytes(64);

  beforeAll(async () => {
    storeEnv = await createTestEnv();
    store = await startGateway(storeEnv.env);
    storeS3 = pathStyleClient(store.endpoint, storeEnv.creds[0]!);
    await storeS3.send(new CreateBucketCommand({ Bucket: 'coffer-blobs' }));
    env = await createTestEnv({ BLOB_BACKEND: 's3' });
    const keys = path.join(env.dir, 'blob-store.json');
    await writeFile(
      keys,
      JSON.stringify({
        access_key_id: storeEnv.creds[0]!.accessKeyId,
        secret_access_key: storeEnv.creds[0]!.secretAccessKey,
      }),
      { mode: 0o600 },
    );
    gw = await startGateway({
      ...env.env,
      BLOB_S3_ENDPOINT: store.endpoint,
      BLOB_S3_BUCKET: 'coffer-blobs',
      BLOB_S3_CREDENTIALS_FILE: keys,
      GC_GRACE_SECONDS: '0',
    });
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'data' }));
  });

  afterAll(async () => {
    s3?.destroy();
    storeS3?.destroy();
    await gw?.close();
    await store?.close();
    await env?.stop();
    await storeEnv?.stop();
  });

  const read = async (key: string, range?: string) =>
    Buffer.from(
      await (
        await s3.send(new GetObjectCommand({ Bucket: 'data', Key: key, Range: range }))
      ).Body!.transformToByteArray(),
    );

  it('stores, reads, ranges and completes multipart uploads through the store, which holds no plaintext', async () => {
    const body = Buffer.concat([randomBytes(1024 * 1024), marker, randomBytes(2 * 1024 * 1024)]);
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'one.bin', Body: body }));
    expect((await read('one.bin')).equals(body)).toBe(true);
    expect((await read('one.bin', 'bytes=1048570-1048700')).equals(body.subarray(1048570, 1048701))).toBe(
      true,
    );

    const parts = [randomBytes(5 * 1024 * 1024), Buffer.concat([marker, randomBytes(1000)])];
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'data', Key: 'multi.bin' }),
    );
    const etags = [];
    for (const [i, p] of parts.entries())
      etags.push(
        (
          await s3.send(
            new UploadPartCommand({ Bucket: 'data', Key: 'multi.bin', UploadId, PartNumber: i + 1, Body: p }),
          )
        ).ETag,
      );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'data',
        Key: 'multi.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    expect((await read('multi.bin')).equals(Buffer.concat(parts))).toBe(true);

    // Every blob is an object of the store under blobs/, and none holds a byte run of what was uploaded.
    const listed = (await storeS3.send(new ListObjectsV2Command({ Bucket: 'coffer-blobs' }))).Contents ?? [];
    expect(listed.length).toBeGreaterThanOrEqual(3);
    for (const o of listed) {
      expect(o.Key).toMatch(/^blobs\/[0-9a-f]{32}$/);
      const sealed = Buffer.from(
        await (
          await storeS3.send(new GetObjectCommand({ Bucket: 'coffer-blobs', Key: o.Key }))
        ).Body!.transformToByteArray(),
      );
      expect(sealed.includes(marker), o.Key).toBe(false);
      expect(sealed.includes(body.subarray(0, 32)), o.Key).toBe(false);
    }
  });

  it('streams a blob of several parts up and reads it back whole and in ranges, in any order', async () => {
    // 5 parts of the store's multipart upload, sent two at a time; reads come from one stream, restarted on a jump.
    const body = randomBytes(36 * 1024 * 1024 + 12_345);
    await s3.send(new PutObjectCommand({ Bucket: 'data', Key: 'big.bin', Body: body }));
    expect((await read('big.bin')).equals(body)).toBe(true);
    for (const [from, to] of [
      [body.length - 70_000, body.length - 1],
      [0, 99],
      [17 * 1024 * 1024 - 5, 25 * 1024 * 1024 + 5],
      [8 * 1024 * 1024, 8 * 1024 * 1024],
    ] as const)
      expect(
        (await read('big.bin', `bytes=${from}-${to}`)).equals(body.subarray(from, to + 1)),
        `${from}-${to}`,
      ).toBe(true);
    const listed = await storeS3.send(new ListObjectsV2Command({ Bucket: 'coffer-blobs', Prefix: 'blobs/' }));
    expect(listed.Contents!.some((o) => o.Size! > body.length)).toBe(true);
  });

  it("deletes a removed object's blob from the store once the collector runs", async () => {
    const before = (await storeS3.send(new ListObjectsV2Command({ Bucket: 'coffer-blobs' }))).KeyCount!;
    await s3.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'one.bin' }));
    await gw.gateway.collector.runOnce(0);
    const after = (await storeS3.send(new ListObjectsV2Command({ Bucket: 'coffer-blobs' }))).KeyCount!;
    expect(after).toBe(before - 1);
    expect((await read('multi.bin')).subarray(5 * 1024 * 1024, 5 * 1024 * 1024 + 64).equals(marker)).toBe(
      true,
    );
  });

  it('answers 503 with Retry-After while the store is down, and recovers when it is back, without a restart', async () => {
    const port = store.port;
    await store.close();
    const started = Date.now();
    const get = await signedFetch(gw.endpoint, env.creds[0]!, { path: '/data/multi.bin' });
    expect(get.status).toBe(503);
    expect(get.headers.get('retry-after')).toBeTruthy();
    expect(get.text).toContain('<Code>ServiceUnavailable</Code>');
    expect(get.text).toContain('The blob store is not answering');
    const put = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/data/new.bin',
      body: randomBytes(300_000),
    });
    expect([put.status, put.text.includes('The blob store is not answering')]).toEqual([503, true]);
    // Refused connections fail fast: well within the clients' own timeouts.
    expect(Date.now() - started).toBeLessThan(20_000);
    store = await startGateway({ ...storeEnv.env, PORT: String(port) });
    expect((await read('multi.bin')).length).toBe(5 * 1024 * 1024 + 64 + 1000);
  });
});
