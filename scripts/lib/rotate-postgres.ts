/**
 * Rotates the Postgres password of a running compose deployment without breaking it: ALTER ROLE in the
 * database first (authenticated with the current password), then the secret files, then a gateway
 * recreated on them. A failure before the ALTER changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SECRET_FILES } from '../../stacks/topology.js';
import { recreateGateways, requireRunning, type ComposeTarget } from './deploy.js';
import { OperatorError, step } from './exec.js';
import { psql } from './psql.js';

export async function rotatePostgresPassword(root: string, composeFile: ComposeTarget): Promise<void> {
  if (composeFile.externalPostgres)
    throw new OperatorError(
      'Postgres is external: change its password with the tools that run it, then replace secrets/external_database_url.txt and run npm run up',
    );
  await requireRunning(composeFile.project);
  const abs = (rel: string) => path.join(root, rel);
  const user = (await readFile(abs(SECRET_FILES.postgres_user), 'utf8')).trim();
  // base64url: nothing that needs quoting in SQL or a URL.
  const password = randomBytes(24).toString('base64url');
  const url = `postgres://${encodeURIComponent(user)}:${password}@postgres:5432/coffer`;
  const staged = [
    [SECRET_FILES.postgres_password, password],
    [SECRET_FILES.database_url, url],
  ] as const;
  for (const [rel, content] of staged) await writeFile(abs(rel) + '.new', content, { mode: 0o600 });
  step('changing the Postgres password (ALTER ROLE)');
  const sql = `ALTER ROLE "${user.replaceAll('"', '""')}" PASSWORD '${password}';`;
  const result = await psql(composeFile, sql, '-q');
  if (result.exitCode !== 0) {
    for (const [rel] of staged) await rm(abs(rel) + '.new', { force: true });
    throw new OperatorError(
      `ALTER ROLE failed, nothing was changed: ${result.stderr.trim().split('\n').pop() ?? result.exitCode}`,
    );
  }
  for (const [rel] of staged) await rename(abs(rel) + '.new', abs(rel));
  step('recreating the gateway on the new password');
  const failed = await recreateGateways(composeFile);
  if (failed)
    throw new OperatorError(
      `the password changed, but recreating the gateway failed (run npm run up): ${failed}`,
    );
}
