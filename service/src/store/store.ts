import type { Knex } from 'knex';
import type { Log } from '../log.js';
import { isChecksumAlgorithm, type ChecksumAlgorithm } from '../integrity/checksums.js';
import type { BlobStore, SealedBlob } from '../blobs/blob-store.js';
import { S3Error } from '../errors/s3-errors.js';
import { bucketNameProblem } from './bucket-names.js';
import { normalizeEtag } from './etags.js';
import { InsertBatcher } from './insert-batcher.js';
import type {
  Bucket,
  DeleteResult,
  LayoutPart,
  ListInput,
  ListResult,
  ObjectHeaders,
  ObjectInfo,
  PutObjectInput,
  WriteCondition,
} from './types.js';

/** The columns objects and uploads both keep for the headers S3 returns on GET/HEAD. */
export interface HeaderColumns {
  content_type: string | null;
  content_encoding: string | null;
  content_disposition: string | null;
  content_language: string | null;
  cache_control: string | null;
  expires: string | null;
}

interface ObjectRow extends HeaderColumns {
  key: Buffer;
  size: string | number;
  etag: string;
  last_modified: Date;
  user_metadata: Record<string, string>;
  checksums: Record<string, string>;
  blob_id: string | null;
  inline_data: Buffer | null;
  wrapped_key: Buffer;
  segment_size: number;
  layout: LayoutPart[] | null;
  checksum_type?: string | null;
  tags?: Record<string, string> | null;
}

/** A stored object as sealed pieces in order: one for a plain PUT, one per part for multipart. */
export interface StoredObject {
  info: ObjectInfo;
  pieces: Array<{ start: number; partNumber: number; blob: SealedBlob }>;
}

/** SQL (over a CTE named `old`) listing every blob id the rows in it hold: their own and their parts'. */
export const HELD_BLOBS = `SELECT blob_id FROM old WHERE blob_id IS NOT NULL
  UNION ALL SELECT e->>'blobId' FROM old, jsonb_array_elements(COALESCE(old.layout, '[]'::jsonb)) e`;

export interface StoreOptions {
  db: Knex;
  blobs: BlobStore;
  region: string;
  log: Log;
}

const LIST_BATCH = 1000;
/**
 * How long a PUT may trust a bucket lookup. The insert's foreign key still refuses a bucket deleted in
 * the meantime, so a stale entry can only cost a re-check, never put data in the wrong bucket.
 */
const BUCKET_CACHE_MS = 2000;

/** Smallest byte string greater than every string that starts with `prefix` (UTF-8 has no 0xFF byte). */
function prefixSuccessor(prefix: Buffer): Buffer | undefined {
  const out = Buffer.from(prefix);
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]! < 0xff) {
      out[i]!++;
      return out.subarray(0, i + 1);
    }
  }
  return undefined;
}

function toInfo(row: ObjectRow): ObjectInfo {
  const checksums: ObjectInfo['checksums'] = {};
  for (const [alg, v] of Object.entries(row.checksums ?? {}))
    if (isChecksumAlgorithm(alg)) checksums[alg] = v;
  return {
    key: row.key.toString('utf8'),
    size: Number(row.size),
    etag: row.etag,
    lastModified: row.last_modified,
    contentType: row.content_type ?? undefined,
    contentEncoding: row.content_encoding ?? undefined,
    contentDisposition: row.content_disposition ?? undefined,
    contentLanguage: row.content_language ?? undefined,
    cacheControl: row.cache_control ?? undefined,
    expires: row.expires ?? undefined,
    userMetadata: row.user_metadata ?? {},
    checksums,
    checksumType: row.checksum_type === 'COMPOSITE' ? 'COMPOSITE' : undefined,
    partsCount: row.layout ? row.layout.length : undefined,
    tags: row.tags ?? {},
  };
}

/**
 * The domain: one method per S3 operation, no HTTP. It owns the write protocol: data sealed and durable
 * first, then one metadata commit that makes the object exist, then old data freed.
 */
export class Store {
  private readonly db: Knex;
  private readonly blobs: BlobStore;
  private readonly bucketCache = new Map<string, { bucket: Bucket; until: number }>();
  private readonly inserts: InsertBatcher;

  constructor(private readonly opts: StoreOptions) {
    this.db = opts.db;
    this.blobs = opts.blobs;
    this.inserts = new InsertBatcher(opts.db);
  }

  get region(): string {
    return this.opts.region;
  }

  async listBuckets(caller: string): Promise<Bucket[]> {
    const rows = await this.db('buckets').where({ owner: caller }).orderBy('name');
    return rows.map(toBucket);
  }

  async createBucket(caller: string, name: string, locationConstraint: string | undefined): Promise<Bucket> {
    const problem = bucketNameProblem(name);
    if (problem)
      throw new S3Error('InvalidBucketName', `The specified bucket is not valid: it ${problem}.`, {
        BucketName: name,
      });
    if (locationConstraint && locationConstraint !== this.opts.region) {
      throw new S3Error(
        'InvalidLocationConstraint',
        `The specified location-constraint '${locationConstraint}' is not valid; this gateway serves '${this.opts.region}'.`,
      );
    }
    const inserted = await this.db('buckets')
      .insert({ name, owner: caller, region: this.opts.region })
      .onConflict('name')
      .ignore()
      .returning('*');
    if (inserted[0]) return toBucket(inserted[0]);
    const existing = await this.db('buckets').where({ name }).first();
    if (existing?.owner === caller)
      throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    throw new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
  }

  /** The caller's bucket, or the S3 error a client must see when it is missing or someone else's. */
  async ownedBucket(caller: string, name: string): Promise<Bucket> {
    const row = await this.db('buckets').where({ name }).first();
    if (!row) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    if (row.owner !== caller) throw new S3Error('AccessDenied');
    return toBucket(row);
  }

  /**
   * Deletes an empty bucket and, as AWS and Ceph RGW do, its incomplete multipart uploads, in one
   * transaction; their parts' blobs are queued as trash in it and freed after the commit.
   */
  async deleteBucket(caller: string, name: string): Promise<void> {
    const bucket = await this.ownedBucket(caller, name);
    this.bucketCache.delete(name);
    let freed: string[];
    try {
      freed = await this.db.transaction(async (trx) => {
        // Locking the bucket row makes a racing delete of the same bucket wait, then find nothing.
        if (!(await trx('buckets').where({ id: bucket.id }).forUpdate().first('id')))
          throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
        if (await trx('objects').where({ bucket_id: bucket.id }).first(this.db.raw('1')))
          throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
        const ids = await dropUploads(trx, { bucket_id: bucket.id });
        await trx('buckets').where({ id: bucket.id }).delete();
        return ids;
      });
    } catch (err) {
      // A PUT or a new upload that committed while we deleted trips a foreign key: the bucket is in use.
      if ((err as { code?: string }).code === '23503')
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
      throw err;
    }
    await this.freeBlobs(freed);
  }

  /** ownedBucket for the write path, where the foreign key re-validates whatever the cache says. */
  private async writableBucket(caller: string, name: string): Promise<Bucket> {
    const hit = this.bucketCache.get(name);
    if (hit && hit.until > Date.now() && hit.bucket.owner === caller) return hit.bucket;
    const bucket = await this.ownedBucket(caller, name);
    if (this.bucketCache.size > 10_000) this.bucketCache.clear();
    this.bucketCache.set(name, { bucket, until: Date.now() + BUCKET_CACHE_MS });
    return bucket;
  }

  async putObject(caller: string, input: PutObjectInput): Promise<ObjectInfo> {
    const bucket = await this.writableBucket(caller, input.bucket);
    // Refuse early what the commit would refuse anyway, before a large body is streamed for nothing.
    if (input.condition) await this.checkCondition(bucket.id, input.key, input.condition);
    const { sealed, digests } = await this.blobs.seal(input.body, input.finalize);
    const now = new Date();
    const row = {
      bucket_id: bucket.id,
      key: Buffer.from(input.key, 'utf8'),
      size: sealed.size,
      etag: digests.etag,
      last_modified: now,
      ...headerColumns(input),
      user_metadata: JSON.stringify(input.userMetadata),
      tags: JSON.stringify(input.tags ?? {}),
      checksums: JSON.stringify(digests.checksums),
      blob_id: sealed.location.blobId ?? null,
      inline_data: sealed.location.inline ?? null,
      wrapped_key: sealed.wrappedKey,
      segment_size: sealed.segmentSize,
    };
    let replaced: string[];
    try {
      replaced = await this.commitObject(row, this.db, input.condition);
    } catch (err) {
      // The row never committed, so the sealed file is ours to drop; a crash here leaves it to the collector.
      if (sealed.location.blobId) await this.blobs.remove(sealed.location.blobId).catch(() => undefined);
      if ((err as { code?: string }).code === '23503') {
        // The bucket went away after it was looked up: answer what a fresh lookup says.
        this.bucketCache.delete(input.bucket);
        await this.ownedBucket(caller, input.bucket);
      }
      throw err;
    }
    await this.freeBlobs(replaced);
    return {
      key: input.key,
      size: sealed.size,
      etag: digests.etag,
      lastModified: now,
      userMetadata: input.userMetadata,
      checksums: digests.checksums,
    };
  }

  /**
   * Inserts or replaces an object row; returns the blob ids the replaced version held, queued as trash
   * in the same commit. `db` may be a transaction (Complete commits the object with the upload's removal).
   */
  async commitObject(
    row: Record<string, unknown>,
    db: Knex = this.db,
    condition: WriteCondition = {},
  ): Promise<string[]> {
    for (;;) {
      // The common case, an unconditional write outside a transaction, is group-committed whole.
      if (db === this.db && condition.ifMatch === undefined && !condition.ifNoneMatch) {
        return (await this.inserts.upsert(row)).replaced;
      }
      // Conditional writes and writes inside a transaction: a new key is one insert; a replacement is one
      // statement that locks the current row, overwrites it and queues its old blobs as trash.
      if (condition.ifMatch === undefined) {
        const created =
          db === this.db ? await this.inserts.insertIfAbsent(row) : await insertIfAbsent(db, row);
        if (created) return [];
        // The unique key decided: of racing If-None-Match writers exactly one inserted.
        if (condition.ifNoneMatch)
          throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
      }
      const where: Record<string, unknown> = { bucket_id: row.bucket_id, key: row.key };
      if (condition.ifMatch !== undefined) where.etag = normalizeEtag(condition.ifMatch);
      const result = await db.raw(
        `WITH old AS (?), upd AS (?),
           held AS (${HELD_BLOBS}),
           trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM held ON CONFLICT DO NOTHING)
         SELECT (SELECT count(*) FROM upd)::int AS updated, ARRAY(SELECT blob_id FROM held) AS replaced`,
        [
          db('objects').select('blob_id', 'layout').where(where).forUpdate(),
          db('objects').where(where).update(row).returning(db.raw('1')),
        ],
      );
      const out = result.rows[0] as { updated: number; replaced: string[] };
      if (out.updated > 0) return out.replaced;
      if (condition.ifMatch !== undefined) {
        const exists = await db('objects').where({ bucket_id: row.bucket_id, key: row.key }).first('etag');
        if (!exists) throw new S3Error('NoSuchKey', undefined, { Key: (row.key as Buffer).toString('utf8') });
        throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
      }
      // The row vanished between the insert attempt and the update (a concurrent DELETE): insert again.
    }
  }

  /** The same answer commitObject would give, asked before the body is read. */
  async checkCondition(bucketId: number, key: string, condition: WriteCondition): Promise<void> {
    const row = await this.db('objects')
      .where({ bucket_id: bucketId, key: Buffer.from(key, 'utf8') })
      .first('etag');
    if (condition.ifNoneMatch && row)
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
    if (condition.ifMatch !== undefined) {
      if (!row) throw new S3Error('NoSuchKey', undefined, { Key: key });
      if (row.etag !== normalizeEtag(condition.ifMatch))
        throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }

  /** Removes blobs whose trash rows committed; a failure leaves them to the collector. */
  async freeBlobs(blobIds: string[]): Promise<void> {
    for (const blobId of blobIds) {
      try {
        await this.blobs.remove(blobId);
        await this.db('blob_trash').where({ blob_id: blobId }).delete();
      } catch (err) {
        this.opts.log.warn({ err, blobId }, 'could not free replaced blob; the collector will retry');
      }
    }
  }

  async getObject(caller: string, bucketName: string, key: string): Promise<StoredObject> {
    // One round trip answers all three questions: does the bucket exist, is it the caller's, is the key there.
    const row: (ObjectRow & { bucket_owner: string }) | undefined = await this.db('buckets as b')
      .leftJoin('objects as o', (j) =>
        j.on('o.bucket_id', '=', 'b.id').andOnVal('o.key', '=', Buffer.from(key, 'utf8')),
      )
      .select('o.*', 'b.owner as bucket_owner')
      .where('b.name', bucketName)
      .first();
    if (!row) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucketName });
    if (row.bucket_owner !== caller) throw new S3Error('AccessDenied');
    if (row.key === null) throw new S3Error('NoSuchKey', undefined, { Key: key });
    return storedObject(row);
  }

  readObject(obj: StoredObject, start: number, end: number): AsyncGenerator<Buffer> {
    return readPieces(this.blobs, obj, start, end);
  }

  async deleteObject(caller: string, bucketName: string, key: string): Promise<void> {
    const bucket = await this.ownedBucket(caller, bucketName);
    await this.deleteKeys(bucket.id, [key]);
  }

  async deleteObjects(caller: string, bucketName: string, keys: string[]): Promise<DeleteResult[]> {
    const bucket = await this.ownedBucket(caller, bucketName);
    const deleted = await this.deleteKeys(bucket.id, keys);
    return keys.map((key) => ({ key, deleted: deleted.has(key) }));
  }

  private async deleteKeys(bucketId: number, keys: string[]): Promise<Set<string>> {
    // Delete and queue the freed blobs in one statement: the trash rows commit with the delete.
    const result = await this.db.raw(
      `WITH old AS (?), held AS (${HELD_BLOBS}),
         trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM held ON CONFLICT DO NOTHING)
       SELECT key, ARRAY(SELECT blob_id FROM held) AS freed FROM old`,
      [
        this.db('objects')
          .where({ bucket_id: bucketId })
          .whereIn(
            'key',
            keys.map((k) => Buffer.from(k, 'utf8')),
          )
          .delete()
          .returning(['key', 'blob_id', 'layout']),
      ],
    );
    const rows = result.rows as Array<{ key: Buffer; freed: string[] }>;
    await this.freeBlobs(rows[0]?.freed ?? []);
    return new Set(rows.map((r) => r.key.toString('utf8')));
  }

  async objectTags(caller: string, bucketName: string, key: string): Promise<Record<string, string>> {
    return (await this.getObject(caller, bucketName, key)).info.tags ?? {};
  }

  async setObjectTags(
    caller: string,
    bucketName: string,
    key: string,
    tags: Record<string, string>,
  ): Promise<void> {
    const bucket = await this.ownedBucket(caller, bucketName);
    const n = await this.db('objects')
      .where({ bucket_id: bucket.id, key: Buffer.from(key, 'utf8') })
      .update({ tags: JSON.stringify(tags) });
    if (n === 0) throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /** A bucket's JSON settings column: tags or CORS rules (null when unset). */
  async bucketSetting<T>(caller: string, bucketName: string, column: 'tags' | 'cors'): Promise<T | null> {
    const bucket = await this.ownedBucket(caller, bucketName);
    const row = await this.db('buckets').where({ id: bucket.id }).first(column);
    return (row?.[column] as T | null) ?? null;
  }

  async setBucketSetting(
    caller: string,
    bucketName: string,
    column: 'tags' | 'cors',
    value: unknown,
  ): Promise<void> {
    const bucket = await this.ownedBucket(caller, bucketName);
    await this.db('buckets')
      .where({ id: bucket.id })
      .update({ [column]: value === null ? null : JSON.stringify(value) });
  }

  /** CORS rules by bucket name, for preflights, which carry no credentials. */
  async corsRules<T>(bucketName: string): Promise<T | null> {
    const row = await this.db('buckets').where({ name: bucketName }).first('cors');
    return (row?.cors as T | null) ?? null;
  }

  async listObjects(caller: string, input: ListInput): Promise<ListResult> {
    const bucket = await this.ownedBucket(caller, input.bucket);
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
    for (;;) {
      let q = this.db('objects')
        // content_type is not in S3 listings, but the management API shows it; it is a narrow column.
        .select('key', 'size', 'etag', 'last_modified', 'content_type')
        .where({ bucket_id: bucket.id })
        .where('key', '>=', lowerInclusive);
      if (after.length) q = q.where('key', '>', after);
      if (upper) q = q.where('key', '<', upper);
      const rows: ObjectRow[] = await q.orderBy('key').limit(LIST_BATCH);
      let jumped = false;
      for (const row of rows) {
        const key = row.key.toString('utf8');
        if (input.delimiter) {
          const idx = key.indexOf(input.delimiter, input.prefix.length);
          if (idx >= 0) {
            const cp = key.slice(0, idx + input.delimiter.length);
            if (total === limit) {
              result.isTruncated = true;
              return result;
            }
            result.commonPrefixes.push(cp);
            result.lastEntry = cp;
            total++;
            // Skip every other key under this common prefix with one range jump.
            const next = prefixSuccessor(Buffer.from(cp, 'utf8'));
            if (!next) return result;
            lowerInclusive = next;
            jumped = true;
            break;
          }
        }
        if (total === limit) {
          result.isTruncated = true;
          return result;
        }
        result.objects.push({ ...toInfo({ ...row, user_metadata: {}, checksums: {} } as ObjectRow) });
        result.lastEntry = key;
        total++;
        after = row.key;
      }
      if (!jumped && rows.length < LIST_BATCH) return result;
    }
  }

  /** Rows for the collector: which blob ids metadata still references. */
  async referencedBlobs(blobIds: string[]): Promise<Set<string>> {
    if (blobIds.length === 0) return new Set();
    const result = await this.db.raw(
      `SELECT blob_id FROM objects WHERE blob_id = ANY(?)
       UNION SELECT e->>'blobId' FROM objects, jsonb_array_elements(layout) e WHERE layout IS NOT NULL AND e->>'blobId' = ANY(?)
       UNION SELECT blob_id FROM parts WHERE blob_id = ANY(?)`,
      [blobIds, blobIds, blobIds],
    );
    return new Set(result.rows.map((r: { blob_id: string }) => r.blob_id));
  }

  async trashedBlobs(): Promise<string[]> {
    const rows = await this.db('blob_trash').select('blob_id');
    return rows.map((r: { blob_id: string }) => r.blob_id);
  }

  async forgetTrash(blobId: string): Promise<void> {
    await this.db('blob_trash').where({ blob_id: blobId }).delete();
  }
}

/** The stored content headers of an object or upload, as their table columns. */
export function headerColumns(h: ObjectHeaders): HeaderColumns {
  return {
    content_type: h.contentType ?? null,
    content_encoding: h.contentEncoding ?? null,
    content_disposition: h.contentDisposition ?? null,
    content_language: h.contentLanguage ?? null,
    cache_control: h.cacheControl ?? null,
    expires: h.expires ?? null,
  };
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

/** The insert-if-absent of the batcher, for callers inside their own transaction. */
async function insertIfAbsent(db: Knex, row: Record<string, unknown>): Promise<boolean> {
  const ins = await db('objects')
    .insert(row)
    .onConflict(['bucket_id', 'key'])
    .ignore()
    .returning('bucket_id');
  return ins.length > 0;
}

export function storedObject(row: ObjectRow): StoredObject {
  const info = toInfo(row);
  if (!row.layout) {
    const blob: SealedBlob = {
      location: row.blob_id ? { blobId: row.blob_id } : { inline: row.inline_data! },
      wrappedKey: row.wrapped_key,
      segmentSize: row.segment_size,
      size: Number(row.size),
    };
    return { info, pieces: [{ start: 0, partNumber: 1, blob }] };
  }
  let start = 0;
  const pieces = row.layout.map((p) => {
    const piece = {
      start,
      partNumber: p.partNumber,
      blob: {
        location: { blobId: p.blobId },
        wrappedKey: Buffer.from(p.wrappedKey, 'base64'),
        segmentSize: p.segmentSize,
        size: p.size,
      },
    };
    start += p.size;
    return piece;
  });
  return { info, pieces };
}

/** Plaintext bytes [start, end] of an object, opening only the pieces (and segments) the range spans. */
async function* readPieces(
  blobs: BlobStore,
  obj: StoredObject,
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  for (const p of obj.pieces) {
    const pEnd = p.start + p.blob.size - 1;
    if (pEnd < start || p.start > end || p.blob.size === 0) continue;
    yield* blobs.read(p.blob, Math.max(start, p.start) - p.start, Math.min(end, pEnd) - p.start);
  }
}

function toBucket(row: {
  id: string | number;
  name: string;
  owner: string;
  region: string;
  created_at: Date;
}): Bucket {
  return {
    id: Number(row.id),
    name: row.name,
    owner: row.owner,
    region: row.region,
    createdAt: row.created_at,
  };
}

export type { ChecksumAlgorithm };
