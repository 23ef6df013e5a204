import type { Knex } from 'knex';
import type { ChangeDetails, ChangeRecorder } from '../audit/audit-log.js';

/**
 * Runs a change with the request's audit records in the same transaction; outside a request (or without
 * a recorder), as it is. What `work` throws rolls both back, and the request then records its refusal.
 */
export function changing<T>(
  db: Knex,
  audit: ChangeRecorder | undefined,
  details: ChangeDetails[],
  work: (db: Knex) => Promise<T>,
): Promise<T> {
  if (!audit) return work(db);
  return audit.committing(details, async (rows) => {
    if (rows.length === 0) return work(db);
    return db.transaction(async (trx) => {
      const out = await work(trx);
      await trx('audit_log').insert(rows);
      return out;
    });
  });
}
