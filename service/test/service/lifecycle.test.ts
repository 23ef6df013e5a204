import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';
import { signedFetch } from '../support/signed-fetch.js';

/**
 * Lifecycle rules applied by the gateway's worker, with a "day" shortened to one second
 * (LIFECYCLE_DAY_SECONDS=1) so rules act within the test. Passes are run through the worker itself.
 */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv({ LIFECYCLE_DAY_SECONDS: '1', LIFECYCLE_INTERVAL_SECONDS: '0' });
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rules = (Bucket: string, Rules: LifecycleRule[]) =>
  s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
const keys = async (Bucket: string) =>
  ((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents ?? []).map((o) => o.Key);

describe('lifecycle configuration', () => {
  it('stores, returns and deletes a configuration', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-config' }));
    expect(
      await outcome(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-config' }))),
    ).toMatchObject({
      code: 'NoSuchLifecycleConfiguration',
      status: 404,
    });
    const config: LifecycleRule[] = [
      { ID: 'logs', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 30 } },
      {
        ID: 'old',
        Status: 'Disabled',
        Filter: { And: { Prefix: 'a/', Tags: [{ Key: 'k', Value: 'v' }], ObjectSizeGreaterThan: 10 } },
        NoncurrentVersionExpiration: { NoncurrentDays: 7, NewerNoncurrentVersions: 2 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
      },
    ];
    await rules('lc-config', config);
    const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-config' }));
    expect(got.Rules).toEqual(config);
    await s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'lc-config' }));
    expect(
      await outcome(s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'lc-config' }))),
    ).toMatchObject({
      code: 'NoSuchLifecycleConfiguration',
    });
  });

  it('refuses transitions (one storage class) and rules without an action', async () => {
    const transition = await outcome(
      rules('lc-config', [
        {
          ID: 't',
          Status: 'Enabled',
          Filter: { Prefix: '' },
          Transitions: [{ Days: 30, StorageClass: 'GLACIER' }],
        },
      ]),
    );
    expect(transition).toMatchObject({ code: 'InvalidRequest', status: 400 });
    const empty = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/lc-config?lifecycle',
      headers: { 'content-md5': 'x' },
      body: '<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status></Rule></LifecycleConfiguration>',
    });
    expect(empty.status).toBe(400);
  });
});

describe('the lifecycle worker', () => {
  it('expires current objects a rule selects by prefix and tag, and announces it in x-amz-expiration', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-expire' }));
    await rules('lc-expire', [
      { ID: 'logs-2d', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 2 } },
      {
        ID: 'tmp-tag',
        Status: 'Enabled',
        Filter: { Tag: { Key: 'tmp', Value: 'yes' } },
        Expiration: { Days: 2 },
      },
    ]);
    const put = await s3.send(new PutObjectCommand({ Bucket: 'lc-expire', Key: 'logs/a', Body: 'a' }));
    expect(put.Expiration).toMatch(/^expiry-date=".+ GMT", rule-id="logs-2d"$/);
    await s3.send(new PutObjectCommand({ Bucket: 'lc-expire', Key: 'keep/b', Body: 'b' }));
    await s3.send(
      new PutObjectCommand({ Bucket: 'lc-expire', Key: 'keep/t', Body: 't', Tagging: 'tmp=yes' }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'lc-expire', Key: 'keep/t' }));
    expect(head.Expiration).toContain('rule-id="tmp-tag"');
    expect(
      (await s3.send(new HeadObjectCommand({ Bucket: 'lc-expire', Key: 'keep/b' }))).Expiration,
    ).toBeUndefined();
    // Not yet two "days" old: nothing goes.
    expect((await gw.gateway.lifecycle.runOnce())?.expired).toBe(0);
    await sleep(2200);
    expect((await gw.gateway.lifecycle.runOnce())?.expired).toBe(2);
    expect(await keys('lc-expire')).toEqual(['keep/b']);
  });

  it('expires noncurrent versions but the newest NewerNoncurrentVersions, then a delete marker left alone', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-versions' }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'lc-versions',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    const ids: string[] = [];
    for (const body of ['1', '2', '3'])
      ids.push(
        (await s3.send(new PutObjectCommand({ Bucket: 'lc-versions', Key: 'k', Body: body }))).VersionId!,
      );
    await rules('lc-versions', [
      {
        ID: 'noncurrent',
        Status: 'Enabled',
        Filter: {},
        NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 1 },
      },
    ]);
    await sleep(1200);
    expect((await gw.gateway.lifecycle.runOnce())?.noncurrentDeleted).toBe(1);
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'lc-versions' }));
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([ids[2], ids[1]]);
    // A lone delete marker goes once nothing is left behind it.
    await rules('lc-versions', [
      { ID: 'all', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { ID: 'markers', Status: 'Enabled', Filter: {}, Expiration: { ExpiredObjectDeleteMarker: true } },
    ]);
    await s3.send(new DeleteObjectCommand({ Bucket: 'lc-versions', Key: 'k' }));
    await sleep(1200);
    const first = await gw.gateway.lifecycle.runOnce();
    expect(first?.noncurrentDeleted).toBe(2);
    const second = await gw.gateway.lifecycle.runOnce();
    expect((first?.markersRemoved ?? 0) + (second?.markersRemoved ?? 0)).toBe(1);
    const after = await s3.send(new ListObjectVersionsCommand({ Bucket: 'lc-versions' }));
    expect([after.Versions ?? [], after.DeleteMarkers ?? []]).toEqual([[], []]);
  });

  it('aborts incomplete multipart uploads older than the rule allows', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-uploads' }));
    await rules('lc-uploads', [
      {
        ID: 'abort',
        Status: 'Enabled',
        Filter: { Prefix: '' },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'lc-uploads', Key: 'big' }));
    await sleep(1200);
    expect((await gw.gateway.lifecycle.runOnce())?.uploadsAborted).toBe(1);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: 'lc-uploads' }))).Uploads ?? []).toEqual(
      [],
    );
    // The global MULTIPART_EXPIRY_HOURS cutoff (the collector's) leaves a bucket with its own rule alone.
    await rules('lc-uploads', [
      {
        ID: 'abort',
        Status: 'Enabled',
        Filter: {},
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1000 },
      },
    ]);
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-no-rule' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'lc-uploads', Key: 'kept' }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'lc-no-rule', Key: 'gone' }));
    expect(await gw.gateway.multipart.abortStale(new Date(Date.now() + 60_000))).toBe(1);
    const left = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'lc-uploads' }));
    expect(left.Uploads?.map((u) => u.Key)).toEqual(['kept']);
  });

  it('never removes a locked version: expiration only hides it behind a marker, noncurrent expiration keeps it', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'lc-locked', ObjectLockEnabledForBucket: true }));
    const locked = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'lc-locked',
          Key: 'record',
          Body: 'record',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
        }),
      )
    ).VersionId!;
    await rules('lc-locked', [
      { ID: 'expire', Status: 'Enabled', Filter: {}, Expiration: { Days: 1 } },
      { ID: 'noncurrent', Status: 'Enabled', Filter: {}, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
    ]);
    await sleep(1200);
    // Expiration in a versioned bucket adds a delete marker: the record disappears from listings only.
    expect((await gw.gateway.lifecycle.runOnce())?.expired).toBe(1);
    expect(await keys('lc-locked')).toEqual([]);
    await sleep(1200);
    const report = await gw.gateway.lifecycle.runOnce();
    expect(report?.keptLocked).toBeGreaterThan(0);
    const got = await s3.send(
      new GetObjectCommand({ Bucket: 'lc-locked', Key: 'record', VersionId: locked }),
    );
    expect(await got.Body!.transformToString()).toBe('record');
    // Both on the audit trail, under the rule's name: the marker it added, and the removal refused.
    const sql = new pg.Client(env.pg.url);
    await sql.connect();
    try {
      for (let i = 0; i < 40; i++) {
        const { rowCount } = await sql.query("SELECT 1 FROM audit_log WHERE result LIKE '403%'");
        if (rowCount) break;
        await sleep(50);
      }
      const { rows } = await sql.query(
        "SELECT operation, key, version_id, result, request_id FROM audit_log WHERE principal = 'lifecycle' AND bucket = 'lc-locked' ORDER BY seq",
      );
      expect(rows).toContainEqual({
        operation: 'Lifecycle:expired',
        key: 'record',
        version_id: expect.any(String),
        result: 'committed',
        request_id: 'expire',
      });
      expect(rows).toContainEqual({
        operation: 'Lifecycle:noncurrentDeleted',
        key: 'record',
        version_id: locked,
        result: '403 AccessDenied',
        request_id: 'noncurrent',
      });
    } finally {
      await sql.end();
    }
  });

  it('never removes a legal-held version either', async () => {
    const held = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'lc-locked',
          Key: 'exhibit',
          Body: 'exhibit',
          ObjectLockLegalHoldStatus: 'ON',
        }),
      )
    ).VersionId!;
    await sleep(1200);
    await gw.gateway.lifecycle.runOnce();
    await sleep(1200);
    expect((await gw.gateway.lifecycle.runOnce())?.keptLocked).toBeGreaterThan(0);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'lc-locked', Key: 'exhibit', VersionId: held }));
    expect(await got.Body!.transformToString()).toBe('exhibit');
  });

  it('runs on one gateway at a time: a pass finds the lock taken and does nothing', async () => {
    const holder = new pg.Client({ connectionString: env.pg.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [0x4c696665]);
      expect(await gw.gateway.lifecycle.runOnce()).toBeUndefined();
    } finally {
      await holder.end();
    }
    expect(await gw.gateway.lifecycle.runOnce()).toBeDefined();
  });
});
