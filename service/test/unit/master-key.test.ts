import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/crypto/master-key.js';
import { openWithPassphrase, sealWithPassphrase } from '../../src/crypto/passphrase.js';

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

describe("a master key sealed under a passphrase (a backup's copy)", () => {
  it('opens with the passphrase alone, and refuses a wrong one or a changed byte', () => {
    const keyring = Buffer.from(`${hex()}\n${hex()}\n`);
    const sealed = sealWithPassphrase(keyring, 'correct horse battery staple');
    expect(JSON.stringify(sealed)).not.toContain(keyring.toString('base64'));
    expect(openWithPassphrase(JSON.parse(JSON.stringify(sealed)), 'correct horse battery staple')).toEqual(
      keyring,
    );
    expect(() => openWithPassphrase(sealed, 'correct horse battery stapler')).toThrow(/passphrase is wrong/);
    const flipped = Buffer.from(sealed.ciphertext, 'base64');
    flipped[3]! ^= 1;
    expect(() =>
      openWithPassphrase(
        { ...sealed, ciphertext: flipped.toString('base64') },
        'correct horse battery staple',
      ),
    ).toThrow(/passphrase is wrong/);
    // Two seals of the same key share nothing: fresh salt and nonce each time.
    expect(sealWithPassphrase(keyring, 'correct horse battery staple').salt).not.toBe(sealed.salt);
  });
});
