import * as OTPAuth from 'otpauth';
import { describe, expect, it } from 'vitest';

/** RFC 6238 Appendix B: the SHA-1 vectors, 8 digits, secret "12345678901234567890". */
const VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP as the admin login uses it (otpauth, RFC 6238)', () => {
  const totp = new OTPAuth.TOTP({
    algorithm: 'SHA1',
    digits: 8,
    period: 30,
    secret: OTPAuth.Secret.fromUTF8('12345678901234567890'),
  });
  for (const [seconds, code] of VECTORS)
    it(`T=${seconds} gives ${code}`, () => {
      expect(totp.generate({ timestamp: seconds * 1000 })).toBe(code);
      expect(totp.validate({ token: code, timestamp: seconds * 1000, window: 0 })).toBe(0);
    });
});
