import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { debianMirror, mirrorFromSources, readAptSources } from '../../scripts/lib/apt-mirror.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-apt-'));
  dirs.push(dir);
  await mkdir(path.join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('the debootstrap mirror comes from the host apt sources', () => {
  it('reads one-line sources.list, skipping comments, deb-src, options and security suites', () => {
    const text = [
      '# deb http://commented.example/debian trixie main',
      'deb-src http://src.example/debian trixie main',
      'deb http://security.debian.org/debian-security trixie-security main',
      'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.site.lan/debian/ trixie main contrib',
    ].join('\n');
    expect(mirrorFromSources([{ name: 'sources.list', text }])).toBe('http://mirror.site.lan/debian');
  });

  it('reads deb822 .sources, skipping disabled and security-only paragraphs', () => {
    const text = [
      'Types: deb',
      'URIs: http://disabled.example/debian',
      'Suites: trixie',
      'Components: main',
      'Enabled: no',
      '',
      'Types: deb',
      'URIs: http://deb.debian.org/debian-security',
      'Suites: trixie-security',
      'Components: main',
      '',
      'Types: deb deb-src',
      'URIs: https://apt.site.lan/debian',
      'Suites: trixie trixie-updates',
      'Components: main',
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
    ].join('\n');
    expect(mirrorFromSources([{ name: 'debian.sources', text }])).toBe('https://apt.site.lan/debian');
  });

  it('follows apt order (sources.list first) and prefers DEBIAN_MIRROR over both', async () => {
    const dir = await aptDir({
      'sources.list': '# nothing here\n',
      'sources.list.d/b.sources': 'Types: deb\nURIs: http://second.lan/debian\nSuites: trixie\n',
      'sources.list.d/a.list': 'deb http://first.lan/debian trixie main\n',
      'sources.list.d/c.list.disabled': 'deb http://ignored.lan/debian trixie main\n',
    });
    expect((await readAptSources(dir)).map((f) => f.name)).toEqual(['sources.list', 'a.list', 'b.sources']);
    expect(await debianMirror({}, dir)).toBe('http://first.lan/debian');
    expect(await debianMirror({ DEBIAN_MIRROR: 'http://forced.lan/debian' }, dir)).toBe(
      'http://forced.lan/debian',
    );
    expect(await debianMirror({}, await aptDir({}))).toBe('http://deb.debian.org/debian');
  });
});
