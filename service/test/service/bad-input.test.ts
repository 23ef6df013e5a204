import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';
import { signedRequestHead } from '../support/raw-http.js';
import { pathStyleClient } from '../support/s3-client.js';

/** Inputs that once made the gateway answer 5xx, ignore a header, or say something AWS would not. */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  env = await createTestEnv({ LOG_LEVEL: 'info' });
  gw = await startGateway(env.env, {
    write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>),
  });
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'input' }));
  await s3.send(new PutObjectCommand({ Bucket: 'input', Key: 'obj', Body: 'body' }));
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

const put = (p: string, body?: string, headers: Record<string, string> = {}) =>
  signedFetch(gw.endpoint, env.creds[0]!, { method: 'PUT', path: p, body, headers });
const get = (p: string, headers: Record<string, string> = {}) =>
  signedFetch(gw.endpoint, env.creds[0]!, { path: p, headers });

const corsXml = (rule: string) =>
  `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>${rule}</CORSRule></CORSConfiguration>`;

describe('no 5xx from any input', () => {
  it('refuses CORS header names a response could never carry, at PUT time', async () => {
    for (const rule of [
      '<ExposeHeader>x-a&#13;&#10;Set-Cookie: a=b</ExposeHeader>',
      '<ExposeHeader>x-€</ExposeHeader>',
      '<AllowedHeader>x-b&#10;c</AllowedHeader>',
      '<AllowedHeader>ü-header</AllowedHeader>',
    ]) {
      const res = await put('/input?cors', corsXml(rule));
      expect(res.status, rule).toBe(400);
      expect(errorCode(res.text)).toBe('InvalidRequest');
    }
    const ok = await put(
      '/input?cors',
      corsXml('<ExposeHeader>ETag</ExposeHeader><AllowedHeader>*</AllowedHeader>'),
    );
    expect(ok.status).toBe(200);
    const res = await get('/input/obj', { origin: 'https://app.example' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag');
  });

  it('answers InvalidArgument for response-* overrides a header cannot carry', async () => {
    for (const [param, value] of [
      ['response-content-type', 'text/plain%0D%0ASet-Cookie:%20a=b'],
      ['response-content-disposition', 'attachment%00'],
      ['response-cache-control', 'no-cache%E2%82%AC'],
      ['response-content-language', 'en%0A'],
    ]) {
      const res = await get(`/input/obj?${param}=${value}`);
      expect(res.status, param).toBe(400);
      expect(errorCode(res.text)).toBe('InvalidArgument');
      expect(res.text).toContain(`<ArgumentName>${param}</ArgumentName>`);
    }
    const ok = await get('/input/obj?response-content-type=text%2Fplain%3B%20charset%3Dlatin1');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/plain; charset=latin1');
  });

  it('stores any Content-Type, even ones Fastify cannot parse', async () => {
    for (const [key, type] of [
      // aws4 would add its own type for a falsy one; fetch trims this to an empty header.
      ['ct-empty', ' '],
      ['ct-semicolon', ';'],
      ['ct-x', 'x'],
      ['ct-odd', 'a/b; ; c'],
    ] as const) {
      const res = await put(`/input/${key}`, 'data', { 'content-type': type });
      expect(res.status, JSON.stringify(type)).toBe(200);
      const back = await get(`/input/${key}`);
      expect(back.text).toBe('data');
      if (type.trim()) expect(back.headers.get('content-type')).toBe(type);
    }
  });

  it('answers a request Node cannot parse with an S3 error and a request id, and logs it', async () => {
    const socket = connect(gw.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => (received += d.toString('latin1')));
    const closed = new Promise((r) => socket.on('close', r));
    socket.write(`GET /input/obj HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
    expect(received).toMatch(/x-amz-request-id: [0-9A-F]{16}/);
    expect(received).toContain('<Code>RequestHeaderSectionTooLarge</Code>');
    expect(logLines.some((l) => l.msg === 'request refused by the HTTP parser')).toBe(true);
  });

  it('answers MalformedXML for a well-formed CreateBucket body with the wrong root', async () => {
    for (const body of ['<Foo/>', '<Foo><LocationConstraint>us-east-1</LocationConstraint></Foo>']) {
      const res = await put('/wrong-root', body);
      expect(res.status).toBe(400);
      expect(errorCode(res.text)).toBe('MalformedXML');
    }
    expect(
      (await signedFetch(gw.endpoint, env.creds[0]!, { method: 'HEAD', path: '/wrong-root' })).status,
    ).toBe(404);
    const ok = await put(
      '/right-root',
      '<?xml version="1.0" encoding="UTF-8"?><CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>',
    );
    expect(ok.status).toBe(200);
  });
});

async function blobFiles(): Promise<string[]> {
  const root = path.join(env.env.DATA_DIR!, 'blobs');
  const out: string[] = [];
  for (const dir of await readdir(root)) out.push(...(await readdir(path.join(root, dir))));
  return out;
}

describe('DeleteBucket with incomplete multipart uploads', () => {
  it('deletes the bucket, its uploads and their parts, as AWS and Ceph RGW do', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'with-uploads' }));
    const before = new Set(await blobFiles());
    for (const key of ['a', 'b']) {
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'with-uploads', Key: key }),
      );
      await s3.send(
        new UploadPartCommand({
          Bucket: 'with-uploads',
          Key: key,
          UploadId,
          PartNumber: 1,
          Body: Buffer.alloc(1024, 1),
        }),
      );
    }
    expect((await blobFiles()).filter((b) => !before.has(b))).toHaveLength(2);
    const res = await signedFetch(gw.endpoint, env.creds[0]!, { method: 'DELETE', path: '/with-uploads' });
    expect(res.status).toBe(204);
    expect(
      (await signedFetch(gw.endpoint, env.creds[0]!, { method: 'HEAD', path: '/with-uploads' })).status,
    ).toBe(404);
    expect((await blobFiles()).filter((b) => !before.has(b))).toEqual([]);
  });

  it('still refuses a bucket that holds objects', async () => {
    const res = await signedFetch(gw.endpoint, env.creds[0]!, { method: 'DELETE', path: '/input' });
    expect(res.status).toBe(409);
    expect(errorCode(res.text)).toBe('BucketNotEmpty');
  });
});

describe('headers that ask for what is not honoured', () => {
  it('refuses SSE-C headers given without the algorithm, and SSE-C itself', async () => {
    const key = Buffer.alloc(32, 9).toString('base64');
    const keyMd5 = createHash('md5').update(Buffer.alloc(32, 9)).digest('base64');
    const partial = await put('/input/ssec', 'data', {
      'x-amz-server-side-encryption-customer-key': key,
      'x-amz-server-side-encryption-customer-key-md5': keyMd5,
    });
    expect(partial.status).toBe(400);
    expect(errorCode(partial.text)).toBe('InvalidArgument');
    const full = await put('/input/ssec', 'data', {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': key,
      'x-amz-server-side-encryption-customer-key-md5': keyMd5,
    });
    expect(full.status).toBe(501);
    expect((await get('/input/ssec')).status).toBe(404);
    const read = await get('/input/obj', {
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': key,
      'x-amz-server-side-encryption-customer-key-md5': keyMd5,
    });
    expect(read.status).toBe(400);
    expect(errorCode(read.text)).toBe('InvalidRequest');
  });

  it('refuses ACLs that would grant access, and accepts the harmless ones', async () => {
    const err = await s3
      .send(new PutObjectCommand({ Bucket: 'input', Key: 'public', Body: 'x', ACL: 'public-read' }))
      .catch((e: { name: string; $metadata: { httpStatusCode: number } }) => e);
    expect(err).toMatchObject({ name: 'AccessControlListNotSupported', $metadata: { httpStatusCode: 400 } });
    const grant = await put('/input/granted', 'x', {
      'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
    });
    expect(errorCode(grant.text)).toBe('AccessControlListNotSupported');
    for (const acl of ['private', 'bucket-owner-full-control']) {
      expect((await put(`/input/acl-${acl}`, 'x', { 'x-amz-acl': acl })).status).toBe(200);
    }
    const bucket = await put('/public-bucket', undefined, { 'x-amz-acl': 'public-read' });
    expect(bucket.status).toBe(400);
    expect(errorCode(bucket.text)).toBe('InvalidBucketAclWithObjectOwnership');
    expect((await put('/private-bucket', undefined, { 'x-amz-acl': 'private' })).status).toBe(200);
  });
});

describe('answers that clients retry on', () => {
  it('re-creating a bucket you own succeeds in us-east-1', async () => {
    expect((await put('/input')).status).toBe(200);
  });

  it('answers BucketAlreadyOwnedByYou in any other region', async () => {
    const eu = await startGateway({ ...env.env, S3_REGION: 'eu-west-1' });
    try {
      const first = await signedFetch(eu.endpoint, env.creds[0]!, {
        method: 'PUT',
        path: '/eu-bucket',
        region: 'eu-west-1',
      });
      expect(first.status).toBe(200);
      const again = await signedFetch(eu.endpoint, env.creds[0]!, {
        method: 'PUT',
        path: '/eu-bucket',
        region: 'eu-west-1',
      });
      expect(again.status).toBe(409);
      expect(errorCode(again.text)).toBe('BucketAlreadyOwnedByYou');
    } finally {
      await eu.close();
    }
  });

  it('answers a retried CompleteMultipartUpload with the same ETag, and only for the same parts', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'input', Key: 'retried' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: 'input', Key: 'retried', UploadId, PartNumber: 1, Body: 'only part' }),
    );
    const complete = (etag: string) =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'input',
          Key: 'retried',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
        }),
      );
    const first = await complete(part.ETag!);
    const retry = await complete(part.ETag!);
    expect(retry.ETag).toBe(first.ETag);
    const other = await complete('"0123456789abcdef0123456789abcdef"').catch((e: { name: string }) => e);
    expect(other).toMatchObject({ name: 'NoSuchUpload' });
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: 'input', Key: 'retried' }))
    ).Body!.transformToString();
    expect(body).toBe('only part');
  });
});

describe('logging', () => {
  const linesFor = (requestId: string | null) => logLines.filter((l) => l.requestId === requestId);

  it('logs a client that disconnects mid-download once, at info, with the bytes sent', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: 'input', Key: 'big', Body: Buffer.alloc(32 * 1024 * 1024, 3) }),
    );
    const res = await signedFetch(gw.endpoint, env.creds[0]!, { path: '/input/obj' });
    const id = res.headers.get('x-amz-request-id');
    expect(linesFor(id)).toHaveLength(1);
    const url = new URL(gw.endpoint);
    const socket = connect(gw.port, url.hostname);
    let head = '';
    socket.write(signedRequestHead(gw.endpoint, env.creds[0]!, 'GET', '/input/big'));
    await new Promise<void>((resolve) =>
      socket.on('data', (d) => {
        head += d.toString('latin1');
        if (head.length > 1024 * 1024) {
          socket.destroy();
          resolve();
        }
      }),
    );
    const requestId = /x-amz-request-id: (\w+)/.exec(head)![1]!;
    let mine: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 50 && mine.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      mine = linesFor(requestId);
    }
    await new Promise((r) => setTimeout(r, 300));
    mine = linesFor(requestId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, msg: 'client disconnected', operation: 'GetObject' });
    expect(Number(mine[0]!.bytesOut)).toBeGreaterThan(0);
    expect(Number(mine[0]!.bytesOut)).toBeLessThan(32 * 1024 * 1024);
  });

  it('names what was asked for unsupported sub-resources, SigV2 and anonymous requests', async () => {
    const website = await get('/input?website');
    expect(website.status).toBe(501);
    expect(linesFor(website.headers.get('x-amz-request-id'))[0]).toMatchObject({
      operation: 'GET bucket ?website',
    });
    const anonymous = await fetch(`${gw.endpoint}/input/obj`);
    expect(anonymous.status).toBe(403);
    expect(linesFor(anonymous.headers.get('x-amz-request-id'))[0]).toMatchObject({ operation: 'GetObject' });
    const v2 = await fetch(`${gw.endpoint}/input`, {
      headers: {
        authorization: `AWS ${env.creds[0]!.accessKeyId}:c2lnbmF0dXJl`,
        date: new Date().toUTCString(),
      },
    });
    expect(v2.status).toBeGreaterThanOrEqual(400);
    expect(linesFor(v2.headers.get('x-amz-request-id'))[0]).toMatchObject({ operation: 'ListObjects' });
  });
});
