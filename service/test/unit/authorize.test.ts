import { describe, expect, it } from 'vitest';
import { S3_ACTIONS, type S3Action } from '../../src/authz/actions.js';
import { Authorizer, type Principal } from '../../src/authz/authorize.js';
import type { Bucket } from '../../src/store/types.js';

const OWNER_ID = 'a'.repeat(64);

/** The decision function alone: who may do what to which bucket, and the bucket it resolves once. */
const photos: Bucket = {
  id: 7,
  name: 'photos',
  owner: OWNER_ID,
  region: 'us-east-1',
  createdAt: new Date(0),
};
const lookups: string[] = [];
const authorizer = new Authorizer({
  async byName(name) {
    lookups.push(name);
    return name === photos.name ? photos : undefined;
  },
});
const owner: Principal = {
  kind: 'user',
  accessKeyId: 'AKIAOWNER',
  user: { canonicalId: OWNER_ID, name: 'owner' },
};
const stranger: Principal = {
  kind: 'user',
  accessKeyId: 'AKIASTRANGER',
  user: { canonicalId: 'b'.repeat(64), name: 'stranger' },
};
const admin: Principal = { kind: 'admin', username: 'root' };
const BUCKET_ACTIONS = S3_ACTIONS.filter((a) => a !== 's3:ListAllMyBuckets' && a !== 's3:CreateBucket');

async function decide(principal: Principal, action: S3Action, bucket?: string, key?: string) {
  try {
    const grant = await authorizer.authorize({ principal, action, bucket, key });
    return grant.bucket ? `allowed ${grant.bucket.name}#${grant.bucket.id}` : 'allowed';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

describe('Authorizer: the one decision', () => {
  it('lets the owner do every bucket and object action, resolving the bucket it acts on', async () => {
    for (const action of BUCKET_ACTIONS)
      expect(await decide(owner, action, 'photos', 'a/b.jpg'), action).toBe('allowed photos#7');
  });

  it('denies every bucket and object action to another credential, whatever the key', async () => {
    for (const action of BUCKET_ACTIONS)
      expect(await decide(stranger, action, 'photos', 'a/b.jpg'), action).toBe('AccessDenied');
  });

  it('answers NoSuchBucket for a missing bucket to anyone, as AWS does', async () => {
    for (const p of [owner, stranger, admin])
      expect(await decide(p, 's3:GetObject', 'gone', 'k')).toBe('NoSuchBucket');
  });

  it('lets an admin act on any bucket without becoming its owner', async () => {
    for (const action of BUCKET_ACTIONS)
      expect(await decide(admin, action, 'photos'), action).toBe('allowed photos#7');
  });

  it('checks account actions (list buckets, create a bucket) without resolving any bucket', async () => {
    lookups.length = 0;
    expect(await decide(stranger, 's3:ListAllMyBuckets')).toBe('allowed');
    expect(await decide(stranger, 's3:CreateBucket', 'photos')).toBe('allowed');
    expect(lookups).toEqual([]);
  });

  it('refuses, as a programming error, a bucket action that names no bucket', async () => {
    expect(await decide(owner, 's3:GetObject')).toMatch(/names no bucket/);
  });
});

describe('Authorizer: policies, grants, ACLs and the public access block', () => {
  const bob = { canonicalId: 'c'.repeat(64), name: 'bob' };
  const asBob: Principal = { kind: 'user', accessKeyId: 'AKIABOB', user: bob };
  const anonymous: Principal = { kind: 'anonymous' };
  const bucketWith = (extra: Partial<Bucket>): Bucket => ({ ...photos, name: 'shared', ...extra });
  const decideOn = async (bucket: Bucket, principal: Principal, action: S3Action, key?: string) => {
    const a = new Authorizer({ byName: async (n) => (n === bucket.name ? bucket : undefined) });
    try {
      const g = await a.authorize({ principal, action, bucket: bucket.name, key });
      return g.onlyIfAbsent ? 'allowed if absent' : 'allowed';
    } catch (err) {
      return (err as { code?: string }).code;
    }
  };
  const policy = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });

  it('refuses anonymous requests account actions and buckets that no policy opens', async () => {
    expect(await decide(anonymous, 's3:ListAllMyBuckets')).toBe('AccessDenied');
    expect(await decide(anonymous, 's3:CreateBucket', 'new')).toBe('AccessDenied');
    expect(await decide(anonymous, 's3:GetObject', 'photos', 'a.jpg')).toBe('AccessDenied');
  });

  it('binds the owner by an explicit deny, except on the policy itself', async () => {
    const b = bucketWith({
      policy: policy({
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: ['arn:aws:s3:::shared', 'arn:aws:s3:::shared/*'],
      }),
    });
    expect(await decideOn(b, owner, 's3:GetObject', 'k')).toBe('AccessDenied');
    for (const action of ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'] as const)
      expect(await decideOn(b, owner, action)).toBe('allowed');
  });

  it('meets a create-only grant by making the write conditional, and only for writes', async () => {
    const b = bucketWith({
      grantStatements: [
        {
          Effect: 'Allow',
          Principal: { CanonicalUser: bob.canonicalId },
          Action: ['s3:PutObject'],
          Resource: 'arn:aws:s3:::shared/in/*',
          Condition: { StringEquals: { 's3:if-none-match': '*' } },
        },
      ],
    });
    expect(await decideOn(b, asBob, 's3:PutObject', 'in/x')).toBe('allowed if absent');
    expect(await decideOn(b, asBob, 's3:PutObject', 'out/x')).toBe('AccessDenied');
    expect(await decideOn(b, asBob, 's3:DeleteObject', 'in/x')).toBe('AccessDenied');
  });

  it('honours a bucket ACL only while ACLs are enabled, and a public one only while not ignored', async () => {
    const acl = {
      owner: OWNER_ID,
      grants: [
        { grantee: { type: 'CanonicalUser' as const, id: bob.canonicalId }, permission: 'READ' as const },
        {
          grantee: { type: 'Group' as const, uri: 'http://acs.amazonaws.com/groups/global/AllUsers' },
          permission: 'READ' as const,
        },
      ],
    };
    expect(await decideOn(bucketWith({ acl, ownership: 'ObjectWriter' }), asBob, 's3:ListBucket')).toBe(
      'allowed',
    );
    expect(
      await decideOn(bucketWith({ acl, ownership: 'BucketOwnerEnforced' }), asBob, 's3:ListBucket'),
    ).toBe('AccessDenied');
    expect(await decideOn(bucketWith({ acl, ownership: 'ObjectWriter' }), anonymous, 's3:ListBucket')).toBe(
      'allowed',
    );
    const ignoring = bucketWith({
      acl,
      ownership: 'ObjectWriter',
      publicAccessBlock: {
        BlockPublicAcls: false,
        IgnorePublicAcls: true,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: false,
      },
    });
    expect(await decideOn(ignoring, anonymous, 's3:ListBucket')).toBe('AccessDenied');
    expect(await decideOn(ignoring, asBob, 's3:ListBucket')).toBe('allowed');
    expect(await decideOn(ignoring, asBob, 's3:PutObject', 'k')).toBe('AccessDenied');
  });

  it('keeps anonymous requests out of a public policy under RestrictPublicBuckets', async () => {
    const open = policy({
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::shared/*',
    });
    expect(await decideOn(bucketWith({ policy: open }), anonymous, 's3:GetObject', 'k')).toBe('allowed');
    const restricted = bucketWith({
      policy: open,
      publicAccessBlock: {
        BlockPublicAcls: false,
        IgnorePublicAcls: false,
        BlockPublicPolicy: false,
        RestrictPublicBuckets: true,
      },
    });
    expect(await decideOn(restricted, anonymous, 's3:GetObject', 'k')).toBe('AccessDenied');
    expect(await decideOn(restricted, asBob, 's3:GetObject', 'k')).toBe('allowed');
  });
});
