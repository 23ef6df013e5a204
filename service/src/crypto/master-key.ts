import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const WRAP_VERSION = 1;

/**
 * The master key only wraps per-object data keys, so rotating it rewrites small rows, never data.
 * Wrapped form: version(1) | key id(4) | iv(12) | ciphertext(32) | tag(16).
 */
export class MasterKey {
  readonly id: Buffer;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('master key must be 32 bytes');
    this.id = createHash('sha256').update(key).digest().subarray(0, 4);
  }

  /** Accepts 64 hex characters, base64 of 32 bytes, or 32 raw bytes: what operators' tools produce. */
  static parse(contents: Buffer): MasterKey {
    const text = contents.toString('utf8').trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) return new MasterKey(Buffer.from(text, 'hex'));
    if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return new MasterKey(Buffer.from(text, 'base64'));
    if (contents.length === 32) return new MasterKey(contents);
    throw new Error('must hold 32 bytes as 64 hex characters or base64');
  }

  wrap(dataKey: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.id);
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([Buffer.from([WRAP_VERSION]), this.id, iv, body, cipher.getAuthTag()]);
  }

  unwrap(wrapped: Buffer): Buffer {
    if (wrapped[0] !== WRAP_VERSION || !wrapped.subarray(1, 5).equals(this.id)) {
      throw new Error('data key was wrapped by a different master key');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, wrapped.subarray(5, 17));
    decipher.setAAD(this.id);
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    return Buffer.concat([decipher.update(wrapped.subarray(17, wrapped.length - 16)), decipher.final()]);
  }
}
