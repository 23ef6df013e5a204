/**
 * Signature Version 2 (HMAC-SHA1 over the request's verb, Content-MD5, Content-Type, date, x-amz-*
 * headers and resource), as aws CLI v1, boto3 in us-east-1 and s3cmd still presign with. Header form
 * (`Authorization: AWS id:signature`) and query form (AWSAccessKeyId, Expires, Signature). The body is
 * not signed (Content-MD5 protects it when sent), so SigV2 requests always stream as unsigned payloads.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import { headerValue, safeDecode, type WireRequest } from './sigv4.js';

/** The sub-resources that take part in the canonical resource (the list botocore and s3cmd sign). */
const SIGNED_SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'cors',
  'delete',
  'encryption',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'retention',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
]);

export interface SigV2Params {
  accessKeyId: string;
  signature: string;
  presigned: boolean;
  /** Query form: when the URL stops being valid (epoch seconds). */
  expires?: number;
}

/** Whether the request is signed with SigV2 at all (header or query form). */
export function isSigV2(wire: WireRequest, query: ReadonlyArray<[string, string]>): boolean {
  const authorization = headerValue(wire.headers, 'authorization');
  if (authorization !== undefined) return /^AWS [^:\s]+:/.test(authorization);
  return query.some(([k]) => k === 'AWSAccessKeyId') && query.some(([k]) => k === 'Signature');
}

export function parseSigV2(wire: WireRequest, query: ReadonlyArray<[string, string]>): SigV2Params {
  const authorization = headerValue(wire.headers, 'authorization');
  if (authorization !== undefined) {
    const m = /^AWS ([^:\s]+):(\S+)$/.exec(authorization.trim());
    if (!m)
      throw new S3Error(
        'InvalidArgument',
        "Authorization header is invalid -- one and only one ' ' (space) required",
        { ArgumentName: 'Authorization' },
      );
    return { accessKeyId: m[1]!, signature: m[2]!, presigned: false };
  }
  const get = (name: string) => query.find(([k]) => k === name)?.[1];
  const expires = get('Expires');
  if (expires === undefined || !/^\d{1,12}$/.test(expires))
    throw new S3Error(
      'AccessDenied',
      'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
    );
  // A '+' of the base64 signature sent unencoded arrives as a space in form-decoded query strings.
  return {
    accessKeyId: get('AWSAccessKeyId')!,
    signature: get('Signature')!.replace(/ /g, '+'),
    presigned: true,
    expires: Number(expires),
  };
}

/** x-amz-* headers, lower-cased and sorted, repeated ones joined with commas, one `name:value\n` each. */
function canonicalAmzHeaders(wire: WireRequest, except?: string): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of wire.headers) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || lower === except) continue;
    byName.set(lower, [...(byName.get(lower) ?? []), value.trim().replace(/\s+/g, ' ')]);
  }
  return [...byName.keys()]
    .sort()
    .map((name) => `${name}:${byName.get(name)!.join(',')}\n`)
    .join('');
}

/** The path as sent (with the bucket first for virtual-hosted requests) and the signed sub-resources. */
function canonicalResource(wire: WireRequest, virtualBucket: string | undefined): string {
  const path = (virtualBucket !== undefined ? `/${virtualBucket}` : '') + (wire.rawPath || '/');
  const signed = wire.rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = safeDecode(eq < 0 ? pair : pair.slice(0, eq));
      return { name, text: eq < 0 ? name : `${name}=${safeDecode(pair.slice(eq + 1))}` };
    })
    .filter((p) => SIGNED_SUBRESOURCES.has(p.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return signed.length ? `${path}?${signed.map((p) => p.text).join('&')}` : path;
}

/**
 * The strings a SigV2 signature may cover. With x-amz-date, the specification leaves the Date line empty
 * and signs x-amz-date among the x-amz-* headers (s3cmd, botocore); AWS's own DELETE example instead
 * puts its value on the Date line and leaves it out of the headers. Both are accepted.
 */
export function stringsToSignV2(wire: WireRequest, params: SigV2Params, virtualBucket?: string): string[] {
  const h = (name: string) => headerValue(wire.headers, name) ?? '';
  const resource = canonicalResource(wire, virtualBucket);
  const line = (date: string, amz: string) =>
    [wire.method, h('content-md5'), h('content-type'), date, amz + resource].join('\n');
  if (params.presigned) return [line(String(params.expires), canonicalAmzHeaders(wire))];
  const amzDate = headerValue(wire.headers, 'x-amz-date');
  if (amzDate === undefined) return [line(h('date'), canonicalAmzHeaders(wire))];
  return [line('', canonicalAmzHeaders(wire)), line(amzDate.trim(), canonicalAmzHeaders(wire, 'x-amz-date'))];
}

export interface VerifyV2Options {
  now: Date;
  maxSkewMs: number;
  lookupSecret: (accessKeyId: string) => string | undefined;
  virtualBucket?: string;
}

/** Checks a SigV2 signature and its time bounds; throws the S3 error AWS answers with. */
export function verifySigV2(
  wire: WireRequest,
  query: ReadonlyArray<[string, string]>,
  opts: VerifyV2Options,
): SigV2Params {
  const params = parseSigV2(wire, query);
  const secret = opts.lookupSecret(params.accessKeyId);
  if (secret === undefined)
    throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: params.accessKeyId });
  if (params.presigned) {
    if (params.expires! * 1000 < opts.now.getTime())
      throw new S3Error('AccessDenied', 'Request has expired', {
        Expires: new Date(params.expires! * 1000).toISOString(),
        ServerTime: opts.now.toISOString(),
      });
  } else {
    const sent = headerValue(wire.headers, 'x-amz-date') ?? headerValue(wire.headers, 'date');
    const at = sent === undefined ? NaN : Date.parse(sent);
    if (Number.isNaN(at))
      throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(at - opts.now.getTime()) > opts.maxSkewMs)
      throw new S3Error('RequestTimeTooSkewed', undefined, {
        RequestTime: sent!,
        ServerTime: opts.now.toISOString(),
      });
  }
  const candidates = stringsToSignV2(wire, params, opts.virtualBucket);
  const given = Buffer.from(params.signature, 'base64');
  const matches = (text: string) => {
    const expected = createHmac('sha1', secret).update(text, 'utf8').digest();
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  if (!candidates.some(matches))
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: params.accessKeyId,
      StringToSign: candidates[0]!,
      SignatureProvided: params.signature,
    });
  return params;
}
