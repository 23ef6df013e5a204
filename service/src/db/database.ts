import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations.js';

/** Arbitrary, fixed: every gateway process agrees on it so only one migrates at a time. */
const MIGRATION_LOCK_ID = 0x436f6666; // "Coff"

export function connect(databaseUrl: string, poolMax: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 30_000,
  });
}

/**
 * knex's own lock table fails a second concurrent migrator instead of making it wait; a session
 * advisory lock held on one pinned connection serialises gateways starting together.
 */
export async function migrate(knex: Knex): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_ID]);
    await trx.migrate.latest({ migrationSource, disableTransactions: true });
  });
}

export async function ping(knex: Knex): Promise<void> {
  await knex.raw('SELECT 1');
}
