import { Worker } from 'node:worker_threads';
import { threadEntry } from '../integrity/thread-entry.js';
import { SLAB } from './aligned-slabs.js';

/** Plaintext one batch may hold: the sealer reads at most a slab at a time. */
const SLOT = SLAB;
/** Spare output slots a thread keeps for reuse (a download holds three or four); more are made while downloads hold them, and dropped after. */
const SPARE_SLOTS = 4;

export type OpeningRequest =
  | {
      type: 'open';
      id: number;
      key: Buffer;
      /** The shared memory holding the sealed bytes, sent once per thread; then named by `memoryId`. */
      memoryId: number;
      memory?: SharedArrayBuffer;
      offset: number;
      /** Sealed lengths of consecutive segments from `first`, laid out back to back from `offset`. */
      lengths: number[];
      first: number;
      lastIndex: number;
      slotId: number;
      slot?: SharedArrayBuffer;
    }
  | { type: 'forget'; slotId: number };

export type OpeningReply = { id: number; plain: number } | { id: number; message: string };

/** A batch's plaintext in a shared slot: valid until `release`, after which the slot is reused. */
export interface Opened {
  plain: Buffer;
  release(): void;
  /** The slot may still be referenced: it is never reused, and the thread forgets it once it is collected. */
  abandon(): void;
}

export interface OpeningBatch {
  key: Buffer;
  /** Sealed segments back to back, in long-lived shared memory (the direct-I/O slabs). */
  sealed: Buffer;
  first: number;
  lengths: number[];
  lastIndex: number;
}

/**
 * Opens (authenticates and decrypts) large downloads' segments on worker threads, reading the sealed
 * bytes where the disk put them and writing the plaintext into reused shared slots: a download's AES-GCM
 * runs beside the event loop, which only moves bytes, and no memory is allocated per batch.
 */
export class OpeningPool {
  private readonly lanes: Array<Lane | undefined>;
  private nextLane = 0;

  constructor(opts: { threads: number }) {
    this.lanes = new Array<Lane | undefined>(opts.threads).fill(undefined);
  }

  /** Whether a batch read into `sealed` can be opened on a thread. */
  accepts(sealed: Buffer): boolean {
    return this.lanes.length > 0 && sealed.buffer instanceof SharedArrayBuffer && sealed.length <= SLOT;
  }

  /** Fails as opening the segments on the event loop would, with the same message. */
  open(batch: OpeningBatch): Promise<Opened> {
    const i = this.nextLane++ % this.lanes.length;
    let lane = this.lanes[i];
    if (!lane || lane.dead) lane = this.lanes[i] = new Lane();
    return lane.open(batch);
  }

  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane?.stop()));
  }
}

interface Slot {
  id: number;
  sab: SharedArrayBuffer;
}

/** One opening thread, the shared memories it has been sent, and its spare output slots. */
class Lane {
  dead = false;
  private readonly worker: Worker;
  private readonly jobs = new Map<number, { resolve(n: number): void; reject(e: Error): void }>();
  private readonly memories = new WeakMap<SharedArrayBuffer, number>();
  private readonly spare: Slot[] = [];
  private nextId = 1;
  /** Slots dropped (beyond the spares, abandoned): once collected here, the thread lets go of them too. */
  private readonly collected = new FinalizationRegistry<number>((slotId) => {
    if (!this.dead) this.worker.postMessage({ type: 'forget', slotId } satisfies OpeningRequest);
  });

  constructor() {
    const entry = threadEntry(import.meta.url, 'opening-thread');
    this.worker = new Worker(entry.filename, entry.options);
    // An idle thread must not keep the gateway (or a test) alive.
    this.worker.unref();
    this.worker.on('message', (m: OpeningReply) => this.receive(m));
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('exit', (code) => this.die(new Error(`opening thread exited with code ${code}`)));
  }

  async open(batch: OpeningBatch): Promise<Opened> {
    const memory = batch.sealed.buffer as SharedArrayBuffer;
    let memoryId = this.memories.get(memory);
    const newMemory = memoryId === undefined;
    if (memoryId === undefined) this.memories.set(memory, (memoryId = this.nextId++));
    const reused = this.spare.pop();
    const slot = reused ?? this.newSlot();
    const id = this.nextId++;
    const message: OpeningRequest = {
      type: 'open',
      id,
      key: batch.key,
      memoryId,
      memory: newMemory ? memory : undefined,
      offset: batch.sealed.byteOffset,
      lengths: batch.lengths,
      first: batch.first,
      lastIndex: batch.lastIndex,
      slotId: slot.id,
      slot: reused ? undefined : slot.sab,
    };
    let length: number;
    try {
      length = await new Promise<number>((resolve, reject) => {
        this.jobs.set(id, { resolve, reject });
        this.worker.postMessage(message);
      });
    } catch (err) {
      this.spare.push(slot);
      throw err;
    }
    let done = false;
    return {
      plain: Buffer.from(slot.sab, 0, length),
      release: () => {
        if (done) return;
        done = true;
        if (this.spare.length < SPARE_SLOTS && !this.dead) this.spare.push(slot);
      },
      abandon: () => {
        done = true;
      },
    };
  }

  private newSlot(): Slot {
    const slot = { id: this.nextId++, sab: new SharedArrayBuffer(SLOT) };
    this.collected.register(slot.sab, slot.id);
    return slot;
  }

  async stop(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }

  private receive(m: OpeningReply): void {
    const job = this.jobs.get(m.id);
    this.jobs.delete(m.id);
    if (!job) return;
    if ('message' in m) job.reject(new Error(m.message));
    else job.resolve(m.plain);
  }

  private die(err: Error): void {
    this.dead = true;
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) job.reject(new Error(`opening thread failed: ${err.message}`));
  }
}
