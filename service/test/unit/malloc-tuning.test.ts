import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MALLOC_TUNING, withMallocTuning } from '../../src/malloc-tuning.js';

describe('malloc tuning for gateway processes', () => {
  it('adds the trim threshold to GLIBC_TUNABLES, after what the operator set', () => {
    expect(withMallocTuning({ PORT: '3000' })).toEqual({ PORT: '3000', GLIBC_TUNABLES: MALLOC_TUNING });
    expect(withMallocTuning({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe(
      `glibc.malloc.arena_max=2:${MALLOC_TUNING}`,
    );
  });

  it("keeps thresholds the operator chose, and leaves the caller's env untouched", () => {
    for (const own of ['glibc.malloc.trim_threshold=131072', 'glibc.malloc.mmap_threshold=65536']) {
      const env = { GLIBC_TUNABLES: own };
      expect(withMallocTuning(env)).toEqual(env);
    }
    const plain = { PORT: '1' };
    withMallocTuning(plain);
    expect(plain).toEqual({ PORT: '1' });
  });

  it('is what the gateway image sets, so a single-process container gets it too', () => {
    const dockerfile = readFileSync(path.resolve(import.meta.dirname, '../../Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^\\s*GLIBC_TUNABLES=${MALLOC_TUNING}$`, 'm'));
  });
});
