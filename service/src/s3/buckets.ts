import { S3Error } from '../errors/s3-errors.js';
import type { ObjectOwnership } from '../store/types.js';
import { requestedAcl } from './acl.js';

export const OWNERSHIPS: ObjectOwnership[] = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'];
import { documentBody } from './request-body.js';
import {
  bucketOf,
  headerOf,
  ownerXml,
  requesterOf,
  xmlResponse,
  type S3Context,
  type S3Response,
} from './context.js';
import { isoDate, parseXmlRoot, toXml } from './xml.js';

const MAX_CONFIG_BODY = 64 * 1024;

export async function listBuckets(ctx: S3Context): Promise<S3Response> {
  const user = requesterOf(ctx);
  const buckets = await ctx.store.buckets.list(user.canonicalId);
  return xmlResponse(
    toXml('ListAllMyBucketsResult', {
      Owner: ownerXml(ctx, user.canonicalId),
      Buckets: {
        Bucket: buckets.map((b) => ({
          Name: b.name,
          CreationDate: isoDate(b.createdAt),
          BucketRegion: b.region,
        })),
      },
    }),
  );
}

export async function createBucket(ctx: S3Context): Promise<S3Response> {
  const text = await documentBody(ctx, MAX_CONFIG_BODY);
  let location: string | undefined;
  if (text.trim()) {
    const doc = parseXmlRoot(text, 'CreateBucketConfiguration') as Record<string, unknown> | undefined;
    const lc = doc?.LocationConstraint;
    location = typeof lc === 'string' ? lc.trim() || undefined : undefined;
  }
  try {
    const objectLock = headerOf(ctx, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true';
    const ownership = headerOf(ctx, 'x-amz-object-ownership')?.trim() as ObjectOwnership | undefined;
    if (ownership !== undefined && !OWNERSHIPS.includes(ownership))
      throw new S3Error('InvalidArgument', `Invalid x-amz-object-ownership header: ${ownership}`, {
        ArgumentName: 'x-amz-object-ownership',
      });
    const me = requesterOf(ctx).canonicalId;
    const acl = requestedAcl(ctx, me, me);
    await ctx.store.buckets.create(me, ctx.bucket!, location, { objectLock, ownership, acl });
  } catch (err) {
    // us-east-1 keeps S3's original answer to re-creating a bucket you own: success.
    const owned = err instanceof S3Error && err.code === 'BucketAlreadyOwnedByYou';
    if (!owned || ctx.settings.region !== 'us-east-1') throw err;
  }
  return { status: 200, headers: { location: `/${ctx.bucket}` } };
}

export async function headBucket(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  return { status: 200, headers: { 'x-amz-bucket-region': bucket.region } };
}

export async function deleteBucket(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.delete(bucketOf(ctx));
  return { status: 204 };
}

export async function getBucketLocation(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  // AWS answers an empty constraint for us-east-1, and clients rely on that mapping.
  return xmlResponse(
    toXml('LocationConstraint', { '#text': bucket.region === 'us-east-1' ? '' : bucket.region }),
  );
}
