/**
 * A remote blob store that does not answer (refused, reset, timed out, or 5xx after the SDK's retries):
 * the client's cue to retry (503 ServiceUnavailable), as an unavailable Postgres is, not a fault (500).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
