import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectTaggingCommand,
  GetBucketCorsCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { pathStyleClient } from '../support/s3-client.js';

let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

async function code(p: Promise<unknown>): Promise<string> {
  return (await outcome(p)).code;
}

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'tagged' }));
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

describe('object and bucket tagging', () => {
  it('stores tags from x-amz-tagging, replaces, reads and deletes them', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: 'tagged', Key: 't', Body: 'x', Tagging: 'team=storage&env=prod%20eu' }),
    );
    const got = await s3.send(new GetObjectTaggingCommand({ Bucket: 'tagged', Key: 't' }));
    // A tag set is a set: S3 promises no order.
    expect([...(got.TagSet ?? [])].sort((a, b) => a.Key!.localeCompare(b.Key!))).toEqual([
      { Key: 'env', Value: 'prod eu' },
      { Key: 'team', Value: 'storage' },
    ]);
    expect((await s3.send(new GetObjectCommand({ Bucket: 'tagged', Key: 't' }))).TagCount).toBe(2);
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: 'tagged',
        Key: 't',
        Tagging: { TagSet: [{ Key: 'only', Value: '1' }] },
      }),
    );
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tagged', Key: 't' }))).TagSet).toEqual([
      { Key: 'only', Value: '1' },
    ]);
    await s3.send(new CopyObjectCommand({ Bucket: 'tagged', Key: 't-copy', CopySource: 'tagged/t' }));
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tagged', Key: 't-copy' }))).TagSet).toEqual([
      { Key: 'only', Value: '1' },
    ]);
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'tagged', Key: 't' }));
    expect((await s3.send(new GetObjectTaggingCommand({ Bucket: 'tagged', Key: 't' }))).TagSet).toEqual([]);
    expect(await code(s3.send(new GetObjectTaggingCommand({ Bucket: 'tagged', Key: 'missing' })))).toBe(
      'NoSuchKey',
    );
  });

  it('refuses invalid tag sets', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    expect(
      await code(s3.send(new PutObjectCommand({ Bucket: 'tagged', Key: 'bad', Body: 'x', Tagging: eleven }))),
    ).toBe('InvalidTag');
    expect(
      await code(
        s3.send(
          new PutObjectTaggingCommand({
            Bucket: 'tagged',
            Key: 't',
            Tagging: { TagSet: [{ Key: 'k'.repeat(129), Value: 'v' }] },
          }),
        ),
      ),
    ).toBe('InvalidTag');
    expect(
      await code(
        s3.send(
          new PutObjectTaggingCommand({
            Bucket: 'tagged',
            Key: 't',
            Tagging: { TagSet: [{ Key: 'aws:x', Value: 'v' }] },
          }),
        ),
      ),
    ).toBe('InvalidTag');
  });

  it('tags buckets', async () => {
    expect(await code(s3.send(new GetBucketTaggingCommand({ Bucket: 'tagged' })))).toBe('NoSuchTagSet');
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: 'tagged',
        Tagging: { TagSet: [{ Key: 'cost-center', Value: '42' }] },
      }),
    );
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket: 'tagged' }))).TagSet).toEqual([
      { Key: 'cost-center', Value: '42' },
    ]);
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: 'tagged' }));
    expect(await code(s3.send(new GetBucketTaggingCommand({ Bucket: 'tagged' })))).toBe('NoSuchTagSet');
  });
});

describe('CORS', () => {
  const origin = 'https://app.example.com';

  it('stores, returns and deletes the bucket CORS rules', async () => {
    expect(await code(s3.send(new GetBucketCorsCommand({ Bucket: 'tagged' })))).toBe(
      'NoSuchCORSConfiguration',
    );
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: 'tagged',
        CORSConfiguration: {
          CORSRules: [
            {
              AllowedOrigins: [origin],
              AllowedMethods: ['PUT', 'GET'],
              AllowedHeaders: ['content-type', 'x-amz-*'],
              ExposeHeaders: ['ETag'],
              MaxAgeSeconds: 600,
            },
          ],
        },
      }),
    );
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'tagged' }));
    expect(got.CORSRules?.[0]).toMatchObject({
      AllowedOrigins: [origin],
      AllowedMethods: ['PUT', 'GET'],
      MaxAgeSeconds: 600,
    });
    expect(
      await code(
        s3.send(
          new PutBucketCorsCommand({
            Bucket: 'tagged',
            CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
          }),
        ),
      ),
    ).toBe('InvalidRequest');
  });

  it('answers a browser preflight from the rules, and with no CORS headers when no rule matches', async () => {
    const preflight = (headers: Record<string, string>) =>
      fetch(`${gw.endpoint}/tagged/upload.txt`, { method: 'OPTIONS', headers });
    const ok = await preflight({
      Origin: origin,
      'Access-Control-Request-Method': 'PUT',
      'Access-Control-Request-Headers': 'Content-Type, X-Amz-Date',
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(origin);
    expect(ok.headers.get('access-control-allow-methods')).toBe('PUT, GET');
    expect(ok.headers.get('access-control-allow-headers')).toBe('content-type, x-amz-date');
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    const denials: Array<Record<string, string>> = [
      { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' },
      { Origin: origin, 'Access-Control-Request-Method': 'DELETE' },
      {
        Origin: origin,
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'authorization-extra',
      },
    ];
    for (const denied of denials) {
      const res = await preflight(denied);
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('lets a browser-style upload through a presigned URL read its response', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'tagged', Key: 'from-browser.txt' }), {
      expiresIn: 60,
    });
    const put = await fetch(url, { method: 'PUT', body: 'hello from a page', headers: { Origin: origin } });
    expect(put.status).toBe(200);
    expect(put.headers.get('access-control-allow-origin')).toBe(origin);
    expect(put.headers.get('access-control-expose-headers')).toBe('ETag');
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'tagged' }));
    const after = await fetch(`${gw.endpoint}/tagged/x`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'GET' },
    });
    expect(after.status).toBe(403);
  });
});
