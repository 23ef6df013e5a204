/**
 * `up --database-url-file FILE`: the deployment's metadata in a Postgres the operator runs (made highly
 * available with their own tools) instead of the bundled container. The URL holds a password: it is
 * copied into secrets/ once, never over another, and never printed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { databaseUrlProblem } from '../../service/src/parse/database-url.js';
import { EXTERNAL_DATABASE_URL_FILE } from '../../stacks/topology.js';
import { OperatorError } from './exec.js';
import { adoptSecretFile } from './secret-file.js';

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
  await adoptSecretFile({
    root,
    rel: EXTERNAL_DATABASE_URL_FILE,
    option: '--database-url-file',
    file: urlFile,
    problem: (url) => {
      const why = databaseUrlProblem(url);
      return why && `the URL in ${urlFile} ${why}`;
    },
    other: 'another database URL',
  });
}
