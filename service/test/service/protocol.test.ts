import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';
import { pathStyleClient } from '../support/s3-client.js';

/** Both settings of ENFORCE_PAYLOAD_VERIFICATION run the same gateway code against the same database. */
let env: TestEnv;
let strict: RunningGateway;
let lenient: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv();
  strict = await startGateway(env.env);
  lenient = await startGateway({ ...env.env, ENFORCE_PAYLOAD_VERIFICATION: 'false' });
  s3 = pathStyleClient(strict.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'proto' }));
});

afterAll(async () => {
  s3?.destroy();
  await strict?.close();
  await lenient?.close();
  await env?.stop();
});

const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');
const md5b64 = (b: string) => createHash('md5').update(b).digest('base64');

describe('payload verification', () => {
  it('refuses a body that does not match its signed SHA-256 and stores nothing', async () => {
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/sha-mismatch',
      body: 'actual body',
      headers: { 'x-amz-content-sha256': sha256('another body') },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res.text)).toBe('XAmzContentSHA256Mismatch');
    const head = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'HEAD',
      path: '/proto/sha-mismatch',
    });
    expect(head.status).toBe(404);
    expect(head.text).toBe('');
  });

  it('with ENFORCE_PAYLOAD_VERIFICATION=true, requires x-amz-content-sha256 and a digest for unsigned bodies', async () => {
    const missing = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/no-sha',
      body: 'data',
      tamper: (h) => delete h['X-Amz-Content-Sha256'],
    });
    // aws4 signs the payload hash into the header it adds; without it the gateway refuses before signatures.
    expect(missing.status).toBe(400);
    expect(errorCode(missing.text)).toBe('InvalidRequest');
    const unsigned = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/unsigned',
      body: 'data',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(unsigned.status).toBe(400);
    expect(errorCode(unsigned.text)).toBe('InvalidRequest');
    const withMd5 = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/unsigned',
      body: 'data',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5b64('data') },
    });
    expect(withMd5.status).toBe(200);
    const badMd5 = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/unsigned-bad',
      body: 'data',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': md5b64('other') },
    });
    expect(errorCode(badMd5.text)).toBe('BadDigest');
  });

  it('with ENFORCE_PAYLOAD_VERIFICATION=false, accepts unsigned bodies but still checks every declared digest', async () => {
    const unsigned = await signedFetch(lenient.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/lenient-unsigned',
      body: 'data',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    expect(unsigned.status).toBe(200);
    expect(unsigned.headers.get('etag')).toBe('"8d777f385d3dfec8815d20f7496026dc"');
    const mismatch = await signedFetch(lenient.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/lenient-mismatch',
      body: 'actual',
      headers: { 'x-amz-content-sha256': sha256('declared') },
    });
    expect(errorCode(mismatch.text)).toBe('XAmzContentSHA256Mismatch');
    const badCrc = await signedFetch(lenient.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/lenient-crc',
      body: 'data',
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-checksum-crc32': 'AAAAAA==' },
    });
    expect(errorCode(badCrc.text)).toBe('BadDigest');
  });

  it('refuses an aws-chunked body shorter than x-amz-decoded-content-length', async () => {
    const body = '5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n';
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/short-chunked',
      body,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': '6',
      },
    });
    expect(errorCode(res.text)).toBe('IncompleteBody');
    const ok = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/chunked',
      body,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': '5',
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-amz-checksum-crc32')).toBe('NhCmhg==');
    const wrongTrailer = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/chunked-bad',
      body: body.replace('NhCmhg==', 'AAAAAA=='),
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': '5',
      },
    });
    expect(errorCode(wrongTrailer.text)).toBe('BadDigest');
  });

  it('refuses an aws-chunked body longer than x-amz-decoded-content-length, and stores nothing', async () => {
    // Longer by one byte past several segments: sealing goes segment by segment on the declared length.
    const data = Buffer.alloc(200_001, 7);
    const body = Buffer.concat([
      Buffer.from(`${data.length.toString(16)}\r\n`),
      data,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/long-chunked',
      body,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': String(data.length - 1),
      },
    });
    expect(res.status).toBe(400);
    expect(errorCode(res.text)).toBe('IncompleteBody');
    const got = await signedFetch(strict.endpoint, env.creds[0]!, { path: '/proto/long-chunked' });
    expect(errorCode(got.text)).toBe('NoSuchKey');
  });

  it('stores nothing and leaves no file behind when the client goes away inside an aws-chunked body', async () => {
    const aws4 = (await import('aws4')).default;
    const http = await import('node:http');
    const url = new URL(strict.endpoint);
    const data = Buffer.alloc(64 * 1024, 3);
    const frame = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const frames = 64; // 4 MiB declared: large enough to go to the digest threads and a blob file
    const headers = {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'x-amz-decoded-content-length': String(frames * data.length),
      'content-length': String(frames * frame.length + 40),
    };
    const signed = aws4.sign(
      { host: url.host, method: 'PUT', path: '/proto/gone', service: 's3', region: 'us-east-1', headers },
      env.creds[0]!,
    );
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: 'PUT',
      path: '/proto/gone',
      headers: signed.headers as Record<string, string>,
    });
    req.on('error', () => undefined);
    // Half the frames, the last one cut in its middle, then the connection drops.
    for (let i = 0; i < frames / 2; i++) req.write(frame);
    req.write(frame.subarray(0, 1000));
    const tmp = path.join(env.env.DATA_DIR!, 'tmp');
    // The upload has reached its blob file before the client goes.
    for (let i = 0; i < 50 && (await readdir(tmp)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await readdir(tmp)).length).toBe(1);
    req.destroy();
    for (let i = 0; i < 50 && (await readdir(tmp)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await readdir(tmp)).toEqual([]);
    const got = await signedFetch(strict.endpoint, env.creds[0]!, { path: '/proto/gone' });
    expect(errorCode(got.text)).toBe('NoSuchKey');
  });

  it('refuses a single PUT over 5 GiB from its Content-Length before reading the body', async () => {
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/huge',
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'x-amz-decoded-content-length': String(5 * 1024 ** 3 + 1),
      },
      body: '0\r\n\r\n',
    });
    expect(errorCode(res.text)).toBe('EntityTooLarge');
  });
});

describe('protocol surface', () => {
  it('answers NotImplemented for sub-resources it does not serve, never a plain listing', async () => {
    for (const q of ['replication', 'logging', 'website', 'inventory', 'encryption']) {
      const res = await signedFetch(strict.endpoint, env.creds[0]!, { path: `/proto?${q}=` });
      expect(res.status, q).toBe(501);
      expect(errorCode(res.text)).toBe('NotImplemented');
    }
    const copy = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/copy',
      headers: { 'x-amz-copy-source': '/proto/chunked', 'x-amz-website-redirect-location': '/elsewhere' },
      body: '',
    });
    expect(errorCode(copy.text)).toBe('NotImplemented');
  });

  it('puts x-amz-request-id on every response and no body on HEAD errors', async () => {
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'HEAD',
      path: '/nonexistent-bucket',
    });
    expect(res.status).toBe(404);
    expect(res.text).toBe('');
    expect(res.headers.get('x-amz-request-id')).toBeTruthy();
    const health = await fetch(strict.endpoint + '/health');
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(strict.endpoint + '/ready');
    expect(ready.status).toBe(200);
  });
});

describe('listing', () => {
  const keys = [
    'a',
    'a/',
    'a/b',
    'a/b/c',
    'a/c',
    'b',
    'b+c',
    'b c',
    'b%c',
    'ab',
    'é',
    'z/1',
    'z/2',
    'Z',
    '日本/x',
  ];
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
    for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: Key }));
  });
  const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));

  it('lists in UTF-8 byte order', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: 'listing' }));
    expect(res.Contents?.map((c) => c.Key)).toEqual(byteOrder);
    expect(res.KeyCount).toBe(keys.length);
    expect(res.IsTruncated).toBe(false);
  });

  it('rolls up common prefixes with a delimiter', async () => {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'z/', '日本/']);
    expect(res.Contents?.map((c) => c.Key)).toEqual(byteOrder.filter((k) => !k.includes('/')));
    const inA = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/', Prefix: 'a/' }));
    expect(inA.Contents?.map((c) => c.Key)).toEqual(['a/', 'a/b', 'a/c']);
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/']);
  });

  for (const maxKeys of [1, 2, 3, 7]) {
    for (const delimiter of [undefined, '/']) {
      it(`pages exactly with max-keys=${maxKeys} delimiter=${delimiter ?? 'none'} in v1 and v2`, async () => {
        const full = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: delimiter }));
        const expected = [
          ...(full.Contents ?? []).map((c) => c.Key!),
          ...(full.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        const v2: string[] = [];
        let token: string | undefined;
        for (;;) {
          const page = await s3.send(
            new ListObjectsV2Command({
              Bucket: 'listing',
              MaxKeys: maxKeys,
              Delimiter: delimiter,
              ContinuationToken: token,
            }),
          );
          const entries = [
            ...(page.Contents ?? []).map((c) => c.Key!),
            ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
          ];
          expect(entries.length).toBeLessThanOrEqual(maxKeys);
          expect(page.KeyCount).toBe(entries.length);
          v2.push(...entries);
          if (!page.IsTruncated) break;
          expect(entries.length).toBe(maxKeys);
          token = page.NextContinuationToken;
        }
        expect(v2.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))).toEqual(expected);
        const v1: string[] = [];
        let marker: string | undefined;
        for (;;) {
          const page = await s3.send(
            new ListObjectsCommand({
              Bucket: 'listing',
              MaxKeys: maxKeys,
              Delimiter: delimiter,
              Marker: marker,
            }),
          );
          const entries = [
            ...(page.Contents ?? []).map((c) => c.Key!),
            ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
          ];
          v1.push(...entries);
          if (!page.IsTruncated) break;
          marker = page.NextMarker;
          expect(marker).toBeTruthy();
        }
        expect(v1.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))).toEqual(expected);
      });
    }
  }

  it('honours start-after, max-keys=0, fetch-owner and encoding-type=url', async () => {
    const after = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'b' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(
      byteOrder.filter((k) => Buffer.compare(Buffer.from(k), Buffer.from('b')) > 0),
    );
    const zero = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 0 }));
    expect(zero.KeyCount).toBe(0);
    expect(zero.IsTruncated).toBe(false);
    const owner = await s3.send(
      new ListObjectsV2Command({ Bucket: 'listing', FetchOwner: true, MaxKeys: 1 }),
    );
    expect(owner.Contents?.[0]?.Owner).toEqual({
      ID: expect.stringMatching(/^[0-9a-f]{64}$/),
      DisplayName: env.creds[0]!.accessKeyId,
    });
    const noOwner = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 1 }));
    expect(noOwner.Contents?.[0]?.Owner).toBeUndefined();
    const raw = await signedFetch(strict.endpoint, env.creds[0]!, {
      path: '/listing?list-type=2&encoding-type=url&prefix=b',
    });
    expect(raw.text).toContain('<EncodingType>url</EncodingType>');
    for (const enc of ['<Key>b%2Bc</Key>', '<Key>b+c</Key>', '<Key>b%25c</Key>'])
      expect(raw.text).toContain(enc);
    const badMax = await signedFetch(strict.endpoint, env.creds[0]!, {
      path: '/listing?list-type=2&max-keys=-1',
    });
    expect(errorCode(badMax.text)).toBe('InvalidArgument');
    const badToken = await signedFetch(strict.endpoint, env.creds[0]!, {
      path: '/listing?list-type=2&continuation-token=bogus',
    });
    expect(errorCode(badToken.text)).toBe('InvalidArgument');
  });
});

describe('awkward paths', () => {
  it('keeps doubled slashes in keys and answers malformed escapes with an S3 error', async () => {
    const put = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/proto/a//b///c',
      body: 'slashes',
    });
    expect(put.status).toBe(200);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'proto', Prefix: 'a/' }));
    expect(list.Contents?.map((c) => c.Key)).toEqual(['a//b///c']);
    const got = await signedFetch(strict.endpoint, env.creds[0]!, { path: '/proto/a//b///c' });
    expect(got.text).toBe('slashes');
    const bad = await fetch(`${strict.endpoint}/proto/%zz%E0`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/xml');
    expect(bad.headers.get('x-amz-request-id')).toBeTruthy();
    expect(errorCode(await bad.text())).toBe('InvalidURI');
  });
});

describe('two gateways on one database', () => {
  it('refuses a PUT into a bucket another gateway just deleted, even while its lookup is cached', async () => {
    const other = pathStyleClient(lenient.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'shortlived' }));
    await s3.send(new PutObjectCommand({ Bucket: 'shortlived', Key: 'warm', Body: 'cache the bucket' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'shortlived', Key: 'warm' }));
    await other.send(new DeleteBucketCommand({ Bucket: 'shortlived' }));
    const res = await signedFetch(strict.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/shortlived/late',
      body: 'late',
    });
    expect(errorCode(res.text)).toBe('NoSuchBucket');
    other.destroy();
  });
});

describe('single PUT size limit', () => {
  it('refuses a PUT over 5 GiB from its Content-Length, before reading any body', async () => {
    const aws4 = (await import('aws4')).default;
    const http = await import('node:http');
    const url = new URL(strict.endpoint);
    const headers = {
      'content-length': String(5 * 1024 ** 3 + 1),
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==',
    };
    const signed = aws4.sign(
      { host: url.host, method: 'PUT', path: '/proto/too-big', service: 's3', region: 'us-east-1', headers },
      env.creds[0]!,
    );
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: '/proto/too-big',
          headers: signed.headers as Record<string, string>,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(1024)); // a few bytes of a body that would be 5 GiB; the answer must not wait for it
    });
    expect(status).toBe(400);
    expect(errorCode(body)).toBe('EntityTooLarge');
  });
});
