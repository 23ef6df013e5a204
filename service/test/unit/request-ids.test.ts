import { describe, expect, it } from 'vitest';
import { requestIds } from '../../src/s3/handler.js';

describe('request ids', () => {
  it('are 16 upper-case hex digits, none repeated across several refills of the pool', () => {
    const next = requestIds();
    const ids = Array.from({ length: 5000 }, next);
    for (const id of ids) expect(id).toMatch(/^[0-9A-F]{16}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('differ between sources, as between the workers of one gateway', () => {
    const a = Array.from({ length: 600 }, requestIds());
    const b = new Set(Array.from({ length: 600 }, requestIds()));
    expect(a.filter((id) => b.has(id))).toEqual([]);
  });
});
