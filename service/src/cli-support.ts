/**
 * What the gateway's command-line tools (audit-cli, report-cli) share: one-line failures, and the
 * gateway's own configuration, database and audit trail, opened as the running gateway opens them.
 */
import { parseArgs } from 'node:util';
import type { Knex } from 'knex';
import { AuditLog } from './audit/audit-log.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { connect } from './db/database.js';

export function fail(message: string, code = 1): never {
  process.stderr.write(`coffer: ${message}\n`);
  process.exit(code);
}

/**
 * A tool's command line: one command of `commands`, and string options of `names`. --help prints the usage
 * and exits 0; anything else it does not know prints the usage and exits 2.
 */
export function commandLine<K extends string>(
  names: readonly K[],
  commands: readonly string[],
  usage: string,
): { command: string; values: Partial<Record<K, string>> } {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        ...Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])),
        help: { type: 'boolean' as const },
      },
      allowPositionals: true,
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${usage}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const [command, ...rest] = parsed.positionals;
  if (command === undefined || !commands.includes(command) || rest.length)
    fail(`unknown command\n${usage}`, 2);
  return { command, values: parsed.values as Partial<Record<K, string>> };
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
