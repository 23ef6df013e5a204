/**
 * Freeing sealed data once no metadata references it. Every statement that drops a reference queues the
 * blob in blob_trash in the same commit; the blob is deleted afterwards, or by the collector after a crash.
 */
import type { Knex } from 'knex';
import type { Log } from '../log.js';
import type { BlobBackend } from '../blobs/backend.js';

/** SQL (over a CTE named `old`) listing every blob id the rows in it hold: their own and their parts'. */
export const HELD_BLOBS = `SELECT blob_id FROM old WHERE blob_id IS NOT NULL
  UNION ALL SELECT e->>'blobId' FROM old, jsonb_array_elements(COALESCE(old.layout, '[]'::jsonb)) e`;

export class Trash {
  constructor(
    private readonly db: Knex,
    private readonly backend: BlobBackend,
    private readonly log: Log,
  ) {}

  /** Removes blobs whose trash rows committed; a failure leaves them to the collector. */
  async free(blobIds: string[]): Promise<void> {
    for (const blobId of blobIds) {
      try {
        await this.backend.delete(blobId);
        await this.db('blob_trash').where({ blob_id: blobId }).delete();
      } catch (err) {
        this.log.warn({ err, blobId }, 'could not free replaced blob; the collector will retry');
      }
    }
  }

  /** Which of these blob ids committed metadata (every version, multipart layouts, parts) still references. */
  async referenced(blobIds: string[]): Promise<Set<string>> {
    if (blobIds.length === 0) return new Set();
    const result = await this.db.raw(
      `SELECT blob_id FROM objects WHERE blob_id = ANY(?)
       UNION SELECT e->>'blobId' FROM objects, jsonb_array_elements(layout) e WHERE layout IS NOT NULL AND e->>'blobId' = ANY(?)
       UNION SELECT blob_id FROM object_versions WHERE blob_id = ANY(?)
       UNION SELECT e->>'blobId' FROM object_versions, jsonb_array_elements(layout) e WHERE layout IS NOT NULL AND e->>'blobId' = ANY(?)
       UNION SELECT blob_id FROM parts WHERE blob_id = ANY(?)`,
      [blobIds, blobIds, blobIds, blobIds, blobIds],
    );
    return new Set(result.rows.map((r: { blob_id: string }) => r.blob_id));
  }

  async queued(): Promise<string[]> {
    const rows = await this.db('blob_trash').select('blob_id');
    return rows.map((r: { blob_id: string }) => r.blob_id);
  }

  async forget(blobId: string): Promise<void> {
    await this.db('blob_trash').where({ blob_id: blobId }).delete();
  }
}

/**
 * Inside the caller's transaction: removes the uploads matching `where` and their parts, and queues the
 * parts' blobs as trash, to be freed once the transaction commits. Returns those blob ids.
 */
export async function dropUploads(
  trx: Knex.Transaction,
  where: { upload_id: string } | { bucket_id: number | string },
): Promise<string[]> {
  const uploads = trx('uploads').where(where).select('upload_id');
  const parts = await trx('parts').whereIn('upload_id', uploads).delete().returning('blob_id');
  const ids: string[] = parts.map((p: { blob_id: string }) => p.blob_id);
  if (ids.length)
    await trx('blob_trash')
      .insert(ids.map((blob_id) => ({ blob_id })))
      .onConflict()
      .ignore();
  await trx('uploads').where(where).delete();
  return ids;
}
