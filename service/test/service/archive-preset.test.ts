import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  createTestEnv,
  makeArchive,
  startGateway,
  type RunningGateway,
  type TestCredential,
  type TestEnv,
} from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';

/**
 * The compliance-archive preset as the gateway applies it: archive buckets locked by default, an ingest
 * key that only adds, a reader key that only reads, nobody (owner, admin) able to loosen the bucket, and
 * every start bringing the bucket back to what the preset says.
 */
let env: TestEnv;
let gw: RunningGateway;
let sql: pg.Client;
let ingest: TestCredential;
let reader: TestCredential;
const PRESET = {
  ARCHIVE_BUCKETS: 'records,ledgers',
  ARCHIVE_RETENTION_MODE: 'COMPLIANCE',
  ARCHIVE_RETENTION_DAYS: '30',
  AUDIT_RETENTION_DAYS: '400',
};

beforeAll(async () => {
  env = await createTestEnv();
  ({ ingest, reader } = await makeArchive(
    env,
    { ingest: 'AKIAARCHIVEINGEST01', reader: 'AKIAARCHIVEREADER01' },
    PRESET,
  ));
  gw = await startGateway(env.env);
  sql = new pg.Client(env.pg.url);
  await sql.connect();
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await gw?.close();
  await env?.stop();
});

const s3 = (cred: { accessKeyId: string; secretAccessKey: string }) => pathStyleClient(gw.endpoint, cred);

describe('configuration', () => {
  it.each([
    [{ SIGV2_ENABLED: 'true' }, /SIGV2_ENABLED must be false/],
    [{ ENFORCE_PAYLOAD_VERIFICATION: 'false' }, /ENFORCE_PAYLOAD_VERIFICATION must be true/],
    [
      { AUDIT_RETENTION_DAYS: '29' },
      /AUDIT_RETENTION_DAYS \(29\) must be at least ARCHIVE_RETENTION_DAYS \(30\)/,
    ],
    [{ ARCHIVE_BUCKETS: 'Bad_Name' }, /ARCHIVE_BUCKETS bucket 'Bad_Name' may contain only/],
    [{ ARCHIVE_RETENTION_MODE: 'LOOSE' }, /ARCHIVE_RETENTION_MODE must be one of COMPLIANCE, GOVERNANCE/],
    [{ ARCHIVE_CREDENTIALS_FILE: '' }, /ARCHIVE_CREDENTIALS_FILE is not set/],
    [{ PRESET: 'none' }, /ARCHIVE_BUCKETS is set, but PRESET is not compliance-archive/],
  ])('refuses %o in one line', async (change, message) => {
    await expect(loadConfig({ ...env.env, ...change })).rejects.toThrow(message);
  });
});

describe('the archive buckets', () => {
  it('are versioned, locked with the default retention, ACL-less and blocked from the public', async () => {
    const { rows } = await sql.query(
      `SELECT b.name, b.versioning, b.object_lock, b.ownership, b.public_access_block, u.name AS owner
         FROM buckets b JOIN users u ON u.canonical_id = b.owner ORDER BY b.name`,
    );
    expect(rows).toEqual(
      ['ledgers', 'records'].map((name) => ({
        name,
        versioning: 'Enabled',
        object_lock: { rule: { mode: 'COMPLIANCE', days: 30 } },
        ownership: 'BucketOwnerEnforced',
        public_access_block: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
        owner: 'archive-owner',
      })),
    );
    const lock = await s3(reader).send(new GetObjectLockConfigurationCommand({ Bucket: 'records' }));
    expect(lock.ObjectLockConfiguration?.Rule?.DefaultRetention).toEqual({ Mode: 'COMPLIANCE', Days: 30 });
  });

  it('take new objects from the ingest key, each locked, and never an overwrite or a delete', async () => {
    const put = await s3(ingest).send(new PutObjectCommand({ Bucket: 'records', Key: 'r1', Body: 'first' }));
    const head = await s3(reader).send(new HeadObjectCommand({ Bucket: 'records', Key: 'r1' }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    const days = (head.ObjectLockRetainUntilDate!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect(
      await outcome(s3(ingest).send(new PutObjectCommand({ Bucket: 'records', Key: 'r1', Body: 'second' }))),
    ).toMatchObject({ code: 'AccessDenied', message: expect.stringMatching(/only create new objects/) });
    expect(
      await outcome(s3(ingest).send(new DeleteObjectCommand({ Bucket: 'records', Key: 'r1' }))),
    ).toMatchObject({ code: 'AccessDenied' });
    const del = new DeleteObjectCommand({ Bucket: 'records', Key: 'r1', VersionId: put.VersionId });
    expect(await outcome(s3(ingest).send(del))).toMatchObject({ code: 'AccessDenied' });
    const body = await s3(reader).send(new GetObjectCommand({ Bucket: 'records', Key: 'r1' }));
    expect(await body.Body!.transformToString()).toBe('first');
  });

  it('are only read by the reader key, and closed to every other key', async () => {
    expect(
      await outcome(s3(reader).send(new PutObjectCommand({ Bucket: 'records', Key: 'r2', Body: 'x' }))),
    ).toMatchObject({ code: 'AccessDenied' });
    expect(
      await outcome(s3(reader).send(new DeleteObjectCommand({ Bucket: 'records', Key: 'r1' }))),
    ).toMatchObject({ code: 'AccessDenied' });
    expect(
      await outcome(s3(env.creds[0]!).send(new ListObjectVersionsCommand({ Bucket: 'records' }))),
    ).toMatchObject({ code: 'AccessDenied' });
  });

  it('cannot be loosened or deleted by an admin, through S3 or the management API', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const empty = await api('DELETE', '/buckets/ledgers');
    expect(empty.status).toBe(403);
    expect(empty.body.message).toMatch(/compliance-archive preset: s3:DeleteBucket is denied to everyone/);
    const users = (await api('GET', '/users')).body.users as Array<{ id: number; name: string }>;
    const other = users.find((u) => u.name !== 'archive-owner' && !u.name.startsWith('archive-'))!;
    expect(
      (await api('PUT', '/buckets/records/grants', { user_id: other.id, access: 'read-write' })).status,
    ).toBe(403);
    const { rows } = await sql.query(
      `SELECT v.version_id FROM objects v JOIN buckets b ON b.id = v.bucket_id WHERE b.name = 'records' AND v.key = 'r1'`,
    );
    const version = await api('DELETE', `/buckets/records/versions/r1?version_id=${rows[0].version_id}`);
    expect(version.status).toBe(403);
    // Not even hidden: a delete marker would take the object out of every plain listing.
    const hide = await api('POST', '/buckets/records/delete', { keys: ['r1'] });
    expect([hide.status, hide.body.message]).toEqual([
      403,
      'Bucket records is kept by the compliance-archive preset: s3:DeleteObject is denied to everyone.',
    ]);
    expect((await api('DELETE', '/buckets/records/objects/r1')).status).toBe(403);
    expect(await sql.query(`SELECT 1 FROM objects WHERE key = 'r1'`)).toMatchObject({ rowCount: 1 });
    // S3 shows the same refusals to whoever asks, before looking at who owns the bucket.
    for (const command of [
      new DeleteBucketCommand({ Bucket: 'ledgers' }),
      new DeletePublicAccessBlockCommand({ Bucket: 'records' }),
      new PutBucketPolicyCommand({ Bucket: 'records', Policy: '{"Version":"2012-10-17","Statement":[]}' }),
      new PutObjectLockConfigurationCommand({
        Bucket: 'records',
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' },
      }),
    ])
      expect(await outcome(s3(reader).send(command as never))).toMatchObject({ code: 'AccessDenied' });
    expect(
      await outcome(
        s3(ingest).send(
          new PutObjectRetentionCommand({
            Bucket: 'records',
            Key: 'r1',
            Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(Date.now() + 86_400_000) },
          }),
        ),
      ),
    ).toMatchObject({ code: 'AccessDenied' });
  });

  it('are brought back to the preset at the next start, and a weaker preset does not start', async () => {
    await sql.query(
      `UPDATE buckets SET public_access_block = NULL, ownership = 'ObjectWriter',
              object_lock = '{"rule":{"mode":"COMPLIANCE","days":7}}' WHERE name = 'ledgers'`,
    );
    await sql.query(
      `DELETE FROM bucket_grants WHERE bucket_id = (SELECT id FROM buckets WHERE name = 'ledgers')`,
    );
    await gw.close();
    gw = await startGateway(env.env);
    const { rows } = await sql.query(
      `SELECT object_lock, ownership, public_access_block IS NOT NULL AS blocked,
              (SELECT count(*) FROM bucket_grants g WHERE g.bucket_id = b.id)::int AS grants
         FROM buckets b WHERE name = 'ledgers'`,
    );
    expect(rows[0]).toEqual({
      object_lock: { rule: { mode: 'COMPLIANCE', days: 30 } },
      ownership: 'BucketOwnerEnforced',
      blocked: true,
      grants: 2,
    });
    const audit = await sql.query(
      `SELECT operation FROM audit_log WHERE principal = 'preset' AND bucket = 'ledgers' ORDER BY seq`,
    );
    expect(audit.rows.map((r) => r.operation)).toEqual(
      expect.arrayContaining(['Preset:CreateBucket', 'Preset:PutPublicAccessBlock', 'Preset:PutGrant']),
    );
    await gw.close();
    const weaker = { ...env.env, ARCHIVE_RETENTION_DAYS: '10' };
    await expect(startGateway(weaker)).rejects.toThrow(
      /bucket records keeps 30 days of default retention, and ARCHIVE_RETENTION_DAYS asks 10: an archive is never weakened/,
    );
    await expect(startGateway({ ...env.env, ARCHIVE_RETENTION_MODE: 'GOVERNANCE' })).rejects.toThrow(
      /keeps COMPLIANCE retention/,
    );
    gw = await startGateway(env.env);
  });
});
