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

/** One page of ListObjects(V2): keys and common prefixes after `input.after`, at most `input.maxKeys` of them. */
export async function listObjects(db: Knex, bucket: Bucket, input: ListInput): Promise<ListResult> {
  const result: ListResult = { objects: [], commonPrefixes: [], isTruncated: false };
  if (input.maxKeys === 0) return result;
  const prefix = Buffer.from(input.prefix, 'utf8');
  const upper = input.prefix ? prefixSuccessor(prefix) : undefined;
  let after: Buffer = Buffer.from(input.after, 'utf8');
  let lowerInclusive: Buffer = prefix;
  // A marker that is itself a common prefix means "everything under it was returned already".
  if (input.delimiter && input.after.startsWith(input.prefix)) {
    const rest = input.after.slice(input.prefix.length);
    const idx = rest.indexOf(input.delimiter);
    if (idx >= 0 && idx + input.delimiter.length === rest.length) {
      const next = prefixSuccessor(after);
      if (!next) return result;
      lowerInclusive = next;
      after = Buffer.alloc(0);
    }
  }
  let total = 0;
  const limit = input.maxKeys;
  // Rows fetched per query: shrinks while most rows fall inside common prefixes being skipped (a range
  // jump is cheaper than reading them), grows back while rows are listed.
  let batch = LIST_BATCH;
  for (;;) {
    let q = db('objects')
      // content_type is not in S3 listings, but the management API shows it; it is a narrow column.
      .select('key', 'size', 'etag', 'last_modified', 'content_type')
      .where({ bucket_id: bucket.id })
      .where('key', '>=', lowerInclusive);
    if (after.length) q = q.where('key', '>', after);
    if (upper) q = q.where('key', '<', upper);
    const rows: ObjectRow[] = await q.orderBy('key').limit(batch);
    /** The common prefix just listed: keys under it are skipped, in this batch and by the next query. */
    let skipping: string | undefined;
    let listed = 0;
    for (const row of rows) {
      const key = row.key.toString('utf8');
      if (skipping !== undefined && key.startsWith(skipping)) continue;
      skipping = undefined;
      if (total === limit) {
        result.isTruncated = true;
        return result;
      }
      const cp = commonPrefixOf(key, input.prefix, input.delimiter);
      if (cp !== undefined) {
        result.commonPrefixes.push(cp);
        result.lastEntry = cp;
        skipping = cp;
      } else {
        result.objects.push({ ...toInfo({ ...row, user_metadata: {}, checksums: {} } as ObjectRow) });
        result.lastEntry = key;
        after = row.key;
      }
      total++;
      listed++;
    }
    if (rows.length < batch) return result;
    if (skipping !== undefined) {
      // Everything else under this common prefix is passed over with one range jump.
      const next = prefixSuccessor(Buffer.from(skipping, 'utf8'));
      if (!next) return result;
      lowerInclusive = next;
    } else after = rows[rows.length - 1]!.key;
    batch = listed * 2 < rows.length ? Math.max(8, batch >> 3) : Math.min(LIST_BATCH, batch << 3);
  }
}
