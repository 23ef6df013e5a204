/**
 * What the gateway's command-line tools (audit-cli, report-cli) share: one-line failures, and the
 * gateway's own configuration, database and audit trail, opened as the running gateway opens them.
 */
import type { Knex } from 'knex';
import { AuditLog } from './audit/audit-log.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { connect } from './db/database.js';

export function fail(message: string, code = 1): never {
  process.stderr.write(`coffer: ${message}\n`);
  process.exit(code);
}

/** Runs `work` with the gateway's configuration, a small pool and the audit trail; closes the pool after. */
export async function withGateway<T>(
  work: (g: { config: Config; db: Knex; audit: AuditLog }) => Promise<T>,
): Promise<T> {
  let config;
  try {
    config = await loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 78);
    throw err;
  }
  const db = connect(config.databaseUrl, { ...config.database, poolMax: 2 });
  // What a tool has to say goes to stderr as one line, never as a log record.
  const say = (_obj: object, msg?: string) => process.stderr.write(`coffer: ${msg}\n`);
  const audit = new AuditLog(db, config.audit, { info: say, warn: say, error: say });
  try {
    return await work({ config, db, audit });
  } finally {
    await db.destroy();
  }
}
