import { createHash, type Hash } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import { chunkStringToSign, sha256Hex, sign, signaturesEqual, trailerStringToSign } from './sigv4.js';

/** What chains chunk signatures to the request's seed signature. */
export interface ChunkSigning {
  key: Buffer;
  scope: string;
  amzDate: string;
  seedSignature: string;
}

export interface AwsChunkedOptions {
  /** Present for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): every chunk signature is verified. */
  signing?: ChunkSigning;
  /** The request announced trailers (x-amz-trailer); they follow the zero-length chunk. */
  expectTrailer: boolean;
}

const MAX_LINE = 4096;
const EMPTY = Buffer.alloc(0);
type State = 'size' | 'data' | 'data-crlf' | 'trailer' | 'done';

/**
 * Decodes an aws-chunked body (`hex-size[;chunk-signature=sig]\r\n data \r\n ... 0\r\n [trailers] \r\n`),
 * verifying each chunk signature as the chunk completes and collecting trailer headers.
 * Decoded bytes flow on immediately; a bad signature fails the body, so the store never commits.
 * A plain parser, not a stream: a Transform's buffering joined the pieces it pushed into copies.
 */
export class AwsChunkedDecoder {
  readonly trailers = new Map<string, string>();
  decodedLength = 0;
  private state: State = 'size';
  private pending: Buffer = EMPTY;
  private remaining = 0;
  private chunkSignature: string | undefined;
  private chunkHash: Hash | undefined;
  private previousSignature: string;
  private trailerSignature: string | undefined;
  private readonly trailerLines: string[] = [];

  constructor(private readonly opts: AwsChunkedOptions) {
    this.previousSignature = opts.signing?.seedSignature ?? '';
  }

  /** Consumes the next bytes of the body; returns its decoded data, as views of `input`. */
  decode(input: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, input]) : input;
    this.pending = EMPTY;
    while (buf.length > 0) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, buf.length);
        const piece = buf.subarray(0, take);
        this.chunkHash?.update(piece);
        this.decodedLength += take;
        out.push(piece);
        this.remaining -= take;
        buf = buf.subarray(take);
        if (this.remaining === 0) this.state = 'data-crlf';
        continue;
      }
      if (this.state === 'done') {
        // Tolerate trailing CRLFs some clients add; anything else is a malformed body.
        if (/^[\r\n]*$/.test(buf.toString('latin1'))) return out;
        throw new S3Error('IncompleteBody', 'Unexpected data after the final aws-chunked chunk.');
      }
      if (this.state === 'data-crlf') {
        if (buf.length < 2) {
          this.pending = Buffer.from(buf);
          return out;
        }
        if (buf[0] !== 0x0d || buf[1] !== 0x0a)
          throw new S3Error('IncompleteBody', 'Chunk data is not followed by CRLF.');
        buf = buf.subarray(2);
        this.endChunk();
        this.state = 'size';
        continue;
      }
      const nl = buf.indexOf('\r\n');
      if (nl < 0) {
        if (buf.length > MAX_LINE) throw new S3Error('IncompleteBody', 'An aws-chunked line is too long.');
        this.pending = Buffer.from(buf);
        return out;
      }
      const line = buf.subarray(0, nl).toString('latin1');
      buf = buf.subarray(nl + 2);
      if (this.state === 'size') this.startChunk(line);
      else this.trailerLine(line);
    }
    return out;
  }

  /** The body has ended: refuses one that stopped before its final chunk (and trailer). */
  end(): void {
    if (this.state === 'trailer' && this.pending.length === 0) this.finishTrailer();
    if (this.state !== 'done')
      throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.');
  }

  private startChunk(line: string): void {
    const [sizeHex, ...exts] = line.split(';');
    if (!sizeHex || !/^[0-9a-fA-F]{1,16}$/.test(sizeHex.trim())) {
      throw new S3Error('IncompleteBody', 'Malformed aws-chunked chunk header.');
    }
    const size = parseInt(sizeHex.trim(), 16);
    this.chunkSignature = undefined;
    for (const ext of exts) {
      const [k, v] = ext.split('=');
      if (k?.trim() === 'chunk-signature' && v) this.chunkSignature = v.trim();
    }
    if (this.opts.signing && !this.chunkSignature) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'A chunk of a signed aws-chunked body has no chunk-signature.',
      );
    }
    this.chunkHash = this.opts.signing ? createHash('sha256') : undefined;
    this.remaining = size;
    if (size > 0) {
      this.state = 'data';
      return;
    }
    // The zero-length chunk: its signature covers the empty payload, then trailers or the end.
    this.endChunk();
    // Without trailers the final chunk is followed by an empty line, which ends the trailer section.
    this.state = 'trailer';
  }

  private endChunk(): void {
    const signing = this.opts.signing;
    if (!signing || !this.chunkHash) return;
    const digest = this.chunkHash.digest('hex');
    this.chunkHash = undefined;
    const expected = sign(
      signing.key,
      chunkStringToSign(signing.amzDate, signing.scope, this.previousSignature, digest),
    );
    if (!signaturesEqual(expected, (this.chunkSignature ?? '').toLowerCase())) {
      throw new S3Error('SignatureDoesNotMatch', 'A chunk signature does not match the chunk it signs.');
    }
    this.previousSignature = expected;
  }

  private trailerLine(line: string): void {
    if (line === '') {
      this.finishTrailer();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new S3Error('MalformedTrailerError');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.trailerSignature = value;
      return;
    }
    if (!this.opts.expectTrailer)
      throw new S3Error('MalformedTrailerError', 'Trailer sent without x-amz-trailer.');
    this.trailers.set(name, value);
    this.trailerLines.push(`${name}:${value}\n`);
  }

  private finishTrailer(): void {
    const signing = this.opts.signing;
    if (signing && this.opts.expectTrailer) {
      if (!this.trailerSignature)
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature is missing.');
      const expected = sign(
        signing.key,
        trailerStringToSign(
          signing.amzDate,
          signing.scope,
          this.previousSignature,
          sha256Hex(this.trailerLines.join('')),
        ),
      );
      if (!signaturesEqual(expected, this.trailerSignature.toLowerCase())) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match the trailer.');
      }
    }
    this.state = 'done';
  }
}

/** The decoded data of an aws-chunked body; fails when a chunk is malformed or the body ends early. */
export async function* decodeAwsChunked(
  body: AsyncIterable<Buffer>,
  decoder: AwsChunkedDecoder,
): AsyncGenerator<Buffer> {
  for await (const input of body) for (const piece of decoder.decode(input)) yield piece;
  decoder.end();
}
