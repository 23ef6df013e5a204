/** SQL run by psql inside the deployment's postgres container, as its database user. */
import { composeExec, type ComposeTarget } from './deploy.js';

const PSQL =
  'PGPASSWORD="$(cat /run/secrets/postgres_password)" psql -h 127.0.0.1 -U "$(cat /run/secrets/postgres_user)" -d coffer -v ON_ERROR_STOP=1';

/** `flags` add to psql's: -q for statements, -At for one bare value per line. */
export function psql(target: ComposeTarget, sql: string, flags: string) {
  return composeExec(target, 'postgres', ['sh', '-c', `${PSQL} ${flags} -f -`], { input: sql });
}
