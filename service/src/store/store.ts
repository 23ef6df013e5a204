import type { Knex } from 'knex';
import {
  recordsAfter,
  type AuditRow,
  type AuditScope,
  type ChangeDetails,
  type ChangeRecorder,
} from '../audit/audit-log.js';
import type { Log } from '../log.js';
import type { ChangeSignals } from '../db/change-feed.js';
import type { ReadOptions, Returned, Sealer } from '../blobs/sealer.js';
import { S3Error } from '../errors/s3-errors.js';
import { BucketStore, type NewBucketDefaults } from './buckets.js';
import { changing } from './audited.js';
import { ObjectLookups } from './object-lookups.js';
import { normalizeEtag } from './etags.js';
import { InsertBatcher } from './insert-batcher.js';
import { listObjects } from './listing.js';
import { listVersions, type VersionListInput, type VersionListResult } from './version-listing.js';
import { digesting } from '../integrity/digesting.js';
import type { ChecksumAlgorithm } from '../integrity/checksums.js';
import {
  contentHeaders,
  headerColumns,
  lockColumns,
  storedObject,
  type ObjectRow,
  type StoredObject,
} from './rows.js';
import { HELD_BLOBS, Trash } from './trash.js';
import { requireObjectLock, retentionFor } from './object-lock.js';
import {
  addDeleteMarker,
  changeLock,
  checkVersionId,
  commitVersion,
  deleteVersion,
  keyExists,
  NULL_VERSION,
  type VersionDeletion,
} from './versions.js';
import type {
  Acl,
  Bucket,
  DeleteResult,
  ListInput,
  ListResult,
  ObjectInfo,
  ObjectLockInput,
  PutObjectInput,
  Retention,
  WriteCondition,
} from './types.js';

export interface StoreOptions {
  db: Knex;
  sealer: Sealer;
  region: string;
  log: Log;
  /** Cross-process change notifications; without them nothing is cached across requests. */
  changes?: ChangeSignals;
  /** Ownership and public access block of new buckets (AWS's current defaults when absent). */
  bucketDefaults?: NewBucketDefaults;
  /** Where a change's audit record comes from, to be committed with the change. */
  audit?: ChangeRecorder;
  /** Told how many object rows each group commit carried (metrics). */
  onCommitted?: (rows: number) => void;
}

/**
 * The domain: one method per S3 operation, no HTTP and no permission checks (a caller passes a bucket
 * the authorizer resolved). It owns the write protocol: data sealed and durable first, then one
 * metadata commit that makes the object exist, then old data freed.
 */
export class Store {
  readonly buckets: BucketStore;
  readonly trash: Trash;
  private readonly db: Knex;
  private readonly sealer: Sealer;
  private readonly inserts: InsertBatcher;
  private readonly lookups: ObjectLookups;
  private readonly audit: ChangeRecorder | undefined;

  constructor(opts: StoreOptions) {
    this.db = opts.db;
    this.audit = opts.audit;
    this.sealer = opts.sealer;
    this.inserts = new InsertBatcher(opts.db, opts.onCommitted);
    this.lookups = new ObjectLookups(opts.db);
    this.trash = new Trash(opts.db, opts.sealer.backend, opts.log);
    this.buckets = new BucketStore(
      opts.db,
      opts.region,
      this.trash,
      opts.changes,
      opts.bucketDefaults,
      opts.audit,
    );
  }

  /**
   * Runs work done on nobody's request (lifecycle) with audit records that say who did it; a refusal
   * (an S3 error) is recorded as such.
   */
  async asAudited<T>(event: AuditScope['event'], work: () => Promise<T>): Promise<T> {
    if (!this.audit) return work();
    try {
      return await this.audit.within({ event, recorded: false }, work);
    } catch (err) {
      if (err instanceof S3Error) this.audit.record({ ...event, result: `${err.status} ${err.code}` });
      throw err;
    }
  }

  /** Runs a change in a transaction with its audit records (see audited.ts). */
  changing<T>(details: ChangeDetails[], work: (db: Knex) => Promise<T>): Promise<T> {
    return changing(this.db, this.audit, details, work);
  }

  /** Runs a commit with its audit records (see ChangeRecorder); without a recorder, with none. */
  committing<T>(changes: ChangeDetails[], commit: (rows: AuditRow[]) => Promise<T>): Promise<T> {
    return this.audit ? this.audit.committing(changes, commit) : commit([]);
  }

  async putObject(bucket: Bucket, input: PutObjectInput): Promise<ObjectInfo> {
    // Refuse early what the commit would refuse anyway, before a large body is streamed for nothing.
    if (input.condition) await this.checkCondition(bucket.id, input.key, input.condition);
    const lock = this.lockFor(bucket, input.lock);
    const { sealed, digests } = await this.sealer.seal(input.body, input.finalize, { size: input.size });
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
      acl: input.acl ? JSON.stringify(input.acl) : null,
      checksums: JSON.stringify(digests.checksums),
      blob_id: sealed.location.blobId ?? null,
      inline_data: sealed.location.inline ?? null,
      wrapped_key: sealed.wrappedKey,
      segment_size: sealed.segmentSize,
      // Named though empty: replacing an object overwrites only the columns given, and a multipart
      // object's part layout and checksum type would otherwise outlive it.
      layout: null,
      checksum_type: null,
      ...lockColumns(lock),
    };
    let committed: { replaced: string[]; versionId: string };
    try {
      committed = await this.commitObject(bucket, row, this.db, input.condition);
    } catch (err) {
      // The row never committed, so the sealed file is ours to drop; a crash here leaves it to the collector.
      if (sealed.location.blobId) await this.sealer.remove(sealed.location.blobId).catch(() => undefined);
      if ((err as { code?: string }).code === '23503') {
        // The bucket went away after it was resolved.
        this.buckets.forget(bucket.name);
        throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
      }
      throw err;
    }
    await this.trash.free(committed.replaced);
    return {
      key: input.key,
      size: sealed.size,
      etag: digests.etag,
      lastModified: now,
      userMetadata: input.userMetadata,
      checksums: digests.checksums,
      versionId: committed.versionId,
      retention: lock?.retention,
      legalHold: lock?.legalHold,
    };
  }

  /**
   * Makes an old version current again by copying it over its key (a new version with the same content,
   * metadata and tags), as S3 clients do with CopyObject from `?versionId=`; the old version stays.
   */
  async restoreVersion(bucket: Bucket, key: string, versionId: string): Promise<ObjectInfo> {
    const old = await this.getObject(bucket, key, versionId);
    const keep =
      old.info.checksumType === 'COMPOSITE' ? [] : (Object.keys(old.info.checksums) as ChecksumAlgorithm[]);
    const stream = digesting(this.readObject(old, 0, old.info.size - 1), keep, old.info.size);
    return this.putObject(bucket, {
      key,
      ...contentHeaders(old.info),
      userMetadata: old.info.userMetadata,
      tags: old.info.tags,
      body: stream.chunks,
      size: stream.length,
      finalize: stream.finalize,
    });
  }

  /**
   * The lock a new version gets: what the request asked, with the bucket's default retention when it
   * asked none. Lock settings on a bucket without object lock are refused, as S3 refuses them.
   */
  lockFor(bucket: Bucket, asked: ObjectLockInput | undefined): ObjectLockInput | undefined {
    if (!bucket.objectLock) {
      if (asked?.retention || asked?.legalHold) requireObjectLock(bucket);
      return undefined;
    }
    return {
      retention: retentionFor(bucket.objectLock, asked?.retention),
      legalHold: asked?.legalHold ?? false,
    };
  }

  /**
   * Makes `row` the key's current version; returns its version id and the blob ids of what it replaced,
   * queued as trash in the same commit. `db` may be a transaction (Complete commits the object with the
   * upload's removal). Versioned buckets keep the old version instead of replacing it.
   */
  async commitObject(
    bucket: Bucket,
    row: Record<string, unknown>,
    db: Knex = this.db,
    condition: WriteCondition = {},
  ): Promise<{ replaced: string[]; versionId: string }> {
    const unconditional = condition.ifMatch === undefined && !condition.ifNoneMatch;
    const change = [{ key: (row.key as Buffer).toString('utf8'), bytes: Number(row.size) }];
    if (db === this.db) {
      // Group-committed writes carry the request's audit record in their statement or transaction; any
      // other write is one transaction here, its record in it. Inside a caller's transaction, the caller's.
      if (unconditional && bucket.versioning === 'Enabled')
        return {
          replaced: [],
          versionId: await this.committing(change, ([audit]) => this.inserts.addVersion(bucket, row, audit)),
        };
      if (unconditional && !bucket.versioning) {
        const done = await this.committing(change, ([audit]) => this.inserts.upsert(row, audit));
        return { replaced: done.replaced, versionId: NULL_VERSION };
      }
      return this.committing(change, ([audit]) =>
        this.db.transaction(async (trx) => {
          const out = await this.commitObject(bucket, row, trx, condition);
          if (audit) await trx('audit_log').insert({ ...audit, version_id: out.versionId });
          return out;
        }),
      );
    }
    if (bucket.versioning) return commitVersion(db as Knex.Transaction, bucket, row, condition);
    return {
      replaced: await this.replaceUnversioned(row, db as Knex.Transaction, condition),
      versionId: NULL_VERSION,
    };
  }

  /** Insert or overwrite in place, in a transaction: the whole story of a key in a bucket never versioned. */
  private async replaceUnversioned(
    row: Record<string, unknown>,
    db: Knex.Transaction,
    condition: WriteCondition,
  ): Promise<string[]> {
    for (;;) {
      // Inside a transaction: a new key is one insert; a replacement is one statement that locks the
      // current row, overwrites it and queues its old blobs as trash. The update joins the locked row:
      // run first, it would leave `old` nothing to lock (a row this statement changed) and its blobs unfreed.
      if (condition.ifMatch === undefined) {
        if (await insertIfAbsent(db, row)) return [];
        // The unique key decided: of racing If-None-Match writers exactly one inserted.
        if (condition.ifNoneMatch) throw keyExists(condition, (row.key as Buffer).toString('utf8'));
      }
      const where: Record<string, unknown> = { bucket_id: row.bucket_id, key: row.key };
      if (condition.ifMatch !== undefined) where.etag = normalizeEtag(condition.ifMatch);
      const result = await db.raw(
        `WITH old AS (?), upd AS (?),
           held AS (${HELD_BLOBS}),
           trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM held ON CONFLICT DO NOTHING)
         SELECT (SELECT count(*) FROM upd)::int AS updated, ARRAY(SELECT blob_id FROM held) AS replaced`,
        [
          db('objects').select('bucket_id', 'key', 'blob_id', 'layout').where(where).forUpdate(),
          db('objects')
            .update(row)
            .updateFrom('old')
            .whereRaw('objects.bucket_id = old.bucket_id AND objects.key = old.key')
            .returning(db.raw('1')),
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
    if (condition.ifNoneMatch && row) throw keyExists(condition, key);
    if (condition.ifMatch !== undefined) {
      if (!row) throw new S3Error('NoSuchKey', undefined, { Key: key });
      if (row.etag !== normalizeEtag(condition.ifMatch))
        throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
    }
  }

  /**
   * The current version of a key, or with `versionId` that version. A delete marker answers as S3 does:
   * 404 NoSuchKey when it is the latest version, 405 MethodNotAllowed when asked for by id.
   */
  async getObject(bucket: Bucket, key: string, versionId?: string): Promise<StoredObject> {
    const k = Buffer.from(key, 'utf8');
    if (versionId !== undefined) {
      checkVersionId(versionId);
      const row: (ObjectRow & { delete_marker?: boolean }) | undefined =
        (await this.db('objects').where({ bucket_id: bucket.id, key: k, version_id: versionId }).first()) ??
        (bucket.versioning
          ? await this.db('object_versions')
              .where({ bucket_id: bucket.id, key: k, version_id: versionId })
              .first()
          : undefined);
      if (!row) throw new S3Error('NoSuchVersion', undefined, { Key: key, VersionId: versionId });
      if (row.delete_marker)
        throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.', {
          Method: 'GET',
          ResourceType: 'DeleteMarker',
        }).withHeaders(deleteMarkerHeaders(versionId, row.last_modified, { allow: 'DELETE' }));
      return storedObject(row);
    }
    const row = await this.lookups.current(bucket.id, k);
    if (row) return storedObject(row);
    const marker = bucket.versioning
      ? await this.db('object_versions')
          .where({ bucket_id: bucket.id, key: k })
          .orderBy('seq', 'desc')
          .first('version_id', 'delete_marker', 'last_modified')
      : undefined;
    const err = new S3Error('NoSuchKey', undefined, { Key: key });
    if (marker?.delete_marker) err.withHeaders(deleteMarkerHeaders(marker.version_id, marker.last_modified));
    throw err;
  }

  /** `lent`: the consumer returns each buffer through `next()` (see the sealer's ReadOptions). */
  readObject(
    obj: StoredObject,
    start: number,
    end: number,
    opts: ReadOptions = {},
  ): AsyncGenerator<Buffer, void, Returned> {
    return readPieces(this.sealer, obj, start, end, opts);
  }

  /**
   * DeleteObject: without a version id, removes the key (unversioned) or adds a delete marker
   * (versioned); with one, removes that version for good. Says what it did for the response headers.
   */
  async deleteObject(
    bucket: Bucket,
    key: string,
    versionId?: string,
    opts: { bypassGovernance?: boolean } = {},
  ): Promise<VersionDeletion> {
    if (versionId !== undefined) checkVersionId(versionId);
    if (!bucket.versioning) {
      if (versionId === undefined || versionId === NULL_VERSION) await this.deleteKeys(bucket.id, [key]);
      return { deleteMarker: false, versionId };
    }
    const k = Buffer.from(key, 'utf8');
    const { deletion, freed } = await this.committing([{ key }], ([audit]) =>
      this.db.transaction(async (trx) => {
        const done = await (versionId === undefined
          ? addDeleteMarker(trx, bucket, k)
          : deleteVersion(trx, bucket, k, versionId, opts.bypassGovernance));
        if (audit) await trx('audit_log').insert({ ...audit, version_id: done.deletion.versionId ?? null });
        return done;
      }),
    );
    await this.trash.free(freed);
    return deletion;
  }

  /** Each item on its own: one a lock protects is reported with its error, the others still go. */
  async deleteObjects(
    bucket: Bucket,
    items: Array<{ key: string; versionId?: string }>,
    opts: { bypassGovernance?: boolean } = {},
  ): Promise<DeleteResult[]> {
    if (!bucket.versioning && items.every((i) => i.versionId === undefined)) {
      const deleted = await this.deleteKeys(
        bucket.id,
        items.map((i) => i.key),
      );
      return items.map(({ key }) => ({ key, deleted: deleted.has(key) }));
    }
    const out: DeleteResult[] = [];
    for (const { key, versionId } of items) {
      try {
        out.push({ key, deleted: true, ...(await this.deleteObject(bucket, key, versionId, opts)) });
      } catch (err) {
        if (!(err instanceof S3Error)) throw err;
        out.push({ key, deleted: false, versionId, error: err });
      }
    }
    return out;
  }

  private async deleteKeys(bucketId: number, keys: string[]): Promise<Set<string>> {
    // Each key asked for has its record (S3 answers a missing key's delete as done), in the same statement.
    const changes = keys.map((key) => ({ key }));
    const result = await this.committing(changes, (audits) => {
      const audited = audits.length ? ', audited AS (?)' : '';
      // Delete and queue the freed blobs in one statement: the trash rows commit with the delete.
      return this.db.raw(
        `WITH old AS (?), held AS (${HELD_BLOBS}),
         trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM held ON CONFLICT DO NOTHING)${audited}
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
          ...(audits.length ? [recordsAfter(this.db, audits, 'old')] : []),
        ],
      );
    });
    const rows = result.rows as Array<{ key: Buffer; freed: string[] }>;
    await this.trash.free(rows[0]?.freed ?? []);
    return new Set(rows.map((r) => r.key.toString('utf8')));
  }

  async objectTags(bucket: Bucket, key: string, versionId?: string): Promise<Record<string, string>> {
    return (await this.getObject(bucket, key, versionId)).info.tags ?? {};
  }

  /** What authorization may test of an object: its tags and ACL. */
  async objectAccess(bucket: Bucket, key: string, versionId?: string) {
    const { info } = await this.getObject(bucket, key, versionId);
    return { tags: info.tags ?? {}, acl: info.acl };
  }

  /** Tags the current version, or with `versionId` that version (current or not). */
  async setObjectTags(
    bucket: Bucket,
    key: string,
    tags: Record<string, string>,
    versionId?: string,
  ): Promise<void> {
    await this.updateVersion(bucket, key, versionId, { tags: JSON.stringify(tags) });
  }

  /** PutObjectAcl on the current version, or with `versionId` that version. */
  async setObjectAcl(bucket: Bucket, key: string, acl: Acl, versionId?: string): Promise<void> {
    await this.updateVersion(bucket, key, versionId, { acl: JSON.stringify(acl) });
  }

  /** Changes a sub-resource column of the current version, or with `versionId` that version (current or not). */
  private async updateVersion(
    bucket: Bucket,
    key: string,
    versionId: string | undefined,
    update: Record<string, unknown>,
  ): Promise<void> {
    const where: Record<string, unknown> = { bucket_id: bucket.id, key: Buffer.from(key, 'utf8') };
    if (versionId !== undefined) {
      checkVersionId(versionId);
      where.version_id = versionId;
    }
    await this.changing([{ key, versionId }], async (db) => {
      if ((await db('objects').where(where).update(update)) > 0) return;
      if (versionId !== undefined && bucket.versioning) {
        const n = await db('object_versions')
          .where({ ...where, delete_marker: false })
          .update(update);
        if (n > 0) return;
      }
      // Answer as a GET would: NoSuchKey, NoSuchVersion, or the delete marker's 404 / 405.
      await this.getObject(bucket, key, versionId);
      throw new S3Error('NoSuchKey', undefined, { Key: key });
    });
  }

  listObjects(bucket: Bucket, input: ListInput): Promise<ListResult> {
    return listObjects(this.db, bucket, input);
  }

  /**
   * PutObjectRetention / PutObjectLegalHold on the current version or the one named. Weakening an active
   * retention is refused in the same transaction that would change it.
   */
  async changeLock(
    bucket: Bucket,
    key: string,
    versionId: string | undefined,
    change: { retention: Retention | undefined; bypassGovernance: boolean } | { legalHold: boolean },
  ): Promise<void> {
    requireObjectLock(bucket);
    if (versionId !== undefined) checkVersionId(versionId);
    const k = Buffer.from(key, 'utf8');
    await this.committing([{ key, versionId }], ([audit]) =>
      this.db.transaction(async (trx) => {
        if (await changeLock(trx, bucket, k, versionId, change)) {
          if (audit) await trx('audit_log').insert(audit);
          return;
        }
        // Nothing to change: answer NoSuchKey / NoSuchVersion / the marker's error, as a GET would.
        await this.getObject(bucket, key, versionId);
        throw new S3Error('NoSuchKey', undefined, { Key: key });
      }),
    );
  }

  listVersions(bucket: Bucket, input: VersionListInput): Promise<VersionListResult> {
    return listVersions(this.db, bucket, input);
  }
}

/** Inserts the row unless its key exists; whether it did. */
async function insertIfAbsent(db: Knex, row: Record<string, unknown>): Promise<boolean> {
  const ins = await db('objects')
    .insert(row)
    .onConflict(['bucket_id', 'key'])
    .ignore()
    .returning('bucket_id');
  return ins.length > 0;
}

/** Plaintext bytes [start, end] of an object, opening only the pieces (and segments) the range spans. */
async function* readPieces(
  sealer: Sealer,
  obj: StoredObject,
  start: number,
  end: number,
  opts: ReadOptions,
): AsyncGenerator<Buffer, void, Returned> {
  for (const p of obj.pieces) {
    const pEnd = p.start + p.blob.size - 1;
    if (pEnd < start || p.start > end || p.blob.size === 0) continue;
    // yield* hands each next()'s argument to the piece's read: a lent buffer's return reaches it.
    yield* sealer.read(p.blob, Math.max(start, p.start) - p.start, Math.min(end, pEnd) - p.start, opts);
  }
}

/** What S3 sends with an answer about a delete marker. */
function deleteMarkerHeaders(
  versionId: string,
  lastModified: Date,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    'x-amz-delete-marker': 'true',
    'x-amz-version-id': versionId,
    'last-modified': new Date(lastModified).toUTCString(),
    ...extra,
  };
}
