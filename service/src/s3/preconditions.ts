/**
 * RFC 9110 conditionals as S3 applies them, for GET/HEAD (If-*) and for a copy source
 * (x-amz-copy-source-if-*): one evaluator, parameterised by header names and by how a failure answers.
 */
import { S3Error } from '../errors/s3-errors.js';
import { etagListMatches } from '../store/etags.js';
import type { ObjectInfo } from '../store/types.js';

export interface ConditionHeaders {
  ifMatch: string;
  ifNoneMatch: string;
  ifModifiedSince: string;
  ifUnmodifiedSince: string;
  /** GET answers 304 Not Modified when a "none match" or "modified since" test fails; a copy answers 412. */
  notModified: boolean;
  /** How the Condition element names each header in a 412. */
  label: (header: string) => string;
}

const titleCase = (h: string) =>
  h.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());

export const GET_CONDITIONS: ConditionHeaders = {
  ifMatch: 'if-match',
  ifNoneMatch: 'if-none-match',
  ifModifiedSince: 'if-modified-since',
  ifUnmodifiedSince: 'if-unmodified-since',
  notModified: true,
  label: titleCase,
};

export const COPY_SOURCE_CONDITIONS: ConditionHeaders = {
  ifMatch: 'x-amz-copy-source-if-match',
  ifNoneMatch: 'x-amz-copy-source-if-none-match',
  ifModifiedSince: 'x-amz-copy-source-if-modified-since',
  ifUnmodifiedSince: 'x-amz-copy-source-if-unmodified-since',
  notModified: false,
  label: (h) => h,
};

/** Seconds since the epoch of an HTTP date; an unparseable date is ignored, as S3 ignores it. */
function httpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/**
 * If-Match beats If-Unmodified-Since and If-None-Match beats If-Modified-Since; the first failure
 * throws PreconditionFailed (412) or, where `notModified`, NotModified (304).
 */
export function checkPreconditions(
  header: (name: string) => string | undefined,
  info: ObjectInfo,
  names: ConditionHeaders = GET_CONDITIONS,
): void {
  const lastModified = Math.floor(info.lastModified.getTime() / 1000);
  const failed = (h: string) => new S3Error('PreconditionFailed', undefined, { Condition: names.label(h) });
  const unchanged = (h: string) => (names.notModified ? new S3Error('NotModified') : failed(h));
  const ifMatch = header(names.ifMatch);
  const ifNoneMatch = header(names.ifNoneMatch);
  const ifModifiedSince = httpDate(header(names.ifModifiedSince));
  const ifUnmodifiedSince = httpDate(header(names.ifUnmodifiedSince));
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, info.etag)) throw failed(names.ifMatch);
  } else if (ifUnmodifiedSince !== undefined && lastModified > ifUnmodifiedSince) {
    throw failed(names.ifUnmodifiedSince);
  }
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, info.etag)) throw unchanged(names.ifNoneMatch);
  } else if (ifModifiedSince !== undefined && lastModified <= ifModifiedSince) {
    throw unchanged(names.ifModifiedSince);
  }
}
