import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListObjectsV2Command,
  ListBucketsCommand,
  PutBucketPolicyCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_LOCKS } from '../../src/db/exclusive.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';

/**
 * Two gateway processes on one database, as a scaled-out deployment runs them: what an admin changes
 * through one must hold on the other within a second (credentials, bucket ownership), not only on the
 * process that made the change.
 */
let env: TestEnv;
let a: RunningGateway;
let b: RunningGateway;

beforeAll(async () => {
  env = await createTestEnv();
  a = await startGateway(env.env);
  b = await startGateway(env.env);
}, 120_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await env?.stop();
});

/** Polls `probe` until it returns `want`, for at most `ms`; returns what it last saw. */
async function within<T>(ms: number, want: T, probe: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  let seen = await probe();
  while (seen !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    seen = await probe();
  }
  return seen;
}

/** The S3 error code a call ends with, or OK. */
const codeOf = async (call: () => Promise<unknown>) => (await outcome(call())).code;

describe('two gateways on one database', () => {
  it('refuses a credential on gateway B within a second of an admin disabling it through gateway A', async () => {
    const api = managementClient(a.endpoint, { key: env.admin.apiKey });
    const created = await api('POST', '/credentials', { user_name: 'roaming' });
    expect(created.status).toBe(201);
    const cred = {
      accessKeyId: String(created.body.access_key),
      secretAccessKey: String(created.body.secret_key),
    };
    const onB = pathStyleClient(b.endpoint, cred);
    // Issued through A, usable on B.
    expect(await within(1000, 'OK', () => codeOf(() => onB.send(new ListBucketsCommand({}))))).toBe('OK');
    expect((await api('PATCH', `/credentials/${created.body.id}`, { is_active: false })).status).toBe(200);
    expect(
      await within(1000, 'InvalidAccessKeyId', () => codeOf(() => onB.send(new ListBucketsCommand({})))),
    ).toBe('InvalidAccessKeyId');
    expect((await api('PATCH', `/credentials/${created.body.id}`, { is_active: true })).status).toBe(200);
    expect(await within(1000, 'OK', () => codeOf(() => onB.send(new ListBucketsCommand({}))))).toBe('OK');
  });

  it('sees on gateway B, within a second, a bucket deleted and re-created by someone else through A', async () => {
    const [first, second] = env.creds;
    const firstOnA = pathStyleClient(a.endpoint, first!);
    const firstOnB = pathStyleClient(b.endpoint, first!);
    const secondOnA = pathStyleClient(a.endpoint, second!);
    await firstOnA.send(new CreateBucketCommand({ Bucket: 'handed-over' }));
    // B has now resolved (and may cache) the bucket as the first credential's.
    expect(
      await within(1000, 'OK', () =>
        codeOf(() => firstOnB.send(new ListObjectsV2Command({ Bucket: 'handed-over' }))),
      ),
    ).toBe('OK');
    await firstOnA.send(new DeleteBucketCommand({ Bucket: 'handed-over' }));
    await secondOnA.send(new CreateBucketCommand({ Bucket: 'handed-over' }));
    expect(
      await within(1000, 'AccessDenied', () =>
        codeOf(() => firstOnB.send(new ListObjectsV2Command({ Bucket: 'handed-over' }))),
      ),
    ).toBe('AccessDenied');
  });

  it('stops a revoked grant on gateway B at the next request, and a new bucket policy too', async () => {
    const api = managementClient(a.endpoint, { key: env.admin.apiKey });
    const owner = pathStyleClient(a.endpoint, env.creds[0]!);
    await owner.send(new CreateBucketCommand({ Bucket: 'granted' }));
    const user = await api('POST', '/users', { name: 'visitor' });
    const key = await api('POST', `/users/${user.body.id}/keys`, {});
    const visitorOnB = pathStyleClient(b.endpoint, {
      accessKeyId: String(key.body.access_key),
      secretAccessKey: String(key.body.secret_key),
    });
    const list = () => codeOf(() => visitorOnB.send(new ListObjectsV2Command({ Bucket: 'granted' })));
    expect(await within(1000, 'AccessDenied', list)).toBe('AccessDenied');
    const granted = await api('PUT', '/buckets/granted/grants', { user_id: user.body.id, access: 'read' });
    expect(await within(1000, 'OK', list)).toBe('OK');
    const id = (granted.body.grants as Array<{ id: number }>)[0]!.id;
    expect((await api('DELETE', `/buckets/granted/grants/${id}`)).status).toBe(200);
    expect(await within(1000, 'AccessDenied', list)).toBe('AccessDenied');
    // A bucket policy put through A is obeyed by B as well.
    await owner.send(
      new PutBucketPolicyCommand({
        Bucket: 'granted',
        Policy: JSON.stringify({
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::000000000000:user/visitor' },
              Action: 's3:ListBucket',
              Resource: 'arn:aws:s3:::granted',
            },
          ],
        }),
      }),
    );
    expect(await within(1000, 'OK', list)).toBe('OK');
  });

  it('runs the collector and lifecycle passes on one gateway at a time', async () => {
    // Another gateway (or worker process) in the middle of its pass holds the job's lock.
    const other = new pg.Client({ connectionString: env.pg.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1), pg_advisory_lock($2)', [
        JOB_LOCKS.collector,
        JOB_LOCKS.lifecycle,
      ]);
      expect(await a.gateway.collector.runOnce()).toBeUndefined();
      expect(await b.gateway.lifecycle.runOnce()).toBeUndefined();
      await other.query('SELECT pg_advisory_unlock_all()');
      expect(await a.gateway.collector.runOnce()).toMatchObject({ trash: expect.any(Number) });
      expect(await b.gateway.lifecycle.runOnce()).toMatchObject({ expired: expect.any(Number) });
    } finally {
      await other.end();
    }
  });
});
