/** Object ownership controls and the public access block of a bucket: the switches over ACLs and public access. */
import { S3Error } from '../errors/s3-errors.js';
import { grantsOthers } from '../store/buckets.js';
import type { ObjectOwnership, PublicAccessBlock } from '../store/types.js';
import { bucketOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { documentBody } from './request-body.js';
import { parseXmlRoot, toXml } from './xml.js';

import { OWNERSHIPS } from './buckets.js';
const BLOCK_FIELDS = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const;

async function document(ctx: S3Context, root: string): Promise<Record<string, unknown>> {
  const doc = parseXmlRoot(await documentBody(ctx, 16 * 1024), root);
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  return doc as Record<string, unknown>;
}

export async function putOwnershipControls(ctx: S3Context): Promise<S3Response> {
  const doc = await document(ctx, 'OwnershipControls');
  const rules = [doc.Rule].flat().filter(Boolean) as Array<Record<string, unknown>>;
  const ownership = rules[0]?.ObjectOwnership as ObjectOwnership;
  if (rules.length !== 1 || !OWNERSHIPS.includes(ownership)) throw new S3Error('MalformedXML');
  const bucket = bucketOf(ctx);
  // Disabling ACLs while the bucket's ACL still grants someone else would silently take that access away.
  if (
    ownership === 'BucketOwnerEnforced' &&
    bucket.acl !== undefined &&
    grantsOthers(bucket.acl, bucket.owner)
  )
    throw new S3Error(
      'InvalidBucketAclWithObjectOwnership',
      'The bucket ACL grants access to others; reset it to private first.',
    );
  await ctx.store.buckets.setOwnership(bucket, ownership);
  return { status: 200 };
}

export async function getOwnershipControls(ctx: S3Context): Promise<S3Response> {
  const ownership = bucketOf(ctx).ownership;
  if (!ownership) throw new S3Error('OwnershipControlsNotFoundError', undefined, { BucketName: ctx.bucket! });
  return xmlResponse(toXml('OwnershipControls', { Rule: { ObjectOwnership: ownership } }));
}

export async function deleteOwnershipControls(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setOwnership(bucketOf(ctx), null);
  return { status: 204 };
}

export async function putPublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  const doc = await document(ctx, 'PublicAccessBlockConfiguration');
  const block = {} as PublicAccessBlock;
  for (const field of BLOCK_FIELDS) {
    const v = doc[field];
    if (v !== undefined && !/^(true|false)$/i.test(String(v).trim())) throw new S3Error('MalformedXML');
    block[field] =
      String(v ?? '')
        .trim()
        .toLowerCase() === 'true';
  }
  await ctx.store.buckets.setPublicAccessBlock(bucketOf(ctx), block);
  return { status: 200 };
}

export async function getPublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  const block = bucketOf(ctx).publicAccessBlock;
  if (!block)
    throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { BucketName: ctx.bucket! });
  return xmlResponse(toXml('PublicAccessBlockConfiguration', { ...block }));
}

export async function deletePublicAccessBlock(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setPublicAccessBlock(bucketOf(ctx), null);
  return { status: 204 };
}
