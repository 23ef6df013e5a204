import type { Knex } from 'knex';
import { Coalescer } from '../db/coalescer.js';
import { preparedRows, type PreparedStatement } from '../db/prepared.js';
import type { ObjectRow } from './rows.js';
import { VERSION_COLUMNS } from './versions.js';

/**
 * A key's current object: what every GET and HEAD without a version id asks first. Its columns are named:
 * a plan cached with `*` would fail once a migration by a newer gateway adds one.
 */
const OBJECT_BY_KEY: PreparedStatement = {
  name: 'object-by-key',
  text: `SELECT ${VERSION_COLUMNS} FROM objects WHERE bucket_id = $1 AND key = $2`,
};

/** The same lookup for many keys at once; `lookup` is the key's place in the arrays, from 1. */
const OBJECTS_BY_KEYS: PreparedStatement = {
  name: 'objects-by-keys',
  text: `SELECT t.lookup::int AS lookup, ${VERSION_COLUMNS.split(', ')
    .map((c) => `o.${c}`)
    .join(', ')}
    FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS t(bucket_id, key, lookup)
    JOIN objects o ON o.bucket_id = t.bucket_id AND o.key = t.key`,
};

interface Pending {
  bucketId: number;
  key: Buffer;
  resolve(row: ObjectRow | undefined): void;
  reject(err: unknown): void;
}

/** Keys looked up in one statement at most. */
const MAX_BATCH = 64;

/**
 * Current-object lookups, batched as group commit batches writes: lookups that arrive while one is in
 * flight go out together in the next statement, so concurrent GETs share a round trip, a pool checkout and
 * Postgres's per-statement work. Alone, a lookup goes out at once. A lookup never joins a statement already
 * sent: each one's snapshot is taken after it was asked, so it sees every write acknowledged before.
 */
export class ObjectLookups {
  private readonly queue = new Coalescer<Pending>(MAX_BATCH, (batch) => this.lookUp(batch));

  constructor(private readonly db: Knex) {}

  current(bucketId: number, key: Buffer): Promise<ObjectRow | undefined> {
    return new Promise((resolve, reject) => this.queue.add({ bucketId, key, resolve, reject }));
  }

  private async lookUp(batch: Pending[]): Promise<void> {
    try {
      if (batch.length === 1) {
        const [only] = batch as [Pending];
        const [row] = await preparedRows<ObjectRow>(this.db, OBJECT_BY_KEY, [only.bucketId, only.key]);
        only.resolve(row);
        return;
      }
      const rows = await preparedRows<ObjectRow & { lookup: number }>(this.db, OBJECTS_BY_KEYS, [
        batch.map((p) => p.bucketId),
        batch.map((p) => p.key),
      ]);
      const found = new Map<number, ObjectRow>();
      for (const row of rows) found.set(row.lookup, row);
      batch.forEach((p, i) => p.resolve(found.get(i + 1)));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
