import { describe, expect, it } from 'vitest';
import { checkVersionId, newVersionId } from '../../src/store/versions.js';
import { newUploadId } from '../../src/crypto/opaque-id.js';

// A command-line client parses `--version-id -abc…` as an option (aws CLI did in CI): no id may start with '-'.
describe('generated version and upload ids', () => {
  for (const [name, make] of [
    ['version id', newVersionId],
    ['upload id', newUploadId],
  ] as const) {
    it(`never begins with '-' and stays 32 URL-safe characters: ${name}`, () => {
      const ids = Array.from({ length: 20_000 }, make);
      for (const id of ids) {
        expect(id).toMatch(/^[A-Za-z0-9._]{32}$/);
      }
      expect(new Set(ids).size).toBe(ids.length);
    });
  }

  it('accepts the ids it makes and those made before (with -), and refuses others', () => {
    expect(() => checkVersionId(newVersionId())).not.toThrow();
    expect(() => checkVersionId('-lyenDv3bqjOexjEX15V2_YZrWgoGm_z')).not.toThrow();
    expect(() => checkVersionId('short')).toThrow(/Invalid version id/);
    expect(() => checkVersionId('a/b'.padEnd(32, 'x'))).toThrow(/Invalid version id/);
  });
});
