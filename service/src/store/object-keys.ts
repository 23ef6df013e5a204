/** S3's object-key rule, one place for the S3 API and the management API to ask it. */
export const MAX_KEY_BYTES = 1024;

export const KEY_PROBLEMS = {
  empty: 'must not be empty',
  'too-long': `must be at most ${MAX_KEY_BYTES} bytes of UTF-8`,
  // Postgres text cannot hold NUL and XML 1.0 cannot carry it: refuse rather than store a key we cannot list.
  nul: 'must not contain NUL',
} as const;

export type KeyProblem = keyof typeof KEY_PROBLEMS;

export function keyProblem(key: string): KeyProblem | undefined {
  if (key.length === 0) return 'empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return 'too-long';
  if (key.includes('\u0000')) return 'nul';
  return undefined;
}
