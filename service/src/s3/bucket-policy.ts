/** Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus, evaluated by the authorizer. */
import { S3Error } from '../errors/s3-errors.js';
import { isPublic, parsePolicy } from '../authz/policy.js';
import { bucketOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { documentBody } from './request-body.js';
import { toXml } from './xml.js';

/** Room for AWS's 20 KB limit plus whitespace; parsePolicy answers PolicyTooLarge past the limit. */
const MAX_POLICY_BODY = 64 * 1024;

export async function putBucketPolicy(ctx: S3Context): Promise<S3Response> {
  const text = await documentBody(ctx, MAX_POLICY_BODY);
  const bucket = bucketOf(ctx);
  // Checked whole before it is stored: a policy that names nobody or nothing is refused, not half-applied.
  const statements = parsePolicy(text, bucket.name, ctx.users);
  if (bucket.publicAccessBlock?.BlockPublicPolicy && isPublic(statements))
    throw new S3Error(
      'AccessDenied',
      'Public policies are blocked by the BlockPublicPolicy setting of this bucket.',
    );
  await ctx.store.buckets.setPolicy(bucket, text);
  return { status: 204 };
}

export async function getBucketPolicy(ctx: S3Context): Promise<S3Response> {
  const policy = bucketOf(ctx).policy;
  if (!policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: ctx.bucket! });
  return { status: 200, headers: { 'content-type': 'application/json' }, body: policy };
}

export async function deleteBucketPolicy(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setPolicy(bucketOf(ctx), null);
  return { status: 204 };
}

export async function getBucketPolicyStatus(ctx: S3Context): Promise<S3Response> {
  const policy = bucketOf(ctx).policy;
  if (!policy) throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: ctx.bucket! });
  const statements = parsePolicy(policy, bucketOf(ctx).name, undefined);
  return xmlResponse(toXml('PolicyStatus', { IsPublic: isPublic(statements) }));
}
