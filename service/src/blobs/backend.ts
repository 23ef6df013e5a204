/**
 * Where sealed bytes live. Sealing (segments, data keys, the write protocol's ordering) is Coffer's and
 * sits above this interface; a backend only stores opaque sealed streams under names it chooses.
 */
export interface BlobBackend {
  /** Short name for configuration, logs and the management API: `fs`, later `s3`. */
  readonly kind: string;
  /** Where the backend keeps blobs, as an operator would recognise it (a data directory, an endpoint). */
  readonly describe: string;
  /** Prepares the backend (directories, a reachable bucket) before the gateway serves requests. */
  init(): Promise<void>;
  /**
   * Starts a new blob under a fresh random name, or under `name` when a restore brings back one that
   * metadata already references (refused when that name exists); nothing is readable before `commit`.
   */
  create(name?: string): Promise<BlobSink>;
  /** Opens a committed blob; refuses one whose stored length is not `expectedLength` (truncation). */
  open(name: string, expectedLength: number): Promise<BlobSource>;
  /** Removes a committed blob; removing one that is already gone is not an error. */
  delete(name: string): Promise<void>;
  /** Every committed blob and every abandoned write, with its age: what the collector inspects. */
  list(): AsyncIterable<BlobEntry>;
  /** Removes an entry `list` returned (an abandoned write, or a committed blob nothing references). */
  discard(entry: BlobEntry): Promise<void>;
}

export interface BlobEntry {
  name: string;
  /** A write that never committed: garbage once older than any write still in flight. */
  pending: boolean;
  modifiedMs: number;
}

/** A blob being written: sealed pieces in order, then one durable commit. */
export interface BlobSink {
  readonly name: string;
  write(pieces: Buffer[]): Promise<void>;
  /** Returns once the bytes are durable and readable under `name`: only then may metadata reference it. */
  commit(): Promise<void>;
  /** Drops what was written; safe after any failure, and a no-op after commit. */
  abort(): Promise<void>;
}

export interface BlobSource {
  /**
   * `into` marks a reader that reuses one buffer instead of one per read: the bytes come back in it (when
   * large enough) or in a buffer of the source's own, and are valid only until the next read or `close`.
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /**
   * How many of its latest views such a reader may go on using at once (1 when absent): each one returned
   * in the source's own memory stays valid until this many later reads.
   */
  readonly viewsKept?: number;
  close(): Promise<void>;
}

export const BLOB_NAME = /^[0-9a-f]{32}$/;
