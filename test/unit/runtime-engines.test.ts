import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const json = (rel: string) => JSON.parse(readFileSync(path.join(ROOT, rel), 'utf8'));

describe('engines, the image and the runtime dependencies agree', () => {
  const engines = json('package.json').engines.node as string;
  const oldest = semver.minVersion(engines)!.version;

  it('the gateway and the repository declare the same Node range', () => {
    expect(json('service/package.json').engines.node).toBe(engines);
  });

  it('every package the gateway runs with supports the oldest Node that engines allows', () => {
    const lock = json('package-lock.json') as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([name, p]) => name && !p.dev && p.engines && !Array.isArray(p.engines) && p.engines.node)
      .filter(([, p]) => !semver.satisfies(oldest, (p.engines as { node: string }).node))
      .map(([name, p]) => `${name} (${(p.engines as { node: string }).node})`);
    expect(refusing).toEqual([]);
  });

  // Needs the built image (the e2e suites build it); skipped, with this note, where Docker is absent.
  const image = 'coffer/gateway:0.1.0';
  const hasImage = spawnSync('docker', ['image', 'inspect', image], { stdio: 'ignore' }).status === 0;
  it.runIf(hasImage)('the gateway image runs a Node inside that range', () => {
    const r = spawnSync('docker', ['run', '--rm', '--entrypoint', 'node', image, '--version'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(semver.satisfies(r.stdout.trim(), engines), r.stdout).toBe(true);
  });
});
