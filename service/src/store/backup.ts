/**
 * A backup's view of the store: a hold that keeps every blob a snapshot references from being freed
 * while the backup copies it, and the list of those blobs, read inside the snapshot itself. Blobs are
 * copied as they are stored (sealed), through the blob backend.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { BlobBackend } from '../blobs/backend.js';
import { sealedLength } from '../blobs/segments.js';

export interface BackupHold {
  readonly id: string;
  /** Ends the hold: blobs queued as trash meanwhile are freed by the collector's next run. */
  release(): Promise<void>;
}

/**
 * Starts a hold, committed before the caller takes its snapshot: from then on nothing queued as trash
 * is freed, so every blob the snapshot references stays until the hold ends. It is renewed every
 * `ttlMs / 3`; a backup that dies stops renewing it and it expires.
 */
export async function holdTrash(db: Knex, ttlMs = 10 * 60_000): Promise<BackupHold> {
  const id = randomBytes(8).toString('hex');
  const until = () => db.raw(`now() + make_interval(secs => ?)`, [ttlMs / 1000]);
  await db('backup_holds').insert({ id, expires_at: until() });
  const renew = setInterval(() => {
    db('backup_holds')
      .where({ id })
      .update({ expires_at: until() })
      .catch(() => undefined);
  }, ttlMs / 3);
  renew.unref();
  return {
    id,
    async release() {
      clearInterval(renew);
      await db('backup_holds').where({ id }).delete();
    },
  };
}

export interface SnapshotBlob {
  id: string;
  /** Sealed bytes as stored. */
  length: number;
}

/** Every blob the transaction's snapshot references (objects, versions, their layouts, uploaded parts). */
export async function snapshotBlobs(trx: Knex.Transaction): Promise<SnapshotBlob[]> {
  const result = await trx.raw(
    `SELECT blob_id, size, segment_size FROM objects WHERE blob_id IS NOT NULL
     UNION SELECT e->>'blobId', (e->>'size')::bigint, (e->>'segmentSize')::int
       FROM objects, jsonb_array_elements(layout) e WHERE layout IS NOT NULL
     UNION SELECT blob_id, size, segment_size FROM object_versions WHERE blob_id IS NOT NULL
     UNION SELECT e->>'blobId', (e->>'size')::bigint, (e->>'segmentSize')::int
       FROM object_versions, jsonb_array_elements(layout) e WHERE layout IS NOT NULL
     UNION SELECT blob_id, size, segment_size FROM parts
     ORDER BY 1`,
  );
  return result.rows.map((r: { blob_id: string; size: string; segment_size: number }) => ({
    id: r.blob_id,
    length: sealedLength(Number(r.size), r.segment_size),
  }));
}

const CHUNK = 4 * 1024 * 1024;

/** A stored blob's sealed bytes, in order, a few MiB at a time. */
export async function* readBlob(backend: BlobBackend, blob: SnapshotBlob): AsyncGenerator<Buffer> {
  const src = await backend.open(blob.id, blob.length);
  try {
    for (let at = 0; at < blob.length; at += CHUNK)
      yield await src.read(at, Math.min(CHUNK, blob.length - at));
  } finally {
    await src.close();
  }
}

/** Puts a backed-up blob back under its own name; it is readable only once all of it is durable. */
export async function restoreBlob(
  backend: BlobBackend,
  blob: SnapshotBlob,
  chunks: AsyncIterable<Buffer>,
): Promise<void> {
  const sink = await backend.create(blob.id);
  try {
    let length = 0;
    for await (const chunk of chunks) {
      length += chunk.length;
      await sink.write([chunk]);
    }
    if (length !== blob.length)
      throw new Error(`backed-up blob ${blob.id} has ${length} bytes, the snapshot says ${blob.length}`);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
}
