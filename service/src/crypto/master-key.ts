import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const WRAP_VERSION = 1;

const keyId = (key: Buffer) => createHash('sha256').update(key).digest().subarray(0, 4);

/** One key in the text forms operators' tools produce: 64 hex characters or base64 of 32 bytes. */
function parseKeyText(text: string): Buffer {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  throw new Error('must hold 32 bytes as 64 hex characters or base64');
}

/**
 * The master key only wraps per-object data keys and sealed secrets, so rotating it rewrites small rows,
 * never data. Wrapped form: version(1) | key id(4) | iv(12) | ciphertext | tag(16); the id names the key
 * that wrapped it. During a rotation the key file holds the new key first and the keys it replaces after
 * it: new wraps use the first, and anything wrapped by the others still opens until it is rewrapped.
 */
export class MasterKey {
  readonly id: Buffer;
  private readonly readable = new Map<string, Buffer>();

  constructor(
    private readonly key: Buffer,
    older: Buffer[] = [],
  ) {
    if (key.length !== 32 || older.some((k) => k.length !== 32))
      throw new Error('master key must be 32 bytes');
    this.id = keyId(key);
    for (const k of [key, ...older]) {
      const id = keyId(k).toString('hex');
      if (this.readable.has(id)) throw new Error(`holds the key ${id} twice`);
      this.readable.set(id, k);
    }
  }

  /**
   * One key per line (the first wraps, the others only unwrap), each as 64 hex characters or base64;
   * or a single key as 32 raw bytes.
   */
  static parse(contents: Buffer): MasterKey {
    const lines = contents
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    try {
      const [first, ...older] = lines.map(parseKeyText);
      if (first) return new MasterKey(first, older);
    } catch (err) {
      if (contents.length !== 32) throw err;
    }
    if (contents.length === 32) return new MasterKey(contents);
    throw new Error('must hold 32 bytes as 64 hex characters or base64');
  }

  /** Hex ids of every key that can unwrap, the wrapping one first. */
  get ids(): string[] {
    return [...this.readable.keys()];
  }

  /** Hex id of the key that wrapped this. */
  static wrappedBy(wrapped: Buffer): string {
    return wrapped.subarray(1, 5).toString('hex');
  }

  wrap(dataKey: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.id);
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([Buffer.from([WRAP_VERSION]), this.id, iv, body, cipher.getAuthTag()]);
  }

  unwrap(wrapped: Buffer): Buffer {
    const id = wrapped.subarray(1, 5);
    const key = wrapped[0] === WRAP_VERSION ? this.readable.get(id.toString('hex')) : undefined;
    if (!key)
      throw new Error(`data key was wrapped by master key ${id.toString('hex')}, which is not loaded`);
    const decipher = createDecipheriv('aes-256-gcm', key, wrapped.subarray(5, 17));
    decipher.setAAD(id);
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    return Buffer.concat([decipher.update(wrapped.subarray(17, wrapped.length - 16)), decipher.final()]);
  }

  /** The same secret wrapped by the current key. */
  rewrap(wrapped: Buffer): Buffer {
    return this.wrap(this.unwrap(wrapped));
  }
}
