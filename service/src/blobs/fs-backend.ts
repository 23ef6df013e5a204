import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { BLOB_NAME, type BlobBackend, type BlobEntry, type BlobSink, type BlobSource } from './backend.js';

/**
 * Large blobs are flushed to disk while they are still arriving, so the fsync that precedes the commit
 * only has the tail left to write: disk and CPU work overlap instead of adding up.
 */
const SYNC_EVERY = 16 * 1024 * 1024;

/**
 * Blobs as files under DATA_DIR: written to tmp/, fsynced, renamed into blobs/xx/ and the directory
 * fsynced before commit returns. File names are random ids, never derived from object keys.
 */
export class FsBackend implements BlobBackend {
  readonly kind = 'fs';
  private readonly blobDir: string;
  private readonly tmpDir: string;

  constructor(private readonly dataDir: string) {
    this.blobDir = path.join(dataDir, 'blobs');
    this.tmpDir = path.join(dataDir, 'tmp');
  }

  get describe(): string {
    return this.dataDir;
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

  private pathOf(name: string): string {
    if (!BLOB_NAME.test(name)) throw new Error(`invalid blob name ${name}`);
    return path.join(this.blobDir, name.slice(0, 2), name);
  }

  async create(restored?: string): Promise<BlobSink> {
    const name = restored ?? randomBytes(16).toString('hex');
    if (restored !== undefined && (await fs.stat(this.pathOf(restored)).catch(() => undefined)))
      throw new Error(`blob ${restored} already exists`);
    const tmpPath = path.join(this.tmpDir, `${name}.tmp`);
    const fh = await fs.open(tmpPath, 'wx', 0o600);
    return new FileSink(name, fh, tmpPath, this.pathOf(name));
  }

  async open(name: string, expectedLength: number): Promise<BlobSource> {
    const fh = await fs.open(this.pathOf(name), constants.O_RDONLY);
    try {
      const { size } = await fh.stat();
      if (size !== expectedLength) throw new Error(`blob file has ${size} bytes, expected ${expectedLength}`);
      return new FileSource(fh);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    await fs.rm(this.pathOf(name), { force: true });
  }

  async *list(): AsyncGenerator<BlobEntry> {
    for (const file of await fs.readdir(this.tmpDir)) {
      const st = await fs.stat(path.join(this.tmpDir, file)).catch(() => undefined);
      if (st) yield { name: file.replace(/\.tmp$/, ''), pending: true, modifiedMs: st.mtimeMs };
    }
    for (const dir of await fs.readdir(this.blobDir)) {
      for (const name of await fs.readdir(path.join(this.blobDir, dir)).catch(() => [] as string[])) {
        const st = await fs.stat(path.join(this.blobDir, dir, name)).catch(() => undefined);
        if (st && BLOB_NAME.test(name)) yield { name, pending: false, modifiedMs: st.mtimeMs };
      }
    }
  }

  async discard(entry: BlobEntry): Promise<void> {
    if (!entry.pending) return this.delete(entry.name);
    // A pending name came from list(); refuse anything that could leave the temp directory.
    if (!/^[0-9a-f]+$/.test(entry.name)) throw new Error(`invalid temp name ${entry.name}`);
    await fs.rm(path.join(this.tmpDir, `${entry.name}.tmp`), { force: true });
  }
}

class FileSink implements BlobSink {
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly fh: fs.FileHandle,
    private readonly tmpPath: string,
    private readonly finalPath: string,
  ) {}

  async write(pieces: Buffer[]): Promise<void> {
    let total = 0;
    for (const p of pieces) total += p.length;
    // writev takes the sealed pieces as they are: no concatenation copy of every megabyte.
    while (pieces.length > 0) {
      const { bytesWritten } = await this.fh.writev(pieces);
      pieces = remainder(pieces, bytesWritten);
    }
    this.unsynced += total;
    if (this.unsynced >= SYNC_EVERY) {
      // One background sync at a time; a failure surfaces at the next write or at commit().
      await this.syncing;
      this.unsynced = 0;
      this.syncing = this.fh.datasync();
      this.syncing.catch(() => undefined);
    }
  }

  async commit(): Promise<void> {
    await this.syncing;
    await this.fh.datasync();
    await this.fh.close();
    this.closed = true;
    await fs.rename(this.tmpPath, this.finalPath);
    await fsyncPath(path.dirname(this.finalPath));
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.syncing?.catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await fs.rm(this.tmpPath, { force: true });
  }
}

class FileSource implements BlobSource {
  constructor(private readonly fh: fs.FileHandle) {}

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
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

/** What is left of a list of buffers after the first `written` bytes went out. */
function remainder(pieces: Buffer[], written: number): Buffer[] {
  let i = 0;
  while (i < pieces.length && written >= pieces[i]!.length) written -= pieces[i++]!.length;
  if (i === pieces.length) return [];
  return [pieces[i]!.subarray(written), ...pieces.slice(i + 1)];
}

/** fsync of a file or directory by path (a directory's, so a rename into it is durable). */
export async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.open(p, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
