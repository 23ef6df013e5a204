import { S3Error } from '../errors/s3-errors.js';
import { documentBody } from './request-body.js';
import { bucketOf, headerOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { isoDate, parseXmlRoot, toXml } from './xml.js';

const MAX_CONFIG_BODY = 64 * 1024;

export function ownerXml(accessKeyId: string) {
  return { ID: accessKeyId, DisplayName: accessKeyId };
}

export async function listBuckets(ctx: S3Context): Promise<S3Response> {
  const buckets = await ctx.store.buckets.list(ctx.auth.accessKeyId);
  return xmlResponse(
    toXml('ListAllMyBucketsResult', {
      Owner: ownerXml(ctx.auth.accessKeyId),
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
    await ctx.store.buckets.create(ctx.auth.accessKeyId, ctx.bucket!, location, { objectLock });
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
