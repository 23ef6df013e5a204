/** Bucket versioning: its configuration, and ListObjectVersions. */
import { S3Error } from '../errors/s3-errors.js';
import { bucketOf, ownerXml, xmlResponse, type S3Context, type S3Response } from './context.js';
import { encodingOf, maxKeysOf, s3UrlEncode } from './list.js';
import { documentBody } from './request-body.js';
import { isoDate, parseXmlRoot, toXml } from './xml.js';

export async function getBucketVersioning(ctx: S3Context): Promise<S3Response> {
  // A bucket that was never versioned answers an empty configuration, as AWS does.
  const status = bucketOf(ctx).versioning;
  return xmlResponse(toXml('VersioningConfiguration', status ? { Status: status } : {}));
}

export async function putBucketVersioning(ctx: S3Context): Promise<S3Response> {
  const doc = parseXmlRoot(await documentBody(ctx, 64 * 1024), 'VersioningConfiguration') as
    Record<string, unknown> | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const mfa = typeof doc.MfaDelete === 'string' ? doc.MfaDelete.trim() : undefined;
  if (mfa === 'Enabled')
    throw new S3Error(
      'NotImplemented',
      'MFA delete is not offered: object lock (COMPLIANCE retention, legal hold) protects versions instead.',
    );
  if (mfa !== undefined && mfa !== 'Disabled') throw new S3Error('MalformedXML');
  const status = typeof doc.Status === 'string' ? doc.Status.trim() : undefined;
  if (status !== 'Enabled' && status !== 'Suspended')
    throw new S3Error(
      'IllegalVersioningConfigurationException',
      'The Versioning element must be specified as Enabled or Suspended.',
    );
  await ctx.store.buckets.setVersioning(bucketOf(ctx), status);
  return { status: 200 };
}

export async function listObjectVersions(ctx: S3Context): Promise<S3Response> {
  const maxKeys = maxKeysOf(ctx);
  const encoding = encodingOf(ctx);
  const enc = encoding ? s3UrlEncode : (s: string) => s;
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') ?? '';
  const keyMarker = ctx.query.get('key-marker') ?? '';
  const versionIdMarker = ctx.query.get('version-id-marker') ?? '';
  if (versionIdMarker && !keyMarker)
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', {
      ArgumentName: 'version-id-marker',
      ArgumentValue: versionIdMarker,
    });
  const r = await ctx.store.listVersions(bucketOf(ctx), {
    prefix,
    delimiter,
    maxKeys,
    keyMarker,
    versionIdMarker,
  });
  const owner = ownerXml(ctx, bucketOf(ctx).owner);
  const entry = (v: (typeof r.versions)[number]) => ({
    Key: enc(v.key),
    VersionId: v.versionId,
    IsLatest: v.isLatest,
    LastModified: isoDate(v.lastModified),
    ...(v.deleteMarker ? {} : { ETag: v.etag, Size: v.size, StorageClass: 'STANDARD' }),
    Owner: owner,
  });
  return xmlResponse(
    toXml('ListVersionsResult', {
      Name: ctx.bucket,
      Prefix: enc(prefix),
      KeyMarker: enc(keyMarker),
      VersionIdMarker: versionIdMarker,
      NextKeyMarker: r.isTruncated && r.nextKeyMarker !== undefined ? enc(r.nextKeyMarker) : undefined,
      NextVersionIdMarker: r.isTruncated ? r.nextVersionIdMarker : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: encoding,
      IsTruncated: r.isTruncated,
      // S3 lists versions and delete markers interleaved in key order; XML keeps them as siblings.
      Version: r.versions.filter((v) => !v.deleteMarker).map(entry),
      DeleteMarker: r.versions.filter((v) => v.deleteMarker).map(entry),
      CommonPrefixes: r.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}
