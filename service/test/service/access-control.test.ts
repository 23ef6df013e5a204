import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS, type Endpoint } from '../../src/s3/router.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';

/**
 * Users, grants, bucket policies, ACLs and the switches over them, through the S3 API with real
 * clients, and the negative matrix: what nobody was given stays refused on every endpoint.
 */
let env: TestEnv;
let gw: RunningGateway;
let api: ReturnType<typeof managementClient>;
let owner: S3Client;
let ownerCanonical: string;

interface NewUser {
  id: number;
  canonicalId: string;
  cred: { accessKeyId: string; secretAccessKey: string };
  s3: S3Client;
}

async function newUser(name: string): Promise<NewUser> {
  const u = await api('POST', '/users', { name });
  expect(u.status).toBe(201);
  const k = await api('POST', `/users/${u.body.id}/keys`, {});
  expect(k.status).toBe(201);
  const cred = { accessKeyId: String(k.body.access_key), secretAccessKey: String(k.body.secret_key) };
  return {
    id: Number(u.body.id),
    canonicalId: String(u.body.canonical_id),
    cred,
    s3: pathStyleClient(gw.endpoint, cred),
  };
}

const codeOf = async (call: Promise<unknown>) => (await outcome(call)).code;
const body = async (s3: S3Client, Bucket: string, Key: string) =>
  (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();
const anonymous = (path: string, init: RequestInit = {}) => fetch(gw.endpoint + path, init);

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  api = managementClient(gw.endpoint, { key: env.admin.apiKey });
  owner = pathStyleClient(gw.endpoint, env.creds[0]!);
  await owner.send(new CreateBucketCommand({ Bucket: 'shared' }));
  await owner.send(new PutObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt', Body: 'q1' }));
  await owner.send(new PutObjectCommand({ Bucket: 'shared', Key: 'private/salaries.txt', Body: 'secret' }));
  const users = (await api('GET', '/users')).body.users as Array<{
    canonical_id: string;
    access_keys: Array<{ access_key: string }>;
  }>;
  ownerCanonical = users.find((u) =>
    u.access_keys.some((k) => k.access_key === env.creds[0]!.accessKeyId),
  )!.canonical_id;
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await env?.stop();
});

describe('users and keys', () => {
  it('reports the owner as a canonical id with the user name, and keeps buckets through a key rotation', async () => {
    const dana = await newUser('dana');
    await dana.s3.send(new CreateBucketCommand({ Bucket: 'dana-data' }));
    const acl = await dana.s3.send(new GetBucketAclCommand({ Bucket: 'dana-data' }));
    expect(acl.Owner).toEqual({ ID: dana.canonicalId, DisplayName: 'dana' });
    expect(dana.canonicalId).toMatch(/^[0-9a-f]{64}$/);
    // Rotate: a second key, then the first one deleted; the bucket stays the user's.
    const second = await api('POST', `/users/${dana.id}/keys`, {});
    const first = (await api('GET', `/users/${dana.id}`)).body.access_keys as Array<{
      id: number;
      access_key: string;
    }>;
    const old = first.find((k) => k.access_key === dana.cred.accessKeyId)!;
    expect((await api('DELETE', `/credentials/${old.id}`)).status).toBe(200);
    expect(await codeOf(dana.s3.send(new ListObjectsV2Command({ Bucket: 'dana-data' })))).toBe(
      'InvalidAccessKeyId',
    );
    const rotated = pathStyleClient(gw.endpoint, {
      accessKeyId: String(second.body.access_key),
      secretAccessKey: String(second.body.secret_key),
    });
    expect(await codeOf(rotated.send(new ListObjectsV2Command({ Bucket: 'dana-data' })))).toBe('OK');
    const bucket = (await api('GET', '/buckets')).body.buckets as Array<{
      name: string;
      owner: string;
      owner_user_id: number;
    }>;
    expect(bucket.find((b) => b.name === 'dana-data')).toMatchObject({
      owner: 'dana',
      owner_user_id: dana.id,
    });
  });

  it('refuses to delete a user who owns buckets unless they are handed over', async () => {
    const erin = await newUser('erin');
    await erin.s3.send(new CreateBucketCommand({ Bucket: 'erin-data' }));
    const refused = await api('DELETE', `/users/${erin.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe('UserOwnsBuckets');
  });
});

describe('grants from the management API', () => {
  let auditor: NewUser;
  let backup: NewUser;

  beforeAll(async () => {
    auditor = await newUser('auditor');
    backup = await newUser('backup-job');
  });

  it('read: the auditor reads and lists, and can neither write nor delete', async () => {
    expect(
      await codeOf(auditor.s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt' }))),
    ).toBe('AccessDenied');
    const granted = await api('PUT', '/buckets/shared/grants', { user_id: auditor.id, access: 'read' });
    expect(granted.status).toBe(200);
    expect(await body(auditor.s3, 'shared', 'reports/q1.txt')).toBe('q1');
    expect(await codeOf(auditor.s3.send(new ListObjectsV2Command({ Bucket: 'shared' })))).toBe('OK');
    expect(
      await codeOf(
        auditor.s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'reports/q2.txt', Body: 'x' })),
      ),
    ).toBe('AccessDenied');
    expect(
      await codeOf(auditor.s3.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt' }))),
    ).toBe('AccessDenied');
    expect(await body(owner, 'shared', 'reports/q1.txt')).toBe('q1');
  });

  it('write: the backup job creates new objects and can neither overwrite, delete nor read', async () => {
    await api('PUT', '/buckets/shared/grants', { user_id: backup.id, access: 'write' });
    expect(
      await codeOf(
        backup.s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'backups/1.tar', Body: 'one' })),
      ),
    ).toBe('OK');
    const overwrite = await outcome(
      backup.s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'backups/1.tar', Body: 'evil' })),
    );
    expect(overwrite.code).toBe('AccessDenied');
    expect(overwrite.message).toMatch(/only create new objects/);
    expect(
      await codeOf(
        backup.s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt', Body: 'evil' })),
      ),
    ).toBe('AccessDenied');
    expect(
      await codeOf(backup.s3.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'backups/1.tar' }))),
    ).toBe('AccessDenied');
    expect(
      await codeOf(backup.s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'backups/1.tar' }))),
    ).toBe('AccessDenied');
    expect(await codeOf(backup.s3.send(new ListObjectsV2Command({ Bucket: 'shared' })))).toBe('AccessDenied');
    expect(await body(owner, 'shared', 'backups/1.tar')).toBe('one');
    expect(await body(owner, 'shared', 'reports/q1.txt')).toBe('q1');
  });

  it('write: a multipart upload creates a new key but cannot complete over an existing one', async () => {
    const upload = async (Key: string) => {
      const { UploadId } = await backup.s3.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key }));
      const { ETag } = await backup.s3.send(
        new UploadPartCommand({ Bucket: 'shared', Key, UploadId, PartNumber: 1, Body: 'part' }),
      );
      return codeOf(
        backup.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: 'shared',
            Key,
            UploadId,
            MultipartUpload: { Parts: [{ ETag, PartNumber: 1 }] },
          }),
        ),
      );
    };
    expect(await upload('backups/2.tar')).toBe('OK');
    expect(await upload('reports/q1.txt')).toBe('AccessDenied');
    expect(await body(owner, 'shared', 'reports/q1.txt')).toBe('q1');
  });

  it('a prefix grant reaches only that prefix, listing included', async () => {
    const carol = await newUser('carol');
    await api('PUT', '/buckets/shared/grants', { user_id: carol.id, access: 'read', prefix: 'reports/' });
    expect(await body(carol.s3, 'shared', 'reports/q1.txt')).toBe('q1');
    expect(
      await codeOf(carol.s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'private/salaries.txt' }))),
    ).toBe('AccessDenied');
    expect(
      await codeOf(carol.s3.send(new ListObjectsV2Command({ Bucket: 'shared', Prefix: 'reports/' }))),
    ).toBe('OK');
    expect(await codeOf(carol.s3.send(new ListObjectsV2Command({ Bucket: 'shared' })))).toBe('AccessDenied');
    expect(
      await codeOf(carol.s3.send(new ListObjectsV2Command({ Bucket: 'shared', Prefix: 'private/' }))),
    ).toBe('AccessDenied');
  });

  it('lists the grants as policy statements would, and a revoked grant stops on the next request', async () => {
    const grants = (await api('GET', '/buckets/shared/grants')).body.grants as Array<{
      id: number;
      user_name: string;
      access: string;
    }>;
    expect(grants.map((g) => [g.user_name, g.access])).toEqual(
      expect.arrayContaining([
        ['auditor', 'read'],
        ['backup-job', 'write'],
      ]),
    );
    const id = grants.find((g) => g.user_name === 'auditor')!.id;
    expect((await api('DELETE', `/buckets/shared/grants/${id}`)).status).toBe(200);
    expect(
      await codeOf(auditor.s3.send(new GetObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt' }))),
    ).toBe('AccessDenied');
    expect((await api('DELETE', `/buckets/shared/grants/${id}`)).status).toBe(404);
  });
});

describe('bucket policies', () => {
  let frank: NewUser;
  beforeAll(async () => {
    frank = await newUser('frank');
    await owner.send(new CreateBucketCommand({ Bucket: 'policied' }));
    await owner.send(new PutObjectCommand({ Bucket: 'policied', Key: 'docs/a.txt', Body: 'a' }));
  });
  const put = (statements: object[]) =>
    outcome(
      owner.send(
        new PutBucketPolicyCommand({
          Bucket: 'policied',
          Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
        }),
      ),
    );

  it('allows a named user what the policy says, and keeps the document as it was put', async () => {
    const doc = [
      {
        Sid: 'FrankReadsDocs',
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::000000000000:user/frank' },
        Action: ['s3:GetObject'],
        Resource: 'arn:aws:s3:::policied/docs/*',
      },
    ];
    expect((await put(doc)).code).toBe('OK');
    expect(await body(frank.s3, 'policied', 'docs/a.txt')).toBe('a');
    expect(
      await codeOf(frank.s3.send(new PutObjectCommand({ Bucket: 'policied', Key: 'docs/b.txt', Body: 'b' }))),
    ).toBe('AccessDenied');
    const got = await owner.send(new GetBucketPolicyCommand({ Bucket: 'policied' }));
    expect(JSON.parse(got.Policy!).Statement).toEqual(doc);
    expect(
      (await owner.send(new GetBucketPolicyStatusCommand({ Bucket: 'policied' }))).PolicyStatus?.IsPublic,
    ).toBe(false);
  });

  it('answers MalformedPolicy naming the problem, and keeps the policy it had', async () => {
    const bad = await put([
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::1:user/nobody' },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::policied/*',
      },
    ]);
    expect(bad).toMatchObject({ code: 'MalformedPolicy', message: 'Invalid principal in policy' });
    expect(await body(frank.s3, 'policied', 'docs/a.txt')).toBe('a');
  });

  it('an explicit deny binds even the owner, who can still remove the policy', async () => {
    expect(
      (
        await put([
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:DeleteObject',
            Resource: 'arn:aws:s3:::policied/docs/*',
          },
        ])
      ).code,
    ).toBe('OK');
    expect(await codeOf(owner.send(new DeleteObjectCommand({ Bucket: 'policied', Key: 'docs/a.txt' })))).toBe(
      'AccessDenied',
    );
    expect(await codeOf(owner.send(new DeleteBucketPolicyCommand({ Bucket: 'policied' })))).toBe('OK');
    expect(await codeOf(owner.send(new GetBucketPolicyCommand({ Bucket: 'policied' })))).toBe(
      'NoSuchBucketPolicy',
    );
  });

  it('conditions: aws:SecureTransport false over plain HTTP, aws:SourceIp of the client', async () => {
    await put([
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::000000000000:user/frank' },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::policied/*',
        Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
      },
      {
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:PutObject',
        Resource: 'arn:aws:s3:::policied/*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
    expect(await body(frank.s3, 'policied', 'docs/a.txt')).toBe('a');
    expect(
      await codeOf(owner.send(new PutObjectCommand({ Bucket: 'policied', Key: 'docs/c.txt', Body: 'c' }))),
    ).toBe('AccessDenied');
    await put([
      {
        Effect: 'Allow',
        Principal: { AWS: 'arn:aws:iam::000000000000:user/frank' },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::policied/*',
        Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      },
    ]);
    expect(await codeOf(frank.s3.send(new GetObjectCommand({ Bucket: 'policied', Key: 'docs/a.txt' })))).toBe(
      'AccessDenied',
    );
    await owner.send(new DeleteBucketPolicyCommand({ Bucket: 'policied' }));
  });

  it('public access: blocked by default, served to anonymous requests once the block is lifted', async () => {
    const publicRead = [
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::policied/docs/*' },
    ];
    expect(
      (await owner.send(new GetPublicAccessBlockCommand({ Bucket: 'policied' })))
        .PublicAccessBlockConfiguration,
    ).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    expect((await put(publicRead)).code).toBe('AccessDenied');
    expect((await anonymous('/policied/docs/a.txt')).status).toBe(403);
    await owner.send(new DeletePublicAccessBlockCommand({ Bucket: 'policied' }));
    expect((await put(publicRead)).code).toBe('OK');
    expect(
      (await owner.send(new GetBucketPolicyStatusCommand({ Bucket: 'policied' }))).PolicyStatus?.IsPublic,
    ).toBe(true);
    const res = await anonymous('/policied/docs/a.txt');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('a');
    // Without s3:ListBucket an anonymous reader learns nothing of keys that do not exist (403, not 404).
    expect((await anonymous('/policied/docs/missing.txt')).status).toBe(403);
    expect(errorCode(await (await anonymous('/policied/')).text())).toBe('AccessDenied');
    expect(errorCode(await (await anonymous('/policied/docs/a.txt', { method: 'DELETE' })).text())).toBe(
      'AccessDenied',
    );
    // RestrictPublicBuckets shuts anonymous access again without touching the policy.
    await owner.send(
      new PutPublicAccessBlockCommand({
        Bucket: 'policied',
        PublicAccessBlockConfiguration: { RestrictPublicBuckets: true },
      }),
    );
    expect((await anonymous('/policied/docs/a.txt')).status).toBe(403);
    // A bucket that does not exist is NoSuchBucket to anyone, as on AWS.
    expect(errorCode(await (await anonymous('/no-such-bucket-here/x')).text())).toBe('NoSuchBucket');
  });
});

describe('ACLs', () => {
  let grace: NewUser;
  beforeAll(async () => {
    grace = await newUser('grace');
  });

  it('are refused on a bucket with ACLs disabled (the default), except the owner-only ones', async () => {
    expect(
      await codeOf(
        owner.send(new PutObjectCommand({ Bucket: 'shared', Key: 'p.txt', Body: 'p', ACL: 'public-read' })),
      ),
    ).toBe('AccessControlListNotSupported');
    expect(
      await codeOf(
        owner.send(new PutObjectCommand({ Bucket: 'shared', Key: 'p.txt', Body: 'p', ACL: 'private' })),
      ),
    ).toBe('OK');
    expect(
      await codeOf(owner.send(new CreateBucketCommand({ Bucket: 'acl-refused', ACL: 'public-read' }))),
    ).toBe('InvalidBucketAclWithObjectOwnership');
  });

  it('grant what they say once ACLs are enabled: object public-read, bucket read to a user', async () => {
    await owner.send(new CreateBucketCommand({ Bucket: 'acl-bucket', ObjectOwnership: 'ObjectWriter' }));
    await owner.send(new DeletePublicAccessBlockCommand({ Bucket: 'acl-bucket' }));
    await owner.send(
      new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'open.txt', Body: 'open', ACL: 'public-read' }),
    );
    await owner.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'closed.txt', Body: 'closed' }));
    expect((await anonymous('/acl-bucket/open.txt')).status).toBe(200);
    expect((await anonymous('/acl-bucket/closed.txt')).status).toBe(403);
    const acl = await owner.send(new GetObjectAclCommand({ Bucket: 'acl-bucket', Key: 'open.txt' }));
    expect(acl.Grants).toEqual(
      expect.arrayContaining([
        {
          Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' },
          Permission: 'READ',
        },
        {
          Grantee: { Type: 'CanonicalUser', ID: ownerCanonical, DisplayName: env.creds[0]!.accessKeyId },
          Permission: 'FULL_CONTROL',
        },
      ]),
    );
    expect(await codeOf(grace.s3.send(new ListObjectsV2Command({ Bucket: 'acl-bucket' })))).toBe(
      'AccessDenied',
    );
    await owner.send(
      new PutBucketAclCommand({ Bucket: 'acl-bucket', GrantRead: `id="${grace.canonicalId}"` }),
    );
    expect(await codeOf(grace.s3.send(new ListObjectsV2Command({ Bucket: 'acl-bucket' })))).toBe('OK');
    // Bucket READ lists; reading an object takes the object's own ACL.
    expect(
      await codeOf(grace.s3.send(new GetObjectCommand({ Bucket: 'acl-bucket', Key: 'closed.txt' }))),
    ).toBe('AccessDenied');
    await owner.send(
      new PutObjectAclCommand({
        Bucket: 'acl-bucket',
        Key: 'closed.txt',
        GrantRead: `id="${grace.canonicalId}"`,
      }),
    );
    expect(await body(grace.s3, 'acl-bucket', 'closed.txt')).toBe('closed');
    // IgnorePublicAcls closes what a public ACL opened, without changing the ACL.
    await owner.send(
      new PutPublicAccessBlockCommand({
        Bucket: 'acl-bucket',
        PublicAccessBlockConfiguration: { IgnorePublicAcls: true },
      }),
    );
    expect((await anonymous('/acl-bucket/open.txt')).status).toBe(403);
  });

  it('switching ownership to BucketOwnerEnforced is refused while the bucket ACL grants others', async () => {
    expect(
      await codeOf(
        owner.send(
          new PutBucketOwnershipControlsCommand({
            Bucket: 'acl-bucket',
            OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
          }),
        ),
      ),
    ).toBe('InvalidBucketAclWithObjectOwnership');
  });
});

/** One request per endpoint, shaped as the routing table expects it; the body never matters (refused first). */
function requestFor(
  e: Endpoint,
  bucket: string,
): { method: string; path: string; headers: Record<string, string>; body?: string } {
  const params: Record<string, string> = { versionId: 'null', uploadId: 'u', partNumber: '1' };
  const query = (e.subresources ?? []).map((s) => `${s}=${encodeURIComponent(params[s] ?? '')}`);
  if (e.name === 'ListObjectsV2') query.push('list-type=2');
  const headers: Record<string, string> = {};
  let body: string | undefined = e.method === 'PUT' || e.method === 'POST' ? '' : undefined;
  if (e.name === 'CopyObject' || e.name === 'UploadPartCopy') headers['x-amz-copy-source'] = `/${bucket}/k`;
  if (e.name === 'PostObject') {
    // A form upload without a signed policy: whoever sends it, it is anonymous.
    headers['content-type'] = 'multipart/form-data; boundary=matrix';
    body = [
      '--matrix\r\nContent-Disposition: form-data; name="key"\r\n\r\nk',
      '--matrix\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nx',
      '--matrix--\r\n',
    ].join('\r\n');
  }
  const target = e.target === 'object' ? `/${bucket}/k` : e.target === 'bucket' ? `/${bucket}` : '/';
  return { method: e.method, path: target + (query.length ? `?${query.join('&')}` : ''), headers, body };
}

describe('the negative matrix: nobody reaches a bucket they were not given', () => {
  const bucketEndpoints = ENDPOINTS.filter((e) => e.target !== 'service' && e.name !== 'CreateBucket');

  it('refuses another user every bucket and object endpoint', async () => {
    const stranger = env.creds[1]!;
    const seen: string[] = [];
    for (const e of bucketEndpoints) {
      const r = requestFor(e, 'shared');
      const res = await signedFetch(gw.endpoint, stranger, r);
      seen.push(`${e.name} ${r.method} ${r.path} -> ${res.status} ${errorCode(res.text) ?? ''}`.trim());
    }
    for (const line of seen) expect(line).toMatch(/-> 403 AccessDenied$|^Head\w+ .* -> 403$/);
  });

  it('refuses anonymous requests every bucket and object endpoint, and every account endpoint', async () => {
    for (const e of [
      ...bucketEndpoints,
      ...ENDPOINTS.filter((x) => x.target === 'service' || x.name === 'CreateBucket'),
    ]) {
      const r = requestFor(e, e.name === 'CreateBucket' ? 'anon-new' : 'shared');
      const res = await anonymous(r.path, { method: r.method, headers: r.headers, body: r.body });
      expect(`${e.name} ${res.status}`).toBe(`${e.name} 403`);
    }
  });

  it('is refused to a user with a grant on another bucket', async () => {
    const henry = await newUser('henry');
    await api('PUT', '/buckets/acl-bucket/grants', { user_id: henry.id, access: 'read-write' });
    const head = await outcome(
      henry.s3.send(new HeadObjectCommand({ Bucket: 'shared', Key: 'reports/q1.txt' })),
    );
    expect(head.status).toBe(403);
    expect(
      await codeOf(henry.s3.send(new PutObjectCommand({ Bucket: 'acl-bucket', Key: 'h.txt', Body: 'h' }))),
    ).toBe('OK');
  });
});
