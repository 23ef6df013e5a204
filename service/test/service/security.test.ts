import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import aws4 from 'aws4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';
import { managementClient } from '../support/management.js';
import { rawConversation, signedRequestHead } from '../support/raw-http.js';
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

const signedHead = (method: string, path: string, headers: Record<string, string>, body = '') =>
  signedRequestHead(gw.endpoint, env.creds[0]!, method, path, headers, body);

describe('Expect: 100-continue', () => {
  it('does not invite an unauthenticated client to send its body', async () => {
    const c = rawConversation(gw.port);
    c.write('PUT /sec/anon HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n');
    const got = await c.waitFor(/\r\n\r\n/);
    c.socket.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 403 /);
    expect(got).not.toMatch(/100 Continue/);
  });

  it('sends 100 Continue once a signed request is authenticated and routed, then stores the body', async () => {
    const body = 'continued!';
    const c = rawConversation(gw.port);
    c.write(
      signedHead(
        'PUT',
        '/sec/continued',
        { 'Content-Length': String(body.length), Expect: '100-continue' },
        body,
      ),
    );
    expect(await c.waitFor(/\r\n\r\n/)).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    c.write(body);
    expect(await c.waitFor(/HTTP\/1\.1 200/)).toMatch(/HTTP\/1\.1 200 OK/);
    c.socket.destroy();
    expect(await exists('continued')).toBe(true);
  });

  it('ignores any other Expect value as AWS does, instead of answering 417', async () => {
    const c = rawConversation(gw.port);
    c.write(signedHead('GET', '/sec/secret', { Expect: 'something-else' }));
    const got = await c.waitFor(/the secret object/);
    c.socket.destroy();
    expect(got).toMatch(/^HTTP\/1\.1 200 OK/);
  });
});

describe('stalled and trickling clients', () => {
  let limited: RunningGateway;
  beforeAll(async () => {
    limited = await startGateway({
      ...env.env,
      HEADERS_TIMEOUT_SECONDS: '1',
      BODY_IDLE_TIMEOUT_SECONDS: '1',
      SMALL_BODY_TIMEOUT_SECONDS: '2',
    });
  });
  afterAll(async () => limited?.close());
  const limitedHead = (
    method: string,
    path: string,
    headers: Record<string, string>,
    body: string | Buffer,
  ) => signedRequestHead(limited.endpoint, env.creds[0]!, method, path, headers, body);

  it('closes a connection whose headers never finish', async () => {
    const c = rawConversation(limited.port);
    c.write('GET /sec/secret HTTP/1.1\r\nHost: x\r\n');
    const { afterMs } = await c.closed;
    expect(afterMs).toBeLessThan(10_000);
  });

  it('closes a signed upload whose body stalls', async () => {
    const body = 'x'.repeat(100);
    const c = rawConversation(limited.port);
    const head = limitedHead('PUT', '/sec/stalled', { 'Content-Length': '100' }, body);
    c.write(head + body.slice(0, 10));
    const { afterMs } = await c.closed;
    expect(afterMs).toBeLessThan(10_000);
    expect(await exists('stalled')).toBe(false);
  });

  it('closes an anonymous login whose body stalls, and one that trickles past the small-body deadline', async () => {
    const stalled = rawConversation(limited.port);
    stalled.write(
      'POST /_coffer/api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"user',
    );
    expect((await stalled.closed).afterMs).toBeLessThan(10_000);
    const trickle = rawConversation(limited.port);
    trickle.write(
      'POST /_coffer/api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    // One byte every 400 ms never trips the 1 s idle bound; the 2 s whole-body deadline ends it.
    const timer = setInterval(() => trickle.write(' '), 400);
    const { afterMs } = await trickle.closed;
    clearInterval(timer);
    expect(afterMs).toBeLessThan(10_000);
  });

  it('closes a signed request whose XML body trickles past the small-body deadline', async () => {
    const xml = '<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>';
    const c = rawConversation(limited.port);
    c.write(limitedHead('PUT', '/sec/secret?tagging', { 'Content-Length': String(xml.length) }, xml));
    let sent = 0;
    const timer = setInterval(() => sent < xml.length && c.write(xml[sent++]!), 300);
    const { afterMs } = await c.closed;
    clearInterval(timer);
    expect(afterMs).toBeLessThan(10_000);
    expect(sent).toBeLessThan(xml.length);
  });

  it('lets a large upload at a slow but steady rate finish, long past every deadline', async () => {
    const size = 3 * 1024 * 1024;
    const body = Buffer.alloc(size, 7);
    const c = rawConversation(limited.port);
    c.write(limitedHead('PUT', '/sec/slow-steady', { 'Content-Length': String(size) }, body));
    // 3 MiB in 12 steps of 250 ms: 3 s in all, more than the headers and small-body deadlines.
    const step = size / 12;
    for (let i = 0; i < 12; i++) {
      c.write(body.subarray(i * step, (i + 1) * step));
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await c.waitFor(/HTTP\/1\.1 \d{3}/, 10_000)).toMatch(/^HTTP\/1\.1 200/);
    c.socket.destroy();
    expect(await exists('slow-steady')).toBe(true);
  });
});
