/**
 * `up --database-url-file FILE`: the deployment's metadata in a Postgres the operator runs (made highly
 * available with their own tools) instead of the bundled container. The URL holds a password: it is
 * copied into secrets/ once, never over another, and never printed.
 */
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { databaseUrlProblem } from '../../service/src/parse/database-url.js';
import { EXTERNAL_DATABASE_URL_FILE } from '../../stacks/topology.js';
import { OperatorError } from './exec.js';

export async function prepareExternalPostgres(
  root: string,
  o: { externalPostgres: boolean; wasExternal: boolean },
  urlFile: string | undefined,
  /** The bundled Postgres's volume, when this deployment already has one. */
  bundledVolume: string | undefined,
): Promise<void> {
  if (!o.externalPostgres) return;
  if (!o.wasExternal && bundledVolume)
    throw new OperatorError(
      `the volume ${bundledVolume} holds this deployment's metadata in the bundled Postgres; ` +
        'moving it to an external Postgres is not supported yet, and nothing was changed',
    );
  const secret = path.join(root, EXTERNAL_DATABASE_URL_FILE);
  if (!urlFile) {
    if (!existsSync(secret))
      throw new OperatorError(
        `${EXTERNAL_DATABASE_URL_FILE} is missing: pass --database-url-file FILE again`,
      );
    return;
  }
  const given = await readFile(urlFile, 'utf8').catch(() => {
    throw new OperatorError(`--database-url-file: ${urlFile} cannot be read`);
  });
  const problem = databaseUrlProblem(given);
  if (problem) throw new OperatorError(`--database-url-file: the URL in ${urlFile} ${problem}`);
  if (existsSync(secret)) {
    if ((await readFile(secret, 'utf8')).trim() !== given.trim())
      throw new OperatorError(
        `${EXTERNAL_DATABASE_URL_FILE} already holds another database URL; it was left as it is (remove it first to replace it)`,
      );
    return;
  }
  await copyFile(urlFile, secret, constants.COPYFILE_EXCL);
  await chmod(secret, 0o600);
}
