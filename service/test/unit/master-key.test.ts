import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/crypto/master-key.js';

const hex = () => randomBytes(32).toString('hex');

describe('master key file', () => {
  it('wraps with the first key and unwraps with every key it holds, as during a rotation', () => {
    const [a, b] = [hex(), hex()];
    const old = MasterKey.parse(Buffer.from(`${a}\n`));
    const secret = randomBytes(32);
    const sealedByOld = old.wrap(secret);
    const rotating = MasterKey.parse(Buffer.from(`${b}\n${a}\n`));
    expect(rotating.unwrap(sealedByOld)).toEqual(secret);
    expect(MasterKey.wrappedBy(rotating.wrap(secret))).toBe(rotating.ids[0]);
    expect(rotating.ids).toEqual([rotating.id.toString('hex'), old.id.toString('hex')]);
    const rewrapped = rotating.rewrap(sealedByOld);
    expect(MasterKey.wrappedBy(rewrapped)).toBe(rotating.ids[0]);
    const retired = MasterKey.parse(Buffer.from(b));
    expect(retired.unwrap(rewrapped)).toEqual(secret);
    expect(() => retired.unwrap(sealedByOld)).toThrow(
      `data key was wrapped by master key ${old.id.toString('hex')}, which is not loaded`,
    );
  });

  it('accepts base64 and raw keys, and refuses a key twice or a malformed line', () => {
    const raw = randomBytes(32);
    expect(MasterKey.parse(raw).id).toEqual(new MasterKey(raw).id);
    expect(MasterKey.parse(Buffer.from(raw.toString('base64') + '\n')).id).toEqual(new MasterKey(raw).id);
    const a = hex();
    expect(() => MasterKey.parse(Buffer.from(`${a}\n${a}`))).toThrow(/holds the key [0-9a-f]{8} twice/);
    expect(() => MasterKey.parse(Buffer.from(`${a}\nnot a key`))).toThrow(/64 hex characters or base64/);
  });
});
