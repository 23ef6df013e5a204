import { createHash } from 'node:crypto';
import { createChecksum, type ChecksumAlgorithm } from './checksums.js';

/** A byte stream and, once it is consumed, the ETag and checksums of exactly what went through. */
export interface DigestedStream {
  chunks: AsyncIterable<Buffer>;
  /** How many bytes the source will yield, when the caller knows. */
  length?: number;
  finalize(): Promise<{ etag: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }>;
}

/** Streams bytes through MD5 (and the given checksums), so a copy's digests come from what was written. */
export function digesting(
  chunks: AsyncIterable<Buffer>,
  algorithms: ChecksumAlgorithm[],
  length?: number,
): DigestedStream {
  const md5 = createHash('md5');
  const sums = algorithms.map((a) => [a, createChecksum(a)] as const);
  async function* body(): AsyncGenerator<Buffer> {
    for await (const c of chunks) {
      md5.update(c);
      for (const [, s] of sums) s.update(c);
      yield c;
    }
  }
  return {
    chunks: body(),
    length,
    async finalize() {
      const checksums: Partial<Record<ChecksumAlgorithm, string>> = {};
      for (const [a, s] of sums) checksums[a] = await s.digest();
      return { etag: `"${md5.digest('hex')}"`, checksums };
    },
  };
}
