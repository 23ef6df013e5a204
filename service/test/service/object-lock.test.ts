import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  S3ServiceException,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';
import { signedFetch } from '../support/signed-fetch.js';

/**
 * Object lock as a compliance archive relies on it: a version under COMPLIANCE retention or legal hold
 * survives every path that can remove data, whoever asks, also after a restart.
 */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

const DAY = 24 * 3600 * 1000;
const inDays = (n: number) => new Date(Date.now() + n * DAY);

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'vault', ObjectLockEnabledForBucket: true }));
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (err instanceof S3ServiceException) return `${err.name}: ${err.message}`;
    throw err;
  }
}

const read = async (VersionId: string, Key: string) =>
  (await s3
    .send(new GetObjectCommand({ Bucket: 'vault', Key, VersionId }))
    .then((o) => o.Body!.transformToString())) as string;

describe('object lock configuration', () => {
  it('creates a lock-enabled bucket with versioning on, which cannot be suspended', async () => {
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vault' }))).Status).toBe('Enabled');
    const conf = await s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'vault' }));
    expect(conf.ObjectLockConfiguration?.ObjectLockEnabled).toBe('Enabled');
    expect(
      await outcome(
        s3.send(
          new PutBucketVersioningCommand({
            Bucket: 'vault',
            VersioningConfiguration: { Status: 'Suspended' },
          }),
        ),
      ),
    ).toMatchObject({ code: 'InvalidBucketState', status: 409 });
  });

  it('refuses lock settings on a bucket without object lock, and a retention date in the past', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'unlocked' }));
    const put = await outcome(
      s3.send(
        new PutObjectCommand({
          Bucket: 'unlocked',
          Key: 'k',
          Body: 'x',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: inDays(1),
        }),
      ),
    );
    expect(put).toMatchObject({ code: 'InvalidRequest', status: 400 });
    expect(
      await outcome(s3.send(new GetObjectLockConfigurationCommand({ Bucket: 'unlocked' }))),
    ).toMatchObject({
      code: 'ObjectLockConfigurationNotFoundError',
    });
    const past = await outcome(
      s3.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'k',
          Body: 'x',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: new Date(Date.now() - 1000),
        }),
      ),
    );
    expect(past).toMatchObject({ code: 'InvalidArgument' });
  });

  it('wants an integrity digest on lock changes, as AWS does', async () => {
    const bare = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/vault/anything?legal-hold',
      body: '<LegalHold><Status>ON</Status></LegalHold>',
    });
    expect(bare.status).toBe(400);
    expect(bare.text).toContain('Content-MD5');
  });

  it('applies the default retention to versions written without their own', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'vault-default', ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'vault-default',
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } },
        },
      }),
    );
    const { VersionId } = await s3.send(
      new PutObjectCommand({ Bucket: 'vault-default', Key: 'd', Body: 'd' }),
    );
    const r = await s3.send(new GetObjectRetentionCommand({ Bucket: 'vault-default', Key: 'd', VersionId }));
    expect(r.Retention?.Mode).toBe('GOVERNANCE');
    const days = (r.Retention!.RetainUntilDate!.getTime() - Date.now()) / DAY;
    expect(days).toBeGreaterThan(1.99);
    expect(days).toBeLessThan(2.01);
  });
});

describe('nobody can delete or weaken a COMPLIANCE-locked or legal-held version', () => {
  let compliance: string;
  let held: string;
  let governance: string;

  beforeAll(async () => {
    compliance = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'ledger.csv',
          Body: 'ledger v1',
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: inDays(30),
        }),
      )
    ).VersionId!;
    held = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'evidence.pdf',
          Body: 'evidence',
          ObjectLockLegalHoldStatus: 'ON',
        }),
      )
    ).VersionId!;
    governance = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'draft.txt',
          Body: 'draft',
          ObjectLockMode: 'GOVERNANCE',
          ObjectLockRetainUntilDate: inDays(30),
        }),
      )
    ).VersionId!;
  });

  it('reports the lock on HEAD and through the retention and legal-hold calls', async () => {
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'vault', Key: 'ledger.csv' }));
    expect(head.ObjectLockMode).toBe('COMPLIANCE');
    expect(head.ObjectLockLegalHoldStatus).toBe('OFF');
    const r = await s3.send(
      new GetObjectRetentionCommand({ Bucket: 'vault', Key: 'ledger.csv', VersionId: compliance }),
    );
    expect(r.Retention?.Mode).toBe('COMPLIANCE');
    const h = await s3.send(new GetObjectLegalHoldCommand({ Bucket: 'vault', Key: 'evidence.pdf' }));
    expect(h.LegalHold?.Status).toBe('ON');
  });

  it('refuses DeleteObject of the version, with or without the governance bypass, saying why', async () => {
    for (const BypassGovernanceRetention of [undefined, true]) {
      const r = await reason(
        s3.send(
          new DeleteObjectCommand({
            Bucket: 'vault',
            Key: 'ledger.csv',
            VersionId: compliance,
            BypassGovernanceRetention,
          }),
        ),
      );
      expect(r).toMatch(/^AccessDenied: .*COMPLIANCE retention until \d{4}-/);
      const h = await reason(
        s3.send(
          new DeleteObjectCommand({
            Bucket: 'vault',
            Key: 'evidence.pdf',
            VersionId: held,
            BypassGovernanceRetention,
          }),
        ),
      );
      expect(h).toMatch(/^AccessDenied: .*legal hold/);
    }
  });

  it('refuses the versions in DeleteObjects one by one, deleting the rest', async () => {
    const free = (await s3.send(new PutObjectCommand({ Bucket: 'vault', Key: 'free.txt', Body: 'f' })))
      .VersionId!;
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'vault',
        BypassGovernanceRetention: true,
        Delete: {
          Objects: [
            { Key: 'ledger.csv', VersionId: compliance },
            { Key: 'evidence.pdf', VersionId: held },
            { Key: 'free.txt', VersionId: free },
          ],
        },
      }),
    );
    expect(out.Errors?.map((e) => [e.Key, e.Code])).toEqual([
      ['ledger.csv', 'AccessDenied'],
      ['evidence.pdf', 'AccessDenied'],
    ]);
    expect(out.Deleted?.map((d) => d.Key)).toEqual(['free.txt']);
  });

  it('refuses to shorten COMPLIANCE retention or weaken it to GOVERNANCE, but lets it be extended', async () => {
    const put = (Mode: 'COMPLIANCE' | 'GOVERNANCE', RetainUntilDate: Date) =>
      reason(
        s3.send(
          new PutObjectRetentionCommand({
            Bucket: 'vault',
            Key: 'ledger.csv',
            VersionId: compliance,
            BypassGovernanceRetention: true,
            Retention: { Mode, RetainUntilDate },
          }),
        ),
      );
    expect(await put('COMPLIANCE', inDays(1))).toMatch(/^AccessDenied: .*can only be extended/);
    expect(await put('GOVERNANCE', inDays(60))).toMatch(/^AccessDenied/);
    expect(await put('COMPLIANCE', inDays(60))).toBe('OK');
  });

  it('lets a plain delete add a delete marker, while the locked data stays readable by version', async () => {
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'ledger.csv' }));
    expect(del.DeleteMarker).toBe(true);
    expect(await read(compliance, 'ledger.csv')).toBe('ledger v1');
  });

  it('keeps GOVERNANCE versions from deletion unless the bypass is asked for', async () => {
    expect(
      await reason(
        s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'draft.txt', VersionId: governance })),
      ),
    ).toMatch(/^AccessDenied: .*GOVERNANCE retention/);
    expect(
      await reason(
        s3.send(
          new DeleteObjectCommand({
            Bucket: 'vault',
            Key: 'draft.txt',
            VersionId: governance,
            BypassGovernanceRetention: true,
          }),
        ),
      ),
    ).toBe('OK');
  });

  it('releases a legal hold only when it is lifted', async () => {
    const v = (
      await s3.send(
        new PutObjectCommand({
          Bucket: 'vault',
          Key: 'held-briefly',
          Body: 'h',
          ObjectLockLegalHoldStatus: 'ON',
        }),
      )
    ).VersionId!;
    expect(
      await reason(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'held-briefly', VersionId: v }))),
    ).toMatch(/^AccessDenied/);
    await s3.send(
      new PutObjectLegalHoldCommand({
        Bucket: 'vault',
        Key: 'held-briefly',
        VersionId: v,
        LegalHold: { Status: 'OFF' },
      }),
    );
    expect(
      await reason(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'held-briefly', VersionId: v }))),
    ).toBe('OK');
  });

  it('survives the management API: object deletion (a delete marker), bucket deletion and credential deletion are refused or harmless', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    expect((await api('DELETE', '/buckets/vault/objects/evidence.pdf')).status).toBe(200);
    expect((await api('DELETE', '/buckets/vault')).status).toBe(409);
    expect(await outcome(s3.send(new DeleteBucketCommand({ Bucket: 'vault' })))).toMatchObject({
      code: 'BucketNotEmpty',
    });
    const creds = (await api('GET', '/credentials')).body.credentials as Array<{
      id: number;
      access_key: string;
    }>;
    const owner = creds.find((c) => c.access_key === env.creds[0]!.accessKeyId)!;
    expect((await api('DELETE', `/credentials/${owner.id}`)).status).toBe(409);
    // Deleting the version itself through the management API is refused, saying why.
    const refused = await api('DELETE', `/buckets/vault/versions/ledger.csv?version_id=${compliance}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error: 'AccessDenied',
      message: expect.stringMatching(/COMPLIANCE retention until/),
    });
    const held403 = await api('DELETE', `/buckets/vault/versions/evidence.pdf?version_id=${held}`);
    expect(held403.body.message).toMatch(/legal hold/);
    const listed = await api('GET', '/buckets/vault/versions/ledger.csv');
    expect(listed.body.versions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          version_id: compliance,
          retention: expect.objectContaining({ mode: 'COMPLIANCE' }),
        }),
      ]),
    );
    const summary = await api('GET', '/buckets/vault');
    expect(summary.body).toMatchObject({ versioning: 'Enabled', object_lock: { default_retention: null } });
    expect(await read(held, 'evidence.pdf')).toBe('evidence');
    expect(await read(compliance, 'ledger.csv')).toBe('ledger v1');
  });

  it('keeps a locked multipart version whole when an abort races its Complete', async () => {
    const part = Buffer.alloc(5 * 1024 * 1024, 9);
    for (let attempt = 0; attempt < 3; attempt++) {
      const Key = `race-${attempt}`;
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: 'vault',
          Key,
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: inDays(1),
        }),
      );
      const parts = [];
      for (const PartNumber of [1, 2])
        parts.push({
          PartNumber,
          ETag: (
            await s3.send(new UploadPartCommand({ Bucket: 'vault', Key, UploadId, PartNumber, Body: part }))
          ).ETag,
        });
      const [complete] = await Promise.all([
        outcome(
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: 'vault',
              Key,
              UploadId,
              MultipartUpload: { Parts: parts },
            }),
          ),
        ),
        outcome(s3.send(new AbortMultipartUploadCommand({ Bucket: 'vault', Key, UploadId }))),
      ]);
      await gw.gateway.collector.runOnce(0);
      if (complete.code !== 'OK') continue; // the abort won: there is no version to protect
      const got = await s3.send(new GetObjectCommand({ Bucket: 'vault', Key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).length).toBe(2 * part.length);
      expect(
        await reason(s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key, VersionId: got.VersionId }))),
      ).toMatch(/^AccessDenied/);
    }
  });

  it('survives the collector and a restart, after which deletion is still refused', async () => {
    await gw.gateway.collector.runOnce(0);
    await gw.close();
    gw = await startGateway(env.env);
    s3.destroy();
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    expect(await read(compliance, 'ledger.csv')).toBe('ledger v1');
    expect(await read(held, 'evidence.pdf')).toBe('evidence');
    expect(
      await reason(
        s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'ledger.csv', VersionId: compliance })),
      ),
    ).toMatch(/^AccessDenied/);
    expect(
      await reason(
        s3.send(new DeleteObjectCommand({ Bucket: 'vault', Key: 'evidence.pdf', VersionId: held })),
      ),
    ).toMatch(/^AccessDenied/);
  });
});
