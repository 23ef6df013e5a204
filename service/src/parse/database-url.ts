/**
 * The checks for a Postgres connection URL an operator hands in (an external, highly available Postgres),
 * shared by `up --database-url-file` and the Pulumi stack. The URL carries a password: never echo it.
 */

/** Why `url` cannot be the gateways' database, or undefined when it can. */
export function databaseUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return 'must be a URL like postgres://USER:PASSWORD@HOST:5432/DATABASE';
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return `must start with postgres:// or postgresql:// (not ${u.protocol}//)`;
  if (!u.hostname) return 'names no host';
  if (u.pathname.length < 2) return 'names no database (…/DATABASE at the end)';
  if (!u.username) return 'names no user';
  return undefined;
}

/**
 * libpq's environment for a connection URL, so no password appears on a command line. A `host` parameter
 * (a unix socket's directory, as the embedded cluster gives) wins over the URL's host name, as in libpq.
 */
export function libpqEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const u = new URL(databaseUrl);
  const ssl = u.searchParams.get('sslmode');
  return {
    ...process.env,
    PGHOST: u.searchParams.get('host') ?? u.hostname,
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)),
    ...(ssl ? { PGSSLMODE: ssl } : {}),
  };
}
