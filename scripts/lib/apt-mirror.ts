/**
 * The Debian mirror this host's apt already uses, so a site with a local mirror bootstraps images from
 * it without a flag. Reads one-line `sources.list` files and deb822 `.sources` files.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export interface SourcesFile {
  name: string;
  text: string;
}

// debootstrap fetches over these; a security or updates suite is not a full archive.
const USABLE_URI = /^(https?|file):\/\//;
const isMainSuite = (suite: string) =>
  !/-(security|updates|backports|proposed-updates)$|\/updates$/.test(suite);
const isMainArchive = (uri: string) => USABLE_URI.test(uri) && !/debian-security\/?$/.test(uri);

function fromOneLine(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m && isMainArchive(m[1]!) && isMainSuite(m[2]!)) return m[1]!.replace(/\/+$/, '');
  }
  return undefined;
}

function fromDeb822(text: string): string | undefined {
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) => p.split('\n').filter((l) => !l.trimStart().startsWith('#')));
  for (const lines of paragraphs) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of lines) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
      else {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        last = line.slice(0, i).trim().toLowerCase();
        fields.set(last, line.slice(i + 1).trim());
      }
    }
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    if (!suites.some(isMainSuite)) continue;
    const uri = (fields.get('uris') ?? '').split(/\s+/).find(isMainArchive);
    if (uri) return uri.replace(/\/+$/, '');
  }
  return undefined;
}

/** The first main-archive mirror named by these files, in apt's order. */
export function mirrorFromSources(files: SourcesFile[]): string | undefined {
  for (const f of files) {
    const found = f.name.endsWith('.sources') ? fromDeb822(f.text) : fromOneLine(f.text);
    if (found) return found;
  }
  return undefined;
}

/** `/etc/apt/sources.list`, then `sources.list.d/*.list` and `*.sources` in name order, as apt reads them. */
export async function readAptSources(aptDir = '/etc/apt'): Promise<SourcesFile[]> {
  const files: SourcesFile[] = [];
  const add = async (file: string) => {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) files.push({ name: path.basename(file), text });
  };
  await add(path.join(aptDir, 'sources.list'));
  const dir = path.join(aptDir, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((n) => /\.(list|sources)$/.test(n))
    .sort();
  for (const n of names) await add(path.join(dir, n));
  return files;
}

/** DEBIAN_MIRROR when set, else the host's apt mirror, else deb.debian.org. */
export async function debianMirror(env: NodeJS.ProcessEnv, aptDir?: string): Promise<string> {
  if (env.DEBIAN_MIRROR) return env.DEBIAN_MIRROR;
  return mirrorFromSources(await readAptSources(aptDir)) ?? DEFAULT_DEBIAN_MIRROR;
}
