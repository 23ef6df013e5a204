import { xmlResponse, type S3Context, type S3Response, bucketOf } from './context.js';
import { MAX_OBJECT_TAGS, requestedVersion, validateTags, versionHeader } from './object-request.js';
import { S3Error } from '../errors/s3-errors.js';
import { documentBody } from './request-body.js';
import { parseXmlRoot, toXml } from './xml.js';

const MAX_BUCKET_TAGS = 50;

async function tagsFromBody(ctx: S3Context, max: number): Promise<Record<string, string>> {
  return parseTaggingXml(await documentBody(ctx, 64 * 1024), max);
}

/** A Tagging document (a request body, or POST Object's tagging field). */
export function parseTaggingXml(text: string, max: number): Record<string, string> {
  const doc = parseXmlRoot(text, 'Tagging') as Record<string, unknown> | undefined;
  const set = doc?.TagSet as Record<string, unknown> | string | undefined;
  if (!doc || set === undefined) throw new S3Error('MalformedXML');
  const raw =
    typeof set === 'object' && set.Tag !== undefined ? (Array.isArray(set.Tag) ? set.Tag : [set.Tag]) : [];
  return validateTags(
    raw.map((t: Record<string, unknown>) => {
      if (typeof t?.Key !== 'string') throw new S3Error('MalformedXML');
      return [t.Key, typeof t.Value === 'string' ? t.Value : ''] as [string, string];
    }),
    max,
  );
}

function tagSetXml(tags: Record<string, string>): string {
  return toXml('Tagging', { TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } });
}

export async function putObjectTagging(ctx: S3Context): Promise<S3Response> {
  const tags = await tagsFromBody(ctx, MAX_OBJECT_TAGS);
  const versionId = requestedVersion(ctx);
  await ctx.store.setObjectTags(bucketOf(ctx), ctx.key!, tags, versionId);
  return { status: 200, headers: versionHeader(ctx, versionId) };
}

export async function getObjectTagging(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  const tags = await ctx.store.objectTags(bucketOf(ctx), ctx.key!, versionId);
  return xmlResponse(tagSetXml(tags), 200, versionHeader(ctx, versionId));
}

export async function deleteObjectTagging(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  await ctx.store.setObjectTags(bucketOf(ctx), ctx.key!, {}, versionId);
  return { status: 204, headers: versionHeader(ctx, versionId) };
}

export async function putBucketTagging(ctx: S3Context): Promise<S3Response> {
  const tags = await tagsFromBody(ctx, MAX_BUCKET_TAGS);
  await ctx.store.buckets.setSetting(bucketOf(ctx), 'tags', tags);
  return { status: 204 };
}

export async function getBucketTagging(ctx: S3Context): Promise<S3Response> {
  const tags = await ctx.store.buckets.setting<Record<string, string>>(bucketOf(ctx), 'tags');
  if (!tags || Object.keys(tags).length === 0)
    throw new S3Error('NoSuchTagSet', undefined, { BucketName: ctx.bucket! });
  return xmlResponse(tagSetXml(tags));
}

export async function deleteBucketTagging(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setSetting(bucketOf(ctx), 'tags', null);
  return { status: 204 };
}
