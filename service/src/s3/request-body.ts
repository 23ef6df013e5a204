/** A request's body as the operation handlers read it: object data streamed, documents whole. */
import type { S3Context } from './context.js';
import { MAX_SINGLE_PUT, openBody, readSmallBody, type Body } from './payload.js';

/** Object data (PutObject, UploadPart), verified against what the request declared as it streams. */
export function objectBody(ctx: S3Context): Body {
  return openBody(ctx.raw, {
    payload: ctx.auth.payload,
    presigned: ctx.auth.presigned,
    enforcePayloadVerification: ctx.settings.enforcePayloadVerification,
    maxBytes: MAX_SINGLE_PUT,
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
