import { createHash, type Hash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme } from '@aws-sdk/checksums/crc';
import { S3Error } from '../errors/s3-errors.js';

/** The flexible checksums S3 defines; the name is the suffix of `x-amz-checksum-<name>`. */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  crc32: 4,
  crc32c: 4,
  crc64nvme: 8,
  sha1: 20,
  sha256: 32,
};

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

/** A running digest over a body; `digest()` gives the base64 value S3 puts in headers. */
export interface RunningChecksum {
  update(chunk: Buffer): void;
  digest(): Promise<string>;
}

class NodeHash implements RunningChecksum {
  private readonly hash: Hash;
  constructor(algorithm: string) {
    this.hash = createHash(algorithm);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  async digest(): Promise<string> {
    return this.hash.digest('base64');
  }
}

class SdkChecksum implements RunningChecksum {
  constructor(private readonly impl: { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }) {}
  update(chunk: Buffer): void {
    this.impl.update(chunk);
  }
  async digest(): Promise<string> {
    return Buffer.from(await this.impl.digest()).toString('base64');
  }
}

export function createChecksum(algorithm: ChecksumAlgorithm): RunningChecksum {
  switch (algorithm) {
    case 'crc32':
      return new SdkChecksum(new Crc32());
    case 'crc32c':
      return new SdkChecksum(new Crc32c());
    case 'crc64nvme':
      return new SdkChecksum(new Crc64Nvme());
    case 'sha1':
      return new NodeHash('sha1');
    case 'sha256':
      return new NodeHash('sha256');
  }
}

/** Rejects a declared value that cannot be a digest of this algorithm before any byte is stored. */
export function assertChecksumShape(algorithm: ChecksumAlgorithm, value: string): void {
  const bytes = /^[A-Za-z0-9+/]*={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
  if (bytes.length !== DIGEST_BYTES[algorithm]) {
    throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${algorithm} header is invalid.`);
  }
}
