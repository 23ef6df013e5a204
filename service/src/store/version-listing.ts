/** ListObjectVersions over both version tables: keys in byte order, each key's versions newest first. */
import type { Knex } from 'knex';
import { commonPrefixOf, isCommonPrefix, prefixSuccessor } from './listing.js';
import type { Bucket } from './types.js';

export interface VersionListInput {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  keyMarker: string;
  versionIdMarker: string;
}

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface VersionListResult {
  versions: VersionEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

interface VersionRow {
  key: Buffer;
  version_id: string;
  seq: string;
  size: string;
  etag: string;
  last_modified: Date;
  delete_marker: boolean;
}

const BATCH = 1000;

/**
 * One page of versions after (keyMarker, versionIdMarker). A key's newest version is its latest (the
 * objects row, or a delete marker when the key is deleted); a page starting inside a key's versions
 * therefore starts past its latest.
 */
export async function listVersions(
  db: Knex,
  bucket: Bucket,
  input: VersionListInput,
): Promise<VersionListResult> {
  const out: VersionListResult = { versions: [], commonPrefixes: [], isTruncated: false };
  if (input.maxKeys === 0) return out;
  const prefix = Buffer.from(input.prefix, 'utf8');
  const upper = input.prefix ? prefixSuccessor(prefix) : undefined;
  // Position: strictly after (key, seq) in (key ascending, seq descending) order.
  let afterKey: Buffer = Buffer.from(input.keyMarker, 'utf8');
  let afterSeq: string | undefined;
  if (input.keyMarker && input.versionIdMarker) {
    const where = { bucket_id: bucket.id, key: afterKey, version_id: input.versionIdMarker };
    const m =
      (await db('objects').where(where).first('seq')) ??
      (await db('object_versions').where(where).first('seq'));
    afterSeq = m?.seq;
  }
  if (afterSeq === undefined && isCommonPrefix(input.keyMarker, input.prefix, input.delimiter)) {
    // The previous page ended on this common prefix: resume past every key it rolls up.
    const next = prefixSuccessor(afterKey);
    if (!next) return out;
    afterKey = next;
    afterSeq = 'inclusive';
  }
  let lastKey: string | undefined =
    afterSeq !== undefined && afterSeq !== 'inclusive' ? input.keyMarker : undefined;
  let count = 0;
  // After a common prefix the next row may start another one: fetch one row, then twice as many each
  // time rows are listed rather than skipped, so a page of prefixes costs a probe each, not a batch each.
  let batch = BATCH;
  for (;;) {
    const rows = await page(db, bucket, { prefix, upper, afterKey, afterSeq, limit: batch });
    let jumped = false;
    for (const row of rows) {
      const key = row.key.toString('utf8');
      const cp = commonPrefixOf(key, input.prefix, input.delimiter);
      if (cp !== undefined) {
        if (count === input.maxKeys) return { ...out, isTruncated: true };
        out.commonPrefixes.push(cp);
        out.nextKeyMarker = cp;
        out.nextVersionIdMarker = undefined;
        count++;
        const next = prefixSuccessor(Buffer.from(cp, 'utf8'));
        if (!next) return out;
        // Everything under the prefix is rolled up: continue from the first key past it.
        afterKey = next;
        afterSeq = 'inclusive';
        lastKey = undefined;
        jumped = true;
        batch = 1;
        break;
      }
      if (count === input.maxKeys) return { ...out, isTruncated: true };
      out.versions.push({
        key,
        versionId: row.version_id,
        isLatest: key !== lastKey,
        deleteMarker: row.delete_marker,
        size: Number(row.size),
        etag: row.etag,
        lastModified: row.last_modified,
      });
      out.nextKeyMarker = key;
      out.nextVersionIdMarker = row.version_id;
      lastKey = key;
      count++;
      afterKey = row.key;
      afterSeq = row.seq;
    }
    if (!jumped && rows.length < batch) return out;
    if (!jumped) batch = Math.min(BATCH, batch * 2);
  }
}

/** Up to `limit` rows of both tables in listing order, after the position. `inclusive` starts at afterKey itself. */
async function page(
  db: Knex,
  bucket: Bucket,
  at: { prefix: Buffer; upper?: Buffer; afterKey: Buffer; afterSeq?: string; limit: number },
): Promise<VersionRow[]> {
  const select = (table: string, marker: string) => {
    let q = db(table)
      .select(
        'key',
        'version_id',
        'seq',
        'size',
        'etag',
        'last_modified',
        db.raw(`${marker} AS delete_marker`),
      )
      .where('bucket_id', bucket.id)
      .where('key', '>=', at.prefix);
    if (at.upper) q = q.where('key', '<', at.upper);
    if (at.afterSeq === 'inclusive') q = q.where('key', '>=', at.afterKey);
    else if (at.afterSeq !== undefined)
      q = q.where((w) =>
        w
          .where('key', '>', at.afterKey)
          .orWhere((x) => x.where('key', at.afterKey).where('seq', '<', at.afterSeq!)),
      );
    else if (at.afterKey.length) q = q.where('key', '>', at.afterKey);
    return q.orderBy([{ column: 'key' }, { column: 'seq', order: 'desc' }]).limit(at.limit);
  };
  // Each side keeps its own ORDER BY and LIMIT (knex's unionAll would move the first side's to the whole
  // union, and Postgres would then sort every row of `objects` past the position for each page).
  return db
    .select('*')
    .from(
      db.raw('((?) UNION ALL (?)) AS v', [
        select('objects', 'false'),
        select('object_versions', 'delete_marker'),
      ]),
    )
    .orderBy([{ column: 'key' }, { column: 'seq', order: 'desc' }])
    .limit(at.limit);
}
