import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('npm run up -- --engine pulumi', () => {
  it('says in one line how to get the Pulumi CLI when it is not installed', () => {
    // A PATH holding only node: no pulumi, and nothing is built or started before the check.
    const bin = mkdtempSync(path.join(tmpdir(), 'coffer-path-'));
    try {
      symlinkSync(process.execPath, path.join(bin, 'node'));
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/up.ts', '--engine', 'pulumi'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: `${bin}:/bin`, HOME: process.env.HOME },
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^coffer: the Pulumi CLI is not installed: get it with .*get\.pulumi\.com.*--engine compose\n$/,
      );
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('refuses an unknown engine', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/up.ts', '--engine', 'swarm'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('coffer: --engine must be compose or pulumi (got swarm)\n');
  });
});
