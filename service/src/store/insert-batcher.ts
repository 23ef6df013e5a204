import type { Knex } from 'knex';

interface Pending {
  row: Record<string, unknown>;
  resolve(inserted: boolean): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 256;

/**
 * Group commit for new object rows. Concurrent PUTs that arrive while a commit is in flight are
 * inserted together in the next statement: one round trip and one WAL flush for the lot. Alone, a
 * row goes out at once, so latency under light load is unchanged.
 */
export class InsertBatcher {
  private pending: Pending[] = [];
  private running = false;

  constructor(private readonly db: Knex) {}

  /** Inserts the row unless its (bucket_id, key) exists; resolves whether this call created it. */
  insertIfAbsent(row: Record<string, unknown>): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        await this.flush(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    // A key twice in one batch: the first is inserted, the later ones take the replace path after it.
    const seen = new Set<string>();
    const first: Pending[] = [];
    const later: Pending[] = [];
    for (const p of batch) {
      const id = `${p.row.bucket_id}/${(p.row.key as Buffer).toString('hex')}`;
      (seen.has(id) ? later : first).push(p);
      seen.add(id);
    }
    try {
      const inserted: Array<{ bucket_id: string | number; key: Buffer }> = await this.db('objects')
        .insert(first.map((p) => p.row))
        .onConflict(['bucket_id', 'key'])
        .ignore()
        .returning(['bucket_id', 'key']);
      const created = new Set(inserted.map((r) => `${r.bucket_id}/${r.key.toString('hex')}`));
      for (const p of first)
        p.resolve(created.has(`${p.row.bucket_id}/${(p.row.key as Buffer).toString('hex')}`));
    } catch {
      // One bad row (a bucket deleted meanwhile) must not fail its neighbours: retry them one by one.
      for (const p of first) {
        try {
          const one = await this.db('objects')
            .insert(p.row)
            .onConflict(['bucket_id', 'key'])
            .ignore()
            .returning('bucket_id');
          p.resolve(one.length > 0);
        } catch (err) {
          p.reject(err);
        }
      }
    }
    for (const p of later) p.resolve(false);
  }
}
