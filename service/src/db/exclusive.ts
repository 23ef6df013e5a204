import type { Knex } from 'knex';

/** Advisory lock ids of the jobs that must run on one gateway at a time, across processes and hosts. */
export const JOB_LOCKS = {
  lifecycle: 0x4c696665, // "Life"
  collector: 0x436f6c6c, // "Coll"
  usage: 0x55736167, // "Usag"
  rekey: 0x52656b79, // "Reky"
  events: 0x45766e74, // "Evnt"
} as const;

/**
 * Runs `work` unless another gateway on this database is running the same job: undefined then. The lock
 * lives as long as a transaction on its own connection (released even if this process dies); the work
 * itself uses other connections.
 */
export async function exclusively<T>(
  db: Knex,
  lockId: number,
  work: () => Promise<T>,
): Promise<T | undefined> {
  return db.transaction(async (trx) => {
    const { rows } = await trx.raw('SELECT pg_try_advisory_xact_lock(?) AS got', [lockId]);
    if (!rows[0]?.got) return undefined;
    return work();
  });
}

/** Runs `work` holding the same lock as `exclusively`, waiting first for whichever gateway holds it. */
export async function afterOthers<T>(db: Knex, lockId: number, work: () => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [lockId]);
    return work();
  });
}
