import { Worker } from 'node:worker_threads';
import { BodyHashes, type DigestRequest, type DigestResult, type HashSet } from './body-digests.js';
import { threadEntry } from './thread-entry.js';

/** Bodies smaller than this are digested inline: handing them to a thread would cost more than it saves. */
export const OFFLOAD_MIN = 1024 * 1024;
const SLOT = 512 * 1024;
/** Slots one body may have in threads at once: its backpressure, and its memory bound (4 MiB). */
const SLOTS_PER_BODY = 8;
const SPARE_SLOTS = 64;

export type ThreadRequest =
  | { type: 'open'; id: number; set: HashSet }
  /** `slot` travels once per thread: cloning a SharedArrayBuffer on every message costs more than hashing. */
  | { type: 'data'; id: number; slotId: number; length: number; slot?: SharedArrayBuffer }
  | { type: 'end'; id: number }
  | { type: 'cancel'; id: number };

export type ThreadReply =
  | { type: 'done'; id: number; slotId: number }
  | { type: 'result'; id: number; result: Partial<DigestResult> }
  | { type: 'failed'; id: number; message: string };

/** A body's running digests; `update` takes the chunk's bytes before it returns, so the caller may pass it on. */
export interface Digester {
  /** Resolves once the body may take more (a thread has room for it). */
  update(chunk: Buffer): Promise<void> | void;
  digest(): Promise<DigestResult>;
  /** Drops a body that will not be finished (the request failed or was refused). */
  cancel(): void;
}

interface Slot {
  id: number;
  sab: SharedArrayBuffer;
  buf: Buffer;
  /** Threads still reading it. */
  readers: number;
}

export interface DigestPoolOptions {
  /** Digest threads; 0 digests every body on the event loop. */
  threads: number;
}

/**
 * Large bodies' MD5, SHA-256 and checksums run on worker threads, fed through shared-memory slots (one
 * copy, no transfer of the request's own buffers), while the event loop encrypts and writes the same
 * bytes: one upload uses two cores, and small requests are not queued behind a large one's hashing.
 */
export class DigestPool {
  private readonly lanes: Array<Lane | undefined>;
  private nextLane = 0;
  private nextId = 1;
  private nextSlot = 1;
  private readonly spare: Slot[] = [];

  constructor(private readonly opts: DigestPoolOptions) {
    this.lanes = new Array<Lane | undefined>(opts.threads).fill(undefined);
  }

  /** `length`: the body's declared length; unknown or small bodies are digested inline. */
  open(request: DigestRequest, length?: number): Digester {
    if (this.lanes.length === 0 || length === undefined || length < OFFLOAD_MIN)
      return new InlineDigester(request);
    // MD5 on one thread, SHA-256 and the checksum on the next: a signed upload's digests run side by side.
    const first = this.nextLane++;
    const rest = request.sha256 || request.checksum !== undefined;
    const parts =
      rest && this.lanes.length > 1
        ? [
            { lane: this.lane(first), set: { md5: true, sha256: false } },
            { lane: this.lane(first + 1), set: { ...request, md5: false } },
          ]
        : [{ lane: this.lane(first), set: { ...request, md5: true } }];
    return new ThreadDigester(this, parts, this.nextId++);
  }

  private lane(n: number): Lane {
    const i = n % this.lanes.length;
    let lane = this.lanes[i];
    if (!lane || lane.dead) lane = this.lanes[i] = new Lane();
    return lane;
  }

  acquireSlot(): Slot {
    const spare = this.spare.pop();
    if (spare) return spare;
    const sab = new SharedArrayBuffer(SLOT);
    return { id: this.nextSlot++, sab, buf: Buffer.from(sab), readers: 0 };
  }

  releaseSlot(slot: Slot): void {
    if (this.spare.length < SPARE_SLOTS) this.spare.push(slot);
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane?.stop()));
  }
}

/** Digests on the calling thread: small bodies, and every body when there are no threads. */
export class InlineDigester implements Digester {
  private readonly hashes: BodyHashes;
  constructor(request: DigestRequest) {
    this.hashes = new BodyHashes({ ...request, md5: true });
  }
  update(chunk: Buffer): void {
    this.hashes.update(chunk);
  }
  async digest(): Promise<DigestResult> {
    const { md5, ...rest } = await this.hashes.digest();
    return { ...rest, md5: md5! };
  }
  cancel(): void {}
}

/** One digest thread and the bodies it is digesting. */
class Lane {
  dead = false;
  private readonly worker: Worker;
  private readonly bodies = new Map<number, ThreadDigester>();
  private readonly knownSlots = new Set<number>();

  constructor() {
    const entry = threadEntry(import.meta.url, 'digest-thread');
    this.worker = new Worker(entry.filename, entry.options);
    // An idle thread must not keep the gateway (or a test) alive.
    this.worker.unref();
    this.worker.on('message', (m: ThreadReply) => this.bodies.get(m.id)?.receive(m));
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('exit', (code) => this.die(new Error(`digest thread exited with code ${code}`)));
  }

  attach(id: number, body: ThreadDigester): void {
    this.bodies.set(id, body);
  }

  detach(id: number): void {
    this.bodies.delete(id);
  }

  post(message: ThreadRequest): void {
    this.worker.postMessage(message);
  }

  postData(id: number, slot: Slot, length: number): void {
    const known = this.knownSlots.has(slot.id);
    this.knownSlots.add(slot.id);
    this.post({ type: 'data', id, slotId: slot.id, length, slot: known ? undefined : slot.sab });
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }

  private die(err: Error): void {
    this.dead = true;
    const bodies = [...this.bodies.values()];
    this.bodies.clear();
    for (const body of bodies) body.fail(new Error(`digest thread failed: ${err.message}`));
  }
}

interface Part {
  lane: Lane;
  set: HashSet;
}

class ThreadDigester implements Digester {
  private current: Slot | undefined;
  private fill = 0;
  private readonly inFlight = new Map<number, Slot>();
  private room: (() => void) | undefined;
  private result: { resolve(r: DigestResult): void; reject(e: Error): void } | undefined;
  private readonly results: Array<Partial<DigestResult>> = [];
  private failure: Error | undefined;
  private ended = false;

  constructor(
    private readonly pool: DigestPool,
    private readonly parts: Part[],
    private readonly id: number,
  ) {
    for (const { lane, set } of parts) {
      lane.attach(id, this);
      lane.post({ type: 'open', id, set });
    }
  }

  async update(chunk: Buffer): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (!this.current) {
        while (this.inFlight.size >= SLOTS_PER_BODY && !this.failure)
          await new Promise<void>((resolve) => (this.room = resolve));
        if (this.failure) throw this.failure;
        this.current = this.pool.acquireSlot();
      }
      const n = Math.min(SLOT - this.fill, chunk.length - off);
      // fill() with a Buffer of the range's length is one native memcpy; copy() into shared memory takes
      // V8's relaxed path, which goes byte by byte when source and slot offsets differ mod 8 (10x slower).
      this.current.buf.fill(chunk.subarray(off, off + n), this.fill, this.fill + n);
      this.fill += n;
      off += n;
      if (this.fill === SLOT) this.send();
    }
  }

  digest(): Promise<DigestResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new Error('the body was already finished or cancelled'));
    if (this.current && this.fill > 0) this.send();
    this.ended = true;
    for (const { lane } of this.parts) lane.post({ type: 'end', id: this.id });
    return new Promise((resolve, reject) => (this.result = { resolve, reject }));
  }

  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    for (const { lane } of this.parts) {
      lane.post({ type: 'cancel', id: this.id });
      lane.detach(this.id);
    }
    if (this.current) this.pool.releaseSlot(this.current);
    this.current = undefined;
  }

  receive(m: ThreadReply): void {
    if (m.type === 'done') {
      const slot = this.inFlight.get(m.slotId);
      if (!slot || --slot.readers > 0) return;
      this.inFlight.delete(m.slotId);
      this.pool.releaseSlot(slot);
      this.room?.();
      this.room = undefined;
      return;
    }
    if (m.type === 'failed') return this.fail(new Error(`digest thread failed: ${m.message}`));
    this.results.push(m.result);
    if (this.results.length < this.parts.length) return;
    for (const { lane } of this.parts) lane.detach(this.id);
    // Each part names only the digests it computed; the others come back undefined.
    const merged: Partial<DigestResult> = {};
    for (const r of this.results)
      for (const [k, v] of Object.entries(r)) if (v !== undefined) Object.assign(merged, { [k]: v });
    // Structured cloning turns the Buffer into a plain Uint8Array.
    this.result?.resolve({ ...merged, md5: Buffer.from(merged.md5!) });
  }

  fail(err: Error): void {
    for (const { lane } of this.parts) lane.detach(this.id);
    this.failure = err;
    this.room?.();
    this.room = undefined;
    this.result?.reject(err);
  }

  private send(): void {
    const slot = this.current!;
    this.current = undefined;
    slot.readers = this.parts.length;
    this.inFlight.set(slot.id, slot);
    for (const { lane } of this.parts) lane.postData(this.id, slot, this.fill);
    this.fill = 0;
  }
}
