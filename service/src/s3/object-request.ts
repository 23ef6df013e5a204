/** What PutObject, CopyObject, CreateMultipartUpload and the tagging calls read from a request. */
import { S3Error } from '../errors/s3-errors.js';
import { integerIn } from '../parse/integer.js';
import { KEY_PROBLEMS, keyProblem } from '../store/object-keys.js';
import { MAX_PARTS } from '../store/multipart.js';
import { expirationOf, type LifecycleSubject } from '../store/lifecycle.js';
import { RETENTION_MODES } from '../store/object-lock.js';
import type {
  ObjectHeaders,
  ObjectLockInput,
  Retention,
  RetentionMode,
  WriteCondition,
} from '../store/types.js';
import { bucketOf, headerOf, type S3Context } from './context.js';
import { requireBodyDigest } from './request-body.js';

const MAX_METADATA_BYTES = 2048;
export const MAX_OBJECT_TAGS = 10;

/** The store's key rule, answered with the S3 error AWS gives for each way a key can be wrong. */
export function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem === 'too-long') throw new S3Error('KeyTooLongError', undefined, { Key: key.slice(0, 64) });
  if (problem) throw new S3Error('InvalidArgument', `Object key ${KEY_PROBLEMS[problem]}.`);
}

function objectHeadersFrom(ctx: S3Context): ObjectHeaders {
  // aws-chunked is a transfer detail of this request, not the object's content encoding.
  const encoding = headerOf(ctx, 'content-encoding')
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s && s.toLowerCase() !== 'aws-chunked')
    .join(', ');
  return {
    contentType: headerOf(ctx, 'content-type') || 'binary/octet-stream',
    contentEncoding: encoding || undefined,
    contentDisposition: headerOf(ctx, 'content-disposition'),
    contentLanguage: headerOf(ctx, 'content-language'),
    cacheControl: headerOf(ctx, 'cache-control'),
    expires: headerOf(ctx, 'expires'),
  };
}

function userMetadataFrom(ctx: S3Context): Record<string, string> {
  const meta: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(ctx.raw.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const key = name.slice('x-amz-meta-'.length);
    const v = Array.isArray(value) ? value.join(',') : value;
    meta[key] = v;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', undefined, {
      Size: String(bytes),
      MaxSizeAllowed: String(MAX_METADATA_BYTES),
    });
  }
  return meta;
}

/** The content headers and user metadata of an object a request creates (PUT, REPLACE copy, multipart). */
export function newObjectFields(ctx: S3Context): ObjectHeaders & { userMetadata: Record<string, string> } {
  return { ...objectHeadersFrom(ctx), userMetadata: userMetadataFrom(ctx) };
}

/** If-None-Match: * and If-Match on writes (PutObject, CompleteMultipartUpload, CopyObject). */
export function writeConditionOf(ctx: S3Context): WriteCondition | undefined {
  const ifNoneMatch = headerOf(ctx, 'if-none-match');
  const ifMatch = headerOf(ctx, 'if-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on a write supports only "*".', {
      Header: 'If-None-Match',
    });
  }
  // A create-only grant permitted this write on condition that it creates: as if If-None-Match: * was sent.
  if (ctx.grant.onlyIfAbsent) return { ifNoneMatch: true, ifMatch, byGrant: true };
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  return { ifNoneMatch: ifNoneMatch !== undefined, ifMatch };
}

/** AWS's tag rules: unique keys of 1–128 characters, values up to 256, no aws: prefix. */
export function validateTags(tags: Array<[string, string]>, max: number): Record<string, string> {
  if (tags.length > max) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${max}`);
  const out: Record<string, string> = {};
  for (const [k, v] of tags) {
    if (k.length < 1 || k.length > 128)
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if (v.length > 256) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (k.toLowerCase().startsWith('aws:'))
      throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (k in out) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    out[k] = v;
  }
  return out;
}

/** `x-amz-tagging: a=1&b=2` on PutObject, CreateMultipartUpload and CopyObject (REPLACE). */
export function tagsFromHeader(ctx: S3Context): Record<string, string> | undefined {
  const raw = headerOf(ctx, 'x-amz-tagging');
  if (raw === undefined) return undefined;
  return validateTags([...new URLSearchParams(raw)], MAX_OBJECT_TAGS);
}

export function intParam(ctx: S3Context, name: string, def: number, min: number, max: number): number {
  const raw = ctx.query.get(name);
  if (raw === undefined || raw === '') return def;
  const n = integerIn(raw, min, max);
  if (n === undefined) {
    throw new S3Error('InvalidArgument', `${name} must be an integer between ${min} and ${max}.`, {
      ArgumentName: name,
      ArgumentValue: raw,
    });
  }
  return n;
}

export function partNumberOf(ctx: S3Context): number {
  return intParam(ctx, 'partNumber', 0, 1, MAX_PARTS);
}

/** The version a request names (`?versionId=`), if any. */
export function requestedVersion(ctx: S3Context): string | undefined {
  return ctx.query.get('versionId');
}

/** x-amz-version-id, which S3 sends only for buckets that have versioning configured. */
export function versionHeader(ctx: S3Context, versionId: string | undefined): Record<string, string> {
  return bucketOf(ctx).versioning && versionId !== undefined ? { 'x-amz-version-id': versionId } : {};
}

/** A retention as a request states it (header or XML), validated as S3 does. */
export function parseRetention(mode: string, until: string): Retention {
  if (!(RETENTION_MODES as readonly string[]).includes(mode))
    throw new S3Error('InvalidArgument', 'Unknown wormMode directive.', {
      ArgumentName: 'Mode',
      ArgumentValue: mode,
    });
  const date = new Date(until);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(until) || Number.isNaN(date.getTime()))
    throw new S3Error('InvalidArgument', 'The retain until date must be an ISO 8601 date and time.', {
      ArgumentName: 'RetainUntilDate',
      ArgumentValue: until,
    });
  if (date.getTime() <= Date.now())
    throw new S3Error('InvalidArgument', 'The retain until date must be in the future!', {
      ArgumentName: 'RetainUntilDate',
      ArgumentValue: until,
    });
  return { mode: mode as RetentionMode, until: date };
}

/** x-amz-object-lock-mode, -retain-until-date and -legal-hold on a write that creates a version. */
export function lockFrom(ctx: S3Context): ObjectLockInput | undefined {
  const mode = headerOf(ctx, 'x-amz-object-lock-mode');
  const until = headerOf(ctx, 'x-amz-object-lock-retain-until-date');
  const hold = headerOf(ctx, 'x-amz-object-lock-legal-hold');
  if (mode === undefined && until === undefined && hold === undefined) return undefined;
  if ((mode === undefined) !== (until === undefined))
    throw new S3Error(
      'InvalidArgument',
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
    );
  if (hold !== undefined && hold !== 'ON' && hold !== 'OFF')
    throw new S3Error('InvalidArgument', 'Legal Hold must be either of ON or OFF', {
      ArgumentName: 'x-amz-object-lock-legal-hold',
      ArgumentValue: hold,
    });
  // S3 wants an integrity digest on writes that lock data: a signed payload hash, Content-MD5 or a checksum.
  requireBodyDigest(ctx, { signedPayloadCounts: true });
  return {
    retention: mode !== undefined ? parseRetention(mode, until!) : undefined,
    legalHold: hold === 'ON',
  };
}

/** x-amz-expiration: when the bucket's lifecycle rules will expire this object, and by which rule. */
export function expirationHeader(ctx: S3Context, o: LifecycleSubject): Record<string, string> {
  const e = expirationOf(bucketOf(ctx).lifecycle, o, ctx.settings.lifecycleDayMs);
  return e ? { 'x-amz-expiration': `expiry-date="${e.date.toUTCString()}", rule-id="${e.ruleId}"` } : {};
}
