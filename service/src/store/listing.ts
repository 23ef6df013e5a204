/** S3 listing over the objects table: byte order, prefixes, delimiters and markers, in index range scans. */
import type { Knex } from 'knex';
import type { ObjectRow } from './rows.js';
import { toInfo } from './rows.js';
import type { Bucket, ListInput, ListResult } from './types.js';

const LIST_BATCH = 1000;

/** Smallest byte string greater than every string that starts with `prefix` (UTF-8 has no 0xFF byte). */
export function prefixSuccessor(prefix: Buffer): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** The common prefix `key` rolls up into under `delimiter` (searched after `prefix`), if any. */
export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  const idx = key.indexOf(delimiter, prefix.length);
  return idx >= 0 ? key.slice(0, idx + delimiter.length) : undefined;
}

/** Whether a marker is itself a common prefix (a page ended on it): listing resumes past all under it. */
export function isCommonPrefix(marker: string, prefix: string, delimiter: string): boolean {
  if (!delimiter || !marker.startsWith(prefix)) return false;
  return commonPrefixOf(marker, prefix, delimiter) === marker;
}

const emptyPage = (): ListResult => ({ objects: [], commonPrefixes: [], isTruncated: false });

/** One page of ListObjects(V2): keys and common prefixes after `input.after`, at most `input.maxKeys` of them. */
export async function listObjects(db: Knex, bucket: Bucket, input: ListInput): Promise<ListResult> {
  const result = emptyPage();
  if (input.maxKeys === 0) return result;
  const prefix = Buffer.from(input.prefix, 'utf8');
  const upper = input.prefix ? prefixSuccessor(prefix) : undefined;
  let after: Buffer = Buffer.from(input.after, 'utf8');
  let lowerInclusive: Buffer = prefix;
  // A marker that is itself a common prefix means "everything under it was returned already".
  if (isCommonPrefix(input.after, input.prefix, input.delimiter)) {
    const next = prefixSuccessor(after);
    if (!next) return result;
    lowerInclusive = next;
    after = Buffer.alloc(0);
  }
  const bounds = { lowerInclusive, after, upper };
  return input.delimiter
    ? listRolledUp(db, bucket, input, bounds)
    : listFlat(db, bucket, input.maxKeys, bounds);
}

interface Bounds {
  lowerInclusive: Buffer;
  /** Exclusive; empty for none. */
  after: Buffer;
  upper?: Buffer;
}

const COLUMNS = ['key', 'size', 'etag', 'last_modified', 'content_type'];

/** Keys in order, a batch at a time. */
async function listFlat(db: Knex, bucket: Bucket, limit: number, bounds: Bounds): Promise<ListResult> {
  const result = emptyPage();
  let after = bounds.after;
  for (;;) {
    let q = db('objects')
      // content_type is not in S3 listings, but the management API shows it; it is a narrow column.
      .select(COLUMNS)
      .where({ bucket_id: bucket.id })
      .where('key', '>=', bounds.lowerInclusive);
    if (after.length) q = q.where('key', '>', after);
    if (bounds.upper) q = q.where('key', '<', bounds.upper);
    const rows: ObjectRow[] = await q
      .orderBy('key')
      .limit(Math.min(LIST_BATCH, limit - result.objects.length + 1));
    for (const row of rows) {
      if (result.objects.length === limit) {
        result.isTruncated = true;
        return result;
      }
      result.objects.push(listed(row));
      result.lastEntry = row.key.toString('utf8');
      after = row.key;
    }
    if (rows.length < LIST_BATCH) return result;
  }
}

const listed = (row: ObjectRow) => toInfo({ ...row, user_metadata: {}, checksums: {} } as ObjectRow);

/**
 * A delimiter listing as one skip scan inside Postgres: each step is one index probe for the next key
 * after the previous entry, or after everything under the previous common prefix. However many keys a
 * common prefix rolls up (a million under a thousand folders), a page costs one probe per entry.
 */
async function listRolledUp(db: Knex, bucket: Bucket, input: ListInput, bounds: Bounds): Promise<ListResult> {
  const prefix = Buffer.from(input.prefix, 'utf8');
  const delimiter = Buffer.from(input.delimiter, 'utf8');
  // The common prefix of a key: up to and including the first delimiter after the listing's prefix.
  const rollUp = (k: string) => `CASE WHEN position(:delimiter IN substring(${k} FROM :from)) > 0
      THEN substring(${k} FROM 1 FOR :plen + position(:delimiter IN substring(${k} FROM :from)) - 1 + :dlen)
    END`;
  // The smallest key past every key under a common prefix: its last byte plus one (UTF-8 has no 0xFF).
  const past = (cp: string) =>
    `overlay(${cp} PLACING set_byte('\\x00'::bytea, 0, get_byte(${cp}, length(${cp}) - 1) + 1) FROM length(${cp}) FOR 1)`;
  const upper = bounds.upper ? 'AND key < :upper' : '';
  // Each step's lower bound is one value, so the probe is an index range scan: the key itself plus a
  // zero byte (its immediate successor), or past its whole common prefix.
  const next = (k: string) =>
    `CASE WHEN ${rollUp(k)} IS NULL THEN ${k} || '\\x00'::bytea ELSE ${past(rollUp(k))} END`;
  const rows = await db.raw(
    `WITH RECURSIVE walk(n, key, next) AS (
       SELECT 1, f.key, ${next('f.key')} FROM (
         SELECT key FROM objects WHERE bucket_id = :bucket AND key >= :lower AND key > :after ${upper}
         ORDER BY key LIMIT 1) f
       UNION ALL
       SELECT w.n + 1, nx.key, ${next('nx.key')}
       FROM walk w CROSS JOIN LATERAL (
         SELECT key FROM objects WHERE bucket_id = :bucket AND key >= w.next ${upper}
         ORDER BY key LIMIT 1) nx
       WHERE w.n <= :limit)
     SELECT w.key, ${rollUp('w.key')} AS cp, o.size, o.etag, o.last_modified, o.content_type
     FROM walk w LEFT JOIN objects o ON ${rollUp('w.key')} IS NULL AND o.bucket_id = :bucket AND o.key = w.key
     ORDER BY w.n`,
    {
      bucket: bucket.id,
      lower: bounds.lowerInclusive,
      after: bounds.after,
      upper: bounds.upper ?? null,
      delimiter,
      from: prefix.length + 1,
      plen: prefix.length,
      dlen: delimiter.length,
      limit: input.maxKeys,
    },
  );
  const result = emptyPage();
  for (const row of rows.rows as Array<ObjectRow & { cp: Buffer | null }>) {
    if (result.objects.length + result.commonPrefixes.length === input.maxKeys) {
      result.isTruncated = true;
      break;
    }
    if (row.cp) {
      result.lastEntry = row.cp.toString('utf8');
      result.commonPrefixes.push(result.lastEntry);
    } else {
      result.objects.push(listed(row));
      result.lastEntry = row.key.toString('utf8');
    }
  }
  return result;
}
