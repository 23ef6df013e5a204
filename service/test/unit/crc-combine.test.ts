import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createChecksum } from '../../src/integrity/checksums.js';
import { combineParts, type CrcAlgorithm } from '../../src/integrity/crc-combine.js';

async function crc(alg: CrcAlgorithm, data: Buffer): Promise<string> {
  const c = createChecksum(alg);
  c.update(data);
  return c.digest();
}

describe('CRC combination for full-object multipart checksums', () => {
  for (const alg of ['crc32', 'crc32c', 'crc64nvme'] as const) {
    it(`${alg}: combining part CRCs equals the CRC of the whole`, async () => {
      for (const sizes of [[1], [5, 7], [65536, 1, 0, 4097], [5 * 1024 * 1024, 5 * 1024 * 1024, 12345]]) {
        const parts = sizes.map((n) => randomBytes(n));
        const combined = combineParts(
          alg,
          await Promise.all(parts.map(async (p) => ({ checksum: await crc(alg, p), size: p.length }))),
        );
        expect(combined, `${alg} ${sizes.join('+')}`).toBe(await crc(alg, Buffer.concat(parts)));
      }
    });
  }
});
