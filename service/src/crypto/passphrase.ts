/**
 * Secrets sealed under a passphrase, for what leaves the deployment (a backup's copy of the master key):
 * scrypt stretches the passphrase into an AES-256-GCM key, so a wrong passphrase or any changed byte is
 * refused rather than yielding a wrong key.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

export interface PassphraseSealed {
  kdf: 'scrypt';
  /** scrypt's cost parameters, kept so a later, costlier default still opens older files. */
  N: number;
  r: number;
  p: number;
  salt: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

const COST = { N: 2 ** 17, r: 8, p: 1 };
const keyFor = (passphrase: string, salt: Buffer, c: { N: number; r: number; p: number }) =>
  scryptSync(passphrase.normalize('NFC'), salt, 32, { ...c, maxmem: 256 * c.N * c.r });

export function sealWithPassphrase(plain: Buffer, passphrase: string): PassphraseSealed {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(passphrase, salt, COST), iv);
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
  return {
    kdf: 'scrypt',
    ...COST,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

export function openWithPassphrase(sealed: PassphraseSealed, passphrase: string): Buffer {
  if (sealed.kdf !== 'scrypt') throw new Error(`unknown key derivation ${String(sealed.kdf)}`);
  const key = keyFor(passphrase, Buffer.from(sealed.salt, 'base64'), sealed);
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
  d.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  try {
    return Buffer.concat([d.update(Buffer.from(sealed.ciphertext, 'base64')), d.final()]);
  } catch {
    throw new Error('the passphrase is wrong, or the sealed file was changed');
  }
}
