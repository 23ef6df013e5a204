import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { PayloadMode } from '../auth/authenticate.js';
import { AwsChunkedDecoder, decodeAwsChunked } from '../auth/chunked.js';
import {
  assertChecksumShape,
  CHECKSUM_ALGORITHMS,
  isChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../integrity/checksums.js';
import { InlineDigester, type DigestPool } from '../integrity/digest-pool.js';
import { S3Error } from '../errors/s3-errors.js';
import { integerIn } from '../parse/integer.js';

export const MAX_SINGLE_PUT = 5 * 1024 ** 3;

export interface BodyDigests {
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

export interface Body {
  chunks: AsyncIterable<Buffer>;
  /** The plaintext length the request declared (Content-Length, or the decoded length of aws-chunked). */
  length?: number;
  /** Checks every digest the request declared against what streamed through; call after `chunks` is drained. */
  finalize(): Promise<BodyDigests>;
}

export interface BodyOptions {
  payload: PayloadMode;
  presigned: boolean;
  enforcePayloadVerification: boolean;
  maxBytes: number;
  /** CompleteMultipartUpload's x-amz-checksum-* headers describe the object, not the XML body. */
  ignoreChecksumHeaders?: boolean;
  /** Where large bodies are digested; absent, every body is digested on the event loop. */
  digests?: DigestPool;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function lengthHeader(headers: IncomingHttpHeaders, name: string): number | undefined {
  const v = header(headers, name);
  if (v === undefined) return undefined;
  const n = integerIn(v.trim());
  if (n === undefined)
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, { ArgumentName: name });
  return n;
}

/**
 * Turns a request body into plaintext chunks plus a finalizer that verifies, once the last byte has
 * streamed, every digest the client declared: the signed SHA-256, chunk and trailer signatures (in the
 * decoder), Content-MD5 and the x-amz-checksum-* value from a header or a trailer.
 */
export function openBody(raw: IncomingMessage, opts: BodyOptions): Body {
  const headers = raw.headers;
  const { payload } = opts;
  const streaming = payload.kind === 'streaming';
  const contentLength = lengthHeader(headers, 'content-length');
  const decodedLength = lengthHeader(headers, 'x-amz-decoded-content-length');
  const expectedLength = streaming ? decodedLength : contentLength;
  if (streaming && decodedLength === undefined) {
    throw new S3Error('MissingContentLength', 'aws-chunked uploads must send x-amz-decoded-content-length.');
  }
  if (expectedLength !== undefined && expectedLength > opts.maxBytes) {
    throw new S3Error('EntityTooLarge', undefined, {
      ProposedSize: String(expectedLength),
      MaxSizeAllowed: String(opts.maxBytes),
    });
  }

  const contentMd5 = header(headers, 'content-md5');
  if (contentMd5 !== undefined && Buffer.from(contentMd5, 'base64').length !== 16)
    throw new S3Error('InvalidDigest');

  const declared = opts.ignoreChecksumHeaders
    ? []
    : CHECKSUM_ALGORITHMS.filter((alg) => header(headers, `x-amz-checksum-${alg}`) !== undefined);
  if (declared.length > 1)
    throw new S3Error(
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  for (const alg of declared) assertChecksumShape(alg, header(headers, `x-amz-checksum-${alg}`)!);

  const trailerNames = (header(headers, 'x-amz-trailer') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (trailerNames.length && !(streaming && payload.trailer)) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.');
  }
  if (streaming && payload.trailer && trailerNames.length === 0) {
    throw new S3Error(
      'InvalidRequest',
      'A STREAMING-*-TRAILER payload must declare its trailer in x-amz-trailer.',
    );
  }
  const trailerAlgs: ChecksumAlgorithm[] = [];
  for (const t of trailerNames) {
    const alg = t.replace(/^x-amz-checksum-/, '');
    if (!t.startsWith('x-amz-checksum-') || !isChecksumAlgorithm(alg)) {
      throw new S3Error('InvalidRequest', `The trailer ${t} is not a supported checksum.`);
    }
    trailerAlgs.push(alg);
  }
  if (declared.length + trailerAlgs.length > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header or trailer.');
  }

  if (
    opts.enforcePayloadVerification &&
    !opts.presigned &&
    payload.kind === 'unsigned' &&
    contentMd5 === undefined &&
    declared.length === 0 &&
    (expectedLength ?? 1) > 0
  ) {
    throw new S3Error(
      'InvalidRequest',
      'Payload verification is enforced: an UNSIGNED-PAYLOAD body needs Content-MD5 or an x-amz-checksum-* header or trailer.',
    );
  }

  const checksumAlg = declared[0] ?? trailerAlgs[0];
  const digestRequest = { sha256: payload.kind === 'sha256', checksum: checksumAlg };
  const digester = opts.digests?.open(digestRequest, expectedLength) ?? new InlineDigester(digestRequest);
  let digested = false;
  const decoder = streaming
    ? new AwsChunkedDecoder({ signing: payload.signing, expectTrailer: payload.trailer })
    : undefined;
  let received = 0;

  async function* chunks(): AsyncGenerator<Buffer> {
    const source: AsyncIterable<Buffer> = decoder ? decodeAwsChunked(raw, decoder) : raw;
    let whole = false;
    try {
      for await (const chunk of source) {
        received += chunk.length;
        if (received > opts.maxBytes) throw new S3Error('EntityTooLarge');
        if (expectedLength !== undefined && received > expectedLength)
          throw new S3Error('IncompleteBody', 'The body is longer than its declared length.');
        await digester.update(chunk);
        yield chunk;
      }
      whole = true;
    } finally {
      // A body that failed or was abandoned is never finalized: its digests are dropped, wherever they run.
      if (!whole) digester.cancel();
    }
  }

  async function finalize(): Promise<BodyDigests> {
    if (digested) throw new Error('a body is finalized once');
    digested = true;
    if (expectedLength !== undefined && received !== expectedLength) {
      digester.cancel();
      throw new S3Error('IncompleteBody');
    }
    const digests = await digester.digest();
    if (payload.kind === 'sha256' && digests.sha256 !== payload.hex) {
      throw new S3Error('XAmzContentSHA256Mismatch');
    }
    const md5Raw = digests.md5;
    if (contentMd5 !== undefined && !md5Raw.equals(Buffer.from(contentMd5, 'base64')))
      throw new S3Error('BadDigest');
    const checksums: BodyDigests['checksums'] = {};
    if (checksumAlg) {
      const name = `x-amz-checksum-${checksumAlg}`;
      const expected = declared.length ? header(headers, name) : decoder?.trailers.get(name);
      if (expected === undefined)
        throw new S3Error('MalformedTrailerError', `The trailer ${name} was declared but not sent.`);
      assertChecksumShape(checksumAlg, expected);
      const actual = digests.checksum!;
      if (actual !== expected) {
        throw new S3Error(
          'BadDigest',
          `The ${checksumAlg.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      }
      checksums[checksumAlg] = actual;
    }
    return { etag: `"${md5Raw.toString('hex')}"`, checksums };
  }

  return { chunks: chunks(), length: expectedLength, finalize };
}

/** Reads a small request body (XML documents) with the same verification as object data. */
export async function readSmallBody(
  raw: IncomingMessage,
  opts: BodyOptions,
): Promise<{ text: string; digests: BodyDigests }> {
  const body = openBody(raw, opts);
  const parts: Buffer[] = [];
  for await (const c of body.chunks) parts.push(c);
  const digests = await body.finalize();
  return { text: Buffer.concat(parts).toString('utf8'), digests };
}
