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
