/**
 * A decimal integer within [min, max], or undefined: S3 parameters, length headers and settings share
 * one rule (digits only: no sign, exponent, hex or spaces that Number() would accept).
 */
export function integerIn(raw: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
}
