/**
 * SQL run by psql inside the deployment's postgres container, as its database user; with an external
 * Postgres, inside the first gateway (its image has psql) with the gateways' own database URL.
 */
import { GATEWAY_SERVICE } from '../../stacks/topology.js';
import { composeExec, type ComposeTarget } from './deploy.js';

const PSQL =
  'PGPASSWORD="$(cat /run/secrets/postgres_password)" psql -h 127.0.0.1 -U "$(cat /run/secrets/postgres_user)" -d coffer -v ON_ERROR_STOP=1';

const EXTERNAL_PSQL = 'psql "$(cat /run/secrets/database_url)" -v ON_ERROR_STOP=1';

/** `flags` add to psql's: -q for statements, -At for one bare value per line. */
export function psql(target: ComposeTarget, sql: string, flags: string) {
  if (target.externalPostgres)
    return composeExec(target, GATEWAY_SERVICE, ['sh', '-c', `${EXTERNAL_PSQL} ${flags} -f -`], {
      input: sql,
    });
  return composeExec(target, 'postgres', ['sh', '-c', `${PSQL} ${flags} -f -`], { input: sql });
}
