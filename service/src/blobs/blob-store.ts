import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { MasterKey } from '../crypto/master-key.js';
import {
  fileHeader,
  openSegment,
  parseFileHeader,
  sealSegment,
  sealedLength,
  sealedOffset,
  segmentCount,
  SEGMENT_SIZE,
  TAG_SIZE,
} from './segments.js';

/** Where an object's sealed bytes live: a file named by a random id, or inline in its metadata row. */
export type BlobLocation = { blobId: string; inline?: undefined } | { blobId?: undefined; inline: Buffer };

export interface SealedBlob {
  location: BlobLocation;
  wrappedKey: Buffer;
  segmentSize: number;
  size: number;
}

export interface BlobStoreOptions {
  dataDir: string;
  masterKey: MasterKey;
  /** Objects whose sealed form fits are kept inline in Postgres: one durable commit instead of two fsyncs. */
  inlineMax: number;
}

const WRITE_BATCH = 1024 * 1024;
/**
 * Large blobs are flushed to disk while they are still arriving, so the fsync that precedes the commit
 * only has the tail left to write: disk and CPU work overlap instead of adding up.
 */
const SYNC_EVERY = 16 * 1024 * 1024;

/**
 * Encrypted blob files. Names are random ids, never derived from object keys. A file is written under
 * tmp/, fsynced, renamed into blobs/xx/ and its directory fsynced before the caller commits metadata.
 */
export class BlobStore {
  readonly blobDir: string;
  readonly tmpDir: string;

  constructor(private readonly opts: BlobStoreOptions) {
    this.blobDir = path.join(opts.dataDir, 'blobs');
    this.tmpDir = path.join(opts.dataDir, 'tmp');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    for (let i = 0; i < 256; i++) {
      await fs.mkdir(path.join(this.blobDir, i.toString(16).padStart(2, '0')), {
        recursive: true,
        mode: 0o700,
      });
    }
  }

  pathOf(blobId: string): string {
    if (!/^[0-9a-f]{32}$/.test(blobId)) throw new Error(`invalid blob id ${blobId}`);
    return path.join(this.blobDir, blobId.slice(0, 2), blobId);
  }

  /** `inline: false` for multipart parts, which an object row references by blob id. */
  createWriter(opts: { inline?: boolean } = {}): BlobWriter {
    return new BlobWriter(this, this.opts.masterKey, opts.inline === false ? -1 : this.opts.inlineMax);
  }

  /**
   * Seals a whole body: streams it into a writer, lets `finalize` check the body's digests, then makes
   * the data durable. Any failure drops what was written; nothing half-written survives.
   */
  async seal<D>(
    body: AsyncIterable<Buffer>,
    finalize: () => Promise<D>,
    opts: { inline?: boolean } = {},
  ): Promise<{ sealed: SealedBlob; digests: D }> {
    const writer = this.createWriter(opts);
    try {
      for await (const chunk of body) await writer.write(chunk);
      const digests = await finalize();
      return { sealed: await writer.finish(), digests };
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }

  async remove(blobId: string): Promise<void> {
    await fs.rm(this.pathOf(blobId), { force: true });
  }

  /** Decrypts plaintext bytes [start, end] (inclusive), reading and opening only the segments they span. */
  async *read(blob: SealedBlob, start: number, end: number): AsyncGenerator<Buffer> {
    const { size, segmentSize } = blob;
    if (size === 0 || end < start) return;
    const key = this.opts.masterKey.unwrap(blob.wrappedKey);
    const count = segmentCount(size, segmentSize);
    const first = Math.floor(start / segmentSize);
    const last = Math.floor(end / segmentSize);
    const source = blob.location.inline
      ? new InlineSource(blob.location.inline)
      : await FileSource.open(
          this.pathOf(blob.location.blobId!),
          segmentSize,
          sealedLength(size, segmentSize),
        );
    try {
      const perBatch = Math.max(1, Math.floor(WRITE_BATCH / (segmentSize + TAG_SIZE)));
      for (let batchStart = first; batchStart <= last; batchStart += perBatch) {
        const batchEnd = Math.min(last, batchStart + perBatch - 1);
        const from = sealedOffset(batchStart, segmentSize);
        const to = Math.min(sealedOffset(batchEnd + 1, segmentSize), sealedLength(size, segmentSize));
        const sealed = await source.read(from, to - from);
        for (let i = batchStart; i <= batchEnd; i++) {
          const off = sealedOffset(i, segmentSize) - from;
          const len = (i === count - 1 ? size - i * segmentSize : segmentSize) + TAG_SIZE;
          let plain = openSegment(key, i, i === count - 1, sealed.subarray(off, off + len));
          const segStart = i * segmentSize;
          if (i === first || i === last) {
            plain = plain.subarray(Math.max(0, start - segStart), Math.min(plain.length, end - segStart + 1));
          }
          yield plain;
        }
      }
    } finally {
      await source.close();
    }
  }

  /** Blob ids and temp files with their ages, for the collector. */
  async *listFiles(): AsyncGenerator<{ kind: 'blob' | 'tmp'; name: string; path: string; mtimeMs: number }> {
    for (const name of await fs.readdir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      const st = await fs.stat(p).catch(() => undefined);
      if (st) yield { kind: 'tmp', name, path: p, mtimeMs: st.mtimeMs };
    }
    for (const dir of await fs.readdir(this.blobDir)) {
      for (const name of await fs.readdir(path.join(this.blobDir, dir)).catch(() => [] as string[])) {
        const p = path.join(this.blobDir, dir, name);
        const st = await fs.stat(p).catch(() => undefined);
        if (st) yield { kind: 'blob', name, path: p, mtimeMs: st.mtimeMs };
      }
    }
  }
}

interface SealedSource {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

class InlineSource implements SealedSource {
  constructor(private readonly data: Buffer) {}
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset + length > this.data.length) throw new Error('inline object data is truncated');
    return this.data.subarray(offset, offset + length);
  }
  async close(): Promise<void> {}
}

class FileSource implements SealedSource {
  private constructor(private readonly fh: fs.FileHandle) {}

  static async open(file: string, segmentSize: number, expectedLength: number): Promise<FileSource> {
    const fh = await fs.open(file, constants.O_RDONLY);
    try {
      const { size } = await fh.stat();
      if (size !== expectedLength) throw new Error(`blob file has ${size} bytes, expected ${expectedLength}`);
      const header = Buffer.alloc(16);
      await fh.read(header, 0, 16, 0);
      if (parseFileHeader(header) !== segmentSize) throw new Error('blob segment size differs from metadata');
      return new FileSource(fh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error('blob file is truncated');
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * Seals plaintext as it arrives. Sealed output stays in memory until it outgrows the inline limit,
 * then spills to a temp file, so small objects never touch the filesystem.
 */
export class BlobWriter {
  private readonly dataKey = randomBytes(32);
  /** Plaintext of the segment being filled, kept as the pieces that arrived: small objects never copy. */
  private segment: Buffer[] = [];
  private segmentFill = 0;
  private index = 0;
  private size = 0;
  private sealed: Buffer[] = [fileHeader(SEGMENT_SIZE)];
  private sealedBytes = this.sealed[0]!.length;
  private file: { fh: fs.FileHandle; tmpPath: string; blobId: string } | undefined;
  private closed = false;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;

  constructor(
    private readonly store: BlobStore,
    private readonly masterKey: MasterKey,
    private readonly inlineMax: number,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.segmentFill === SEGMENT_SIZE) await this.emit(false);
      const n = Math.min(SEGMENT_SIZE - this.segmentFill, chunk.length - off);
      // The request's buffers are not reused by their producer once yielded, so a view is safe to keep.
      this.segment.push(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
      this.segmentFill += n;
      off += n;
      this.size += n;
    }
  }

  /** Seals the last segment and makes the data durable; the caller commits metadata afterwards. */
  async finish(): Promise<SealedBlob> {
    await this.emit(true);
    const wrappedKey = this.masterKey.wrap(this.dataKey);
    if (!this.file) {
      this.closed = true;
      return {
        location: { inline: Buffer.concat(this.sealed) },
        wrappedKey,
        segmentSize: SEGMENT_SIZE,
        size: this.size,
      };
    }
    await this.flush();
    const { fh, tmpPath, blobId } = this.file;
    await this.syncing;
    await fh.datasync();
    await fh.close();
    this.closed = true;
    const finalPath = this.store.pathOf(blobId);
    await fs.rename(tmpPath, finalPath);
    await fsyncDir(path.dirname(finalPath));
    return { location: { blobId }, wrappedKey, segmentSize: SEGMENT_SIZE, size: this.size };
  }

  /** Drops whatever was written; safe to call after a failure at any point. */
  async abort(): Promise<void> {
    if (this.file && !this.closed) {
      this.closed = true;
      await this.syncing?.catch(() => undefined);
      await this.file.fh.close().catch(() => undefined);
      await fs.rm(this.file.tmpPath, { force: true });
    }
    this.closed = true;
    this.sealed = [];
  }

  private async emit(final: boolean): Promise<void> {
    const plain =
      this.segment.length === 1 ? this.segment[0]! : Buffer.concat(this.segment, this.segmentFill);
    this.segment = [];
    const [body, tag] = sealSegment(this.dataKey, this.index++, final, plain);
    this.segmentFill = 0;
    this.sealed.push(body, tag);
    this.sealedBytes += body.length + tag.length;
    if (!this.file && this.sealedBytes > this.inlineMax) await this.spill();
    if (this.file && (this.sealedBytes >= WRITE_BATCH || final)) await this.flush();
  }

  private async spill(): Promise<void> {
    const blobId = randomBytes(16).toString('hex');
    const tmpPath = path.join(this.store.tmpDir, `${blobId}.tmp`);
    const fh = await fs.open(tmpPath, 'wx', 0o600);
    this.file = { fh, tmpPath, blobId };
  }

  private async flush(): Promise<void> {
    if (!this.file || this.sealed.length === 0) return;
    // writev takes the sealed pieces as they are: no concatenation copy of every megabyte.
    let pieces = this.sealed;
    const total = this.sealedBytes;
    this.sealed = [];
    this.sealedBytes = 0;
    while (pieces.length > 0) {
      const { bytesWritten } = await this.file.fh.writev(pieces);
      pieces = remainder(pieces, bytesWritten);
    }
    this.unsynced += total;
    if (this.unsynced >= SYNC_EVERY) {
      // One background sync at a time; a failure surfaces at the next flush or at finish().
      await this.syncing;
      this.unsynced = 0;
      this.syncing = this.file.fh.datasync();
      this.syncing.catch(() => undefined);
    }
  }
}

/** What is left of a list of buffers after the first `written` bytes went out. */
function remainder(pieces: Buffer[], written: number): Buffer[] {
  let i = 0;
  while (i < pieces.length && written >= pieces[i]!.length) written -= pieces[i++]!.length;
  if (i === pieces.length) return [];
  return [pieces[i]!.subarray(written), ...pieces.slice(i + 1)];
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
