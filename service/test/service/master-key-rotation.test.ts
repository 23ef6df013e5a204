import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import knex, { type Knex } from 'knex';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/crypto/master-key.js';
import { keyUse, rewrapAll } from '../../src/store/rekey.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { createHmacWebhook, managementClient } from '../support/management.js';
import { pathStyleClient } from '../support/s3-client.js';
import { signedFetch } from '../support/signed-fetch.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/rekey-cli.js');

// Rotation as an operator runs it: the new key first in the key file, a restart, rewrap (killed and run
// again), then the old key removed and a restart: every object, version, part and secret still opens.
describe('master-key rotation', () => {
  let env: TestEnv;
  let gw: RunningGateway;
  let db: Knex;
  let s3: S3Client;
  const oldKey = randomBytes(32).toString('hex');
  const newKey = randomBytes(32).toString('hex');
  const id = (k: string) => new MasterKey(Buffer.from(k, 'hex')).id.toString('hex');
  const bodies = new Map<string, Buffer>();
  let uploadId = '';
  let pendingEtag = '';
  let totp: OTPAuth.TOTP;
  let receiver: Receiver;
  const HOOK_SECRET = 'webhook-secret-sealed-0123';
  const pendingPart = randomBytes(5 * 1024 * 1024);
  const keyFile = () => env.env.MASTER_KEY_FILE!;
  const restart = async () => {
    // The client's kept-alive sockets would hold the closing server open.
    s3.destroy();
    await gw.close();
    gw = await startGateway(env.env);
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  };
  const read = async (key: string, versionId?: string) =>
    Buffer.from(
      await (
        await s3.send(new GetObjectCommand({ Bucket: 'vault', Key: key, VersionId: versionId }))
      ).Body!.transformToByteArray(),
    );

  beforeAll(async () => {
    // The CLI's own rewrap, killed and resumed, is what this suite shows: the gateway leaves it to the CLI.
    env = await createTestEnv({ INLINE_MAX_BYTES: '1024', REWRAP_ON_START: 'false' });
    writeFileSync(keyFile(), oldKey + '\n');
    gw = await startGateway(env.env);
    db = knex({ client: 'pg', connection: env.pg.url });
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    expect((await signedFetch(gw.endpoint, env.creds[0]!, { method: 'PUT', path: '/vault' })).status).toBe(
      200,
    );
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'vault', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    // Inline (small), in a blob (large), an old version, a multipart object, and a part still uploading.
    for (const [key, size] of [
      ['small.txt', 100],
      ['large.bin', 200_000],
      ['doc.txt', 50],
    ] as const) {
      const body = randomBytes(size);
      bodies.set(key, body);
      await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: key, Body: body }));
    }
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'doc.txt', Body: 'second version' }));
    const mp = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vault', Key: 'multi.bin' }));
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    const etags = [];
    for (const [i, Body] of parts.entries())
      etags.push(
        (
          await s3.send(
            new UploadPartCommand({
              Bucket: 'vault',
              Key: 'multi.bin',
              UploadId: mp.UploadId,
              PartNumber: i + 1,
              Body,
            }),
          )
        ).ETag,
      );
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'vault',
        Key: 'multi.bin',
        UploadId: mp.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    bodies.set('multi.bin', Buffer.concat(parts));
    // The admin's TOTP secret is sealed under the master key too.
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const login = await api('POST', '/auth/login', { username: 'admin', password: env.admin.password }, {});
    const session = {
      cookie: login.headers.getSetCookie()[0]!.split(';')[0],
      csrf: String(login.body.csrf_token),
    };
    const enrolled = await api('POST', '/auth/totp/enroll', undefined, session);
    totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(String(enrolled.body.secret)), digits: 6 });
    expect((await api('POST', '/auth/totp/confirm', { code: totp.generate() }, session)).status).toBe(200);
    // A webhook target's HMAC secret is sealed under it too; a bucket sends its events there.
    receiver = await startReceiver(HOOK_SECRET);
    const arn = await createHmacWebhook(api, {
      name: 'rotation',
      accessKey: env.creds[0]!.accessKeyId,
      url: receiver.url,
      secret: HOOK_SECRET,
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'hooked' }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'hooked',
        NotificationConfiguration: {
          QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }],
        },
      }),
    );
    uploadId = (await s3.send(new CreateMultipartUploadCommand({ Bucket: 'vault', Key: 'pending.bin' })))
      .UploadId!;
    pendingEtag = (
      await s3.send(
        new UploadPartCommand({
          Bucket: 'vault',
          Key: 'pending.bin',
          UploadId: uploadId,
          PartNumber: 1,
          Body: pendingPart,
        }),
      )
    ).ETag!;
  }, 120_000);
  afterAll(async () => {
    await receiver?.close();
    s3?.destroy();
    await db?.destroy();
    await gw?.close();
    await env?.stop();
  });

  it('rewraps everything online under the new key, survives being killed, then works without the old key', async () => {
    const before = await keyUse(db);
    expect(Object.keys(before)).toEqual([id(oldKey)]);
    const total = before[id(oldKey)]!;
    // 3 objects, 1 old version, 2 layout parts, 1 pending part, 2 credentials, 1 TOTP secret, 1 webhook secret.
    expect(total).toBe(11);

    writeFileSync(keyFile(), `${newKey}\n${oldKey}\n`);
    await restart();
    // Writes during the rotation are wrapped by the new key; everything old still reads.
    await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'during.txt', Body: 'written mid-rotation' }));
    expect((await read('large.bin')).equals(bodies.get('large.bin')!)).toBe(true);

    // The CLI, one row at a time, killed with SIGKILL once it has rewrapped something.
    const first = spawn(process.execPath, [CLI, 'rewrap', '--batch', '1'], {
      env: { ...process.env, ...env.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve) => first.stderr!.once('data', () => resolve()));
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const halfway = await keyUse(db);
    expect(halfway[id(newKey)]).toBeGreaterThanOrEqual(2);
    expect(halfway[id(oldKey)]).toBeGreaterThanOrEqual(1);

    const cli = spawnSync(process.execPath, [CLI, 'rewrap', '--batch', '2'], {
      env: { ...process.env, ...env.env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`nothing refers to ${id(oldKey)}: they can be retired`));
    expect(await keyUse(db)).toEqual({ [id(newKey)]: total + 1 });

    writeFileSync(keyFile(), newKey + '\n');
    await restart();
    // Buffers compared with equals(): a deep equality over 5 MiB takes the test runner half a minute.
    for (const [key, body] of bodies)
      if (key !== 'doc.txt') expect((await read(key)).equals(body), key).toBe(true);
    expect((await read('doc.txt')).toString()).toBe('second version');
    const versions = await db('object_versions').select('version_id');
    expect(versions).toHaveLength(1);
    expect(await read('doc.txt', versions[0].version_id)).toEqual(bodies.get('doc.txt'));
    expect((await read('during.txt')).toString()).toBe('written mid-rotation');
    // The seeded credentials' sealed secrets were rewrapped: S3 requests still authenticate.
    expect((await signedFetch(gw.endpoint, env.creds[1]!, { path: '/' })).status).toBe(200);
    const api = managementClient(gw.endpoint);
    const login = await api(
      'POST',
      '/auth/login',
      {
        username: 'admin',
        password: env.admin.password,
        totp_code: totp.generate({ timestamp: Date.now() + 30_000 }),
      },
      {},
    );
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    // The webhook's secret was rewrapped: its messages are still signed with it.
    await s3.send(new PutObjectCommand({ Bucket: 'hooked', Key: 'after-rotation', Body: 'x' }));
    const [message] = await receiver.waitFor(1);
    expect(message!.verified).toBe(true);
    // The part still uploading (sealed before the rotation) completes into a readable object.
    const tail = (
      await s3.send(
        new UploadPartCommand({
          Bucket: 'vault',
          Key: 'pending.bin',
          UploadId: uploadId,
          PartNumber: 2,
          Body: 'tail',
        }),
      )
    ).ETag;
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'vault',
        Key: 'pending.bin',
        UploadId: uploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: pendingEtag },
            { PartNumber: 2, ETag: tail },
          ],
        },
      }),
    );
    expect((await read('pending.bin')).equals(Buffer.concat([pendingPart, Buffer.from('tail')]))).toBe(true);
  });

  it('refuses to start rewrapping while a key in use is missing from the key file', async () => {
    const stranger = new MasterKey(randomBytes(32));
    await expect(rewrapAll(db, stranger)).rejects.toThrow(
      `some keys are wrapped by master key ${id(newKey)}, which the key file does not hold: put it back as a later line`,
    );
    expect(readFileSync(keyFile(), 'utf8')).toBe(newKey + '\n');
  });

  it('a gateway started on an older key besides the current one rewraps by itself, and says when to retire it', async () => {
    // What a Pulumi rotation relies on (coffer:previousMasterKeys): no CLI, only a restart on both keys.
    const third = randomBytes(32).toString('hex');
    writeFileSync(keyFile(), `${third}\n${newKey}\n`);
    s3.destroy();
    await gw.close();
    const lines: string[] = [];
    gw = await startGateway(
      { ...env.env, REWRAP_ON_START: 'true', LOG_LEVEL: 'info' },
      { write: (l) => void lines.push(l) },
    );
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    const total = Object.values(await keyUse(db)).reduce((a, n) => a + n, 0);
    await expect.poll(() => keyUse(db), { timeout: 15_000 }).toEqual({ [id(third)]: total });
    await expect
      .poll(() => lines.find((l) => l.includes('master-key rewrap done')), { timeout: 5_000 })
      .toContain(`nothing refers to ${id(newKey)}, which can be retired`);
    // Retired: the gateway on the third key alone reads everything.
    writeFileSync(keyFile(), third + '\n');
    await restart();
    expect((await read('large.bin')).equals(bodies.get('large.bin')!)).toBe(true);
    expect((await read('during.txt')).toString()).toBe('written mid-rotation');
  });
});
