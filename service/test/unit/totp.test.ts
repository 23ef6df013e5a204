import { describe, expect, it } from 'vitest';
import { totpFor, totpStep, TOTP_PERIOD } from '../../src/management/totp.js';

/**
 * RFC 6238 Appendix B, SHA-1, secret "12345678901234567890". Coffer's codes have 6 digits: HOTP truncates
 * modulo 10^digits, so they are the last six digits of the RFC's 8-digit values.
 */
const SECRET = new TextEncoder().encode('12345678901234567890');
const VECTORS: Array<[number, string]> = [
  [59, '287082'],
  [1111111109, '081804'],
  [1111111111, '050471'],
  [1234567890, '005924'],
  [2000000000, '279037'],
  [20000000000, '353130'],
];

describe("the admin login's TOTP (Coffer's 6-digit RFC 6238)", () => {
  for (const [seconds, code] of VECTORS)
    it(`T=${seconds} gives ${code}, accepted in its own step`, () => {
      expect(totpFor('admin', SECRET).generate({ timestamp: seconds * 1000 })).toBe(code);
      expect(totpStep(SECRET, code, seconds * 1000)).toBe(Math.floor(seconds / TOTP_PERIOD));
    });

  it('accepts one step of drift either way and refuses two', () => {
    const [seconds, code] = VECTORS[3]!;
    const at = (steps: number) => (seconds + steps * TOTP_PERIOD) * 1000;
    expect(totpStep(SECRET, code, at(1))).toBe(Math.floor(seconds / TOTP_PERIOD));
    expect(totpStep(SECRET, code, at(-1))).toBe(Math.floor(seconds / TOTP_PERIOD));
    expect(totpStep(SECRET, code, at(2))).toBeUndefined();
    expect(totpStep(SECRET, code, at(-2))).toBeUndefined();
  });

  it('refuses anything but six digits', () => {
    for (const bad of ['28708', '2870820', '94287082', 'abcdef', ' 287082'])
      expect(totpStep(SECRET, bad, 59_000)).toBeUndefined();
  });

  it('names Coffer and the admin in the authenticator entry', () => {
    expect(totpFor('admin', SECRET).toString()).toMatch(/^otpauth:\/\/totp\/Coffer:admin\?.*digits=6/);
  });
});
