import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';
import { managementClient } from '../support/management.js';
import { pathStyleClient } from '../support/s3-client.js';

/** Hostile requests against the gateway in-process with real Postgres: each case is one an attacker tried. */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv({ LOGIN_MAX_FAILURES: '5', LOGIN_LOCK_SECONDS: '600' });
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'sec' }));
  await s3.send(new PutObjectCommand({ Bucket: 'sec', Key: 'secret', Body: 'the secret object' }));
});

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

const tag = (text: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];

async function exists(key: string): Promise<boolean> {
  const head = await signedFetch(gw.endpoint, env.creds[0]!, { method: 'HEAD', path: `/sec/${key}` });
  return head.status === 200;
}

describe('only what was signed is obeyed', () => {
  it('refuses a presigned PUT carrying an unsigned x-amz-copy-source, and copies nothing', async () => {
    const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: 'sec', Key: 'slot' }), {
      expiresIn: 300,
    });
    const res = await fetch(url, { method: 'PUT', headers: { 'x-amz-copy-source': '/sec/secret' } });
    const text = await res.text();
    expect(res.status).toBe(403);
    expect(errorCode(text)).toBe('AccessDenied');
    expect(tag(text, 'Message')).toBe('There were headers present in the request which were not signed');
    expect(tag(text, 'HeadersNotSigned')).toBe('x-amz-copy-source');
    expect(await exists('slot')).toBe(false);
    // The same link without the extra header does what it was made for.
    const plain = await fetch(url, { method: 'PUT', body: 'upload through the link' });
    expect(plain.status).toBe(200);
    expect(await exists('slot')).toBe(true);
  });

  it('refuses a presigned GET with an unsigned x-amz-* header', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'sec', Key: 'secret' }), {
      expiresIn: 300,
    });
    const res = await fetch(url, {
      headers: { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' },
    });
    expect(res.status).toBe(403);
    expect(tag(await res.text(), 'HeadersNotSigned')).toBe('x-amz-server-side-encryption-customer-algorithm');
    expect((await fetch(url)).status).toBe(200);
  });

  for (const [name, header, value] of [
    ['metadata', 'x-amz-meta-owner', 'mallory'],
    ['tagging', 'x-amz-tagging', 'k=v'],
    ['copy source', 'x-amz-copy-source', '/sec/secret'],
  ] as const) {
    it(`refuses a header-signed request with an unsigned ${name} header added`, async () => {
      const res = await signedFetch(gw.endpoint, env.creds[0]!, {
        method: 'PUT',
        path: `/sec/tampered-${header}`,
        body: 'x',
        tamper: (h) => {
          h[header] = value;
        },
      });
      expect(res.status).toBe(403);
      expect(errorCode(res.text)).toBe('AccessDenied');
      expect(tag(res.text, 'HeadersNotSigned')).toBe(header);
      expect(await exists(`tampered-${header}`)).toBe(false);
    });
  }

  it('names every unsigned x-amz-* header, and obeys the same headers when they are signed', async () => {
    const res = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/sec/many',
      body: 'x',
      tamper: (h) => {
        h['X-Amz-Meta-A'] = '1';
        h['x-amz-storage-class'] = 'STANDARD';
      },
    });
    expect(res.status).toBe(403);
    expect(tag(res.text, 'HeadersNotSigned')).toBe('x-amz-meta-a, x-amz-storage-class');
    const signed = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/sec/many',
      body: 'x',
      headers: { 'x-amz-meta-a': '1', 'x-amz-tagging': 'k=v' },
    });
    expect(signed.status).toBe(200);
  });

  it('refuses a presigned URL made with an unsigned header next to signed ones (aws4 signQuery)', async () => {
    const url = new URL(gw.endpoint);
    const signed = aws4.sign(
      {
        host: url.host,
        method: 'GET',
        path: '/sec/secret',
        service: 's3',
        region: 'us-east-1',
        signQuery: true,
      },
      env.creds[0]!,
    );
    const ok = await fetch(gw.endpoint + signed.path);
    expect(ok.status).toBe(200);
    const res = await fetch(gw.endpoint + signed.path, { headers: { 'x-amz-request-payer': 'requester' } });
    expect(res.status).toBe(403);
  });
});

describe('credential scope region', () => {
  it('refuses a header signature scoped to another region, naming the expected one', async () => {
    const res = await signedFetch(gw.endpoint, env.creds[0]!, { path: '/sec/secret', region: 'eu-west-9' });
    expect(res.status).toBe(400);
    expect(errorCode(res.text)).toBe('AuthorizationHeaderMalformed');
    expect(tag(res.text, 'Region')).toBe('us-east-1');
    expect(tag(res.text, 'Message')?.replaceAll('&apos;', "'")).toContain(
      "the region 'eu-west-9' is wrong; expecting 'us-east-1'",
    );
  });

  it('refuses a presigned URL scoped to another region', async () => {
    const other = pathStyleClient(gw.endpoint, env.creds[0]!, { region: 'eu-west-9' });
    const url = await getSignedUrl(other, new GetObjectCommand({ Bucket: 'sec', Key: 'secret' }));
    other.destroy();
    const res = await fetch(url);
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(errorCode(text)).toBe('AuthorizationQueryParametersError');
    expect(tag(text, 'Region')).toBe('us-east-1');
  });
});

describe('console login lockout', () => {
  const login = (username: string, password: string) =>
    managementClient(gw.endpoint)('POST', '/auth/login', { username, password }, {});

  it('evaluates at most LOGIN_MAX_FAILURES of 15 parallel attempts, and a right password never lifts the lock', async () => {
    const attempts = [
      ...Array.from({ length: 14 }, (_, i) => login('admin', `wrong-${i}`)),
      login('admin', env.admin.password),
    ];
    const results = await Promise.all(attempts);
    const evaluated = results.filter((r) => r.status === 401 || r.status === 200);
    const blocked = results.filter((r) => r.status === 429);
    // The attempt that fills the last slot is evaluated too, and answers 429 as it starts the lock.
    expect(evaluated.length).toBeLessThanOrEqual(5);
    expect(blocked.length).toBeGreaterThanOrEqual(10);
    if (results[14]!.status !== 200) {
      expect((await login('admin', env.admin.password)).status).toBe(429);
    }
  });

  it('answers a locked known admin and an unknown name identically', async () => {
    for (let i = 0; i < 5; i++) await login('ghost', `guess-${i}`);
    const ghost = await login('ghost', 'another');
    const admin = await login('admin', 'another');
    expect(ghost.status).toBe(admin.status);
    expect(ghost.status).toBe(429);
    expect(Object.keys(ghost.body).sort()).toEqual(Object.keys(admin.body).sort());
    expect(ghost.body.error).toBe(admin.body.error);
    expect(ghost.body.message).toBe(admin.body.message);
    expect(String(ghost.body.restriction_state)).toMatch(/^locked until .* after 5 failed attempts$/);
    expect(String(admin.body.restriction_state)).toMatch(/^locked until .* after 5 failed attempts$/);
    // Before any lock, a wrong password and an unknown name are the same 401.
    const fresh = await login('nobody-else', 'x');
    expect(fresh).toMatchObject({ status: 401, body: { error: 'InvalidCredentials' } });
  });
});
