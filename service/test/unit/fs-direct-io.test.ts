import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SLAB } from '../../src/blobs/aligned-slabs.js';
import type { BlobSink } from '../../src/blobs/backend.js';
import { FsBackend, type FsBackendOptions } from '../../src/blobs/fs-backend.js';

/**
 * The filesystem backend writes blobs, and reads large ones, with O_DIRECT through aligned slabs where the
 * filesystem takes it, and through the page cache otherwise. Which one a file got is read back from the
 * kernel (/proc/self/fdinfo), and every byte must survive any mix of the two.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function backendIn(dir: string, opts: FsBackendOptions = {}): Promise<FsBackend> {
  const b = new FsBackend(dir, opts);
  await b.init();
  return b;
}

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-direct-'));
  dirs.push(dir);
  return dir;
}

/** Whether this process holds `file` open with O_DIRECT, as the kernel reports the descriptor's flags. */
async function openedDirect(file: string): Promise<boolean> {
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target !== file) continue;
    const flags = /^flags:\s+([0-7]+)/m.exec(await readFile(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    return (parseInt(flags!, 8) & constants.O_DIRECT) !== 0;
  }
  throw new Error(`${file} is not open`);
}

const pendingPath = (dir: string, sink: BlobSink) => path.join(dir, 'tmp', `${sink.name}.tmp`);
const blobPath = (dir: string, name: string) => path.join(dir, 'blobs', name.slice(0, 2), name);

/** Whether the filesystem under `dir` lets a file be opened with O_DIRECT, asked without the backend. */
async function filesystemTakesDirect(dir: string): Promise<boolean> {
  const file = path.join(dir, 'probe');
  try {
    await (await open(file, constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT, 0o600)).close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(file, { force: true });
  }
}

async function store(backend: FsBackend, data: Buffer, piece: number): Promise<string> {
  const sink = await backend.create();
  for (let i = 0; i < data.length; i += piece) await sink.write([data.subarray(i, i + piece)]);
  await sink.commit();
  return sink.name;
}

/** Reads `data` back the ways the gateway does: whole, in the sealer's batches, backwards, and in ranges. */
async function expectReadsBack(backend: FsBackend, name: string, data: Buffer): Promise<void> {
  const whole = await backend.open(name, data.length);
  try {
    expect((await whole.read(0, data.length)).equals(data)).toBe(true);
  } finally {
    await whole.close();
  }
  const src = await backend.open(name, data.length);
  try {
    const reuse = Buffer.alloc(983_280);
    // The sealer's pattern: a header, then contiguous batches into one reused buffer.
    const head = Math.min(16, data.length);
    expect((await src.read(0, head)).equals(data.subarray(0, head))).toBe(true);
    for (let at = head; at < data.length; at += reuse.length) {
      const n = Math.min(reuse.length, data.length - at);
      expect((await src.read(at, n, reuse)).equals(data.subarray(at, at + n))).toBe(true);
    }
    // Out of order after a read-ahead, across block and slab edges.
    for (const [off, len] of [
      [Math.max(0, data.length - 5000), Math.min(5000, data.length)],
      [0, Math.min(data.length, 4097)],
      [Math.floor(data.length / 2), Math.min(SLAB + 3, data.length - Math.floor(data.length / 2))],
      [data.length - 1, 1],
    ] as const) {
      expect((await src.read(off, len, reuse)).equals(data.subarray(off, off + len))).toBe(true);
      expect((await src.read(off, len)).equals(data.subarray(off, off + len))).toBe(true);
    }
  } finally {
    await src.close();
  }
}

describe('FsBackend direct I/O', () => {
  it('opens blob files with O_DIRECT where the filesystem takes it, and never with BLOB_DIRECT_IO=off', async () => {
    const dir = await freshDir();
    const takes = await filesystemTakesDirect(dir);
    for (const [opts, expected] of [
      [{}, takes],
      [{ directIo: 'off' }, false],
    ] as const) {
      const backend = await backendIn(dir, opts);
      expect(backend.directIo).toBe(expected);
      const sink = await backend.create();
      expect(await openedDirect(pendingPath(dir, sink))).toBe(expected);
      await sink.write([randomBytes(3 * SLAB)]);
      await sink.commit();
      const src = await backend.open(sink.name, 3 * SLAB);
      expect(await openedDirect(blobPath(dir, sink.name))).toBe(expected);
      await src.close();
    }
  });

  it('keeps every byte of sizes around block and slab edges, written and read either way', async () => {
    const dir = await freshDir();
    const direct = await backendIn(dir);
    const buffered = await backendIn(dir, { directIo: 'off' });
    for (const size of [1, 4095, 4096, 4097, SLAB - 1, SLAB, SLAB + 1, 3 * SLAB + 12_345, 9 * SLAB + 7]) {
      const data = randomBytes(size);
      // Pieces the size of sealed segments and tags, so the staging slab fills mid-piece.
      for (const writer of [direct, buffered]) {
        const name = await store(writer, data, 65_552);
        expect((await stat(blobPath(dir, name))).size).toBe(size);
        for (const reader of [direct, buffered]) await expectReadsBack(reader, name, data);
      }
    }
  });

  it('falls back to the page cache when its slabs are taken, and gets them back after commit, abort and close', async () => {
    const dir = await freshDir();
    if (!(await filesystemTakesDirect(dir))) return; // nothing to run out of on this filesystem
    const backend = await backendIn(dir, { slabs: 3 });
    const sinks = [await backend.create(), await backend.create(), await backend.create()];
    const extra = await backend.create();
    for (const s of sinks) expect(await openedDirect(pendingPath(dir, s))).toBe(true);
    expect(await openedDirect(pendingPath(dir, extra))).toBe(false);
    const data = randomBytes(2 * SLAB + 100);
    for (const s of [...sinks, extra]) await s.write([data]);
    await sinks[0]!.commit();
    await sinks[1]!.abort();
    // Two slabs are back: a large read takes both, and a writer then finds none.
    const src = await backend.open(sinks[0]!.name, data.length);
    expect(await openedDirect(blobPath(dir, sinks[0]!.name))).toBe(true);
    const starved = await backend.create();
    expect(await openedDirect(pendingPath(dir, starved))).toBe(false);
    await src.close();
    await sinks[2]!.commit();
    await extra.commit();
    await starved.abort();
    const again = [await backend.create(), await backend.create(), await backend.create()];
    for (const s of again) expect(await openedDirect(pendingPath(dir, s))).toBe(true);
    for (const s of again) await s.abort();
    for (const name of [sinks[0]!.name, sinks[2]!.name, extra.name])
      await expectReadsBack(backend, name, data);
    // With all three free, a large read holds them all: one it is read from, two read ahead.
    const reader = await backend.open(extra.name, data.length);
    const last = await backend.create();
    expect(await openedDirect(pendingPath(dir, last))).toBe(false);
    await last.abort();
    await reader.close();
  });

  it("keeps a reader's last two views while it reads ahead, and only its last one when slabs run short", async () => {
    const dir = await freshDir();
    if (!(await filesystemTakesDirect(dir))) return; // views of slabs exist only with direct reads
    const data = randomBytes(8 * SLAB);
    const name = await store(await backendIn(dir), data, SLAB);
    const into = Buffer.alloc(SLAB);
    const windowAt = (i: number) => data.subarray(i * (SLAB / 2), (i + 1) * (SLAB / 2));
    for (const [slabs, kept] of [
      [32, 2],
      [3, 1],
    ] as const) {
      const src = await (await backendIn(dir, { slabs })).open(name, data.length);
      try {
        expect(src.viewsKept).toBe(kept);
        const views: Buffer[] = [];
        for (let i = 0; i < 6; i++) {
          views.push(await src.read(i * (SLAB / 2), SLAB / 2, into));
          // Time for the reads ahead that this read started to land wherever they go.
          await new Promise((r) => setTimeout(r, 50));
          // The views the source still keeps hold their own bytes; an older one is read into again.
          for (let k = 0; k < kept && k <= i; k++) expect(views[i - k]!.equals(windowAt(i - k))).toBe(true);
        }
        expect(views.slice(0, 6 - kept).some((v, i) => !v.equals(windowAt(i)))).toBe(true);
      } finally {
        await src.close();
      }
    }
  });

  it('refuses a blob file cut short, as the buffered reader does', async () => {
    const dir = await freshDir();
    const backend = await backendIn(dir);
    const data = randomBytes(2 * SLAB + 10);
    const name = await store(backend, data, SLAB);
    const fh = await open(blobPath(dir, name), 'r+');
    await fh.truncate(SLAB + 5);
    await fh.close();
    await expect(backend.open(name, data.length)).rejects.toThrow(/expected/);
    const src = await backend.open(name, SLAB + 5);
    await expect(src.read(SLAB, 100)).rejects.toThrow(/truncated/);
    await src.close();
  });
});
