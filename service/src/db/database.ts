import knexFactory, { type Knex } from 'knex';
import type { Log } from '../log.js';
import { migrationSource } from './migrations.js';

/** Arbitrary, fixed: every gateway process agrees on it so only one migrates at a time. */
const MIGRATION_LOCK_ID = 0x436f6666; // "Coff"

export interface DatabaseLimits {
  poolMax: number;
  /** Establishing a new connection, TLS and authentication included. */
  connectTimeoutMs: number;
  /** Waiting for a free connection from the pool. */
  acquireTimeoutMs: number;
  /** One statement: enforced by the server, and by the client for a server that does not answer at all. */
  statementTimeoutMs: number;
}

/**
 * Every wait on Postgres is bounded, so a database that is down or frozen makes requests fail fast
 * (and the pool recover once it answers again) instead of hanging them.
 */
export function connect(databaseUrl: string, limits: DatabaseLimits, log?: Log): Knex {
  return knexFactory({
    // knex writes pool trouble to the console by default; the gateway's log is the one place to look.
    log: log && {
      warn: (message: unknown) => log.warn({ reason: String(message) }, 'database pool'),
      error: (message: unknown) => log.error({ reason: String(message) }, 'database pool'),
      deprecate: (message: unknown) => log.warn({ reason: String(message) }, 'database pool'),
      debug: () => undefined,
    },
    client: 'pg',
    connection: {
      connectionString: databaseUrl,
      connectionTimeoutMillis: limits.connectTimeoutMs,
      statement_timeout: limits.statementTimeoutMs,
      query_timeout: limits.statementTimeoutMs,
      keepAlive: true,
    },
    pool: { min: 0, max: limits.poolMax },
    acquireConnectionTimeout: limits.acquireTimeoutMs,
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

export async function ping(knex: Knex, timeoutMs: number): Promise<void> {
  await knex.raw('SELECT 1').timeout(timeoutMs);
}
