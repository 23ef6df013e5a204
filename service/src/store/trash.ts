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

/** A backup's hold is in force: its snapshot may reference blobs queued as trash since. */
const NOT_HELD = 'NOT EXISTS (SELECT 1 FROM backup_holds WHERE expires_at > now())';

export class Trash {
  constructor(
    private readonly db: Knex,
    private readonly backend: BlobBackend,
    private readonly log: Log,
  ) {}

  /**
   * Removes blobs whose trash rows committed, unless a backup holds them; held ones and failures are
   * left to the collector.
   */
  async free(blobIds: string[]): Promise<void> {
    if (blobIds.length === 0) return;
    for (const blobId of await this.claim(blobIds)) {
      try {
        await this.backend.delete(blobId);
      } catch (err) {
        this.log.warn({ err, blobId }, 'could not free replaced blob; the collector will retry');
      }
    }
  }

  /**
   * Takes these blobs off the trash queue, unless a backup holds them, and returns the ones the caller
   * may delete: those taken, and those never queued (written but superseded before any commit referenced
   * them). The row goes first (a crash between leaves an unreferenced blob, which the collector's orphan
   * pass removes), in the same statement as the hold check, so a blob freed after a backup's hold began
   * was dropped before the backup's snapshot was taken.
   */
  async claim(blobIds: string[]): Promise<string[]> {
    if (blobIds.length === 0) return [];
    // Every part of the statement sees one snapshot: rows it deletes still show in blob_trash.
    const result = await this.db.raw(
      `WITH gone AS (DELETE FROM blob_trash WHERE blob_id = ANY(:ids) AND ${NOT_HELD} RETURNING blob_id)
       SELECT blob_id FROM gone
       UNION SELECT id FROM unnest(:ids::text[]) AS id
         WHERE NOT EXISTS (SELECT 1 FROM blob_trash t WHERE t.blob_id = id)`,
      { ids: blobIds },
    );
    return result.rows.map((r: { blob_id: string }) => r.blob_id);
  }

  /**
   * Which of these blob ids committed metadata (every version, multipart layouts, parts) still
   * references; with `queued`, blobs waiting in the trash count as referenced too (the trash pass, not
   * the orphan pass, decides when they go).
   */
  async referenced(blobIds: string[], opts: { queued?: boolean } = {}): Promise<Set<string>> {
    if (blobIds.length === 0) return new Set();
    const result = await this.db.raw(
      `SELECT blob_id FROM objects WHERE blob_id = ANY(?)
       UNION SELECT e->>'blobId' FROM objects, jsonb_array_elements(layout) e WHERE layout IS NOT NULL AND e->>'blobId' = ANY(?)
       UNION SELECT blob_id FROM object_versions WHERE blob_id = ANY(?)
       UNION SELECT e->>'blobId' FROM object_versions, jsonb_array_elements(layout) e WHERE layout IS NOT NULL AND e->>'blobId' = ANY(?)
       UNION SELECT blob_id FROM parts WHERE blob_id = ANY(?)` +
        (opts.queued ? ' UNION SELECT blob_id FROM blob_trash WHERE blob_id = ANY(?)' : ''),
      Array(opts.queued ? 6 : 5).fill(blobIds),
    );
    return new Set(result.rows.map((r: { blob_id: string }) => r.blob_id));
  }

  async queued(): Promise<string[]> {
    const rows = await this.db('blob_trash').select('blob_id');
    return rows.map((r: { blob_id: string }) => r.blob_id);
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
