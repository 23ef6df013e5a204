import { createHash, type Hash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

async function hashEntry(hash: Hash, root: string, rel: string): Promise<void> {
  const full = path.join(root, rel);
  const st = await lstat(full);
  if (st.isSymbolicLink()) {
    hash.update(`L ${rel}\0${await readlink(full)}\0`);
  } else if (st.isDirectory()) {
    hash.update(`D ${rel}\0`);
    for (const name of (await readdir(full)).sort()) await hashEntry(hash, root, path.join(rel, name));
  } else {
    // The executable bit matters to an image (entrypoints); other mode bits and times do not.
    hash.update(`F ${rel} ${st.mode & 0o111 ? 'x' : '-'} ${st.size}\0`);
    hash.update(await readFile(full));
  }
}

/**
 * A digest of everything a build reads: each path's name, kind, executable bit and bytes, in a fixed
 * order, plus any extra strings (a base image id). Equal digests mean the build would produce the same
 * thing, so it can be skipped; times are left out because copying a tree changes them.
 */
export async function inputsDigest(paths: string[], extra: string[] = []): Promise<string> {
  const hash = createHash('sha256');
  for (const p of paths) {
    hash.update(`R ${path.basename(p)}\0`);
    await hashEntry(hash, p, '.');
  }
  for (const e of extra) hash.update(`E ${e}\0`);
  return hash.digest('hex');
}
