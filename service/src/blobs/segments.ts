import { createCipheriv, createDecipheriv, type CipherGCM } from 'node:crypto';

/**
 * Object content is sealed in fixed-size AES-256-GCM segments. The nonce carries the segment index
 * and the AAD marks the final segment, so reordering, truncation and extension all fail to open.
 * A data key is used for exactly one object, so index-derived nonces never repeat under one key.
 */
export const SEGMENT_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const HEADER_SIZE = 16;
const MAGIC = Buffer.from('CFB1', 'ascii');

export function fileHeader(segmentSize: number): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  MAGIC.copy(h, 0);
  h.writeUInt8(1, 4);
  h.writeUInt32BE(segmentSize, 8);
  return h;
}

export function parseFileHeader(h: Buffer): number {
  if (h.length < HEADER_SIZE || !h.subarray(0, 4).equals(MAGIC) || h.readUInt8(4) !== 1) {
    throw new Error('blob header is not a Coffer segment file');
  }
  return h.readUInt32BE(8);
}

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function aad(final: boolean): Buffer {
  return Buffer.from([final ? 1 : 0]);
}

/**
 * A segment's cipher, fed piece by piece as plaintext arrives; `final()` then `getAuthTag()` give its tag.
 * Whether the segment is the last must be known before the first byte: it is authenticated data.
 */
export function segmentCipher(key: Buffer, index: number, final: boolean): CipherGCM {
  const c = createCipheriv('aes-256-gcm', key, nonce(index));
  c.setAAD(aad(final));
  return c;
}

/** Returns the ciphertext and its tag as two buffers, so large writes need no extra copy. */
export function sealSegment(key: Buffer, index: number, final: boolean, plain: Buffer): [Buffer, Buffer] {
  const c = segmentCipher(key, index, final);
  const body = c.update(plain);
  c.final();
  return [body, c.getAuthTag()];
}

export function openSegment(key: Buffer, index: number, final: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG_SIZE) throw new Error(`segment ${index} is truncated`);
  const d = createDecipheriv('aes-256-gcm', key, nonce(index));
  d.setAAD(aad(final));
  d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  try {
    const plain = d.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    d.final(); // GCM emits nothing here; it throws when the tag does not authenticate
    return plain;
  } catch {
    throw new Error(`segment ${index} failed authentication (corrupt, truncated or reordered data)`);
  }
}

/** Number of segments for `size` plaintext bytes; an empty object still has one (empty, final) segment. */
export function segmentCount(size: number, segmentSize: number): number {
  return Math.max(1, Math.ceil(size / segmentSize));
}

export function sealedOffset(index: number, segmentSize: number): number {
  return HEADER_SIZE + index * (segmentSize + TAG_SIZE);
}

export function sealedLength(size: number, segmentSize: number): number {
  return HEADER_SIZE + size + segmentCount(size, segmentSize) * TAG_SIZE;
}
