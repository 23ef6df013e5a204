import type { Knex } from 'knex';
import { Coalescer } from '../db/coalescer.js';
import { recordsAfterSql, recordsJson, type AuditRow } from '../audit/audit-log.js';
import { preparedRows, type PreparedStatement } from '../db/prepared.js';
import type { Bucket } from './types.js';
import { HELD_BLOBS } from './trash.js';
import { commitVersion, newVersionId, VERSION_COLUMNS } from './versions.js';

export interface WriteOutcome {
  /** The row did not exist before this write. */
  created: boolean;
  /** Blob ids the replaced version held, already queued as trash in the same commit. */
  replaced: string[];
  /** The new version's id (versioned buckets). */
  versionId?: string;
}

interface Pending {
  row: Record<string, unknown>;
  /** upsert: create or replace; version: a new current version, the old one kept as noncurrent. */
  mode: 'upsert' | 'version';
  bucket?: Bucket;
  /** The request's audit record, committed in the same statement as the row (upsert and version). */
  audit?: AuditRow;
  resolve(outcome: WriteOutcome): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 256;
/** Batches of up to this many rows go as prepared statements, one per size. */
const PREPARED_ROWS = 32;

/**
 * What an unversioned write sets: every column of objects but version_id and seq, which a replacement
 * keeps. A row leaves none out (a replaced multipart object's layout would outlive it); one without a
 * column sets it NULL.
 */
const UPSERT_COLUMNS = VERSION_COLUMNS.split(', ').filter((c) => c !== 'version_id' && c !== 'seq');

/**
 * The group commit of `rows` unversioned writes as a prepared statement, so that Postgres parses and
 * plans it once per connection and batch size (it did for every batch: a fifth of its CPU per 4 KiB PUT).
 * Each value is a parameter of its own (sealed bytes go in binary); the batch's records are the last.
 */
function upsertSql(rows: number): PreparedStatement {
  const width = UPSERT_COLUMNS.length;
  const param = (row: number, column: number) => `$${row * width + column + 1}`;
  const each = Array.from({ length: rows }, (_, r) => r);
  const [bucketId, key] = [UPSERT_COLUMNS.indexOf('bucket_id'), UPSERT_COLUMNS.indexOf('key')];
  const set = UPSERT_COLUMNS.filter((c) => c !== 'bucket_id' && c !== 'key')
    .map((column) => `${column} = EXCLUDED.${column}`)
    .join(', ');
  return {
    name: `objects-upsert-${rows}`,
    // Each key's row is found through the primary key (a generic plan over an IN list may scan the table),
    // and locked in the order of the rows, which the caller sorts by key.
    text: `WITH old AS (SELECT o.* FROM
               (VALUES ${each.map((r) => `(${param(r, bucketId)}::bigint, ${param(r, key)}::bytea)`).join(', ')}) AS k (bucket_id, key),
               LATERAL (SELECT bucket_id, key, blob_id, layout FROM objects
                        WHERE bucket_id = k.bucket_id AND key = k.key FOR UPDATE) o),
       up AS (INSERT INTO objects (${UPSERT_COLUMNS.join(', ')})
              VALUES ${each.map((r) => `(${UPSERT_COLUMNS.map((_, c) => param(r, c)).join(', ')})`).join(', ')}
              ON CONFLICT (bucket_id, key) DO UPDATE SET ${set} RETURNING 1),
       held AS (${HELD_BLOBS}),
       trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM held ON CONFLICT DO NOTHING),
       audited AS (${recordsAfterSql(`$${rows * width + 1}`, 'up')})
     SELECT bucket_id, key, blob_id, layout FROM old`,
  };
}

/** What a new version sets: every column of objects but seq, which the statement draws. */
const NEW_VERSION_COLUMNS = VERSION_COLUMNS.split(', ').filter((c) => c !== 'seq');

/** Each key's advisory lock (as every versioned change takes it), in one order for every batch. */
const VERSION_LOCKS: PreparedStatement = {
  name: 'version-locks',
  // OFFSET 0 keeps the sort below the lock calls.
  text: `SELECT pg_advisory_xact_lock(h) FROM
           (SELECT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY k OFFSET 0) AS sorted`,
};

/**
 * New current versions of `rows` keys, under their locks, as a prepared statement (as `upsertSql`): the
 * current rows move to object_versions, the new ones take their place, and the batch's records follow.
 */
function versionSql(rows: number): PreparedStatement {
  const width = NEW_VERSION_COLUMNS.length;
  const param = (row: number, column: number) => `$${row * width + column + 1}`;
  const each = Array.from({ length: rows }, (_, r) => r);
  const [bucketId, key] = [NEW_VERSION_COLUMNS.indexOf('bucket_id'), NEW_VERSION_COLUMNS.indexOf('key')];
  const set = [...NEW_VERSION_COLUMNS, 'seq']
    .filter((c) => c !== 'bucket_id' && c !== 'key')
    .map((column) => `${column} = EXCLUDED.${column}`)
    .join(', ');
  return {
    name: `objects-version-${rows}`,
    text: `WITH moved AS (INSERT INTO object_versions (${VERSION_COLUMNS}, noncurrent_since)
               SELECT o.*, now() FROM
                 (VALUES ${each.map((r) => `(${param(r, bucketId)}::bigint, ${param(r, key)}::bytea)`).join(', ')}) AS k (bucket_id, key),
                 LATERAL (SELECT ${VERSION_COLUMNS} FROM objects
                          WHERE bucket_id = k.bucket_id AND key = k.key OFFSET 0) o),
       up AS (INSERT INTO objects (${NEW_VERSION_COLUMNS.join(', ')}, seq)
              VALUES ${each.map((r) => `(${NEW_VERSION_COLUMNS.map((_, c) => param(r, c)).join(', ')}, nextval('object_version_seq'))`).join(', ')}
              ON CONFLICT (bucket_id, key) DO UPDATE SET ${set} RETURNING 1),
       audited AS (${recordsAfterSql(`$${rows * width + 1}`, 'up')})
     SELECT 1`,
  };
}

/**
 * The statement for a batch of `rows`, prepared once per size (kept in `cache`). Rarer, larger batches
 * are parsed each time, their cost shared by many rows: a connection keeps at most PREPARED_ROWS plans.
 */
function statementFor(
  cache: Map<number, PreparedStatement>,
  rows: number,
  build: (rows: number) => PreparedStatement,
): PreparedStatement {
  const known = cache.get(rows);
  if (known) return known;
  const statement = build(rows);
  if (rows > PREPARED_ROWS) return { text: statement.text };
  cache.set(rows, statement);
  return statement;
}

const rowId = (row: Record<string, unknown>) => `${row.bucket_id}/${(row.key as Buffer).toString('hex')}`;

/** Splits a batch into the first write of each key, in order, and the writes that repeat a key. */
function firstOfEachKey(batch: Pending[]): [Pending[], Pending[]] {
  const seen = new Set<string>();
  const first: Pending[] = [];
  const later: Pending[] = [];
  for (const p of batch) {
    (seen.has(rowId(p.row)) ? later : first).push(p);
    seen.add(rowId(p.row));
  }
  return [first, later];
}

/**
 * Group commit for object rows. Writes that arrive while a commit is in flight go out together in
 * the next statement: one round trip and one WAL flush for the lot. Alone, a row goes out at once,
 * so latency under light load is unchanged. A statement that fails (a bucket deleted meanwhile, a
 * deadlock with a concurrent batch) is retried row by row, so one bad row never fails its neighbours.
 */
export class InsertBatcher {
  private readonly queue = new Coalescer<Pending>(MAX_BATCH, async (batch) => {
    this.onCommitted(batch.length);
    await this.flushUpserts(batch.filter((p) => p.mode === 'upsert'));
    await this.flushVersions(batch.filter((p) => p.mode === 'version'));
  });

  /** The upsert and version statements of each batch size met so far. */
  private readonly upserts = new Map<number, PreparedStatement>();
  private readonly versions = new Map<number, PreparedStatement>();

  constructor(
    private readonly db: Knex,
    private readonly onCommitted: (rows: number) => void = () => undefined,
  ) {}

  /** Creates or replaces the row; the replaced version's blobs become trash in the same commit. */
  upsert(row: Record<string, unknown>, audit?: AuditRow): Promise<WriteOutcome> {
    return this.enqueue(row, 'upsert', undefined, audit);
  }

  /** Adds a new current version of the row's key (versioning Enabled); resolves its version id. */
  async addVersion(bucket: Bucket, row: Record<string, unknown>, audit?: AuditRow): Promise<string> {
    return (await this.enqueue(row, 'version', bucket, audit)).versionId!;
  }

  private enqueue(
    row: Record<string, unknown>,
    mode: Pending['mode'],
    bucket?: Bucket,
    audit?: AuditRow,
  ): Promise<WriteOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.add({ row, mode, bucket, audit, resolve, reject });
    });
  }

  private async flushUpserts(batch: Pending[]): Promise<void> {
    if (batch.length === 0) return;
    // Same key twice in one batch: the last write wins and replaces the earlier ones' blobs. The earlier
    // writes are acknowledged only with the winner's commit, and fail with it.
    const lastOf = new Map<string, Pending>();
    const earlier = new Map<string, Pending[]>();
    for (const p of batch) {
      const id = rowId(p.row);
      const prev = lastOf.get(id);
      if (prev) earlier.set(id, [...(earlier.get(id) ?? []), prev]);
      lastOf.set(id, p);
    }
    const settle = (p: Pending, old: string[] | undefined) => {
      const id = rowId(p.row);
      const superseded = earlier.get(id) ?? [];
      const carried = superseded.flatMap((e) => (e.row.blob_id ? [e.row.blob_id as string] : []));
      for (const e of superseded) e.resolve({ created: false, replaced: [] });
      p.resolve({
        created: old === undefined && superseded.length === 0,
        replaced: [...(old ?? []), ...carried],
      });
    };
    const fail = (p: Pending, err: unknown) => {
      for (const e of earlier.get(rowId(p.row)) ?? []) e.reject(err);
      p.reject(err);
    };
    const winners = [...lastOf.values()];
    // Every write of the batch has its record, the superseded ones too: each was a request that succeeded.
    const auditsOf = (ps: Pending[]) =>
      ps.flatMap((p) => [...(earlier.get(rowId(p.row)) ?? []), p]).flatMap((p) => (p.audit ? [p.audit] : []));
    try {
      const replaced = await this.upsertStatement(
        winners.map((p) => p.row),
        auditsOf(winners),
      );
      for (const p of winners) settle(p, replaced.get(rowId(p.row)));
    } catch {
      for (const p of winners) {
        try {
          settle(p, (await this.upsertStatement([p.row], auditsOf([p]))).get(rowId(p.row)));
        } catch (err) {
          fail(p, err);
        }
      }
    }
  }

  /**
   * One statement: lock the current versions (in key order, so concurrent batches cannot deadlock on
   * each other), write every row, queue the replaced versions' blobs as trash. Returns, per row id,
   * the blob ids its replaced version held.
   */
  private async upsertStatement(
    rows: Array<Record<string, unknown>>,
    audits: AuditRow[],
  ): Promise<Map<string, string[]>> {
    const statement = statementFor(this.upserts, rows.length, upsertSql);
    // Locks are taken in this order: in key order, concurrent batches cannot deadlock on each other.
    const sorted = rows.toSorted(
      (a, b) => Number(a.bucket_id) - Number(b.bucket_id) || Buffer.compare(a.key as Buffer, b.key as Buffer),
    );
    const values = sorted.flatMap((r) => UPSERT_COLUMNS.map((column) => r[column] ?? null));
    const found = await preparedRows<{
      bucket_id: string;
      key: Buffer;
      blob_id: string | null;
      layout: Array<{ blobId: string }> | null;
    }>(this.db, statement, [...values, recordsJson(audits)]);
    const out = new Map<string, string[]>();
    for (const r of found)
      out.set(rowId(r), [...(r.blob_id ? [r.blob_id] : []), ...(r.layout ?? []).map((p) => p.blobId)]);
    return out;
  }

  /**
   * New versions for many keys in one transaction and one statement. Each key's advisory lock is taken
   * first, in one order (as every versioned change takes it), then the current rows move to
   * object_versions and the new ones take their place. A key twice in a batch goes in a later round.
   */
  private async flushVersions(batch: Pending[]): Promise<void> {
    while (batch.length > 0) {
      const [round, later] = firstOfEachKey(batch);
      try {
        const ids = await this.versionStatement(round);
        round.forEach((p, i) => p.resolve({ created: false, replaced: [], versionId: ids[i] }));
      } catch {
        // One bad row (its bucket deleted meanwhile) must not fail the others: each on its own.
        for (const p of round) {
          try {
            const { versionId, replaced } = await this.db.transaction(async (trx) => {
              const done = await commitVersion(trx, p.bucket!, p.row);
              if (p.audit) await trx('audit_log').insert({ ...p.audit, version_id: done.versionId });
              return done;
            });
            p.resolve({ created: false, replaced, versionId });
          } catch (err) {
            p.reject(err);
          }
        }
      }
      batch = later;
    }
  }

  private async versionStatement(round: Pending[]): Promise<string[]> {
    const rows = round.map((p) => p.row);
    const ids = rows.map(() => newVersionId());
    const audits = round.flatMap((p, i) => (p.audit ? [{ ...p.audit, version_id: ids[i] }] : []));
    const lockNames = rows.map((r) => `${r.bucket_id}/${(r.key as Buffer).toString('hex')}`);
    const statement = statementFor(this.versions, rows.length, versionSql);
    const values = rows.flatMap((r, i) =>
      NEW_VERSION_COLUMNS.map((column) => (column === 'version_id' ? ids[i] : (r[column] ?? null))),
    );
    await this.db.transaction(async (trx) => {
      // Inside the transaction, the pool's connection is the transaction's own.
      await preparedRows(trx, VERSION_LOCKS, [lockNames]);
      await preparedRows(trx, statement, [...values, recordsJson(audits)]);
    });
    return ids;
  }
}
