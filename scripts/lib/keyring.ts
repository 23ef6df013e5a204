/** The master key file as operator scripts handle it: one key per line, replaced in one step. */
import { chmod, rename, writeFile } from 'node:fs/promises';
import { MasterKey } from '../../service/src/crypto/master-key.js';

/** The keys a key file (or credentials.json's master_key) holds, first (wrapping) key first. */
export const keyLines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** A key's id as wrapped keys name it (hex). */
export const keyId = (key: string): string => MasterKey.parse(Buffer.from(key)).id.toString('hex');

/** Replaces a file in one step (a crash leaves the old or the new content, never half), 0600. */
export async function replaceFile(file: string, content: string): Promise<void> {
  await writeFile(file + '.new', content, { mode: 0o600 });
  await chmod(file + '.new', 0o600);
  await rename(file + '.new', file);
}
