/**
 * A remote blob store that does not answer (refused, reset, timed out, or 5xx after the SDK's retries):
 * the client's cue to retry (503 ServiceUnavailable), as an unavailable Postgres is, not a fault (500).
 */
/** Socket errors that mean the other side is down or unreachable, whichever service it is. */
export const NETWORK_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
