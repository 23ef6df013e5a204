import type { ChecksumAlgorithm } from '../integrity/checksums.js';
import { digesting } from '../integrity/digesting.js';
import { safeDecode } from '../auth/sigv4.js';
import { contentHeaders, type StoredObject } from '../store/rows.js';
import { checkVersionId } from '../store/versions.js';
import { checkPreconditions, COPY_SOURCE_CONDITIONS } from './preconditions.js';
import { headerOf, xmlResponse, type S3Context, type S3Response, bucketOf } from './context.js';
import {
  checkKey,
  lockFrom,
  newObjectFields,
  tagsFromHeader,
  versionHeader,
  writeConditionOf,
} from './object-request.js';
import { S3Error } from '../errors/s3-errors.js';
import { newObjectAcl } from './acl.js';
import { isoDate, toXml } from './xml.js';

/** The largest source one CopyObject or UploadPartCopy may copy, as on AWS. */
export const MAX_COPY_SIZE = 5 * 1024 ** 3;

/** `x-amz-copy-source`: "bucket/key" or "/bucket/key", URL-encoded, optionally with ?versionId=null. */
export function parseCopySource(raw: string): { bucket: string; key: string; versionId?: string } {
  let value = raw.trim();
  const q = value.indexOf('?');
  let versionId: string | undefined;
  if (q >= 0) {
    versionId = new URLSearchParams(value.slice(q + 1)).get('versionId') ?? undefined;
    if (versionId !== undefined) checkVersionId(versionId);
    value = value.slice(0, q);
  }
  value = safeDecode(value.replace(/^\//, ''));
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.',
      {
        ArgumentName: 'x-amz-copy-source',
      },
    );
  }
  return { bucket: value.slice(0, slash), key: value.slice(slash + 1), versionId };
}

/**
 * The object (or version) x-amz-copy-source names, authorized for reading and checked against
 * x-amz-copy-source-if-*, with the x-amz-copy-source-version-id header S3 answers for a versioned source.
 */
export async function copySource(
  ctx: S3Context,
): Promise<{ source: StoredObject; sourceHeaders: Record<string, string> }> {
  const src = parseCopySource(headerOf(ctx, 'x-amz-copy-source')!);
  checkKey(src.key);
  // Reading the source is its own request (s3:GetObject or s3:GetObjectVersion), decided by the same authorizer.
  const action = src.versionId === undefined ? 's3:GetObject' : 's3:GetObjectVersion';
  const grant = await ctx.authorize({ action, bucket: src.bucket, key: src.key });
  const bucket = bucketOf({ grant });
  const source = await ctx.store.getObject(bucket, src.key, src.versionId);
  checkPreconditions((name) => headerOf(ctx, name), source.info, COPY_SOURCE_CONDITIONS);
  const sourceHeaders: Record<string, string> =
    bucket.versioning && source.info.versionId
      ? { 'x-amz-copy-source-version-id': source.info.versionId }
      : {};
  return { source, sourceHeaders };
}

export async function copyObject(ctx: S3Context): Promise<S3Response> {
  const directive = (headerOf(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', {
      ArgumentName: 'x-amz-metadata-directive',
    });
  }
  const { source: src, sourceHeaders } = await copySource(ctx);
  const { info } = src;
  if (info.size > MAX_COPY_SIZE)
    throw new S3Error(
      'InvalidRequest',
      'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
    );
  const srcLoc = parseCopySource(headerOf(ctx, 'x-amz-copy-source')!);
  // Copying a named version over its key is how a version is restored; only a no-op copy is refused.
  if (srcLoc.bucket === ctx.bucket && srcLoc.key === ctx.key && directive === 'COPY' && !srcLoc.versionId) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  // A full-object checksum stays true of identical bytes; composite ones describe parts that no longer exist.
  const keep = info.checksumType === 'COMPOSITE' ? [] : (Object.keys(info.checksums) as ChecksumAlgorithm[]);
  const stream = digesting(ctx.store.readObject(src, 0, info.size - 1), keep, info.size);
  const headers =
    directive === 'REPLACE'
      ? newObjectFields(ctx)
      : { ...contentHeaders(info), userMetadata: info.userMetadata };
  const tagging = (headerOf(ctx, 'x-amz-tagging-directive') ?? 'COPY').toUpperCase();
  if (tagging !== 'COPY' && tagging !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown tagging directive.', {
      ArgumentName: 'x-amz-tagging-directive',
    });
  }
  const out = await ctx.store.putObject(bucketOf(ctx), {
    key: ctx.key!,
    ...headers,
    tags: tagging === 'REPLACE' ? (tagsFromHeader(ctx) ?? {}) : info.tags,
    // As on AWS, a copy gets the ACL this request asks for, never the source's.
    acl: newObjectAcl(ctx),
    // A copy is a new version: it gets the lock this request asks (or the bucket's default), never the source's.
    lock: lockFrom(ctx),
    condition: writeConditionOf(ctx),
    body: stream.chunks,
    size: stream.length,
    finalize: stream.finalize,
  });
  return xmlResponse(
    toXml('CopyObjectResult', { LastModified: isoDate(out.lastModified), ETag: out.etag }),
    200,
    { ...sourceHeaders, ...versionHeader(ctx, out.versionId) },
  );
}
