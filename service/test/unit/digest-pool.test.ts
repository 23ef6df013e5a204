import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BodyHashes } from '../../src/integrity/body-digests.js';
import { DigestPool, OFFLOAD_MIN, type Digester } from '../../src/integrity/digest-pool.js';

const pool = new DigestPool({ threads: 2 });
afterAll(() => pool.close());

/** Feeds `data` in uneven pieces, as a socket delivers it. */
async function feed(d: Digester, data: Buffer): Promise<void> {
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = [65536, 1, 70000, 333, 524288][i % 5]!;
    await d.update(data.subarray(off, off + n));
    off += n;
  }
}

describe('digest threads', () => {
  it('give the same MD5, SHA-256 and checksum as digesting inline, for bodies of every size', async () => {
    for (const size of [0, 100, OFFLOAD_MIN, OFFLOAD_MIN + 1, 3 * 1024 * 1024 + 7]) {
      const data = randomBytes(size);
      const request = { sha256: true, checksum: 'crc32c' as const };
      const d = pool.open(request, size);
      await feed(d, data);
      const got = await d.digest();
      const inline = new BodyHashes({ ...request, md5: true });
      inline.update(data);
      const want = await inline.digest();
      expect(got.md5.equals(createHash('md5').update(data).digest())).toBe(true);
      expect(got).toEqual(want);
    }
  });

  it('keep concurrent bodies apart', async () => {
    const bodies = Array.from({ length: 6 }, () => randomBytes(2 * OFFLOAD_MIN + 12345));
    const results = await Promise.all(
      bodies.map(async (data) => {
        const d = pool.open({ sha256: false }, data.length);
        await feed(d, data);
        return (await d.digest()).md5.toString('hex');
      }),
    );
    expect(results).toEqual(bodies.map((b) => createHash('md5').update(b).digest('hex')));
  });

  it('drop a cancelled body and refuse to finish it', async () => {
    const d = pool.open({ sha256: true }, 4 * OFFLOAD_MIN);
    await feed(d, randomBytes(2 * OFFLOAD_MIN));
    d.cancel();
    await expect(d.digest()).rejects.toThrow(/cancelled/);
    // The pool goes on serving other bodies.
    const data = randomBytes(OFFLOAD_MIN * 2);
    const next = pool.open({ sha256: true }, data.length);
    await feed(next, data);
    expect((await next.digest()).sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('fail the bodies of a thread that stops instead of leaving them waiting, then start a new one', async () => {
    const own = new DigestPool({ threads: 1 });
    try {
      const d = own.open({ sha256: false }, 8 * OFFLOAD_MIN);
      await feed(d, randomBytes(OFFLOAD_MIN));
      await own.close();
      await expect(
        (async () => {
          await feed(d, randomBytes(4 * OFFLOAD_MIN));
          await d.digest();
        })(),
      ).rejects.toThrow(/digest thread failed/);
      const data = randomBytes(2 * OFFLOAD_MIN);
      const again = own.open({ sha256: false }, data.length);
      await feed(again, data);
      expect((await again.digest()).md5.equals(createHash('md5').update(data).digest())).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('digest small bodies and bodies of unknown length inline', async () => {
    const small = pool.open({ sha256: false }, 10);
    expect(small.update(Buffer.from('x'))).toBeUndefined();
    const unknown = pool.open({ sha256: false });
    expect(unknown.update(Buffer.from('x'))).toBeUndefined();
  });
});
