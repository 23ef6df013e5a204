import type { ListResult } from '../store/types.js';
import { xmlResponse, type S3Context, type S3Response, bucketOf, ownerXml } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { isoDate, toXml, type XmlNode } from './xml.js';
import { integerIn } from '../parse/integer.js';

const MAX_KEYS = 1000;
const TOKEN_PREFIX = 'c1:';

export function maxKeysOf(ctx: S3Context): number {
  const raw = ctx.query.get('max-keys');
  if (raw === undefined || raw === '') return MAX_KEYS;
  const n = integerIn(raw);
  if (n === undefined) {
    throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
      ArgumentName: 'max-keys',
      ArgumentValue: raw,
    });
  }
  return Math.min(n, MAX_KEYS);
}

export function encodingOf(ctx: S3Context): 'url' | undefined {
  const e = ctx.query.get('encoding-type');
  if (e === undefined) return undefined;
  if (e.toLowerCase() !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
    });
  }
  return 'url';
}

/** S3's encoding-type=url: form-style percent-encoding that leaves '/' readable, as AWS and MinIO emit. */
export function s3UrlEncode(value: string): string {
  let out = '';
  for (const ch of value) {
    if (/[A-Za-z0-9\-_.*/]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

export function encodeToken(entry: string): string {
  return Buffer.from(TOKEN_PREFIX + entry, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (
    !text.startsWith(TOKEN_PREFIX) ||
    encodeToken(text.slice(TOKEN_PREFIX.length)) !== token.replace(/=+$/, '')
  ) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  return text.slice(TOKEN_PREFIX.length);
}

function contents(result: ListResult, enc: (s: string) => string, owner: XmlNode | undefined): XmlNode[] {
  return result.objects.map((o) => ({
    Key: enc(o.key),
    LastModified: isoDate(o.lastModified),
    ETag: o.etag,
    Size: o.size,
    Owner: owner,
    StorageClass: 'STANDARD',
  }));
}

async function list(
  ctx: S3Context,
  after: string,
): Promise<{ result: ListResult; maxKeys: number; enc: (s: string) => string; encoding?: string }> {
  const maxKeys = maxKeysOf(ctx);
  const encoding = encodingOf(ctx);
  const enc = encoding ? s3UrlEncode : (s: string) => s;
  const result = await ctx.store.listObjects(bucketOf(ctx), {
    prefix: ctx.query.get('prefix') ?? '',
    delimiter: ctx.query.get('delimiter') ?? '',
    maxKeys,
    after,
  });
  return { result, maxKeys, enc, encoding };
}

export async function listObjectsV1(ctx: S3Context): Promise<S3Response> {
  const marker = ctx.query.get('marker') ?? '';
  const { result, maxKeys, enc, encoding } = await list(ctx, marker);
  const delimiter = ctx.query.get('delimiter');
  return xmlResponse(
    toXml('ListBucketResult', {
      Name: ctx.bucket,
      Prefix: enc(ctx.query.get('prefix') ?? ''),
      Marker: enc(marker),
      // AWS only promises NextMarker with a delimiter; sending it always saves clients a guess.
      NextMarker: result.isTruncated && result.lastEntry !== undefined ? enc(result.lastEntry) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: encoding,
      IsTruncated: result.isTruncated,
      Contents: contents(result, enc, ownerXml(ctx, bucketOf(ctx).owner)),
      CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}

export async function listObjectsV2(ctx: S3Context): Promise<S3Response> {
  const token = ctx.query.get('continuation-token');
  const startAfter = ctx.query.get('start-after');
  if (token === '')
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  const after = token !== undefined ? decodeToken(token) : (startAfter ?? '');
  const { result, maxKeys, enc, encoding } = await list(ctx, after);
  const delimiter = ctx.query.get('delimiter');
  const fetchOwner = ctx.query.get('fetch-owner') === 'true';
  return xmlResponse(
    toXml('ListBucketResult', {
      Name: ctx.bucket,
      Prefix: enc(ctx.query.get('prefix') ?? ''),
      StartAfter: startAfter !== undefined ? enc(startAfter) : undefined,
      ContinuationToken: token,
      NextContinuationToken:
        result.isTruncated && result.lastEntry !== undefined ? encodeToken(result.lastEntry) : undefined,
      KeyCount: result.objects.length + result.commonPrefixes.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter ? enc(delimiter) : undefined,
      EncodingType: encoding,
      IsTruncated: result.isTruncated,
      Contents: contents(result, enc, fetchOwner ? ownerXml(ctx, bucketOf(ctx).owner) : undefined),
      CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}
