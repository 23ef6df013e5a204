import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBackend } from '../../src/blobs/fs-backend.js';
import { OpeningPool } from '../../src/blobs/opening-pool.js';
import { Sealer, type SealedBlob } from '../../src/blobs/sealer.js';
import { MasterKey } from '../../src/crypto/master-key.js';
import { SEGMENT_SIZE, TAG_SIZE, HEADER_SIZE } from '../../src/blobs/segments.js';

let dir: string;
let store: Sealer;
const master = new MasterKey(randomBytes(32));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-blobs-'));
  const backend = new FsBackend(dir);
  await backend.init();
  store = new Sealer({ backend, masterKey: master, inlineMax: 1024 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function readdirDeep(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true })).sort();
}

/** Where the filesystem backend keeps a blob: this test tampers with the bytes it stored. */
const fileOf = (blobId: string) => path.join(dir, 'blobs', blobId.slice(0, 2), blobId);

/** `declared`: the writer is told the length up front, as for a request with Content-Length. */
async function put(data: Buffer, pieces = 3, declared = false): Promise<SealedBlob> {
  const w = store.createWriter(declared ? { size: data.length } : {});
  const step = Math.max(1, Math.ceil(data.length / pieces));
  for (let i = 0; i < data.length; i += step) await w.write(data.subarray(i, i + step));
  return w.finish();
}

async function get(blob: SealedBlob, start = 0, end = blob.size - 1): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of store.read(blob, start, end)) out.push(c);
  return Buffer.concat(out);
}

describe('encrypted segment blobs', () => {
  const sizes = [
    0,
    1,
    100,
    SEGMENT_SIZE - 1,
    SEGMENT_SIZE,
    SEGMENT_SIZE + 1,
    3 * SEGMENT_SIZE + 17,
    40 * SEGMENT_SIZE,
  ];
  for (const [size, declared] of sizes.flatMap((s) => [[s, false] as const, [s, true] as const])) {
    it(`round-trips ${size} bytes, whole and in ranges, ${declared ? 'with' : 'without'} a declared size`, async () => {
      const data = randomBytes(size);
      // Pieces that straddle segment boundaries: a segment is encrypted from several of them.
      const blob = await put(data, 7, declared);
      expect(blob.size).toBe(size);
      expect((await get(blob)).equals(data)).toBe(true);
      if (size > 2) {
        for (const [s, e] of [
          [0, 0],
          [1, size - 2],
          [size - 1, size - 1],
          [Math.floor(size / 3), Math.floor((2 * size) / 3)],
        ] as const) {
          expect((await get(blob, s, e)).equals(data.subarray(s, e + 1))).toBe(true);
        }
      }
    });
  }

  it('refuses a body longer or shorter than declared, leaving nothing behind', async () => {
    const before = await readdirDeep(dir);
    const longer = store.createWriter({ size: 10 });
    await expect(longer.write(randomBytes(11))).rejects.toThrow(/longer than its declared size/);
    await longer.abort();
    const shorter = store.createWriter({ size: 3 * SEGMENT_SIZE });
    await shorter.write(randomBytes(2 * SEGMENT_SIZE));
    await expect(shorter.finish()).rejects.toThrow(/not the 196608 it declared/);
    await shorter.abort();
    expect(await readdirDeep(dir)).toEqual(before);
  });

  it('keeps small objects inline and large ones in files that hold no plaintext', async () => {
    const small = await put(Buffer.from('tiny secret'));
    expect(small.location.inline).toBeDefined();
    const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(8192));
    const big = await put(marker);
    expect(big.location.blobId).toMatch(/^[0-9a-f]{32}$/);
    const onDisk = await readFile(fileOf(big.location.blobId!));
    expect(onDisk.includes(Buffer.from('PLAINTEXT-MARKER-'))).toBe(false);
    expect(onDisk.length).toBe(
      HEADER_SIZE + marker.length + Math.ceil(marker.length / SEGMENT_SIZE) * TAG_SIZE,
    );
  });

  it('detects a flipped bit, a truncated file and swapped segments', async () => {
    const data = randomBytes(3 * SEGMENT_SIZE);
    const blob = await put(data);
    const file = fileOf(blob.location.blobId!);
    const original = await readFile(file);

    const flipped = Buffer.from(original);
    flipped[HEADER_SIZE + SEGMENT_SIZE + 100]! ^= 1;
    await writeFile(file, flipped);
    await expect(get(blob, SEGMENT_SIZE, SEGMENT_SIZE + 200)).rejects.toThrow(/authentication/);
    // A range outside the damaged segment still reads: only the needed segments are opened.
    expect((await get(blob, 0, 10)).equals(data.subarray(0, 11))).toBe(true);

    const seg = SEGMENT_SIZE + TAG_SIZE;
    const swapped = Buffer.concat([
      original.subarray(0, HEADER_SIZE),
      original.subarray(HEADER_SIZE + seg, HEADER_SIZE + 2 * seg),
      original.subarray(HEADER_SIZE, HEADER_SIZE + seg),
      original.subarray(HEADER_SIZE + 2 * seg),
    ]);
    await writeFile(file, swapped);
    await expect(get(blob)).rejects.toThrow(/authentication/);

    await writeFile(file, original.subarray(0, original.length - seg));
    await expect(get(blob)).rejects.toThrow(/expected/);
  });

  it('refuses a data key wrapped by another master key', async () => {
    const blob = await put(randomBytes(10));
    const other = new Sealer({
      backend: new FsBackend(dir),
      masterKey: new MasterKey(randomBytes(32)),
      inlineMax: 1024,
    });
    await expect(async () => {
      for await (const _ of other.read(blob, 0, 9)) void _;
    }).rejects.toThrow(/wrapped by master key [0-9a-f]{8}, which is not loaded/);
  });
});

describe('large reads opened on a thread', () => {
  let threaded: Sealer;
  let threadedBackend: FsBackend;
  let pool: OpeningPool;
  beforeAll(async () => {
    threadedBackend = new FsBackend(dir);
    await threadedBackend.init();
    pool = new OpeningPool({ threads: 1 });
    threaded = new Sealer({ backend: threadedBackend, masterKey: master, inlineMax: 1024, opening: pool });
  });
  afterAll(() => pool.close());

  /** A consumer that returns each buffer once it has copied it, as the response does once the socket took it. */
  async function getLent(blob: SealedBlob, start = 0, end = blob.size - 1, reader = threaded) {
    const it = reader.read(blob, start, end, { lent: true });
    const out: Buffer[] = [];
    let shared = 0;
    let returned: Promise<void> | undefined;
    for (let n = await it.next(); !n.done; n = await it.next(returned)) {
      if (n.value.buffer instanceof SharedArrayBuffer) shared++;
      out.push(Buffer.from(n.value));
      returned = Promise.resolve();
    }
    return { data: Buffer.concat(out), shared };
  }

  async function getOwn(blob: SealedBlob, start = 0, end = blob.size - 1): Promise<Buffer> {
    const out: Buffer[] = [];
    for await (const c of threaded.read(blob, start, end)) {
      // Not lent: every buffer is the reader's own, however long it is kept.
      expect(c.buffer instanceof SharedArrayBuffer).toBe(false);
      out.push(c);
    }
    return Buffer.concat(out);
  }

  it('gives the same bytes as opening on the event loop, whole and in ranges, lent or not', async () => {
    for (const size of [40 * SEGMENT_SIZE + 5, 62 * SEGMENT_SIZE, 100 * SEGMENT_SIZE]) {
      const data = randomBytes(size);
      const blob = await put(data, 5, true);
      const whole = await getLent(blob);
      expect(whole.data.equals(data)).toBe(true);
      // Opened on the thread and lent straight out of its shared slots, not copied.
      expect(whole.shared).toBeGreaterThan(0);
      expect((await getOwn(blob)).equals(data)).toBe(true);
      for (const [s, e] of [
        [1, size - 2],
        [SEGMENT_SIZE - 1, Math.min(size - 1, 20 * SEGMENT_SIZE + 3)],
        [Math.floor(size / 3), size - 1],
      ] as const) {
        expect((await getLent(blob, s, e)).data.equals(data.subarray(s, e + 1))).toBe(true);
        expect((await getOwn(blob, s, e)).equals(data.subarray(s, e + 1))).toBe(true);
      }
    }
  });

  it('gives the same bytes with two threads opening two batches at once', async () => {
    const two = new OpeningPool({ threads: 2 });
    try {
      const reader = new Sealer({
        backend: threadedBackend,
        masterKey: master,
        inlineMax: 1024,
        opening: two,
      });
      const data = randomBytes(150 * SEGMENT_SIZE + 11);
      const blob = await put(data, 5, true);
      for (const [s, e] of [
        [0, data.length - 1],
        [3, data.length - 40],
        [70 * SEGMENT_SIZE + 1, data.length - 1],
      ] as const)
        expect((await getLent(blob, s, e, reader)).data.equals(data.subarray(s, e + 1))).toBe(true);
    } finally {
      await two.close();
    }
  });

  it('reuses a lent buffer only once it has been returned, and never one that was not', async () => {
    const data = randomBytes(100 * SEGMENT_SIZE);
    const blob = await put(data, 3, true);
    const it = threaded.read(blob, 0, blob.size - 1, { lent: true });
    const kept: Buffer[] = [];
    let release!: () => void;
    const firstReturned = new Promise<void>((r) => (release = r));
    let at = 0;
    for (let n = await it.next(); !n.done; n = await it.next(kept.length === 1 ? firstReturned : undefined)) {
      kept.push(n.value);
      at += n.value.length;
    }
    expect(at).toBe(data.length);
    // The first is returned only now, and the rest never: every buffer still holds its own bytes.
    expect(Buffer.concat(kept).equals(data)).toBe(true);
    release();
    await firstReturned;
    // Another read may now reuse the first one's slot, and none of the others'.
    expect((await getLent(blob)).data.equals(data)).toBe(true);
    expect(Buffer.concat(kept.slice(1)).equals(data.subarray(kept[0]!.length))).toBe(true);
  });

  it('stops cleanly when the consumer goes away, and detects damage as the event loop does', async () => {
    const data = randomBytes(40 * SEGMENT_SIZE);
    const blob = await put(data, 3, true);
    const it = threaded.read(blob, 0, blob.size - 1, { lent: true });
    await it.next();
    await it.return(undefined);
    expect((await getLent(blob)).data.equals(data)).toBe(true);

    const file = fileOf(blob.location.blobId!);
    const original = await readFile(file);
    const flipped = Buffer.from(original);
    flipped[HEADER_SIZE + 30 * (SEGMENT_SIZE + TAG_SIZE) + 7]! ^= 1;
    await writeFile(file, flipped);
    await expect(getLent(blob)).rejects.toThrow(/segment 30 failed authentication/);
    await expect(getOwn(blob, 0, 29 * SEGMENT_SIZE)).resolves.toHaveLength(29 * SEGMENT_SIZE + 1);
    const seg = SEGMENT_SIZE + TAG_SIZE;
    const swapped = Buffer.concat([
      original.subarray(0, HEADER_SIZE + 20 * seg),
      original.subarray(HEADER_SIZE + 21 * seg, HEADER_SIZE + 22 * seg),
      original.subarray(HEADER_SIZE + 20 * seg, HEADER_SIZE + 21 * seg),
      original.subarray(HEADER_SIZE + 22 * seg),
    ]);
    await writeFile(file, swapped);
    await expect(getOwn(blob)).rejects.toThrow(/segment 20 failed authentication/);
  });
});
