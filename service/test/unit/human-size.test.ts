import { describe, expect, it } from 'vitest';
import { humanSize } from '../../src/parse/human-size.js';

describe('humanSize', () => {
  it('labels binary units as such, with two decimals under ten', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(1023)).toBe('1023 B');
    expect(humanSize(1536)).toBe('1.50 KiB');
    expect(humanSize(301 * 1024)).toBe('301.0 KiB');
    expect(humanSize(5 * 2 ** 20)).toBe('5.00 MiB');
    expect(humanSize(1.5 * 2 ** 40)).toBe('1.50 TiB');
    expect(humanSize(2 ** 60)).toBe('1024.0 PiB');
  });
});
