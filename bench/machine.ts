/** What this machine's CPU and disk give on their own, measured in the same run as the servers. */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';

const MiB = 1024 * 1024;

function rate(bytes: number, work: () => void): number {
  work(); // warm: first-touch page faults belong to no algorithm
  const started = process.hrtime.bigint();
  work();
  return bytes / MiB / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** One core's MD5, SHA-256 and AES-256-GCM (64 KiB segments, as Coffer seals) rates in MB/s. */
export function cryptoRates(): { md5: number; sha256: number; aesGcm: number } {
  const data = randomBytes(128 * MiB);
  const hash = (alg: string) => () => {
    const h = createHash(alg);
    for (let i = 0; i < data.length; i += MiB) h.update(data.subarray(i, i + MiB));
    h.digest();
  };
  const key = randomBytes(32);
  const iv = Buffer.alloc(12);
  return {
    md5: rate(data.length, hash('md5')),
    sha256: rate(data.length, hash('sha256')),
    aesGcm: rate(data.length, () => {
      for (let i = 0; i < data.length; i += 64 * 1024) {
        iv.writeUInt32BE(i, 8);
        const c = createCipheriv('aes-256-gcm', key, iv);
        c.update(data.subarray(i, i + 64 * 1024));
        c.final();
        c.getAuthTag();
      }
    }),
  };
}

/** Sequential 1 MiB writes of `bytes` followed by fdatasync: what the disk gives an fsync'ing writer. */
export async function diskRate(dir: string, bytes: number): Promise<number> {
  const file = path.join(dir, 'disk-rate.bin');
  const block = randomBytes(MiB);
  const fh = await open(file, 'w');
  const started = process.hrtime.bigint();
  for (let i = 0; i < bytes / MiB; i++) await fh.write(block);
  await fh.datasync();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  await fh.close();
  await rm(file);
  return bytes / MiB / secs;
}
