import { randomBytes, type CipherGCM } from 'node:crypto';
import type { MasterKey } from '../crypto/master-key.js';
import { SLAB } from './aligned-slabs.js';
import type { BlobBackend, BlobSink, BlobSource } from './backend.js';
import type { Opened, OpeningPool } from './opening-pool.js';
import {
  fileHeader,
  HEADER_SIZE,
  openSegment,
  parseFileHeader,
  sealSegment,
  segmentCipher,
  sealedLength,
  sealedOffset,
  segmentCount,
  SEGMENT_SIZE,
  TAG_SIZE,
} from './segments.js';

/** Where an object's sealed bytes live: a backend blob named by a random id, or inline in its metadata row. */
export type BlobLocation = { blobId: string; inline?: undefined } | { blobId?: undefined; inline: Buffer };

export interface SealedBlob {
  location: BlobLocation;
  wrappedKey: Buffer;
  segmentSize: number;
  size: number;
}

export interface SealerOptions {
  backend: BlobBackend;
  masterKey: MasterKey;
  /** Objects whose sealed form fits are kept inline in Postgres: one durable commit instead of two fsyncs. */
  inlineMax: number;
  /** Threads that open the segments of large lending reads; without, the calling thread opens them. */
  opening?: OpeningPool;
}

export interface ReadOptions {
  /**
   * The consumer passes to each `next()` a promise of when it is done with the buffer yielded before
   * (a response: when the socket has taken it). The sealer may then yield views of memory it reuses
   * afterwards, instead of buffers of their own: a large read is opened on a thread, into shared slots.
   */
  lent?: boolean;
}

/** What a lending read's consumer passes to `next()`: when it no longer needs the previous buffer. */
export type Returned = Promise<unknown> | undefined;

const WRITE_BATCH = 1024 * 1024;
/** Sealed bytes a read takes at once: what a direct-I/O slab holds, and what a thread opens per job. */
const READ_BATCH = SLAB;
/** Batches a lending read has being opened ahead of the one it yields (if its source keeps as many views). */
const OPENING_AHEAD = 2;
/** Sealed batches a writer may have waiting for the backend: its memory bound is this many megabytes. */
const QUEUED_WRITES = 4;

export interface WriteOptions {
  inline?: boolean;
  /**
   * The plaintext length the request declared. Known, each segment is encrypted as its bytes arrive and
   * closed as it fills (its finality is known up front); unknown, a segment's plaintext is held until the
   * next byte or the end says whether it is the last. A body of another length is refused at `finish`.
   */
  size?: number;
}
/**
 * Encryption at rest: each object's bytes are sealed in authenticated segments under its own data key,
 * wrapped by the master key. Where the sealed bytes live is the backend's business; the write protocol
 * (durable before the caller commits metadata) is this class's.
 */
export class Sealer {
  readonly backend: BlobBackend;

  constructor(private readonly opts: SealerOptions) {
    this.backend = opts.backend;
  }

  /** `inline: false` for multipart parts, which an object row references by blob id. */
  createWriter(opts: WriteOptions = {}): BlobWriter {
    return new BlobWriter(
      this.backend,
      this.opts.masterKey,
      opts.inline === false ? -1 : this.opts.inlineMax,
      opts.size,
    );
  }

  /**
   * Seals a whole body: streams it into a writer, lets `finalize` check the body's digests, then makes
   * the data durable. Any failure drops what was written; nothing half-written survives.
   */
  async seal<D>(
    body: AsyncIterable<Buffer>,
    finalize: () => Promise<D>,
    opts: WriteOptions = {},
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
    await this.backend.delete(blobId);
  }

  /** Decrypts plaintext bytes [start, end] (inclusive), reading and opening only the segments they span. */
  async *read(
    blob: SealedBlob,
    start: number,
    end: number,
    opts: ReadOptions = {},
  ): AsyncGenerator<Buffer, void, Returned> {
    const { size, segmentSize } = blob;
    if (size === 0 || end < start) return;
    const source: BlobSource = blob.location.inline
      ? new InlineSource(blob.location.inline)
      : await this.backend.open(blob.location.blobId!, sealedLength(size, segmentSize));
    try {
      if (parseFileHeader(await source.read(0, HEADER_SIZE)) !== segmentSize)
        throw new Error('blob segment size differs from metadata');
      const plan = new ReadPlan(blob, start, end, this.opts.masterKey.unwrap(blob.wrappedKey));
      // Only a lending read: its plaintext goes out of the thread's slots as it is, with no copy to free.
      const opening = this.opts.opening;
      if (opts.lent && opening && plan.batches > 1) {
        yield* openedOnThread(plan, source, opening);
        return;
      }
      for (let batchStart = plan.first; batchStart <= plan.last; batchStart += plan.perBatch) {
        const batch = plan.batch(batchStart);
        const sealed = await plan.read(source, batch);
        // Segment by segment as they are opened, without another generator in between (small GETs).
        for (const plain of plan.open(batch, sealed)) yield plain;
      }
    } finally {
      await source.close();
    }
  }
}

/** The batches a read takes its segments in, and the one buffer they are read into. */
class ReadPlan {
  readonly count: number;
  readonly first: number;
  readonly last: number;
  readonly perBatch: number;
  readonly batches: number;
  /** One read buffer for the whole read: each batch is read into it (or into a direct-I/O slab). */
  readonly buffer: Buffer;

  constructor(
    readonly blob: SealedBlob,
    readonly start: number,
    readonly end: number,
    readonly key: Buffer,
  ) {
    const { size, segmentSize } = blob;
    this.count = segmentCount(size, segmentSize);
    this.first = Math.floor(start / segmentSize);
    this.last = Math.floor(end / segmentSize);
    this.perBatch = Math.max(1, Math.floor(READ_BATCH / (segmentSize + TAG_SIZE)));
    const segments = this.last - this.first + 1;
    this.batches = Math.ceil(segments / this.perBatch);
    this.buffer = Buffer.allocUnsafe(Math.min(this.perBatch, segments) * (segmentSize + TAG_SIZE));
  }

  /** The batch of segments from `batchStart`: where its sealed bytes are, and each segment's sealed length. */
  batch(batchStart: number) {
    const { size, segmentSize } = this.blob;
    const batchEnd = Math.min(this.last, batchStart + this.perBatch - 1);
    const from = sealedOffset(batchStart, segmentSize);
    const to = Math.min(sealedOffset(batchEnd + 1, segmentSize), sealedLength(size, segmentSize));
    const lengths: number[] = [];
    for (let i = batchStart; i <= batchEnd; i++)
      lengths.push((i === this.count - 1 ? size - i * segmentSize : segmentSize) + TAG_SIZE);
    return { batchStart, batchEnd, from, length: to - from, lengths };
  }

  read(source: BlobSource, batch: Batch): Promise<Buffer> {
    return source.read(batch.from, batch.length, this.buffer);
  }

  /** Opens a batch's segments here, one by one, each plaintext cut to the range at the read's ends. */
  *open(batch: Batch, sealed: Buffer): Generator<Buffer> {
    const { segmentSize } = this.blob;
    for (let i = batch.batchStart; i <= batch.batchEnd; i++) {
      const off = sealedOffset(i, segmentSize) - batch.from;
      const len = batch.lengths[i - batch.batchStart]!;
      let plain = openSegment(this.key, i, i === this.count - 1, sealed.subarray(off, off + len));
      const segStart = i * segmentSize;
      if (i === this.first || i === this.last)
        plain = plain.subarray(
          Math.max(0, this.start - segStart),
          Math.min(plain.length, this.end - segStart + 1),
        );
      yield plain;
    }
  }
}
type Batch = ReturnType<ReadPlan['batch']>;

/**
 * Opens batches on a thread, the next one read (and being opened) while the consumer sends the current one,
 * and lends out the thread's slot: it is reused once the promise passed back to `next()` resolves, and never
 * if none is. A batch whose sealed bytes are not in shared memory (an inline blob) is opened here instead.
 */
async function* openedOnThread(
  plan: ReadPlan,
  source: BlobSource,
  opening: OpeningPool,
): AsyncGenerator<Buffer, void, Returned> {
  const { first, last, count, key, start, end } = plan;
  const { segmentSize } = plan.blob;
  /** Reads a batch, and starts opening it on a thread when its sealed bytes landed in shared memory. */
  const offload = async (batch: Batch): Promise<{ opened: Promise<Opened> } | { sealed: Buffer }> => {
    const sealed = await plan.read(source, batch);
    if (!opening.accepts(sealed)) return { sealed };
    const opened = opening.open({
      key,
      sealed,
      first: batch.batchStart,
      lengths: batch.lengths,
      lastIndex: count - 1,
    });
    opened.catch(() => undefined);
    return { opened };
  };
  /**
   * Batches read and being opened before they are needed, oldest first: as many as the source keeps views
   * of, so that a thread finishing one finds the next already waiting instead of idling for a round trip.
   */
  const depth = Math.max(1, Math.min(OPENING_AHEAD, source.viewsKept ?? 1));
  const ahead: Array<Awaited<ReturnType<typeof offload>>> = [];
  let nextStart = first;
  /** Reads until `depth` batches are ahead; called once the oldest view's thread is done: each read ends it. */
  const topUp = async () => {
    // A batch left to open here may be in the read's own buffer, which the next read reuses.
    while (ahead.length < depth && nextStart <= last && !ahead.some((a) => 'sealed' in a)) {
      ahead.push(await offload(plan.batch(nextStart)));
      nextStart += plan.perBatch;
    }
  };
  /** Plaintext in a thread's slot that this read still has, or has lent out. */
  let held: Opened | undefined;
  try {
    await topUp();
    for (let batchStart = first; batchStart <= last; batchStart += plan.perBatch) {
      const batch = plan.batch(batchStart);
      const current = ahead.shift()!;
      if ('sealed' in current) {
        // Not in shared memory: opened here, as a read that lends nothing.
        for (const plain of plan.open(batch, current.sealed)) yield plain;
        await topUp();
        continue;
      }
      held = await current.opened;
      // The thread is done with the sealed bytes: the next read may reuse their slab.
      await topUp();
      const plain = held.plain;
      const from = Math.max(start, batchStart * segmentSize) - batchStart * segmentSize;
      const upTo = Math.min(end + 1, (batch.batchEnd + 1) * segmentSize) - batchStart * segmentSize;
      const returned = yield plain.subarray(from, Math.min(upTo, plain.length));
      const lent = held;
      held = undefined;
      if (returned) returned.then(lent.release, lent.abandon);
      else lent.abandon();
    }
  } finally {
    held?.abandon();
    // Batches still being opened: their thread must be done with the slabs before the source lets them go.
    for (const a of ahead)
      if ('opened' in a)
        await a.opened.then(
          (o) => o.release(),
          () => undefined,
        );
  }
}

class InlineSource implements BlobSource {
  constructor(private readonly data: Buffer) {}
  async read(offset: number, length: number, _into?: Buffer): Promise<Buffer> {
    if (offset + length > this.data.length) throw new Error('inline object data is truncated');
    return this.data.subarray(offset, offset + length);
  }
  async close(): Promise<void> {}
}

/**
 * Seals plaintext as it arrives. Sealed output stays in memory until it outgrows the inline limit,
 * then spills to a backend blob, so small objects never touch the backend.
 */
export class BlobWriter {
  private readonly dataKey = randomBytes(32);
  /** The segment being encrypted piece by piece (declared size only). */
  private cipher: CipherGCM | undefined;
  /** Plaintext of the segment being filled when the size is unknown, as the pieces that arrived. */
  private held: Buffer[] = [];
  private segmentFill = 0;
  private index = 0;
  private size = 0;
  private sealed: Buffer[] = [fileHeader(SEGMENT_SIZE)];
  private sealedBytes = this.sealed[0]!.length;
  private sink: BlobSink | undefined;
  /** Batches queued for the backend, oldest first: sealing goes on while the disk catches up. */
  private writes: Array<Promise<void>> = [];
  private closed = false;

  constructor(
    private readonly backend: BlobBackend,
    private readonly masterKey: MasterKey,
    private readonly inlineMax: number,
    private readonly declaredSize?: number,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.segmentFill === SEGMENT_SIZE) await this.endSegment(false);
      const n = Math.min(SEGMENT_SIZE - this.segmentFill, chunk.length - off);
      // The request's buffers are not reused by their producer once yielded, so a view is safe to keep.
      const piece = off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n);
      this.size += n;
      if (this.declaredSize === undefined) this.held.push(piece);
      else {
        if (this.size > this.declaredSize) throw new Error('the body is longer than its declared size');
        this.cipher ??= segmentCipher(this.dataKey, this.index, this.finalFromHere());
        await this.push(this.cipher.update(piece));
      }
      this.segmentFill += n;
      off += n;
    }
  }

  /** Seals the last segment and makes the data durable; the caller commits metadata afterwards. */
  async finish(): Promise<SealedBlob> {
    if (this.declaredSize !== undefined && this.size !== this.declaredSize)
      throw new Error(`the body has ${this.size} bytes, not the ${this.declaredSize} it declared`);
    await this.endSegment(true);
    const wrappedKey = this.masterKey.wrap(this.dataKey);
    if (!this.sink) {
      this.closed = true;
      return {
        location: { inline: Buffer.concat(this.sealed) },
        wrappedKey,
        segmentSize: SEGMENT_SIZE,
        size: this.size,
      };
    }
    await this.flush();
    await this.writes.at(-1);
    await this.sink.commit();
    this.closed = true;
    return { location: { blobId: this.sink.name }, wrappedKey, segmentSize: SEGMENT_SIZE, size: this.size };
  }

  /** Drops whatever was written; safe to call after a failure at any point. */
  async abort(): Promise<void> {
    if (this.sink && !this.closed) {
      this.closed = true;
      await this.writes.at(-1)?.catch(() => undefined);
      await this.sink.abort();
    }
    this.closed = true;
    this.sealed = [];
    this.held = [];
  }

  /** With a declared size: whether the segment about to start is the last one. */
  private finalFromHere(): boolean {
    return (this.index + 1) * SEGMENT_SIZE >= this.declaredSize!;
  }

  private async endSegment(final: boolean): Promise<void> {
    if (this.declaredSize === undefined) {
      const plain = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.segmentFill);
      this.held = [];
      const [body, tag] = sealSegment(this.dataKey, this.index, final, plain);
      await this.push(body);
      await this.push(tag);
    } else {
      // An empty object still has one (empty, final) segment.
      const c = this.cipher ?? segmentCipher(this.dataKey, this.index, this.finalFromHere());
      this.cipher = undefined;
      c.final();
      await this.push(c.getAuthTag());
    }
    this.index++;
    this.segmentFill = 0;
  }

  private async push(piece: Buffer): Promise<void> {
    this.sealed.push(piece);
    this.sealedBytes += piece.length;
    if (!this.sink && this.sealedBytes > this.inlineMax) this.sink = await this.backend.create();
    if (this.sink && this.sealedBytes >= WRITE_BATCH) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.sink || this.sealed.length === 0) return;
    const pieces = this.sealed;
    this.sealed = [];
    this.sealedBytes = 0;
    // Writes go out one after another, in order; a failure fails every later one and surfaces here or at finish.
    const sink = this.sink;
    const write = (this.writes.at(-1) ?? Promise.resolve()).then(() => sink.write(pieces));
    write.catch(() => undefined);
    this.writes.push(write);
    if (this.writes.length > QUEUED_WRITES) await this.writes.shift();
  }
}
