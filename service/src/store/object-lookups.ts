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

const OBJECT_COLUMNS = VERSION_COLUMNS.split(', ')
  .map((c) => `o.${c}`)
  .join(', ');

/** Batches of up to this many keys go as prepared statements, one per size; larger ones are parsed each time. */
const PREPARED_KEYS = 32;

/**
 * The same lookup for `keys` keys at once, each through the primary key; `lookup` is the key's place in
 * the batch, from 1. Each key is a parameter of its own, sent in binary: arrays of keys went as text, and
 * Postgres parsed the array and hex-decoded every key on each batch. OFFSET 0 keeps the lookup a probe
 * per key: flattened into a join, a bucket of a few thousand rows was hashed whole on every batch.
 */
function objectsByKeys(keys: number): PreparedStatement {
  const each = Array.from(
    { length: keys },
    (_, i) => `(${i + 1}, $${2 * i + 1}::bigint, $${2 * i + 2}::bytea)`,
  );
  return {
    ...(keys <= PREPARED_KEYS ? { name: `objects-by-keys-${keys}` } : {}),
    text: `SELECT k.lookup, ${OBJECT_COLUMNS}
      FROM (VALUES ${each.join(', ')}) AS k (lookup, bucket_id, key),
        LATERAL (SELECT ${VERSION_COLUMNS} FROM objects WHERE bucket_id = k.bucket_id AND key = k.key OFFSET 0) o`,
  };
}

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
  /** By batch size: index n is the statement for n keys. */
  private readonly statements = Array.from({ length: MAX_BATCH + 1 }, (_, n) => objectsByKeys(n));

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
      const rows = await preparedRows<ObjectRow & { lookup: number }>(
        this.db,
        this.statements[batch.length]!,
        batch.flatMap((p) => [p.bucketId, p.key]),
      );
      const found = new Map<number, ObjectRow>();
      for (const row of rows) found.set(row.lookup, row);
      batch.forEach((p, i) => p.resolve(found.get(i + 1)));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}
