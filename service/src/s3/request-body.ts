/** A request's body as the operation handlers read it: object data streamed, documents whole. */
import { S3Error } from '../errors/s3-errors.js';
import { CHECKSUM_ALGORITHMS } from '../integrity/checksums.js';
import { headerOf, type S3Context } from './context.js';
import { MAX_SINGLE_PUT, openBody, readSmallBody, type Body } from './payload.js';

/** Object data (PutObject, UploadPart), verified against what the request declared as it streams. */
export function objectBody(ctx: S3Context): Body {
  return openBody(ctx.raw, {
    payload: ctx.auth.payload,
    presigned: ctx.auth.presigned,
    enforcePayloadVerification: ctx.settings.enforcePayloadVerification,
    maxBytes: MAX_SINGLE_PUT,
    digests: ctx.digests,
  });
}

/**
 * A small XML document (configuration, tag sets, delete lists): read whole, at most `maxBytes`.
 * `ignoreChecksumHeaders` is for Complete, whose x-amz-checksum-* headers describe the object, not the body.
 */
export async function documentBody(
  ctx: S3Context,
  maxBytes: number,
  opts: { ignoreChecksumHeaders?: boolean } = {},
): Promise<string> {
  const { text } = await readSmallBody(ctx.raw, {
    payload: ctx.auth.payload,
    presigned: ctx.auth.presigned,
    enforcePayloadVerification: false,
    maxBytes,
    ...opts,
  });
  return text;
}

/**
 * AWS requires an integrity digest on some configuration calls (DeleteObjects, object lock): without
 * one, a proxy could alter what is deleted or locked. Enforced with ENFORCE_PAYLOAD_VERIFICATION.
 */
export function requireBodyDigest(ctx: S3Context, opts: { signedPayloadCounts?: boolean } = {}): void {
  const declared =
    (opts.signedPayloadCounts && ctx.auth.payload.kind !== 'unsigned') ||
    headerOf(ctx, 'content-md5') !== undefined ||
    CHECKSUM_ALGORITHMS.some((a) => headerOf(ctx, `x-amz-checksum-${a}`) !== undefined) ||
    headerOf(ctx, 'x-amz-trailer') !== undefined;
  if (ctx.settings.enforcePayloadVerification && !declared)
    throw new S3Error(
      'InvalidRequest',
      'Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header).',
    );
}
