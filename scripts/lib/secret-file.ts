/**
 * A secret an operator hands in as a file (`--blob-store-credentials FILE`, `--database-url-file FILE`):
 * checked, then kept in secrets/ once. The same content again is fine; other content is refused and the
 * kept file stays, since the deployment may already depend on it.
 */
import { constants, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { OperatorError } from './exec.js';

export interface SecretFileInput {
  root: string;
  /** Where it is kept, relative to root (under secrets/). */
  rel: string;
  /** The option that named `file`, for messages. */
  option: string;
  file: string;
  /** Why the content cannot be used, phrased after "OPTION: "; undefined when it can. Never echoes the secret. */
  problem: (content: string) => string | undefined;
  /** What other content is called in the refusal: "other keys", "another database URL". */
  other: string;
}

export async function adoptSecretFile(s: SecretFileInput): Promise<void> {
  const given = await readFile(s.file, 'utf8').catch(() => {
    throw new OperatorError(`${s.option}: ${s.file} cannot be read`);
  });
  const problem = s.problem(given);
  if (problem) throw new OperatorError(`${s.option}: ${problem}`);
  const kept = path.join(s.root, s.rel);
  if (existsSync(kept)) {
    if ((await readFile(kept, 'utf8')).trim() !== given.trim())
      throw new OperatorError(
        `${s.rel} already holds ${s.other}; it was left as it is (remove it first to replace it)`,
      );
    return;
  }
  // Given before setup-credentials ever ran: secrets/ is made as it would make it.
  await mkdir(path.dirname(kept), { recursive: true, mode: 0o700 });
  await copyFile(s.file, kept, constants.COPYFILE_EXCL);
  await chmod(kept, 0o600);
}
