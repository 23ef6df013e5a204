import { createHash, type Hash } from 'node:crypto';
import { createChecksum, type ChecksumAlgorithm, type RunningChecksum } from './checksums.js';

/** Which digests a body needs: MD5 always (the ETag), SHA-256 for a signed payload, one flexible checksum. */
export interface DigestRequest {
  sha256: boolean;
  checksum?: ChecksumAlgorithm;
}

export interface DigestResult {
  md5: Buffer;
  /** Hex, as x-amz-content-sha256 carries it. */
  sha256?: string;
  /** Base64, as x-amz-checksum-* carries it. */
  checksum?: string;
}

/** Some of a body's digests: a digest thread may compute MD5 while another computes the rest. */
export interface HashSet extends DigestRequest {
  md5: boolean;
}

/** The running digests of one body, computed wherever they are computed (here, or in a digest thread). */
export class BodyHashes {
  private readonly md5: Hash | undefined;
  private readonly sha256: Hash | undefined;
  private readonly checksum: RunningChecksum | undefined;

  constructor(set: HashSet) {
    this.md5 = set.md5 ? createHash('md5') : undefined;
    this.sha256 = set.sha256 ? createHash('sha256') : undefined;
    this.checksum = set.checksum ? createChecksum(set.checksum) : undefined;
  }

  update(chunk: Buffer): void {
    this.md5?.update(chunk);
    this.sha256?.update(chunk);
    this.checksum?.update(chunk);
  }

  async digest(): Promise<Partial<DigestResult>> {
    return {
      md5: this.md5?.digest(),
      sha256: this.sha256?.digest('hex'),
      checksum: await this.checksum?.digest(),
    };
  }
}
