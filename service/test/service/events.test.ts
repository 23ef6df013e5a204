import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  DeleteObjectTaggingCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectLegalHoldCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { createHmacWebhook, managementClient, userNameOf } from '../support/management.js';
import { pathStyleClient } from '../support/s3-client.js';
import { selfSignedCertificate } from '../support/tls-proxy.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const SECRET = randomBytes(24).toString('base64url');
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;
let other: S3Client;
let call: ReturnType<typeof managementClient>;
let receiver: Receiver;
let arn: string;

const strip = (etag: string | undefined) => etag?.replace(/"/g, '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function notify(client: S3Client, bucket: string, configs: Array<Record<string, unknown>>) {
  return client.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: { QueueConfigurations: configs as never },
    }),
  );
}

beforeAll(async () => {
  env = await createTestEnv({
    EVENT_POLL_MS: '100',
    EVENT_RETRY_BASE_MS: '100',
    EVENT_RETRY_MAX_SECONDS: '1',
    EVENT_GIVE_UP_SECONDS: '4',
    EVENT_TIMEOUT_SECONDS: '2',
    LIFECYCLE_DAY_SECONDS: '1',
    LIFECYCLE_INTERVAL_SECONDS: '0',
  });
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  other = pathStyleClient(gw.endpoint, env.creds[1]!);
  call = managementClient(gw.endpoint, { key: env.admin.apiKey });
  receiver = await startReceiver(SECRET);
  arn = await createHmacWebhook(call, {
    name: 'workflows',
    accessKey: env.creds[0]!.accessKeyId,
    url: receiver.url,
    secret: SECRET,
  });
  expect(arn).toBe('arn:coffer:sqs:us-east-1:workflows:webhook');
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await gw?.close();
  await env?.stop();
});

describe('bucket notifications to a webhook', () => {
  it('delivers one verified AWS event message per PUT, copy, multipart completion and delete, in order', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'flows' }));
    await notify(s3, 'flows', [
      { Id: 'everything', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] },
    ]);
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'flows' }));
    expect(got.QueueConfigurations).toEqual([
      { Id: 'everything', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] },
    ]);
    receiver.received.length = 0;

    const put = await s3.send(
      new PutObjectCommand({ Bucket: 'flows', Key: 'in box/a+b.txt', Body: 'hello' }),
    );
    const copy = await s3.send(
      new CopyObjectCommand({ Bucket: 'flows', Key: 'copy.txt', CopySource: 'flows/in%20box/a%2Bb.txt' }),
    );
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'flows', Key: 'big.bin' }));
    const part = await s3.send(
      new UploadPartCommand({
        Bucket: 'flows',
        Key: 'big.bin',
        UploadId,
        PartNumber: 1,
        Body: randomBytes(1000),
      }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'flows',
        Key: 'big.bin',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'flows', Key: 'copy.txt' }));

    // Different keys' messages may arrive in any order; their sequencers say which change came first.
    const messages = [...(await receiver.waitFor(4))].sort((x, y) =>
      x.record.s3.object.sequencer.localeCompare(y.record.s3.object.sequencer),
    );
    await sleep(600);
    expect(receiver.received).toHaveLength(4);
    for (const m of messages) {
      expect(m.verified).toBe(true);
      expect(m.headers['content-type']).toBe('application/json');
      expect(m.record).toMatchObject({
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-east-1',
        userIdentity: { principalId: env.creds[0]!.accessKeyId },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'everything',
          bucket: { name: 'flows', arn: 'arn:aws:s3:::flows' },
        },
      });
      expect(Date.now() - Date.parse(m.record.eventTime)).toBeLessThan(60_000);
    }
    const [a, b, c, d] = messages.map((m) => m.record);
    expect(a!.eventName).toBe('ObjectCreated:Put');
    expect(a!.s3.object).toMatchObject({ key: 'in+box/a%2Bb.txt', size: 5, eTag: strip(put.ETag) });
    expect(a!.responseElements['x-amz-request-id']).toBe(put.$metadata.requestId);
    expect(b!.eventName).toBe('ObjectCreated:Copy');
    expect(b!.s3.object).toMatchObject({
      key: 'copy.txt',
      size: 5,
      eTag: strip(copy.CopyObjectResult?.ETag),
    });
    expect(c!.eventName).toBe('ObjectCreated:CompleteMultipartUpload');
    expect(c!.s3.object).toMatchObject({ key: 'big.bin', size: 1000, eTag: strip(done.ETag) });
    expect(d!.eventName).toBe('ObjectRemoved:Delete');
    expect(d!.s3.object.key).toBe('copy.txt');
    expect(d!.s3.object.eTag).toBeUndefined();
    expect(d!.responseElements['x-amz-request-id']).toBe(del.$metadata.requestId);
    expect(new Set(messages.map((m) => m.headers['x-coffer-delivery'])).size).toBe(4);
  });

  it("keeps one key's messages in the order of its changes", async () => {
    receiver.received.length = 0;
    const etags: string[] = [];
    for (let i = 0; i < 8; i++)
      etags.push(
        strip((await s3.send(new PutObjectCommand({ Bucket: 'flows', Key: 'same', Body: `v${i}` }))).ETag)!,
      );
    const messages = await receiver.waitFor(8);
    expect(messages.map((m) => m.record.s3.object.eTag)).toEqual(etags);
  });

  it('tells delete markers from deletes in a versioned bucket, with version ids', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'flows-v' }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'flows-v', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await notify(s3, 'flows-v', [
      { Id: 'v', QueueArn: arn, Events: ['s3:ObjectCreated:Put', 's3:ObjectRemoved:*'] },
    ]);
    receiver.received.length = 0;
    const put = await s3.send(new PutObjectCommand({ Bucket: 'flows-v', Key: 'doc', Body: 'x' }));
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: 'flows-v', Key: 'doc' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'flows-v', Key: 'doc', VersionId: put.VersionId }));
    const [p, m, d] = (await receiver.waitFor(3)).map((r) => r.record);
    expect(p).toMatchObject({ eventName: 'ObjectCreated:Put', s3: { object: { versionId: put.VersionId } } });
    expect(m).toMatchObject({
      eventName: 'ObjectRemoved:DeleteMarkerCreated',
      s3: { object: { versionId: marker.VersionId } },
    });
    expect(d).toMatchObject({
      eventName: 'ObjectRemoved:Delete',
      s3: { object: { versionId: put.VersionId } },
    });
  });

  it("sends only what a rule's events, prefix and suffix select", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'flows-f' }));
    await notify(s3, 'flows-f', [
      {
        Id: 'pdfs',
        QueueArn: arn,
        Events: ['s3:ObjectCreated:Put'],
        Filter: {
          Key: {
            FilterRules: [
              { Name: 'prefix', Value: 'docs/' },
              { Name: 'suffix', Value: '.pdf' },
            ],
          },
        },
      },
    ]);
    const got = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'flows-f' }));
    expect(got.QueueConfigurations?.[0]?.Filter?.Key?.FilterRules).toEqual([
      { Name: 'Prefix', Value: 'docs/' },
      { Name: 'Suffix', Value: '.pdf' },
    ]);
    receiver.received.length = 0;
    for (const key of ['docs/a.pdf', 'docs/a.txt', 'other/b.pdf', 'docs/sub/c.pdf'])
      await s3.send(new PutObjectCommand({ Bucket: 'flows-f', Key: key, Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'flows-f', Key: 'docs/a.pdf' }));
    await receiver.waitFor(2);
    await sleep(600);
    expect(receiver.received.map((m) => m.record.s3.object.key)).toEqual(['docs/a.pdf', 'docs/sub/c.pdf']);
  });

  it("refuses a target that is not the bucket owner's, unknown ARNs, other destinations and overlapping rules", async () => {
    await other.send(new CreateBucketCommand({ Bucket: 'not-yours' }));
    const refused = async (client: S3Client, bucket: string, configs: Array<Record<string, unknown>>) =>
      notify(client, bucket, configs).then(
        () => 'accepted',
        (err: { name: string; $metadata: { httpStatusCode: number } }) =>
          `${err.$metadata.httpStatusCode} ${err.name}`,
      );
    // The target is the first user's: the second cannot point a bucket at it.
    expect(await refused(other, 'not-yours', [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }])).toBe(
      '400 InvalidArgument',
    );
    expect(
      await refused(s3, 'flows-f', [
        { QueueArn: 'arn:coffer:sqs:us-east-1:nobody:webhook', Events: ['s3:ObjectCreated:*'] },
      ]),
    ).toBe('400 InvalidArgument');
    expect(await refused(s3, 'flows-f', [{ QueueArn: arn, Events: ['s3:ObjectCreated:Nope'] }])).toBe(
      '400 InvalidArgument',
    );
    expect(
      await refused(s3, 'flows-f', [
        { QueueArn: arn, Events: ['s3:ObjectCreated:*'] },
        {
          QueueArn: arn,
          Events: ['s3:ObjectCreated:Put'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } },
        },
      ]),
    ).toBe('400 InvalidArgument');
    const topic = await other
      .send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'not-yours',
          NotificationConfiguration: {
            TopicConfigurations: [{ TopicArn: 'arn:aws:sns:us-east-1:1:t', Events: ['s3:ObjectCreated:*'] }],
          },
        }),
      )
      .catch((err: { name: string }) => err.name);
    expect(topic).toBe('InvalidArgument');
    // Nothing was stored by the refusals.
    expect(
      (await other.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'not-yours' })))
        .QueueConfigurations,
    ).toBeUndefined();
    // A target a bucket sends to cannot be deleted; one nobody uses can.
    expect((await call('DELETE', '/webhooks/workflows')).body.error).toBe('WebhookInUse');
  });

  it('keeps messages while the receiver is down and delivers them all once it is back', async () => {
    receiver.mode = 'fail';
    receiver.received.length = 0;
    for (let i = 0; i < 3; i++)
      await s3.send(new PutObjectCommand({ Bucket: 'flows', Key: `down/${i}`, Body: 'x' }));
    let pending: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 50 && !pending.some((m) => (m.attempts as number) > 0); i++) {
      await sleep(100);
      pending = (await call('GET', '/events?state=pending&bucket=flows')).body.messages as typeof pending;
    }
    expect(pending.map((m) => m.key)).toEqual(['down/0', 'down/1', 'down/2']);
    expect(pending.find((m) => (m.attempts as number) > 0)?.last_error).toMatch(/^HTTP 503/);
    const metrics = await (
      await fetch(`${gw.endpoint}/_coffer/api/v1/metrics`, {
        headers: { authorization: `Bearer ${env.admin.apiKey}` },
      })
    ).text();
    expect(metrics).toMatch(/coffer_event_messages\{target="workflows",state="pending"\} 3/);
    expect(metrics).toMatch(
      /coffer_event_deliveries_total\{target="workflows",outcome="attempt_failed"\} [1-9]/,
    );
    receiver.mode = 'ok';
    const back = await receiver.waitFor(3);
    expect(back.map((m) => m.record.s3.object.key).sort()).toEqual(['down/0', 'down/1', 'down/2']);
    expect((await call('GET', '/events?bucket=flows')).body.messages).toEqual([]);
  });

  it('gives a message up after its retries, and an admin retries or drops it', async () => {
    receiver.mode = 'fail';
    receiver.received.length = 0;
    await s3.send(new PutObjectCommand({ Bucket: 'flows', Key: 'given-up/1', Body: 'x' }));
    await s3.send(new PutObjectCommand({ Bucket: 'flows', Key: 'given-up/2', Body: 'x' }));
    let failed: Array<Record<string, unknown>> = [];
    for (let i = 0; i < 100 && failed.length < 2; i++) {
      await sleep(100);
      failed = (await call('GET', '/events?state=failed')).body.messages as typeof failed;
    }
    expect(failed.map((m) => m.key)).toEqual(['given-up/1', 'given-up/2']);
    expect(failed[0]).toMatchObject({
      target: 'workflows',
      event_name: 's3:ObjectCreated:Put',
      state: 'failed',
    });
    expect((failed[0]!.payload as { Records: unknown[] }).Records).toHaveLength(1);
    receiver.mode = 'ok';
    await sleep(500);
    expect(receiver.received).toHaveLength(0);
    expect((await call('POST', '/events/drop', { ids: [failed[1]!.id] })).body.count).toBe(1);
    expect((await call('POST', '/events/retry', { target: 'workflows' })).body.count).toBe(1);
    const [m] = await receiver.waitFor(1);
    expect(m!.record.s3.object.key).toBe('given-up/1');
    await sleep(500);
    expect(receiver.received).toHaveLength(1);
    expect((await call('GET', '/events')).body.messages).toEqual([]);
  });

  it('sends retention, legal hold and tagging changes, and lifecycle expirations, when a rule asks for them', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'flows-lock', ObjectLockEnabledForBucket: true }));
    await notify(s3, 'flows-lock', [
      {
        Id: 'governance',
        QueueArn: arn,
        Events: [
          's3:ObjectCreated:PutRetention',
          's3:ObjectCreated:PutLegalHold',
          's3:ObjectTagging:*',
          's3:LifecycleExpiration:*',
        ],
      },
    ]);
    receiver.received.length = 0;
    const put = await s3.send(new PutObjectCommand({ Bucket: 'flows-lock', Key: 'record', Body: 'x' }));
    const until = new Date(Date.now() + 3600_000);
    await s3.send(
      new PutObjectRetentionCommand({
        Bucket: 'flows-lock',
        Key: 'record',
        Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until },
      }),
    );
    await s3.send(
      new PutObjectLegalHoldCommand({ Bucket: 'flows-lock', Key: 'record', LegalHold: { Status: 'ON' } }),
    );
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: 'flows-lock',
        Key: 'record',
        Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] },
      }),
    );
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: 'flows-lock', Key: 'record' }));
    await s3.send(new PutObjectCommand({ Bucket: 'flows-lock', Key: 'tmp/scratch', Body: 'x' }));
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'flows-lock',
        LifecycleConfiguration: {
          Rules: [{ ID: 'tmp', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: 1 } }],
        },
      }),
    );
    await sleep(1100);
    expect((await gw.gateway.lifecycle.runOnce())?.expired).toBe(1);
    const records = (await receiver.waitFor(5)).map((m) => m.record);
    records.sort((x, y) => x.s3.object.sequencer.localeCompare(y.s3.object.sequencer));
    expect(records.map((r) => [r.eventName, r.s3.object.key])).toEqual([
      ['ObjectCreated:PutRetention', 'record'],
      ['ObjectCreated:PutLegalHold', 'record'],
      ['ObjectTagging:Put', 'record'],
      ['ObjectTagging:Delete', 'record'],
      ['LifecycleExpiration:DeleteMarkerCreated', 'tmp/scratch'],
    ]);
    expect(records[0]!.s3.object).toMatchObject({ versionId: put.VersionId, eTag: strip(put.ETag) });
    expect(records[4]!.userIdentity.principalId).toBe('lifecycle');
  });

  it('sends to an https target its CA bundle vouches for, with its bearer token; an untrusted one gets nothing', async () => {
    const { key, cert } = await selfSignedCertificate(env.dir, 'DNS:localhost');
    const pem = await readFile(cert, 'utf8');
    const secure = await startReceiver(undefined, { tls: { key: await readFile(key, 'utf8'), cert: pem } });
    try {
      const token = randomBytes(20).toString('hex');
      const user = await userNameOf(call, env.creds[0]!.accessKeyId);
      const trusted = await call('POST', '/webhooks', {
        name: 'secure',
        user,
        url: secure.url,
        auth: 'bearer',
        secret: token,
        ca_bundle: pem,
      });
      expect(trusted.status).toBe(201);
      expect(trusted.body).toMatchObject({ auth: 'bearer', ca_bundle: pem });
      expect(JSON.stringify(trusted.body)).not.toContain(token);
      const untrusted = await call('POST', '/webhooks', { name: 'untrusted', user, url: secure.url });
      expect(untrusted.status).toBe(201);
      await s3.send(new CreateBucketCommand({ Bucket: 'flows-tls' }));
      await notify(s3, 'flows-tls', [
        {
          Id: 'a',
          QueueArn: trusted.body.arn,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'a/' }] } },
        },
        {
          Id: 'b',
          QueueArn: untrusted.body.arn,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'b/' }] } },
        },
      ]);
      await s3.send(new PutObjectCommand({ Bucket: 'flows-tls', Key: 'a/1', Body: 'x' }));
      await s3.send(new PutObjectCommand({ Bucket: 'flows-tls', Key: 'b/1', Body: 'x' }));
      const [m] = await secure.waitFor(1);
      expect(m!.headers.authorization).toBe(`Bearer ${token}`);
      expect(m!.record.s3.object.key).toBe('a/1');
      let waiting: Array<Record<string, unknown>> = [];
      for (let i = 0; i < 50 && !waiting[0]?.last_error; i++) {
        await sleep(100);
        waiting = (await call('GET', '/events?target=untrusted')).body.messages as typeof waiting;
      }
      expect(waiting[0]?.last_error).toMatch(/self[- ]signed certificate/);
      expect(secure.received).toHaveLength(1);
      // A target a configuration names stays until the configuration lets go of it.
      await notify(s3, 'flows-tls', []);
      expect((await call('DELETE', '/webhooks/untrusted')).status).toBe(200);
      expect((await call('GET', '/events?target=untrusted')).body.messages).toEqual([]);
    } finally {
      await secure.close();
    }
  });

  it("sends browser form uploads as Post, and the management API's deletes and restores as what they are", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'flows-admin' }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'flows-admin',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    await notify(s3, 'flows-admin', [
      { Id: 'all', QueueArn: arn, Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'] },
    ]);
    receiver.mode = 'ok';
    receiver.received.length = 0;
    const post = await createPresignedPost(s3, { Bucket: 'flows-admin', Key: 'form.txt', Expires: 300 });
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['from a form']), 'form.txt');
    expect((await fetch(post.url, { method: 'POST', body: form })).status).toBe(204);
    const first = (await receiver.waitFor(1))[0]!.record;
    expect(first).toMatchObject({
      eventName: 'ObjectCreated:Post',
      s3: { object: { key: 'form.txt', size: 11 } },
    });
    // An admin deletes it in the console (a delete marker), then brings the version back.
    expect((await call('DELETE', '/buckets/flows-admin/objects/form.txt')).status).toBe(200);
    expect(
      (
        await call('POST', '/buckets/flows-admin/versions/form.txt', {
          version_id: first.s3.object.versionId,
        })
      ).status,
    ).toBe(201);
    const [, marker, restored] = (await receiver.waitFor(3)).map((m) => m.record);
    expect(marker).toMatchObject({
      eventName: 'ObjectRemoved:DeleteMarkerCreated',
      userIdentity: { principalId: 'admin:admin' },
      s3: { object: { key: 'form.txt' } },
    });
    expect(restored).toMatchObject({
      eventName: 'ObjectCreated:Copy',
      s3: { object: { key: 'form.txt', size: 11 } },
    });
    expect(restored!.s3.object.versionId).not.toBe(first.s3.object.versionId);
  });

  it('takes the targets a deployment declares in WEBHOOKS_FILE at start, which only the file changes', async () => {
    const user = await userNameOf(call, env.creds[0]!.accessKeyId);
    const file = path.join(env.dir, 'webhooks.json');
    const declare = (targets: unknown[]) => writeFile(file, JSON.stringify(targets), { mode: 0o600 });
    const restart = async (extra: Record<string, string> = { WEBHOOKS_FILE: file }) => {
      await gw.close();
      gw = await startGateway({ ...env.env, ...extra });
      call = managementClient(gw.endpoint, { key: env.admin.apiKey });
      return pathStyleClient(gw.endpoint, env.creds[0]!);
    };
    const second = await startReceiver('another-secret-of-some-length');
    try {
      await declare([{ name: 'declared', user, url: receiver.url, auth: 'hmac', secret: SECRET }]);
      let client = await restart();
      const listed = ((await call('GET', '/webhooks')).body.webhooks as Array<Record<string, unknown>>).find(
        (w) => w.name === 'declared',
      );
      expect(listed).toMatchObject({ declared: true, url: receiver.url, auth: 'hmac', user_name: user });
      expect((await call('DELETE', '/webhooks/declared')).body.error).toBe('WebhookDeclared');
      await client.send(new CreateBucketCommand({ Bucket: 'flows-declared' }));
      await notify(client, 'flows-declared', [{ QueueArn: listed!.arn, Events: ['s3:ObjectCreated:*'] }]);
      receiver.mode = 'ok';
      receiver.received.length = 0;
      await client.send(new PutObjectCommand({ Bucket: 'flows-declared', Key: 'one', Body: 'x' }));
      expect((await receiver.waitFor(1))[0]!.verified).toBe(true);

      // The file changed: the target follows it, secret included.
      await declare([
        { name: 'declared', user, url: second.url, auth: 'hmac', secret: 'another-secret-of-some-length' },
      ]);
      client = await restart();
      await client.send(new PutObjectCommand({ Bucket: 'flows-declared', Key: 'two', Body: 'x' }));
      const [m] = await second.waitFor(1);
      expect(m!.verified).toBe(true);
      expect(m!.record.s3.object.key).toBe('two');

      // Left out of the file, it stays (a bucket still sends to it) as an admin's, who may then remove it.
      await declare([]);
      client = await restart();
      const kept = ((await call('GET', '/webhooks')).body.webhooks as Array<Record<string, unknown>>).find(
        (w) => w.name === 'declared',
      );
      expect(kept).toMatchObject({ declared: false, url: second.url });
      await notify(client, 'flows-declared', []);
      expect((await call('DELETE', '/webhooks/declared')).status).toBe(200);

      // A file the gateway cannot use stops it with one line naming the setting.
      await writeFile(file, JSON.stringify([{ name: 'x', user, url: 'ftp://nowhere/' }]));
      await expect(restart()).rejects.toThrow(
        /^configuration: WEBHOOKS_FILE .*entry 1 \(x\): url: must be http or https/,
      );
      await restart({});
      s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    } finally {
      await second.close();
    }
  });
});
