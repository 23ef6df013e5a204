/** The admins' two-step codes as Coffer uses them: RFC 6238, SHA-1, 6 digits, 30 s steps. */
import * as OTPAuth from 'otpauth';

export const TOTP_PERIOD = 30;
const DIGITS = 6;

/** The authenticator entry for an admin (also what the otpauth URI and QR code describe). */
export function totpFor(username: string, secret: Uint8Array): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: 'Coffer',
    label: username,
    algorithm: 'SHA1',
    digits: DIGITS,
    period: TOTP_PERIOD,
    secret: new OTPAuth.Secret({ buffer: new Uint8Array(secret).buffer }),
  });
}

/**
 * The time step a code belongs to, allowing one step of drift either way, or undefined when it matches
 * none. Callers remember the step so a code is accepted once.
 */
export function totpStep(secret: Uint8Array, code: string, nowMs: number): number | undefined {
  if (!new RegExp(`^\\d{${DIGITS}}$`).test(code)) return undefined;
  const delta = totpFor('', secret).validate({ token: code, timestamp: nowMs, window: 1 });
  return delta === null ? undefined : Math.floor(nowMs / 1000 / TOTP_PERIOD) + delta;
}
