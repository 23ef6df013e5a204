import type { ChecksumAlgorithm } from './checksums.js';

/**
 * CRC of a concatenation from the CRCs of its pieces (zlib's crc32_combine, generalised to 64 bits):
 * appending len2 zero bytes is a linear map over GF(2), applied by matrix squaring. It lets a
 * multipart upload answer a FULL_OBJECT checksum without reading the object back.
 */
const POLYNOMIALS = {
  crc32: { width: 32, poly: 0xedb88320n },
  crc32c: { width: 32, poly: 0x82f63b78n },
  crc64nvme: { width: 64, poly: 0x9a6c9329ac4bc9b5n },
} as const;

export type CrcAlgorithm = keyof typeof POLYNOMIALS;

export function isCrc(a: ChecksumAlgorithm): a is CrcAlgorithm {
  return a in POLYNOMIALS;
}

function times(mat: bigint[], vec: bigint): bigint {
  let sum = 0n;
  for (let i = 0; vec !== 0n; i++, vec >>= 1n) if (vec & 1n) sum ^= mat[i]!;
  return sum;
}

function square(mat: bigint[]): bigint[] {
  return mat.map((row) => times(mat, row));
}

/** The operator that appends `len` zero bytes; computed once per part size, since most parts share one. */
function zerosOperator(alg: CrcAlgorithm, len: number, cache: Map<string, bigint[]>): bigint[] {
  const id = `${alg}:${len}`;
  const hit = cache.get(id);
  if (hit) return hit;
  const { width, poly } = POLYNOMIALS[alg];
  // One zero bit, then square up to one zero byte (8 bits).
  let op: bigint[] = [poly, ...Array.from({ length: width - 1 }, (_, n) => 1n << BigInt(n))];
  op = square(square(square(op)));
  let result: bigint[] | undefined;
  for (let n = len; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) result = result ? result.map((row) => times(op, row)) : op;
    if (n > 1) op = square(op);
  }
  const out = result ?? Array.from({ length: width }, (_, n) => 1n << BigInt(n));
  cache.set(id, out);
  return out;
}

export function crcCombine(
  alg: CrcAlgorithm,
  crc1: bigint,
  crc2: bigint,
  len2: number,
  cache = new Map<string, bigint[]>(),
): bigint {
  if (len2 === 0) return crc1;
  return times(zerosOperator(alg, len2, cache), crc1) ^ crc2;
}

/** The full-object CRC (base64, big-endian as S3 sends it) of parts given as base64 CRCs and sizes, in order. */
export function combineParts(alg: CrcAlgorithm, parts: Array<{ checksum: string; size: number }>): string {
  const bytes = POLYNOMIALS[alg].width / 8;
  const cache = new Map<string, bigint[]>();
  let crc: bigint | undefined;
  for (const p of parts) {
    const value = BigInt('0x' + (Buffer.from(p.checksum, 'base64').toString('hex') || '0'));
    crc = crc === undefined ? value : crcCombine(alg, crc, value, p.size, cache);
  }
  const hex = (crc ?? 0n).toString(16).padStart(bytes * 2, '0');
  return Buffer.from(hex, 'hex').toString('base64');
}
