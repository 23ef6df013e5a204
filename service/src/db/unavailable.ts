/**
 * Tells a Postgres that is down, frozen or refusing connections apart from a fault in a query: the first
 * is the client's cue to retry (503 ServiceUnavailable), the second a bug (500).
 */

import { NETWORK_ERRNOS } from '../errors/store-unavailable.js';

// SQLSTATE classes and codes that mean "the database cannot serve you now".
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57014', // query_canceled: our statement_timeout
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
]);
const UNAVAILABLE_MESSAGES = [
  // knex prefixes driver messages with the SQL.
  /Query read timeout$/, // pg's client-side query_timeout: the server did not answer at all
  /Knex: Timeout acquiring a connection/,
  /Connection terminated/,
  /timeout expired/i,
  /not queryable/,
];

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, syscall } = err as { code?: string; syscall?: string };
  if (code && (UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') || NETWORK_ERRNOS.has(code)))
    return true;
  // A stopped Postgres removes its unix socket: connecting to it finds no file (a missing blob is not this).
  if (code === 'ENOENT' && syscall === 'connect') return true;
  if (err.name === 'KnexTimeoutError') return true;
  return UNAVAILABLE_MESSAGES.some((m) => m.test(err.message));
}
