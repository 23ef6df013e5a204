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
