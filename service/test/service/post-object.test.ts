import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';
import { errorCode } from '../support/signed-fetch.js';

/**
 * POST Object: browser form uploads signed with a POST policy (the AWS SDK's createPresignedPost), the
 * policy's conditions and expiry, and the answers AWS gives when they do not hold.
 */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'forms' }));
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await env?.stop();
});

type Post = Awaited<ReturnType<typeof createPresignedPost>>;

function presign(opts: Partial<Parameters<typeof createPresignedPost>[1]> = {}): Promise<Post> {
  return createPresignedPost(s3, {
    Bucket: 'forms',
    Key: 'uploads/${filename}',
    Conditions: [
      ['starts-with', '$key', 'uploads/'],
      ['content-length-range', 1, 1024],
      ['starts-with', '$Content-Type', 'text/'],
    ],
    Fields: { 'Content-Type': 'text/plain', success_action_status: '201', 'x-amz-meta-origin': 'form' },
    Expires: 300,
    ...opts,
  });
}

/** The form a browser would send: fields in order, the file last. */
async function submit(post: Post, file: string, name = 'note.txt', extra: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...post.fields, ...extra })) form.append(k, v);
  form.append('file', new Blob([file]), name);
  const res = await fetch(post.url, { method: 'POST', body: form, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('POST Object with a SigV4 POST policy', () => {
  it("uploads the file under ${filename}, with the form's content type and metadata, answering 201", async () => {
    const post = await presign();
    expect(post.url).toBe(`${gw.endpoint}/forms`);
    const res = await submit(post, 'hello from a form');
    expect(res.status).toBe(201);
    expect(res.text).toMatch(
      /<PostResponse[^>]*><Location>.*\/forms\/uploads\/note\.txt<\/Location><Bucket>forms<\/Bucket><Key>uploads\/note\.txt<\/Key><ETag>&quot;[0-9a-f]{32}&quot;<\/ETag><\/PostResponse>/,
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'uploads/note.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello from a form');
    expect(got.ContentType).toBe('text/plain');
    expect(got.Metadata).toEqual({ origin: 'form' });
  });

  it('redirects to success_action_redirect with bucket, key and etag', async () => {
    const post = await presign({
      Fields: {
        'Content-Type': 'text/plain',
        success_action_redirect: 'http://app.example/done',
        'x-amz-meta-origin': 'form',
      },
    });
    const res = await submit(post, 'redirected', 'r.txt');
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe('http://app.example/done');
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      bucket: 'forms',
      key: 'uploads/r.txt',
    });
    expect(location.searchParams.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('answers 204 by default', async () => {
    const post = await presign({ Fields: { 'Content-Type': 'text/plain', 'x-amz-meta-origin': 'form' } });
    expect((await submit(post, 'quiet', 'q.txt')).status).toBe(204);
  });

  const refusals: Array<[string, () => Promise<{ status: number; text: string }>, number, string, RegExp?]> =
    [
      [
        'a key outside the starts-with condition',
        async () => submit(await presign(), 'x', 'a.txt', { key: 'elsewhere/a.txt' }),
        403,
        'AccessDenied',
        /Policy Condition failed: \["starts-with","\$key","uploads\/"\]/,
      ],
      [
        'a file larger than content-length-range',
        async () => submit(await presign(), 'x'.repeat(2000)),
        400,
        'EntityTooLarge',
      ],
      [
        'an empty file below content-length-range',
        async () => submit(await presign(), ''),
        400,
        'EntityTooSmall',
      ],
      [
        'a Content-Type the policy does not allow',
        async () => submit(await presign(), 'x', 'a.txt', { 'Content-Type': 'image/png' }),
        403,
        'AccessDenied',
      ],
      [
        'a field the policy does not name',
        async () => submit(await presign(), 'x', 'a.txt', { 'x-amz-meta-extra': '1' }),
        403,
        'AccessDenied',
        /Extra input fields: x-amz-meta-extra/,
      ],
      [
        'an expired policy',
        async () => submit(await presign({ Expires: -10 }), 'x'),
        403,
        'AccessDenied',
        /Policy expired/,
      ],
      [
        'a forged signature',
        async () => {
          const post = await presign();
          return submit(post, 'x', 'a.txt', { 'X-Amz-Signature': '0'.repeat(64) });
        },
        403,
        'SignatureDoesNotMatch',
      ],
    ];
  for (const [name, run, status, code, message] of refusals)
    it(`refuses ${name}`, async () => {
      const res = await run();
      expect([res.status, errorCode(res.text)]).toEqual([status, code]);
      if (message) expect(res.text.replace(/&quot;/g, '"')).toMatch(message);
    });

  it('stores nothing for a refused form', async () => {
    expect(
      (await outcome(s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'elsewhere/a.txt' })))).code,
    ).not.toBe('OK');
    expect(
      (await outcome(s3.send(new HeadObjectCommand({ Bucket: 'forms', Key: 'uploads/a.txt' })))).code,
    ).not.toBe('OK');
  });

  it('refuses a form without a file, and an unsigned form on a bucket that allows no anonymous writes', async () => {
    const form = new FormData();
    form.append('key', 'uploads/x');
    const nofile = await fetch(`${gw.endpoint}/forms`, { method: 'POST', body: form });
    expect(errorCode(await nofile.text())).toBe('IncorrectNumberOfFilesInPostRequest');
    const anon = new FormData();
    anon.append('key', 'uploads/anon.txt');
    anon.append('file', new Blob(['x']), 'anon.txt');
    const res = await fetch(`${gw.endpoint}/forms`, { method: 'POST', body: anon });
    expect([res.status, errorCode(await res.text())]).toEqual([403, 'AccessDenied']);
  });

  it('is authorized as the user who signed it: a read-only grantee cannot upload by form', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const user = await api('POST', '/users', { name: 'reader' });
    const key = await api('POST', `/users/${user.body.id}/keys`, {});
    await api('PUT', '/buckets/forms/grants', { user_id: user.body.id, access: 'read' });
    const reader = pathStyleClient(gw.endpoint, {
      accessKeyId: String(key.body.access_key),
      secretAccessKey: String(key.body.secret_key),
    });
    const post = await createPresignedPost(reader, {
      Bucket: 'forms',
      Key: 'uploads/by-reader.txt',
      Expires: 60,
    });
    const res = await submit(post, 'x', 'by-reader.txt');
    expect([res.status, errorCode(res.text)]).toEqual([403, 'AccessDenied']);
  });
});
