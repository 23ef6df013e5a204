import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import { integerIn } from '../parse/integer.js';

/** A request exactly as the client put it on the wire: the signature covers these bytes, not our parse of them. */
export interface WireRequest {
  method: string;
  /** Path before '?', still percent-encoded as sent. */
  rawPath: string;
  /** Query after '?', '' when absent. */
  rawQuery: string;
  /** Header name/value pairs in arrival order, duplicates kept (Node's rawHeaders). */
  headers: ReadonlyArray<readonly [string, string]>;
}

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const MAX_PRESIGNED_EXPIRY = 604800;

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** AWS's URI encoding: every byte outside the unreserved set as %XX (upper hex), '/' optionally kept. */
export function uriEncode(value: string, keepSlash: boolean): string {
  // encodeURIComponent already leaves exactly A-Z a-z 0-9 - _ . ~ ! ' ( ) * alone; AWS encodes the last five.
  // A lone surrogate has no UTF-8 form; like Buffer (and clients), encode it as U+FFFD.
  let out = encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'));
  out = out.replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? out.replace(/%2F/g, '/') : out;
}

/** Percent-decoding that never throws: a malformed escape is kept literally, as clients signed it. */
export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/%([0-9A-Fa-f]{2})/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
  }
}

function normalizePath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = path.length > 1 && (path.endsWith('/') || path.endsWith('/.') || path.endsWith('/..'));
  const joined = '/' + out.join('/');
  return trailing && joined !== '/' ? joined + '/' : joined;
}

/**
 * S3 signs the path as the client encoded it once, without normalisation; other services
 * normalise dot segments and repeated slashes first (the `normalize` flag of AWS's vectors).
 */
export function canonicalUri(rawPath: string, normalize: boolean): string {
  const decoded = safeDecode(rawPath || '/');
  return uriEncode(normalize ? normalizePath(decoded) : decoded, true);
}

export function parseRawQuery(rawQuery: string): Array<[string, string]> {
  if (!rawQuery) return [];
  return rawQuery
    .split('&')
    .filter((p) => p.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const k = eq < 0 ? pair : pair.slice(0, eq);
      const v = eq < 0 ? '' : pair.slice(eq + 1);
      // '+' in a query is a space only for form encoding; SigV4 clients always send %20.
      return [safeDecode(k), safeDecode(v)];
    });
}

export function canonicalQueryString(rawQuery: string, omit?: string): string {
  const pairs = parseRawQuery(rawQuery)
    .filter(([k]) => k !== omit)
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export function canonicalHeaders(headers: WireRequest['headers'], signed: readonly string[]): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    const list = byName.get(lower);
    if (list) list.push(canonicalHeaderValue(value));
    else byName.set(lower, [canonicalHeaderValue(value)]);
  }
  return signed.map((h) => `${h}:${(byName.get(h) ?? []).join(',')}\n`).join('');
}

export function headerValue(headers: WireRequest['headers'], name: string): string | undefined {
  const lower = name.toLowerCase();
  const found = headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return found.length ? found.join(',') : undefined;
}

export interface CanonicalOptions {
  normalize: boolean;
  /** Query parameter left out of the canonical query (X-Amz-Signature for presigned requests). */
  omitQuery?: string;
}

export function canonicalRequest(
  req: WireRequest,
  signedHeaders: readonly string[],
  payloadHash: string,
  opts: CanonicalOptions,
): string {
  return [
    req.method.toUpperCase(),
    canonicalUri(req.rawPath, opts.normalize),
    canonicalQueryString(req.rawQuery, opts.omitQuery),
    canonicalHeaders(req.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, date), region), service), 'aws4_request');
}

export function sign(key: Buffer, toSign: string): string {
  return hmac(key, toSign).toString('hex');
}

export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  chunkSha256: string,
): string {
  return ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, EMPTY_SHA256, chunkSha256].join('\n');
}

export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previous: string,
  trailerSha256: string,
): string {
  return ['AWS4-HMAC-SHA256-TRAILER', amzDate, scope, previous, trailerSha256].join('\n');
}

export function signaturesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Parses `20150830T123600Z`. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function formatAmzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

export function parseCredential(value: string, err: (m: string) => S3Error): Credential {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1]!)) {
    throw err(`Invalid credential scope '${value}'.`);
  }
  return { accessKeyId: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

export interface AuthParams {
  presigned: boolean;
  credential: Credential;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  /** Presigned only. */
  expiresSeconds?: number;
}

export function parseAuthorizationHeader(value: string, headers: WireRequest['headers']): AuthParams {
  const malformed = (m: string) => new S3Error('AuthorizationHeaderMalformed', m);
  if (!value.startsWith(ALGORITHM + ' ')) {
    throw new S3Error('InvalidArgument', 'Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.', {
      ArgumentName: 'Authorization',
    });
  }
  const fields = new Map<string, string>();
  for (const part of value.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const cred = fields.get('Credential');
  const signed = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!cred || !signed || !signature) {
    throw malformed('The authorization header must have Credential, SignedHeaders and Signature.');
  }
  const amzDate = headerValue(headers, 'x-amz-date') ?? dateHeaderAsAmz(headerValue(headers, 'date'));
  if (!amzDate)
    throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  return { presigned: false, ...signedParts(cred, signed, signature, amzDate, malformed) };
}

/** What the header and the query form both carry, as the verifier uses it. */
function signedParts(
  cred: string,
  signed: string,
  signature: string,
  amzDate: string,
  malformed: (message: string) => S3Error,
) {
  return {
    credential: parseCredential(cred, malformed),
    signedHeaders: signed.split(';').map((h) => h.toLowerCase()),
    signature,
    amzDate,
  };
}

function dateHeaderAsAmz(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : formatAmzDate(d);
}

export function parsePresignedQuery(query: ReadonlyArray<[string, string]>): AuthParams {
  const get = (k: string) => query.find(([n]) => n === k)?.[1];
  const bad = (m: string) => new S3Error('AuthorizationQueryParametersError', m);
  if (get('X-Amz-Algorithm') !== ALGORITHM) {
    throw bad('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const cred = get('X-Amz-Credential');
  const signed = get('X-Amz-SignedHeaders');
  const signature = get('X-Amz-Signature');
  const amzDate = get('X-Amz-Date');
  const expires = get('X-Amz-Expires');
  if (!cred || !signed || !signature || !amzDate || expires === undefined) {
    throw bad(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const seconds = integerIn(expires);
  if (seconds === undefined || seconds < 1 || seconds > MAX_PRESIGNED_EXPIRY) {
    throw bad(
      seconds !== undefined && seconds > MAX_PRESIGNED_EXPIRY
        ? 'X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds'
        : 'X-Amz-Expires must be a positive integer between 1 and 604800 seconds',
    );
  }
  return { presigned: true, ...signedParts(cred, signed, signature, amzDate, bad), expiresSeconds: seconds };
}

export interface VerifyOptions {
  service: string;
  normalize: boolean;
  now: Date;
  maxSkewMs: number;
  /** The region this endpoint signs for; a scope naming another is refused as AWS does. Unchecked when absent. */
  region?: string;
  lookupSecret(accessKeyId: string): string | undefined;
  /** Derives (or recalls) the signing key; defaults to deriving it each time. */
  deriveKey?: (secret: string, date: string, region: string, service: string) => Buffer;
}

export interface VerifiedSignature {
  params: AuthParams;
  /** Kept for chunk and trailer signatures, which chain from the seed signature. */
  key: Buffer;
  scope: string;
  payloadHash: string;
}

/**
 * Verifies a header-signed or presigned request. `payloadHash` is what the client declared
 * (x-amz-content-sha256, or UNSIGNED-PAYLOAD for presigned); the body itself is checked later,
 * while it streams.
 */
export function verifySignature(
  req: WireRequest,
  params: AuthParams,
  payloadHash: string,
  opts: VerifyOptions,
): VerifiedSignature {
  const { credential } = params;
  const secret = opts.lookupSecret(credential.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId');
  if (credential.service !== opts.service) {
    const code = params.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
    throw new S3Error(
      code,
      `The credential scope service '${credential.service}' is wrong; expecting '${opts.service}'.`,
    );
  }
  if (opts.region !== undefined && credential.region !== opts.region) {
    throw params.presigned
      ? new S3Error(
          'AuthorizationQueryParametersError',
          `Error parsing the X-Amz-Credential parameter; the region '${credential.region}' is wrong; expecting '${opts.region}'`,
          { Region: opts.region },
        )
      : new S3Error(
          'AuthorizationHeaderMalformed',
          `The authorization header is malformed; the region '${credential.region}' is wrong; expecting '${opts.region}'`,
          { Region: opts.region },
        );
  }
  const when = parseAmzDate(params.amzDate);
  if (!when) {
    throw params.presigned
      ? new S3Error(
          'AuthorizationQueryParametersError',
          "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
      : new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  if (params.amzDate.slice(0, 8) !== credential.date) {
    const code = params.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
    throw new S3Error(
      code,
      `Invalid credential date '${credential.date}'. This date is not the same as X-Amz-Date.`,
    );
  }
  const skew = when.getTime() - opts.now.getTime();
  if (params.presigned) {
    if (skew > opts.maxSkewMs) throw new S3Error('AccessDenied', 'Request is not valid yet');
    if (opts.now.getTime() > when.getTime() + params.expiresSeconds! * 1000) {
      throw new S3Error('AccessDenied', 'Request has expired');
    }
  } else if (Math.abs(skew) > opts.maxSkewMs) {
    throw new S3Error('RequestTimeTooSkewed');
  }
  if (!params.signedHeaders.includes('host')) {
    const code = params.presigned ? 'AuthorizationQueryParametersError' : 'AuthorizationHeaderMalformed';
    throw new S3Error(code, 'The host header must be signed.');
  }
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const canonical = canonicalRequest(req, params.signedHeaders, payloadHash, {
    normalize: opts.normalize,
    omitQuery: params.presigned ? 'X-Amz-Signature' : undefined,
  });
  const key = (opts.deriveKey ?? signingKey)(secret, credential.date, credential.region, credential.service);
  const expected = sign(key, stringToSign(params.amzDate, scope, canonical));
  if (!signaturesEqual(expected, params.signature.toLowerCase())) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: credential.accessKeyId,
      StringToSign: stringToSign(params.amzDate, scope, canonical),
      CanonicalRequest: canonical,
    });
  }
  return { params, key, scope, payloadHash };
}
