import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder, decodeAwsChunked } from '../../src/auth/chunked.js';
import {
  chunkStringToSign,
  sha256Hex,
  sign,
  signingKey,
  trailerStringToSign,
  verifySignature,
  type WireRequest,
  parseAuthorizationHeader,
} from '../../src/auth/sigv4.js';

// The example in the AWS S3 documentation "Signature calculations for the Authorization header:
// transferring payload in multiple chunks": 64 KiB + 1 KiB of 'a', secret ...EXAMPLEKEY.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const DOC_CHUNK_SIGNATURES = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const key = signingKey(SECRET, '20130524', 'us-east-1', 's3');

function signedChunks(sizes: number[], seed = SEED): { body: Buffer; signatures: string[]; last: string } {
  const parts: Buffer[] = [];
  const signatures: string[] = [];
  let prev = seed;
  for (const size of [...sizes, 0]) {
    const data = Buffer.alloc(size, 'a');
    prev = sign(key, chunkStringToSign(AMZ_DATE, SCOPE, prev, sha256Hex(data)));
    signatures.push(prev);
    parts.push(Buffer.from(`${size.toString(16)};chunk-signature=${prev}\r\n`), data, Buffer.from('\r\n'));
  }
  return { body: Buffer.concat(parts), signatures, last: prev };
}

/** Feeds the body in pieces of `step` bytes so every parser state is split somewhere. */
async function decode(decoder: AwsChunkedDecoder, body: Buffer, step: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += step) pieces.push(body.subarray(i, i + step));
  const out: Buffer[] = [];
  for await (const c of decodeAwsChunked(asyncPieces(pieces), decoder)) out.push(c);
  return Buffer.concat(out);
}

async function* asyncPieces(pieces: Buffer[]): AsyncGenerator<Buffer> {
  yield* pieces;
}

const signing = { key, scope: SCOPE, amzDate: AMZ_DATE, seedSignature: SEED };

describe('aws-chunked decoding', () => {
  it('verifies the seed signature of the AWS documentation example', () => {
    const wire: WireRequest = {
      method: 'PUT',
      rawPath: '/examplebucket/chunkObject.txt',
      rawQuery: '',
      headers: [
        ['Host', 's3.amazonaws.com'],
        ['x-amz-date', AMZ_DATE],
        ['x-amz-storage-class', 'REDUCED_REDUNDANCY'],
        ['Content-Encoding', 'aws-chunked'],
        ['x-amz-decoded-content-length', '66560'],
        ['Content-Length', '66824'],
        ['x-amz-content-sha256', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'],
        [
          'Authorization',
          `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
        ],
      ],
    };
    const params = parseAuthorizationHeader(
      wire.headers.find(([n]) => n === 'Authorization')![1],
      wire.headers,
    );
    expect(() =>
      verifySignature(wire, params, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', {
        service: 's3',
        normalize: false,
        now: new Date('2013-05-24T00:05:00Z'),
        maxSkewMs: 900_000,
        lookupSecret: () => SECRET,
      }),
    ).not.toThrow();
  });

  it('reproduces the chunk signatures of the AWS documentation example', () => {
    const { signatures, body } = signedChunks([65536, 1024]);
    expect(signatures).toEqual(DOC_CHUNK_SIGNATURES);
    expect(body.length).toBe(66824);
  });

  for (const step of [1, 7, 8192, 1 << 20]) {
    it(`decodes and verifies a signed body fed in ${step}-byte pieces`, async () => {
      const { body } = signedChunks([65536, 1024]);
      const decoder = new AwsChunkedDecoder({ signing, expectTrailer: false });
      const out = await decode(decoder, body, step);
      expect(out.equals(Buffer.alloc(66560, 'a'))).toBe(true);
      expect(decoder.decodedLength).toBe(66560);
    });
  }

  it('fails on a tampered chunk', async () => {
    const { body } = signedChunks([65536, 1024]);
    body[body.indexOf('\r\n') + 2 + 100] = 0x62; // one 'a' becomes 'b'
    await expect(
      decode(new AwsChunkedDecoder({ signing, expectTrailer: false }), body, 4096),
    ).rejects.toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
  });

  it('fails on chunks replayed out of order', async () => {
    const a = signedChunks([8192]);
    const swapped = Buffer.concat([
      a.body.subarray(a.body.indexOf('0;chunk')),
      a.body.subarray(0, a.body.indexOf('0;chunk')),
    ]);
    await expect(
      decode(new AwsChunkedDecoder({ signing, expectTrailer: false }), swapped, 100),
    ).rejects.toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  it('fails when the body ends before the final chunk', async () => {
    const { body } = signedChunks([65536, 1024]);
    await expect(
      decode(new AwsChunkedDecoder({ signing, expectTrailer: false }), body.subarray(0, 60000), 4096),
    ).rejects.toMatchObject({ code: 'IncompleteBody' });
  });

  it('collects an unsigned trailer', async () => {
    const body = Buffer.from('5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n');
    const decoder = new AwsChunkedDecoder({ expectTrailer: true });
    expect((await decode(decoder, body, 3)).toString()).toBe('hello');
    expect(decoder.trailers.get('x-amz-checksum-crc32')).toBe('NhCmhg==');
  });

  it('verifies a signed trailer and refuses a forged one', async () => {
    const { body, last } = signedChunks([1024]);
    const trailer = 'x-amz-checksum-crc32:AAAAAA==\n';
    const trailerSig = sign(key, trailerStringToSign(AMZ_DATE, SCOPE, last, sha256Hex(trailer)));
    const withTrailer = (sig: string) =>
      Buffer.concat([
        body.subarray(0, body.length - 2),
        Buffer.from(`${trailer.trim()}\r\nx-amz-trailer-signature:${sig}\r\n\r\n`),
      ]);
    const ok = new AwsChunkedDecoder({ signing, expectTrailer: true });
    await decode(ok, withTrailer(trailerSig), 50);
    expect(ok.trailers.get('x-amz-checksum-crc32')).toBe('AAAAAA==');
    const forged = new AwsChunkedDecoder({ signing, expectTrailer: true });
    await expect(decode(forged, withTrailer('0'.repeat(64)), 50)).rejects.toMatchObject({
      code: 'SignatureDoesNotMatch',
    });
  });
});
