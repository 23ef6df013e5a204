import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import knex, { type Knex } from 'knex';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { apiKeyDigest, newApiKey } from '../../src/crypto/api-keys.js';
import { hashPassword } from '../../src/management/password.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { rawConversation } from '../support/raw-http.js';
import { managementClient, type Auth, userNameOf } from '../support/management.js';
import { OpenApiCheck } from '../support/openapi-check.js';
import { requireBinary, run } from '../support/run.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';
import { pathStyleClient } from '../support/s3-client.js';

let env: TestEnv;
let gw: RunningGateway;
let db: Knex;
let call: ReturnType<typeof managementClient>;
/** Every answer this file gets is checked against service/openapi.json. */
let check: OpenApiCheck;
const s3For = (accessKeyId: string, secretAccessKey: string, endpoint: string) =>
  pathStyleClient(endpoint, { accessKeyId, secretAccessKey }, { maxAttempts: 1 });

let certDir: string;
beforeAll(async () => {
  // The certificate nginx would serve, 30 days from expiry: the gateway exports when it lapses.
  certDir = await mkdtemp(path.join(os.tmpdir(), 'coffer-cert-'));
  const cert = path.join(certDir, 'server.crt');
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      path.join(certDir, 'server.key'),
    ].concat(['-out', cert, '-days', '30', '-subj', '/CN=localhost']),
    process.env,
  );
  env = await createTestEnv({
    LOGIN_MAX_FAILURES: '3',
    LOGIN_LOCK_SECONDS: '3',
    S3_DOMAIN: 's3.test',
    TLS_CERT_FILE: cert,
  });
  gw = await startGateway(env.env);
  db = knex({ client: 'pg', connection: env.pg.url });
  check = await OpenApiCheck.load();
  call = managementClient(gw.endpoint, { key: env.admin.apiKey }, check);
});
afterAll(async () => {
  await db?.destroy();
  await gw?.close();
  await env?.stop();
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

describe('management API authentication', () => {
  it('refuses no key, a wrong key and a disabled admin, with JSON errors', async () => {
    expect(await call('GET', '/stats', undefined, {})).toMatchObject({
      status: 401,
      body: { error: 'Unauthorized', message: expect.stringContaining('API key') },
    });
    expect(await call('GET', '/stats', undefined, { key: 'cfk_not-a-key' })).toMatchObject({
      status: 401,
      body: { error: 'InvalidApiKey' },
    });
    await db('admins').where({ username: 'admin' }).update({ is_active: false });
    try {
      expect(await call('GET', '/stats')).toMatchObject({ status: 403, body: { error: 'AdminDisabled' } });
      expect(
        await call('POST', '/auth/login', { username: 'admin', password: env.admin.password }, {}),
      ).toMatchObject({ status: 403, body: { error: 'AdminDisabled' } });
    } finally {
      await db('admins').where({ username: 'admin' }).update({ is_active: true });
    }
    expect((await call('GET', '/stats')).status).toBe(200);
    const viaHeader = await fetch(`${gw.endpoint}/_coffer/api/v1/stats`, {
      headers: { 'x-api-key': env.admin.apiKey },
    });
    expect(viaHeader.status).toBe(200);
  });

  it('refuses every documented endpoint without a key, with a wrong key and for a disabled admin', async () => {
    const doc = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../openapi.json'), 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const endpoints = Object.entries(doc.paths)
      .flatMap(([p, methods]) => Object.keys(methods).map((m) => [m.toUpperCase(), p] as const))
      .filter(([m, p]) => !(m === 'POST' && p === '/auth/login'));
    expect(endpoints.length).toBeGreaterThanOrEqual(20);
    const concrete = (p: string) =>
      p
        .replace('{id}', '1')
        .replace('{bucket}', 'some-bucket')
        .replace('{uploadId}', 'u1')
        .replace('{*}', 'a/b.txt');
    await db('admins').where({ username: 'admin' }).update({ is_active: false });
    try {
      for (const [method, p] of endpoints) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : {};
        expect((await call(method, concrete(p), body, {})).status, `${method} ${p} without a key`).toBe(401);
        expect(
          (await call(method, concrete(p), body, { key: 'cfk_wrong' })).body.error,
          `${method} ${p}`,
        ).toBe('InvalidApiKey');
        expect((await call(method, concrete(p), body)).body.error, `${method} ${p} disabled`).toBe(
          'AdminDisabled',
        );
      }
    } finally {
      await db('admins').where({ username: 'admin' }).update({ is_active: true });
    }
  });

  it('answers unknown endpoints and malformed JSON with JSON errors', async () => {
    expect(await call('GET', '/nothing-here')).toMatchObject({ status: 404, body: { error: 'NotFound' } });
    const res = await fetch(`${gw.endpoint}/_coffer/api/v1/credentials`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.admin.apiKey}`, 'content-type': 'application/json' },
      body: '{"user_name":',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'MalformedJson' });
  });

  it('serves the OpenAPI document that is checked in', async () => {
    const res = await fetch(`${gw.endpoint}/_coffer/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const served = (await res.json()) as { paths: Record<string, unknown> };
    const checkedIn = JSON.parse(
      readFileSync(path.resolve(import.meta.dirname, '../../openapi.json'), 'utf8'),
    );
    expect(served, 'run npm run render-openapi').toEqual(checkedIn);
    expect(Object.keys(served.paths)).toEqual(
      expect.arrayContaining([
        '/stats',
        '/credentials',
        '/credentials/{id}',
        '/buckets',
        '/buckets/{bucket}/uploads',
        '/presigned-urls',
      ]),
    );
  });
});

describe('the endpoint in a browser', () => {
  it('sends a person to the console login, and S3 clients still get S3', async () => {
    const page = await fetch(`${gw.endpoint}/`, {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
      redirect: 'manual',
    });
    expect([page.status, page.headers.get('location')]).toEqual([302, '/_coffer/console/']);
    const client = await fetch(`${gw.endpoint}/`);
    expect(client.status).toBe(403);
    expect(await client.text()).toContain('<Code>AccessDenied</Code>');
    // A bucket's own root, virtual-hosted, stays S3's even for a browser (fetch cannot set Host).
    const raw = rawConversation(gw.port);
    raw.write(
      `GET / HTTP/1.1\r\nHost: photos.s3.test:${gw.port}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`,
    );
    const answer = (await raw.closed).received;
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(answer).toContain('<Code>NoSuchBucket</Code>');
  });
});

describe('credentials', () => {
  it('creates with a generated or custom key, shows the secret once, validates input', async () => {
    const gen = await call('POST', '/credentials', { user_name: 'backup-bot' });
    expect(gen.status).toBe(201);
    expect(gen.body).toMatchObject({
      user_name: 'backup-bot',
      is_active: true,
      access_key: expect.stringMatching(/^AKIA[A-Z2-7]{16}$/),
    });
    expect(String(gen.body.secret_key)).toHaveLength(40);
    const custom = await call('POST', '/credentials', {
      access_key: 'CUSTOMKEY123',
      secret_key: 'custom-secret-123456',
    });
    expect(custom.body).toMatchObject({
      access_key: 'CUSTOMKEY123',
      secret_key: 'custom-secret-123456',
      user_name: null,
    });

    const one = await call('GET', `/credentials/${gen.body.id}`);
    expect(one.body).toMatchObject({ id: gen.body.id, bucket_count: 0, buckets: [] });
    expect(one.body).not.toHaveProperty('secret_key');
    const all = await call('GET', '/credentials');
    expect((all.body.credentials as Array<Record<string, unknown>>).map((c) => c.access_key)).toEqual(
      expect.arrayContaining([env.creds[0]!.accessKeyId, 'CUSTOMKEY123']),
    );
    expect(JSON.stringify(all.body)).not.toContain('custom-secret-123456');

    expect(await call('POST', '/credentials', { access_key: 'CUSTOMKEY123' })).toMatchObject({
      status: 409,
      body: { error: 'CredentialAlreadyExists' },
    });
    for (const bad of [
      { access_key: 'a b' },
      { secret_key: 'short' },
      { user_name: 'x'.repeat(129) },
      { extra: 1, user_name: 3 },
    ])
      expect(await call('POST', '/credentials', bad)).toMatchObject({
        status: 400,
        body: { error: 'ValidationError' },
      });
    expect(await call('GET', '/credentials/0')).toMatchObject({
      status: 400,
      body: { error: 'ValidationError' },
    });
    expect(await call('GET', '/credentials/abc')).toMatchObject({ status: 400 });
    expect(await call('GET', '/credentials/99999')).toMatchObject({
      status: 404,
      body: { error: 'CredentialNotFound' },
    });
    expect(await call('PATCH', `/credentials/${gen.body.id}`, {})).toMatchObject({ status: 400 });
  });

  it('disabling takes effect on the very next S3 request, and enabling restores it', async () => {
    const c = await call('POST', '/credentials', { user_name: 'flaky' });
    const cred = { accessKeyId: String(c.body.access_key), secretAccessKey: String(c.body.secret_key) };
    expect((await signedFetch(gw.endpoint, cred, { path: '/' })).status).toBe(200);
    expect(
      await call('PATCH', `/credentials/${c.body.id}`, { is_active: false, user_name: 'flaky (off)' }),
    ).toMatchObject({
      status: 200,
      body: {
        message: 'Operation completed successfully',
        credential: { is_active: false, user_name: 'flaky (off)' },
      },
    });
    const refused = await signedFetch(gw.endpoint, cred, { path: '/' });
    expect(refused.status).toBe(403);
    expect(errorCode(refused.text)).toBe('InvalidAccessKeyId');
    await call('PATCH', `/credentials/${c.body.id}`, { is_active: true });
    expect((await signedFetch(gw.endpoint, cred, { path: '/' })).status).toBe(200);
  });

  it('refuses to delete a credential that owns buckets unless they are transferred', async () => {
    const a = await call('POST', '/credentials', { user_name: 'leaver' });
    const b = await call('POST', '/credentials', { user_name: 'heir' });
    expect((await call('POST', '/buckets', { name: 'leaver-data', owner_id: a.body.id })).status).toBe(201);
    const s3 = s3For(String(a.body.access_key), String(a.body.secret_key), gw.endpoint);
    await s3.send(new PutObjectCommand({ Bucket: 'leaver-data', Key: 'keep.txt', Body: 'keep me' }));
    expect(await call('DELETE', `/credentials/${a.body.id}`)).toMatchObject({
      status: 409,
      body: { error: 'CredentialOwnsBuckets', message: expect.stringContaining('leaver-data') },
    });
    expect(await call('DELETE', `/credentials/${a.body.id}?transfer_to=${a.body.id}`)).toMatchObject({
      status: 400,
    });
    expect(await call('DELETE', `/credentials/${a.body.id}?transfer_to=${b.body.id}`)).toMatchObject({
      status: 200,
      body: { transferred_buckets: ['leaver-data'] },
    });
    expect(await call('GET', `/credentials/${b.body.id}`)).toMatchObject({
      body: {
        bucket_count: 1,
        buckets: [{ name: 'leaver-data', object_count: 1, total_size: 7, owner: 'heir' }],
      },
    });
    const heir = s3For(String(b.body.access_key), String(b.body.secret_key), gw.endpoint);
    const got = await heir.send(new GetObjectCommand({ Bucket: 'leaver-data', Key: 'keep.txt' }));
    expect(await got.Body!.transformToString()).toBe('keep me');
    expect(
      (
        await signedFetch(
          gw.endpoint,
          { accessKeyId: String(a.body.access_key), secretAccessKey: String(a.body.secret_key) },
          { path: '/' },
        )
      ).status,
    ).toBe(403);
    const lone = await call('POST', '/credentials', {});
    expect(await call('DELETE', `/credentials/${lone.body.id}`)).toMatchObject({ status: 200 });
  });
});

describe('buckets, objects and uploads', () => {
  let ownerId: number;
  let s3: S3Client;
  beforeAll(async () => {
    const owner = await call('POST', '/credentials', { user_name: 'photos-owner' });
    ownerId = Number(owner.body.id);
    s3 = s3For(String(owner.body.access_key), String(owner.body.secret_key), gw.endpoint);
  });

  it('creates buckets with S3 naming rules and lists them with sizes', async () => {
    expect(await call('POST', '/buckets', { name: 'photos', owner_id: ownerId })).toMatchObject({
      status: 201,
      body: {
        name: 'photos',
        region: 'us-east-1',
        owner: 'photos-owner',
        owner_id: ownerId,
        object_count: 0,
        total_size: 0,
        total_size_human: '0 B',
      },
    });
    expect(await call('POST', '/buckets', { name: 'photos', owner_id: ownerId })).toMatchObject({
      status: 409,
    });
    // Each refusal names the rule the name breaks, for the console to show.
    for (const [name, rule] of [
      ['Bad_Name', 'may contain only lowercase letters, digits, dots and hyphens'],
      ['ab', 'must be between 3 and 63 characters long'],
      ['x'.repeat(64), 'must be between 3 and 63 characters long'],
      ['192.168.1.1', 'must not be formatted as an IP address'],
      ['-dash', 'must begin and end with a letter or digit'],
      ['a..b', 'must not contain two adjacent periods'],
    ])
      expect((await call('POST', '/buckets', { name, owner_id: ownerId })).body, name).toEqual({
        error: 'InvalidBucketName',
        message: `The bucket name ${rule}`,
      });
    expect(await call('POST', '/buckets', { name: 'no-owner' })).toMatchObject({
      status: 400,
      body: { error: 'ValidationError' },
    });
    expect(await call('POST', '/buckets', { name: 'ghost-owner', owner_id: 99999 })).toMatchObject({
      status: 404,
    });
    expect(
      await call('POST', '/buckets', { name: 'elsewhere', owner_id: ownerId, region: 'eu-west-1' }),
    ).toMatchObject({
      status: 400,
      body: { error: 'InvalidRegion' },
    });

    await s3.send(
      new PutObjectCommand({
        Bucket: 'photos',
        Key: '2024/a.jpg',
        Body: Buffer.alloc(1000, 1),
        ContentType: 'image/jpeg',
        Metadata: { camera: 'x100' },
      }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: 'photos', Key: '2024/b.jpg', Body: Buffer.alloc(300 * 1024, 2) }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'readme.txt', Body: 'hello' }));
    const list = await call('GET', '/buckets');
    expect(
      (list.body.buckets as unknown[]).find((b) => (b as { name: string }).name === 'photos'),
    ).toMatchObject({
      object_count: 3,
      total_size: 1000 + 300 * 1024 + 5,
      total_size_human: '301.0 KiB',
      created_at: expect.any(String),
    });
    const stats = await call('GET', '/stats');
    expect(stats.body).toMatchObject({
      credentials: expect.any(Number),
      buckets: expect.any(Number),
      objects: expect.any(Number),
      total_storage: expect.any(Number),
      total_storage_human: expect.any(String),
      active_multipart_uploads: 0,
      active_presigned_urls: expect.any(Number),
    });
    expect(stats.body.objects).toBeGreaterThanOrEqual(3);
  });

  it('pages bucket details, lists by prefix like folders, and validates listing parameters', async () => {
    const p1 = await call('GET', '/buckets/photos?max-keys=2');
    expect(p1.body).toMatchObject({
      name: 'photos',
      object_count: 3,
      is_truncated: true,
      next_marker: '2024/b.jpg',
    });
    expect((p1.body.objects as Array<{ key: string }>).map((o) => o.key)).toEqual([
      '2024/a.jpg',
      '2024/b.jpg',
    ]);
    const p2 = await call('GET', '/buckets/photos?max-keys=2&marker=2024%2Fb.jpg');
    expect(p2.body).toMatchObject({
      is_truncated: false,
      next_marker: null,
      objects: [{ key: 'readme.txt', size: 5, size_human: '5 B' }],
    });
    const folders = await call('GET', '/buckets/photos/objects?delimiter=/');
    expect(folders.body).toMatchObject({ common_prefixes: ['2024/'], objects: [{ key: 'readme.txt' }] });
    const inFolder = await call('GET', '/buckets/photos/objects?prefix=2024%2F&delimiter=/');
    expect(
      (inFolder.body.objects as Array<{ key: string; content_type: string }>).map((o) => [
        o.key,
        o.content_type,
      ]),
    ).toEqual([
      ['2024/a.jpg', 'image/jpeg'],
      ['2024/b.jpg', 'application/octet-stream'],
    ]);
    for (const q of ['max-keys=0', 'max-keys=1001', 'max-keys=abc', 'delimiter=ab', 'unknown=1'])
      expect((await call('GET', `/buckets/photos/objects?${q}`)).status, q).toBe(400);
    expect(await call('GET', '/buckets/no-such-bucket')).toMatchObject({
      status: 404,
      body: { error: 'NoSuchBucket' },
    });
    expect((await call('GET', '/buckets/BAD_NAME')).status).toBe(400);
  });

  it('shows object details with metadata and where the sealed data lives, and deletes', async () => {
    const d = await call('GET', '/buckets/photos/objects/2024/a.jpg');
    expect(d.body).toMatchObject({
      key: '2024/a.jpg',
      size: 1000,
      size_human: '1000 B',
      content_type: 'image/jpeg',
      etag: expect.stringMatching(/^[0-9a-f]{32}$/),
      is_multipart: false,
      part_count: 0,
      metadata: { camera: 'x100' },
      storage: { backend: 'inline', blobs: 0 },
      encryption: {
        algorithm: 'AES-256-GCM',
        segment_size: 65536,
        master_key_id: expect.stringMatching(/^[0-9a-f]{8}$/),
      },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const big = await call('GET', '/buckets/photos/objects/2024/b.jpg');
    expect(big.body.storage).toEqual({ backend: 'fs', blobs: 1 });
    expect((big.body as { encryption: object }).encryption).toEqual(
      (d.body as { encryption: object }).encryption,
    );
    // No internal file path is exposed anywhere in the answer.
    expect(JSON.stringify(big.body)).not.toMatch(/blobs\/|\/tmp\/|DATA_DIR/);
    expect(await call('GET', '/buckets/photos/objects/nope.txt')).toMatchObject({
      status: 404,
      body: { error: 'NoSuchKey' },
    });
    expect(await call('GET', `/buckets/photos/objects/${'k'.repeat(1025)}`)).toMatchObject({ status: 400 });

    expect(
      await call('POST', '/buckets/photos/delete', { keys: ['readme.txt', 'missing.txt'] }),
    ).toMatchObject({
      status: 200,
      body: { deleted: expect.arrayContaining(['readme.txt']) },
    });
    expect(await call('POST', '/buckets/photos/delete', { keys: [] })).toMatchObject({ status: 400 });
    expect(await call('POST', '/buckets/photos/delete', { keys: ['x'.repeat(1025)] })).toMatchObject({
      status: 400,
    });
    expect(await call('DELETE', '/buckets/photos/objects/2024/a.jpg')).toMatchObject({ status: 200 });
    expect((await call('GET', '/buckets/photos')).body).toMatchObject({ object_count: 1 });
    expect(await call('DELETE', '/buckets/photos')).toMatchObject({
      status: 409,
      body: { error: 'BucketNotEmpty' },
    });
  });

  it('lists multipart uploads in progress and aborts them', async () => {
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'photos', Key: 'video.mp4', ContentType: 'video/mp4' }),
    );
    await s3.send(
      new UploadPartCommand({
        Bucket: 'photos',
        Key: 'video.mp4',
        UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(5 * 1024 * 1024, 7),
      }),
    );
    const u = await call('GET', '/buckets/photos/uploads');
    expect(u.body.uploads).toEqual([
      {
        upload_id: UploadId,
        object_key: 'video.mp4',
        initiated_by: 'photos-owner',
        content_type: 'video/mp4',
        initiated_at: expect.any(String),
        part_count: 1,
        total_size: 5 * 1024 * 1024,
        total_size_human: '5.00 MiB',
      },
    ]);
    expect((await call('GET', '/stats')).body.active_multipart_uploads).toBe(1);
    expect(await call('DELETE', `/buckets/photos/uploads/${UploadId}`)).toMatchObject({ status: 200 });
    expect((await call('GET', '/buckets/photos/uploads')).body.uploads).toEqual([]);
    expect(await call('DELETE', `/buckets/photos/uploads/${UploadId}`)).toMatchObject({
      status: 404,
      body: { error: 'NoSuchUpload' },
    });
  });
});

describe('presigned URLs', () => {
  let access: string;
  beforeAll(async () => {
    const owner = await call('POST', '/credentials', { user_name: 'sharer' });
    access = String(owner.body.access_key);
    await call('POST', '/buckets', { name: 'shared', owner_id: owner.body.id });
  });
  const presign = (method: string, key: string, expires_in = 600, access_key = access) =>
    call('POST', '/presigned-urls', {
      bucket_name: 'shared',
      object_key: key,
      method,
      expires_in,
      access_key,
    });

  it('generates PUT, GET and DELETE URLs that work with plain HTTP requests', async () => {
    const put = await presign('PUT', 'docs/report q3.pdf');
    expect(put.status).toBe(201);
    expect(String(put.body.url)).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/shared\/docs\/report%20q3\.pdf\?X-Amz-Algorithm=AWS4-HMAC-SHA256&/,
    );
    expect((await fetch(String(put.body.url), { method: 'PUT', body: 'quarterly numbers' })).status).toBe(
      200,
    );
    const get = await presign('GET', 'docs/report q3.pdf');
    const res = await fetch(String(get.body.url));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('quarterly numbers');
    if (requireBinary('curl')) {
      // Asynchronously: the gateway answering curl runs in this very process.
      const curl = await run('curl', ['-sS', '-f', String(get.body.url)], process.env);
      expect(curl.stdout).toBe('quarterly numbers');
    }
    const active = await call('GET', '/presigned-urls');
    expect(active.body.urls).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          bucket_name: 'shared',
          object_key: 'docs/report q3.pdf',
          method: 'GET',
          access_key: access,
        }),
      ]),
    );
    expect((await call('GET', '/stats')).body.active_presigned_urls).toBeGreaterThanOrEqual(2);
    const del = await presign('DELETE', 'docs/report q3.pdf');
    expect((await fetch(String(del.body.url), { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(String(get.body.url))).status).toBe(404);
  });

  it('signs every step of a multipart upload, so a browser can send a large file in parts', async () => {
    const step = async (operation: string, extra: Record<string, unknown> = {}) => {
      const r = await call('POST', '/presigned-urls', {
        bucket_name: 'shared',
        object_key: 'big/disk image.bin',
        operation,
        access_key: access,
        expires_in: 600,
        ...extra,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return String(r.body.url);
    };
    const created = await fetch(await step('CreateMultipartUpload'), { method: 'POST' });
    expect(created.status).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await created.text())![1]!;
    const part1 = Buffer.alloc(5 * 1024 * 1024, 'a');
    const etags: string[] = [];
    for (const [n, body] of [part1, Buffer.from('tail')].entries()) {
      const res = await fetch(await step('UploadPart', { upload_id: uploadId, part_number: n + 1 }), {
        method: 'PUT',
        body,
      });
      expect(res.status).toBe(200);
      etags.push(res.headers.get('etag')!);
    }
    const complete = await fetch(await step('CompleteMultipartUpload', { upload_id: uploadId }), {
      method: 'POST',
      body: `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
    });
    expect(complete.status).toBe(200);
    const details = await call('GET', '/buckets/shared/objects/big/disk%20image.bin');
    expect(details.body).toMatchObject({ size: part1.length + 4, is_multipart: true, part_count: 2 });

    const second = await fetch(await step('CreateMultipartUpload'), { method: 'POST' });
    const abortId = /<UploadId>([^<]+)<\/UploadId>/.exec(await second.text())![1]!;
    const aborted = await fetch(await step('AbortMultipartUpload', { upload_id: abortId }), {
      method: 'DELETE',
    });
    expect(aborted.status).toBe(204);
    expect((await call('GET', '/buckets/shared/uploads')).body.uploads).toEqual([]);
  });

  it('refuses a multipart step without what it needs, and method and operation together', async () => {
    const ask = (extra: Record<string, unknown>) =>
      call('POST', '/presigned-urls', {
        bucket_name: 'shared',
        object_key: 'k',
        access_key: access,
        ...extra,
      });
    for (const [extra, message] of [
      [{ operation: 'UploadPart', upload_id: 'x' }, 'UploadPart needs a part_number'],
      [{ operation: 'UploadPart', part_number: 1 }, 'UploadPart needs the upload_id'],
      [{ operation: 'CompleteMultipartUpload' }, 'CompleteMultipartUpload needs the upload_id'],
      [{ operation: 'GetObject', upload_id: 'x' }, 'GetObject takes neither upload_id nor part_number'],
      [{ method: 'GET', operation: 'GetObject' }, 'Give either method or operation, not both'],
    ] as const)
      expect(await ask(extra)).toMatchObject({ status: 400, body: { error: 'InvalidArgument', message } });
    expect((await ask({ operation: 'ListBuckets' })).status).toBe(400);
  });

  it('stops working after expiry', async () => {
    await fetch(String((await presign('PUT', 'brief.txt')).body.url), { method: 'PUT', body: 'short-lived' });
    // X-Amz-Date counts whole seconds: a 1 s link may already be expired when used 0.1 s later.
    const url = String((await presign('GET', 'brief.txt', 2)).body.url);
    expect((await fetch(url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3100));
    const late = await fetch(url);
    expect(late.status).toBe(403);
    expect(errorCode(await late.text())).toBe('AccessDenied');
  });

  it('validates method, expiry, key and signer', async () => {
    expect((await presign('POST', 'a')).status).toBe(400);
    expect((await presign('GET', 'a', 0)).status).toBe(400);
    expect((await presign('GET', 'a', 604801)).status).toBe(400);
    expect((await presign('GET', 'k'.repeat(1025))).status).toBe(400);
    expect(await presign('GET', 'a', 60, 'NOSUCHKEY000')).toMatchObject({
      status: 404,
      body: { error: 'CredentialNotFound' },
    });
    expect(await presign('GET', 'a', 60, env.creds[0]!.accessKeyId)).toMatchObject({
      status: 409,
      body: { error: 'NotBucketOwner' },
    });
    expect(
      await call('POST', '/presigned-urls', {
        bucket_name: 'nope-bucket',
        object_key: 'a',
        access_key: access,
      }),
    ).toMatchObject({ status: 404 });
  });
});

describe('dashboard figures', () => {
  it('counts S3 requests per minute by outcome, samples stored bytes, and records the jobs’ runs', async () => {
    const cred = env.creds[0]!;
    // Requests of earlier tests reach the table with the next flush: flush them first, then count.
    await gw.gateway.requests.flush();
    const before = (await call('GET', '/activity')).body.requests as Array<Record<string, number>>;
    const sum = (rows: Array<Record<string, number>>, k: string) => rows.reduce((a, r) => a + r[k]!, 0);
    for (let i = 0; i < 3; i++)
      expect((await signedFetch(gw.endpoint, cred, { path: '/' })).status).toBe(200);
    expect((await signedFetch(gw.endpoint, cred, { path: '/no-such-bucket-here' })).status).toBe(404);
    // The gateway flushes every few seconds on its own; one flush now makes the count certain.
    await gw.gateway.requests.flush();
    const rows = (await call('GET', '/activity')).body.requests as Array<Record<string, number>>;
    expect([
      sum(rows, 'ok') - sum(before, 'ok'),
      sum(rows, 'client_error') - sum(before, 'client_error'),
    ]).toEqual([3, 1]);
    const activity = (await call('GET', '/activity')).body as {
      requests: Array<{ minute: string }>;
      storage: Array<Record<string, unknown>>;
    };
    expect(activity.requests).toHaveLength(60);
    // The last slot is the current minute (or the one before, if a minute turned since the call).
    expect(Date.now() - Date.parse(activity.requests[59]!.minute)).toBeLessThan(120_000);
    // The first sample is taken at start.
    expect(activity.storage.length).toBeGreaterThanOrEqual(1);
    expect(activity.storage[0]).toMatchObject({ bytes: expect.any(Number), objects: expect.any(Number) });

    await gw.gateway.collector.runOnce();
    await gw.gateway.lifecycle.runOnce();
    const jobs = (await call('GET', '/activity')).body.jobs as Array<Record<string, unknown>>;
    expect(jobs.map((j) => j.job)).toEqual(['collector', 'lifecycle']);
    expect(jobs[0]).toMatchObject({ outcome: 'ok', error: null, report: { trash: expect.any(Number) } });
    expect(Date.parse(String(jobs[0]!.finished_at))).toBeGreaterThan(Date.now() - 60_000);

    expect((await call('GET', '/health')).body).toMatchObject({
      gateway: { status: 'ok', uptime_seconds: expect.any(Number) },
      postgres: { status: 'ok', latency_ms: expect.any(Number), connections: expect.any(Number) },
    });
  });
});

describe('Prometheus metrics', () => {
  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${env.admin.apiKey}` }) =>
    fetch(`${gw.endpoint}/_coffer/api/v1/metrics`, { headers });

  it('are refused without an admin key', async () => {
    const res = await scrape({});
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain('coffer_');
  });

  it('count requests by operation and status, latency, bytes, the pool, group commits, jobs and buckets', async () => {
    const cred = env.creds[0]!;
    const metric = (text: string, series: string) =>
      Number(new RegExp(`^${series.replace(/[{}()[\]|+.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const before = await (await scrape()).text();
    const listed = (s: string) =>
      metric(s, 'coffer_s3_requests_total{operation="ListBuckets",status="200"}') || 0;
    for (let i = 0; i < 2; i++) await signedFetch(gw.endpoint, cred, { path: '/' });
    await signedFetch(gw.endpoint, cred, { method: 'PUT', path: '/metered' });
    await signedFetch(gw.endpoint, cred, { method: 'PUT', path: '/metered/a.txt', body: 'x'.repeat(1000) });
    await signedFetch(gw.endpoint, cred, { path: '/metered/missing' });
    await gw.gateway.collector.runOnce();
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(listed(text) - listed(before)).toBe(2);
    expect(
      metric(text, 'coffer_s3_requests_total{operation="GetObject",status="404"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metric(text, 'coffer_s3_request_duration_seconds_count{operation="PutObject"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'coffer_s3_received_bytes_total')).toBeGreaterThanOrEqual(1000);
    expect(metric(text, 'coffer_s3_requests_in_flight')).toBe(0);
    expect(metric(text, 'coffer_db_pool_connections{state="free"}')).toBeGreaterThanOrEqual(0);
    expect(metric(text, 'coffer_group_commit_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'coffer_bucket_stored_bytes{bucket="metered"}')).toBe(1000);
    expect(metric(text, 'coffer_bucket_objects{bucket="metered"}')).toBe(1);
    expect(
      Date.now() / 1000 - metric(text, 'coffer_job_last_run_timestamp_seconds{job="collector",outcome="ok"}'),
    ).toBeLessThan(60);
    expect(metric(text, 'coffer_job_last_run_work{job="collector",what="trash"}')).toBeGreaterThanOrEqual(0);
    expect(metric(text, 'coffer_postgres_up')).toBe(1);
    const free = metric(text, 'coffer_data_volume_free_bytes');
    expect(free).toBeGreaterThan(0);
    expect(metric(text, 'coffer_data_volume_size_bytes')).toBeGreaterThan(free);
    const expires = metric(text, 'coffer_tls_certificate_expiry_timestamp_seconds');
    expect(Math.abs(expires - (Date.now() / 1000 + 30 * 86400))).toBeLessThan(86400);
  });
});

describe('users, grants, versions, the session, the audit trail and metrics', () => {
  it('answers each endpoint as service/openapi.json says', async () => {
    const user = await call('POST', '/users', { name: 'doc-reader' });
    expect(user).toMatchObject({
      status: 201,
      body: { name: 'doc-reader', bucket_count: 0, access_keys: [] },
    });
    const id = Number(user.body.id);
    expect((await call('GET', '/users')).body.users).toContainEqual(expect.objectContaining({ id }));
    expect((await call('GET', `/users/${id}`)).body).toMatchObject({ id, name: 'doc-reader' });
    expect((await call('PATCH', `/users/${id}`, { name: 'doc-reader-2' })).body).toMatchObject({
      name: 'doc-reader-2',
    });
    expect(await call('POST', `/users/${id}/keys`, {})).toMatchObject({
      status: 201,
      body: { user_id: id, is_active: true },
    });

    const owner = await call('POST', '/users', { name: 'doc-owner' });
    const ownerKey = await call('POST', `/users/${owner.body.id}/keys`, {});
    expect(
      await call('POST', '/buckets', { name: 'doc-shared', owner_user_id: owner.body.id }),
    ).toMatchObject({ status: 201 });
    const granted = await call('PUT', '/buckets/doc-shared/grants', {
      user_id: id,
      access: 'read',
      prefix: 'reports/',
    });
    expect(granted.body.grants).toEqual([
      expect.objectContaining({ user_id: id, access: 'read', prefix: 'reports/' }),
    ]);
    const grants = (await call('GET', '/buckets/doc-shared/grants')).body.grants as Array<{ id: number }>;
    expect(await call('DELETE', `/buckets/doc-shared/grants/${grants[0]!.id}`)).toMatchObject({
      status: 200,
    });

    const s3 = s3For(String(ownerKey.body.access_key), String(ownerKey.body.secret_key), gw.endpoint);
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'doc-shared',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    const first = await s3.send(
      new PutObjectCommand({ Bucket: 'doc-shared', Key: 'reports/q1.txt', Body: 'first' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'doc-shared', Key: 'reports/q1.txt', Body: 'second' }));
    s3.destroy();
    const versions = await call('GET', '/buckets/doc-shared/versions/reports/q1.txt');
    expect(versions.body).toMatchObject({ key: 'reports/q1.txt', versioning: 'Enabled' });
    expect(versions.body.versions).toHaveLength(2);
    expect(
      await call('POST', '/buckets/doc-shared/versions/reports/q1.txt', { version_id: first.VersionId }),
    ).toMatchObject({ status: 201, body: { restored_from: first.VersionId } });
    expect(
      await call('DELETE', `/buckets/doc-shared/versions/reports/q1.txt?version_id=${first.VersionId}`),
    ).toMatchObject({ status: 200 });

    expect(await call('POST', '/buckets', { name: 'doc-empty', owner_user_id: owner.body.id })).toMatchObject(
      { status: 201 },
    );
    expect(await call('DELETE', '/buckets/doc-empty')).toMatchObject({ status: 200 });
    expect(await call('DELETE', `/users/${id}`)).toMatchObject({
      status: 200,
      body: { transferred_buckets: [] },
    });

    const audit = await call('GET', '/audit?limit=3');
    expect(audit.body.records).toHaveLength(3);
    expect(audit.body.next_before).toEqual(expect.any(Number));
    expect((await call('GET', '/metrics')).status).toBe(200);
    const login = await call('POST', '/auth/login', { username: 'admin', password: env.admin.password }, {});
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('coffer_session='))!
      .split(';')[0]!;
    expect(await call('GET', '/auth/session', undefined, { cookie })).toMatchObject({
      status: 200,
      body: { username: 'admin', csrf_token: login.body.csrf_token },
    });
  });
});

describe('admin accounts', () => {
  const login = async (username: string, password: string) => {
    const r = await call('POST', '/auth/login', { username, password }, {});
    if (r.status !== 200) return { status: r.status, body: r.body };
    const cookie = r.headers
      .getSetCookie()
      .find((c) => c.startsWith('coffer_session='))!
      .split(';')[0];
    return { status: r.status, body: r.body, auth: { cookie, csrf: String(r.body.csrf_token) } as Auth };
  };

  it('adds an admin who signs in, enrolls their own TOTP, and is listed', async () => {
    expect(await call('POST', '/admins', { username: 'operator', password: 'short' })).toMatchObject({
      status: 400,
      body: { error: 'WeakPassword', message: 'A password needs at least 12 characters' },
    });
    expect((await call('POST', '/admins', { username: 'bad name', password: 'x'.repeat(12) })).status).toBe(
      400,
    );
    expect(
      await call('POST', '/admins', { username: 'operator', password: 'first password 1' }),
    ).toMatchObject({
      status: 201,
      body: { username: 'operator', totp_enabled: false },
    });
    expect(
      (await call('POST', '/admins', { username: 'operator', password: 'first password 1' })).body,
    ).toMatchObject({ error: 'AdminExists' });
    const op = (await login('operator', 'first password 1')).auth!;
    const enrolled = await call('POST', '/auth/totp/enroll', undefined, op);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(String(enrolled.body.secret)),
      digits: 6,
    });
    expect((await call('POST', '/auth/totp/confirm', { code: totp.generate() }, op)).status).toBe(200);
    const listed = (await call('GET', '/admins')).body.admins as Array<Record<string, unknown>>;
    expect(listed.find((a) => a.username === 'operator')).toMatchObject({
      totp_enabled: true,
      is_active: true,
      created_by: 'admin',
      api_keys: 0,
    });
    // The first admin's TOTP is untouched: each admin has their own.
    expect(listed.find((a) => a.username === 'admin')).toMatchObject({ totp_enabled: false });
    expect(await login('operator', 'first password 1')).toMatchObject({
      status: 401,
      body: { error: 'TotpRequired' },
    });
  });

  it('changes your own password: the current one is checked, other sessions end, and a restart keeps it', async () => {
    const here = (await login('admin', env.admin.password)).auth!;
    const elsewhere = (await login('admin', env.admin.password)).auth!;
    const next = 'a new password for admin';
    expect(
      await call('POST', '/auth/password', { current_password: 'wrong', new_password: next }, here),
    ).toMatchObject({ status: 400, body: { error: 'InvalidCurrentPassword' } });
    expect(
      await call(
        'POST',
        '/auth/password',
        { current_password: env.admin.password, new_password: 'tiny' },
        here,
      ),
    ).toMatchObject({ status: 400, body: { error: 'WeakPassword' } });
    expect(
      (
        await call(
          'POST',
          '/auth/password',
          { current_password: env.admin.password, new_password: next },
          here,
        )
      ).status,
    ).toBe(200);
    expect((await call('GET', '/stats', undefined, here)).status).toBe(200);
    expect((await call('GET', '/stats', undefined, elsewhere)).status).toBe(401);
    expect((await login('admin', env.admin.password)).status).toBe(401);

    // The admin file has not changed, so the restart keeps the password set in the console.
    await gw.close();
    gw = await startGateway(env.env);
    call = managementClient(gw.endpoint, { key: env.admin.apiKey }, check);
    const again = (await login('admin', next)).auth!;
    expect(
      (
        await call(
          'POST',
          '/auth/password',
          { current_password: next, new_password: env.admin.password },
          again,
        )
      ).status,
    ).toBe(200);
    // The two wrong passwords above count toward admin's lockout; the lockout tests below start afresh.
    await db('login_throttle').delete();
  });

  it('resets another admin’s TOTP and removes them, but never yourself', async () => {
    const operator = (
      (await call('GET', '/admins')).body.admins as Array<{ id: number; username: string }>
    ).find((a) => a.username === 'operator')!;
    const me = ((await call('GET', '/admins')).body.admins as Array<{ id: number; username: string }>).find(
      (a) => a.username === 'admin',
    )!;
    expect(await call('DELETE', `/admins/${me.id}`)).toMatchObject({
      status: 409,
      body: { error: 'CannotRemoveSelf' },
    });
    expect((await call('DELETE', `/admins/${operator.id}/totp`)).status).toBe(200);
    const op = await login('operator', 'first password 1');
    expect(op.status).toBe(200);
    expect(op.body).toMatchObject({ totp_enabled: false });
    expect((await call('DELETE', `/admins/${operator.id}`)).status).toBe(200);
    expect((await call('GET', '/stats', undefined, op.auth)).status).toBe(401);
    expect((await login('operator', 'first password 1')).status).toBe(401);
    expect(await call('DELETE', `/admins/${operator.id}`)).toMatchObject({
      status: 404,
      body: { error: 'NoSuchAdmin' },
    });
  });
});

describe('console sessions, TOTP and lockout', () => {
  let session: Auth;
  const cookieOf = (headers: Headers) => headers.getSetCookie().find((c) => c.startsWith('coffer_session='))!;

  it('logs in with a password and sets an httpOnly, Secure, SameSite=Strict cookie; mutations need the CSRF token', async () => {
    expect(
      await call('POST', '/auth/login', { username: 'admin', password: 'wrong-password' }, {}),
    ).toMatchObject({
      status: 401,
      body: { error: 'InvalidCredentials', message: 'Login was unsuccessful' },
    });
    expect(await call('POST', '/auth/login', { username: 'nobody', password: 'x' }, {})).toMatchObject({
      status: 401,
      body: { error: 'InvalidCredentials' },
    });
    const ok = await call('POST', '/auth/login', { username: 'admin', password: env.admin.password }, {});
    expect(ok.status).toBe(200);
    const cookie = cookieOf(ok.headers);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/_coffer/);
    expect(cookie).toMatch(/Expires=/);
    session = { cookie: cookie.split(';')[0], csrf: String(ok.body.csrf_token) };
    expect((await call('GET', '/stats', undefined, { cookie: session.cookie })).status).toBe(200);
    expect(
      await call('POST', '/credentials', { user_name: 'csrf' }, { cookie: session.cookie }),
    ).toMatchObject({
      status: 403,
      body: { error: 'CsrfTokenInvalid' },
    });
    expect(
      await call('POST', '/credentials', { user_name: 'csrf' }, { cookie: session.cookie, csrf: 'forged' }),
    ).toMatchObject({ status: 403 });
    expect((await call('POST', '/credentials', { user_name: 'via-console' }, session)).status).toBe(201);
  });

  it('enrolls TOTP (otpauth URI and QR code), then asks for a code at login and refuses a replayed one', async () => {
    const e = await call('POST', '/auth/totp/enroll', undefined, session);
    expect(e.status).toBe(200);
    expect(String(e.body.otpauth_uri)).toMatch(/^otpauth:\/\/totp\/Coffer:admin\?.*secret=[A-Z2-7]+/);
    expect(String(e.body.qr_svg)).toMatch(/^<svg/);
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(String(e.body.secret)),
      digits: 6,
      period: 30,
    });
    expect(
      await call(
        'POST',
        '/auth/totp/confirm',
        { code: '000000' === totp.generate() ? '111111' : '000000' },
        session,
      ),
    ).toMatchObject({
      status: 400,
      body: { error: 'InvalidTotp' },
    });
    const used = totp.generate();
    expect((await call('POST', '/auth/totp/confirm', { code: used }, session)).status).toBe(200);

    expect(
      await call('POST', '/auth/login', { username: 'admin', password: env.admin.password }, {}),
    ).toMatchObject({
      status: 401,
      body: { error: 'TotpRequired' },
    });
    expect(
      await call(
        'POST',
        '/auth/login',
        { username: 'admin', password: env.admin.password, totp_code: used },
        {},
      ),
    ).toMatchObject({
      status: 401,
      body: { error: 'InvalidCredentials' },
    });
    const next = totp.generate({ timestamp: Date.now() + 30_000 });
    const ok = await call(
      'POST',
      '/auth/login',
      { username: 'admin', password: env.admin.password, totp_code: next },
      {},
    );
    expect(ok).toMatchObject({ status: 200, body: { username: 'admin', totp_enabled: true } });
    // The API key keeps working without a code: it is a separate, revocable credential.
    expect((await call('GET', '/stats')).status).toBe(200);
    expect((await call('POST', '/auth/logout', undefined, session)).status).toBe(200);
    expect(await call('GET', '/stats', undefined, { cookie: session.cookie })).toMatchObject({
      status: 401,
      body: { error: 'SessionExpired' },
    });
  });

  it('locks the account after repeated failures with the structured LoginBlocked error, then lets it in again', async () => {
    await db('admins').where({ username: 'admin' }).update({ totp_enabled: false });
    await db('login_throttle').delete();
    const attempt = (password: string) => call('POST', '/auth/login', { username: 'admin', password }, {});
    expect((await attempt('bad-1')).status).toBe(401);
    expect((await attempt('bad-2')).status).toBe(401);
    const third = await attempt('bad-3');
    expect(third.status).toBe(429);
    expect(third.body).toEqual({
      error: 'LoginBlocked',
      message: 'Login was unsuccessful',
      restriction_state: expect.stringMatching(/^locked until \d{4}-\d{2}-\d{2}T.* after 3 failed attempts$/),
    });
    expect(await attempt(env.admin.password)).toMatchObject({ status: 429, body: { error: 'LoginBlocked' } });
    await new Promise((r) => setTimeout(r, 3100));
    expect((await attempt(env.admin.password)).status).toBe(200);
  });
});

describe('webhook targets and event messages', () => {
  it('creates a target for a user, shows what waits for it with the last error, retries, drops, and deletes it once unused', async () => {
    const owner = await userNameOf(call, env.creds[0]!.accessKeyId);
    const closed = await freePort();
    const secret = 'bearer-token-0123456789';
    const hook = {
      name: 'mgmt-hook',
      user: owner,
      url: `http://127.0.0.1:${closed}/hook`,
      auth: 'bearer',
      secret,
    };
    const created = await call('POST', '/webhooks', hook);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'mgmt-hook',
      user_name: owner,
      auth: 'bearer',
      declared: false,
    });
    expect(JSON.stringify(created.body)).not.toContain(secret);
    expect((await call('POST', '/webhooks', hook)).body.error).toBe('WebhookExists');
    expect((await call('POST', '/webhooks', { ...hook, name: 'x', user: 'nobody' })).body).toMatchObject({
      error: 'ValidationError',
      message: 'user: no user is named "nobody"',
    });
    expect((await call('POST', '/webhooks', { ...hook, name: 'x', url: 'file:///etc/passwd' })).status).toBe(
      400,
    );
    expect((await call('GET', '/webhooks')).body.webhooks).toContainEqual(created.body);

    const s3 = s3For(env.creds[0]!.accessKeyId, env.creds[0]!.secretAccessKey, gw.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'mgmt-events' }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'mgmt-events',
        NotificationConfiguration: {
          QueueConfigurations: [{ QueueArn: String(created.body.arn), Events: ['s3:ObjectCreated:*'] }],
        },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'mgmt-events', Key: 'a.txt', Body: 'a' }));
    let waiting: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && !waiting[0]?.last_error; i++) {
      await new Promise((r) => setTimeout(r, 100));
      waiting = (await call('GET', '/events?target=mgmt-hook&state=pending')).body.messages as typeof waiting;
    }
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({
      bucket: 'mgmt-events',
      key: 'a.txt',
      event_name: 's3:ObjectCreated:Put',
    });
    expect(waiting[0]!.last_error).toMatch(/ECONNREFUSED/);
    expect((await call('POST', '/events/retry', { ids: [waiting[0]!.id] })).body).toEqual({ count: 1 });
    expect((await call('POST', '/events/drop', { ids: [waiting[0]!.id] })).body).toEqual({ count: 1 });
    expect((await call('GET', '/events?target=mgmt-hook')).body.messages).toEqual([]);

    expect((await call('DELETE', '/webhooks/mgmt-hook')).body.error).toBe('WebhookInUse');
    await s3.send(
      new PutBucketNotificationConfigurationCommand({ Bucket: 'mgmt-events', NotificationConfiguration: {} }),
    );
    expect((await call('DELETE', '/webhooks/mgmt-hook')).status).toBe(200);
    expect((await call('DELETE', '/webhooks/mgmt-hook')).body.error).toBe('WebhookNotFound');

    // A user's targets go with the user.
    const leaving = await call('POST', '/users', { name: 'hook-owner' });
    expect(
      (await call('POST', '/webhooks', { ...hook, name: 'leaving-hook', user: 'hook-owner' })).status,
    ).toBe(201);
    expect((await call('DELETE', `/users/${leaving.body.id}`)).status).toBe(200);
    expect(
      ((await call('GET', '/webhooks')).body.webhooks as Array<{ name: string }>).map((w) => w.name),
    ).not.toContain('leaving-hook');
  });
});

describe('credentials seeded from the secrets file', () => {
  it('a credential an admin deleted stays deleted when the gateway restarts', async () => {
    const seeded = env.creds[1]!.accessKeyId;
    const list = async () =>
      ((await call('GET', '/credentials')).body.credentials as Array<{ id: number; access_key: string }>).map(
        (c) => c.access_key,
      );
    const row = (
      (await call('GET', '/credentials')).body.credentials as Array<{ id: number; access_key: string }>
    ).find((c) => c.access_key === seeded)!;
    expect((await call('DELETE', `/credentials/${row.id}`)).status).toBe(200);
    await gw.close();
    gw = await startGateway(env.env);
    call = managementClient(gw.endpoint, { key: env.admin.apiKey }, check);
    expect(await list()).not.toContain(seeded);
    expect(await list()).toContain(env.creds[0]!.accessKeyId);
    expect((await signedFetch(gw.endpoint, env.creds[1]!, { path: '/' })).status).toBe(403);
  });

  it('a rotated admin file (setup-credentials --force) replaces the password and API key at restart', async () => {
    const password = 'rotated-' + Date.now();
    const apiKey = newApiKey();
    await writeFile(
      env.env.ADMIN_FILE!,
      JSON.stringify({
        username: 'admin',
        password_hash: await hashPassword(password),
        api_key_sha256: apiKeyDigest(apiKey),
      }),
    );
    await gw.close();
    gw = await startGateway(env.env);
    const fresh = managementClient(gw.endpoint, {}, check);
    expect(await fresh('GET', '/stats', undefined, { key: env.admin.apiKey })).toMatchObject({
      status: 401,
      body: { error: 'InvalidApiKey' },
    });
    expect((await fresh('GET', '/stats', undefined, { key: apiKey })).status).toBe(200);
    expect(
      (await fresh('POST', '/auth/login', { username: 'admin', password: env.admin.password })).status,
    ).toBe(401);
    expect((await fresh('POST', '/auth/login', { username: 'admin', password })).status).toBe(200);
  });
});

describe('service/openapi.json', () => {
  it('describes every answer this file got, and every operation it documents answered with a success', () => {
    expect(check.seen.size).toBeGreaterThan(60);
    expect(check.unseen()).toEqual([]);
  });
});
