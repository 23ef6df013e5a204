import type { ObjectInfo } from '../store/types.js';
import { checkVersionId } from '../store/versions.js';
import { governanceBypass } from './object-lock.js';
import { checkPreconditions } from './preconditions.js';
import { headerOf, xmlResponse, type S3Context, type S3Response, bucketOf } from './context.js';
import {
  checkKey,
  expirationHeader,
  lockFrom,
  newObjectFields,
  partNumberOf,
  requestedVersion,
  tagsFromHeader,
  versionHeader,
  writeConditionOf,
} from './object-request.js';
import { isS3Error, S3Error } from '../errors/s3-errors.js';
import { newObjectAcl } from './acl.js';
import { isHeaderValue } from './header-values.js';
import { documentBody, objectBody, requireBodyDigest } from './request-body.js';
import { parseXmlRoot, toXml } from './xml.js';
import { CHECKSUM_ALGORITHMS } from '../integrity/checksums.js';

const MAX_DELETE_KEYS = 1000;

export async function putObject(ctx: S3Context): Promise<S3Response> {
  if (headerOf(ctx, 'content-length') === undefined && headerOf(ctx, 'transfer-encoding') === undefined) {
    throw new S3Error('MissingContentLength');
  }
  // Oversized or malformed declarations are refused here, before any byte is read.
  const body = objectBody(ctx);
  const info = await ctx.store.putObject(bucketOf(ctx), {
    key: ctx.key!,
    ...newObjectFields(ctx),
    tags: tagsFromHeader(ctx),
    acl: newObjectAcl(ctx),
    lock: lockFrom(ctx),
    condition: writeConditionOf(ctx),
    body: body.chunks,
    size: body.length,
    finalize: body.finalize,
  });
  const out: Record<string, string> = {
    etag: info.etag,
    ...versionHeader(ctx, info.versionId),
    ...expirationHeader(ctx, { ...info, tags: tagsFromHeader(ctx) }),
  };
  for (const [alg, v] of Object.entries(info.checksums)) out[`x-amz-checksum-${alg}`] = v;
  return { status: 200, headers: out };
}

interface ByteRange {
  start: number;
  end: number;
}

/** Parses a single `bytes=` range. Undefined means "serve the whole object" (absent or unparseable, as AWS does). */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const invalid = () =>
    new S3Error('InvalidRange', undefined, { RangeRequested: header, ActualObjectSize: String(size) });
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw invalid();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) throw invalid();
  return { start, end };
}

const RESPONSE_OVERRIDES: Array<[string, string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

export function objectResponseHeaders(ctx: S3Context, info: ObjectInfo): Record<string, string | number> {
  const h: Record<string, string | number> = {
    etag: info.etag,
    'last-modified': info.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'content-type': info.contentType ?? 'binary/octet-stream',
  };
  if (info.contentEncoding) h['content-encoding'] = info.contentEncoding;
  Object.assign(h, expirationHeader(ctx, info));
  if (bucketOf(ctx).objectLock) {
    if (info.retention) {
      h['x-amz-object-lock-mode'] = info.retention.mode;
      h['x-amz-object-lock-retain-until-date'] = info.retention.until.toISOString();
    }
    h['x-amz-object-lock-legal-hold'] = info.legalHold ? 'ON' : 'OFF';
  }
  if (info.contentDisposition) h['content-disposition'] = info.contentDisposition;
  if (info.contentLanguage) h['content-language'] = info.contentLanguage;
  if (info.cacheControl) h['cache-control'] = info.cacheControl;
  if (info.expires) h['expires'] = info.expires;
  for (const [k, v] of Object.entries(info.userMetadata)) h[`x-amz-meta-${k}`] = v;
  const tagCount = Object.keys(info.tags ?? {}).length;
  if (tagCount) h['x-amz-tagging-count'] = tagCount;
  for (const [param, name] of RESPONSE_OVERRIDES) {
    const v = ctx.query.get(param);
    if (v === undefined) continue;
    if (!isHeaderValue(v))
      throw new S3Error('InvalidArgument', `${param} must be a value an HTTP header can carry.`, {
        ArgumentName: param,
      });
    h[name] = v;
  }
  return h;
}

function checksumHeaders(ctx: S3Context, info: ObjectInfo, whole: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (!whole || headerOf(ctx, 'x-amz-checksum-mode')?.toUpperCase() !== 'ENABLED') return out;
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = info.checksums[alg];
    if (v) {
      out[`x-amz-checksum-${alg}`] = v;
      out['x-amz-checksum-type'] = info.checksumType ?? 'FULL_OBJECT';
    }
  }
  return out;
}

async function readObject(ctx: S3Context, withBody: boolean): Promise<S3Response> {
  const obj = await ctx.store.getObject(bucketOf(ctx), ctx.key!, requestedVersion(ctx));
  const { info } = obj;
  try {
    checkPreconditions((name) => headerOf(ctx, name), info);
  } catch (err) {
    if (err instanceof S3Error && err.code === 'NotModified') {
      return {
        status: 304,
        headers: {
          etag: info.etag,
          'last-modified': info.lastModified.toUTCString(),
          ...versionHeader(ctx, info.versionId),
        },
      };
    }
    throw err;
  }
  const headers = { ...objectResponseHeaders(ctx, info), ...versionHeader(ctx, info.versionId) };
  if (info.partsCount) headers['x-amz-mp-parts-count'] = info.partsCount;
  let range = parseRange(headerOf(ctx, 'range'), info.size);
  if (ctx.query.has('partNumber')) {
    if (range)
      throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter.');
    const n = partNumberOf(ctx);
    const piece = obj.pieces.find((p) => p.partNumber === n);
    if (!piece || (!info.partsCount && n !== 1)) throw new S3Error('InvalidPartNumber');
    // A plain object is its own part 1: served whole, as AWS does.
    if (info.partsCount) range = { start: piece.start, end: piece.start + piece.blob.size - 1 };
  }
  Object.assign(headers, checksumHeaders(ctx, info, !range));
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  headers['content-length'] = end - start + 1;
  if (range) headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
  let body: S3Response['body'];
  if (withBody) {
    // Inline objects are small: decrypt into one buffer rather than set up a stream per request.
    body = obj.pieces[0]?.blob.location.inline
      ? await collect(ctx.store.readObject(obj, start, end))
      : ctx.store.readObject(obj, start, end, { lent: true });
  }
  return { status: range ? 206 : 200, headers, body };
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

export function getObject(ctx: S3Context): Promise<S3Response> {
  return readObject(ctx, true);
}

export function headObject(ctx: S3Context): Promise<S3Response> {
  return readObject(ctx, false);
}

export async function deleteObject(ctx: S3Context): Promise<S3Response> {
  const done = await ctx.store.deleteObject(bucketOf(ctx), ctx.key!, requestedVersion(ctx), {
    bypassGovernance: await governanceBypass(ctx),
  });
  const headers = versionHeader(ctx, done.versionId);
  if (done.deleteMarker && bucketOf(ctx).versioning) headers['x-amz-delete-marker'] = 'true';
  return { status: 204, headers };
}

export async function deleteObjects(ctx: S3Context): Promise<S3Response> {
  requireBodyDigest(ctx);
  const text = await documentBody(ctx, 2 * 1024 * 1024);
  const doc = parseXmlRoot(text, 'Delete') as Record<string, unknown> | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const objects = (doc.Object as Array<Record<string, unknown>> | undefined) ?? [];
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw new S3Error('MalformedXML');
  const quiet = String(doc.Quiet ?? '').trim() === 'true';
  const errors: Array<{ Key: string; Code: string; Message: string }> = [];
  const items: Array<{ key: string; versionId?: string }> = [];
  for (const o of objects) {
    const key = typeof o.Key === 'string' ? o.Key : undefined;
    if (key === undefined) throw new S3Error('MalformedXML');
    const versionId = typeof o.VersionId === 'string' ? o.VersionId : undefined;
    try {
      checkKey(key);
      if (versionId !== undefined) checkVersionId(versionId);
      const action = versionId === undefined ? 's3:DeleteObject' : 's3:DeleteObjectVersion';
      await ctx.authorize({ action, bucket: ctx.bucket, key });
      items.push({ key, versionId });
    } catch (err) {
      if (!isS3Error(err)) throw err;
      const e = err;
      errors.push({
        Key: key,
        Code: e.code,
        Message: e.message,
        ...(versionId ? { VersionId: versionId } : {}),
      });
    }
  }
  // As before per-key decisions: a requester refused every key is refused the request.
  if (items.length === 0 && errors.length > 0 && errors.every((e) => e.Code === 'AccessDenied'))
    throw new S3Error('AccessDenied');
  const versioned = !!bucketOf(ctx).versioning;
  const bypassGovernance = await governanceBypass(ctx);
  const results = items.length
    ? await ctx.store.deleteObjects(bucketOf(ctx), items, { bypassGovernance })
    : [];
  for (const r of results)
    if (r.error)
      errors.push({
        Key: r.key,
        Code: r.error.code,
        Message: r.error.message,
        ...(r.versionId ? { VersionId: r.versionId } : {}),
      });
  return xmlResponse(
    toXml('DeleteResult', {
      // Deleting a missing key succeeds in S3, so every valid key is reported as deleted.
      Deleted: quiet
        ? undefined
        : results.flatMap((r, i) => {
            if (r.error) return [];
            const asked = items[i]!.versionId;
            if (!versioned) return [{ Key: r.key, VersionId: asked }];
            // A removed delete marker and a new one are both reported as DeleteMarker with its version id.
            return [
              {
                Key: r.key,
                VersionId: asked,
                DeleteMarker: r.deleteMarker ? 'true' : undefined,
                DeleteMarkerVersionId: r.deleteMarker ? r.versionId : undefined,
              },
            ];
          }),
      Error: errors,
    }),
  );
}
