/**
 * Versioned buckets (S3 versioning Enabled or Suspended). The objects table holds each key's current
 * version; older versions and delete markers move to object_versions, so listings never see them. Every
 * change to a key's versions runs in one transaction holding that key's advisory lock, and keeps one
 * invariant: a key's latest version is its objects row when there is one, and otherwise its newest
 * object_versions row, which is then a delete marker.
 */
import { opaqueId } from '../crypto/opaque-id.js';
import type { Knex } from 'knex';
import { S3Error } from '../errors/s3-errors.js';
import { normalizeEtag } from './etags.js';
import { checkDeletable, checkRetentionChange, retentionOf, type LockColumns } from './object-lock.js';
import type { Bucket, Retention, WriteCondition } from './types.js';

/** Columns objects and object_versions share, in the same order, for moving rows between them. */
export const VERSION_COLUMNS = [
  'bucket_id',
  'key',
  'size',
  'etag',
  'last_modified',
  'content_type',
  'content_encoding',
  'content_disposition',
  'content_language',
  'cache_control',
  'expires',
  'user_metadata',
  'checksums',
  'blob_id',
  'inline_data',
  'wrapped_key',
  'segment_size',
  'layout',
  'checksum_type',
  'tags',
  'version_id',
  'seq',
  'retain_mode',
  'retain_until',
  'legal_hold',
  'acl',
].join(', ');

/** The version id of what an unversioned or suspended bucket writes, as S3 names it. */
export const NULL_VERSION = 'null';

/** Opaque, URL-safe and unguessable, as AWS's are. */
export const newVersionId = opaqueId;

/** Whether a client-sent version id could name a version here at all (AWS: 400 InvalidArgument if not). */
export function checkVersionId(versionId: string): void {
  if (versionId !== NULL_VERSION && !/^[A-Za-z0-9._-]{32}$/.test(versionId))
    throw new S3Error('InvalidArgument', 'Invalid version id specified', {
      ArgumentName: 'versionId',
      ArgumentValue: versionId,
    });
}

/** What a versioned delete did, for x-amz-delete-marker and x-amz-version-id. */
export interface VersionDeletion {
  versionId?: string;
  deleteMarker: boolean;
}

const blobsOf = (rows: Array<{ blob_id: string | null; layout: Array<{ blobId: string }> | null }>) =>
  rows.flatMap((r) => [...(r.blob_id ? [r.blob_id] : []), ...(r.layout ?? []).map((p) => p.blobId)]);

/** Serialises every change to one key's versions, across gateway processes, for the transaction. */
async function lockKey(trx: Knex.Transaction, bucketId: number, key: Buffer): Promise<void> {
  await trx.raw("SELECT pg_advisory_xact_lock(hashtextextended(? || '/' || encode(?, 'hex'), 0))", [
    String(bucketId),
    key,
  ]);
}

/** Queues blob ids as trash inside the transaction; they are freed after it commits. */
async function queueTrash(trx: Knex.Transaction, ids: string[]): Promise<string[]> {
  if (ids.length)
    await trx('blob_trash')
      .insert(ids.map((blob_id) => ({ blob_id })))
      .onConflict()
      .ignore();
  return ids;
}

/**
 * Makes way for a new latest version of `key`: the current version moves to object_versions, or is
 * dropped when both it and the newcomer are the null version; a noncurrent null version is dropped when
 * the newcomer is null. Returns the blob ids dropped versions held, queued as trash.
 */
async function retireCurrent(
  trx: Knex.Transaction,
  bucket: Bucket,
  key: Buffer,
  incoming: string,
): Promise<string[]> {
  const where = { bucket_id: bucket.id, key };
  const current = await trx('objects').where(where).forUpdate().first('version_id', 'blob_id', 'layout');
  const dropped: Array<{ blob_id: string | null; layout: Array<{ blobId: string }> | null }> = [];
  if (current) {
    if (current.version_id === NULL_VERSION && incoming === NULL_VERSION) dropped.push(current);
    else
      await trx.raw(
        `INSERT INTO object_versions (${VERSION_COLUMNS}, noncurrent_since)
         SELECT ${VERSION_COLUMNS}, now() FROM objects WHERE bucket_id = ? AND key = ?`,
        [bucket.id, key],
      );
    await trx('objects').where(where).delete();
  }
  if (incoming === NULL_VERSION)
    dropped.push(
      ...(await trx('object_versions')
        .where({ ...where, version_id: NULL_VERSION })
        .delete()
        .returning(['blob_id', 'layout'])),
    );
  return queueTrash(trx, blobsOf(dropped));
}

/** If a key has no current row and its newest remaining version is not a delete marker, it becomes current. */
async function promoteNewest(trx: Knex.Transaction, bucket: Bucket, key: Buffer): Promise<void> {
  if (await trx('objects').where({ bucket_id: bucket.id, key }).first('seq')) return;
  const newest = await trx('object_versions')
    .where({ bucket_id: bucket.id, key })
    .orderBy('seq', 'desc')
    .first('seq', 'delete_marker');
  if (!newest || newest.delete_marker) return;
  await trx.raw(
    `INSERT INTO objects (${VERSION_COLUMNS}) SELECT ${VERSION_COLUMNS} FROM object_versions WHERE bucket_id = ? AND key = ? AND seq = ?`,
    [bucket.id, key, newest.seq],
  );
  await trx('object_versions').where({ bucket_id: bucket.id, key, seq: newest.seq }).delete();
}

/** The answer to a create-only write whose key exists: 412 to the client that asked, 403 under a grant. */
export function keyExists(condition: WriteCondition, key: string): S3Error {
  return condition.byGrant
    ? new S3Error('AccessDenied', `This access key may only create new objects, and ${key} already exists.`)
    : new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
}

function checkCondition(current: { etag: string } | undefined, key: Buffer, condition: WriteCondition): void {
  if (condition.ifNoneMatch && current) throw keyExists(condition, key.toString('utf8'));
  if (condition.ifMatch !== undefined) {
    if (!current) throw new S3Error('NoSuchKey', undefined, { Key: key.toString('utf8') });
    if (current.etag !== normalizeEtag(condition.ifMatch))
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
}

/**
 * Commits `row` as the new current version of its key in a versioned bucket, inside `trx`. Returns the
 * new version id and the blob ids of versions it replaced (only ever a null version), queued as trash.
 */
export async function commitVersion(
  trx: Knex.Transaction,
  bucket: Bucket,
  row: Record<string, unknown>,
  condition: WriteCondition = {},
): Promise<{ versionId: string; replaced: string[] }> {
  const key = row.key as Buffer;
  await lockKey(trx, bucket.id, key);
  checkCondition(await trx('objects').where({ bucket_id: bucket.id, key }).first('etag'), key, condition);
  const versionId = bucket.versioning === 'Enabled' ? newVersionId() : NULL_VERSION;
  const replaced = await retireCurrent(trx, bucket, key, versionId);
  await trx('objects').insert({ ...row, version_id: versionId });
  return { versionId, replaced };
}

/**
 * DeleteObject without a version id in a versioned bucket: the current version becomes noncurrent
 * (or, suspended, the null version goes) and a delete marker becomes the latest version.
 */
export async function addDeleteMarker(
  trx: Knex.Transaction,
  bucket: Bucket,
  key: Buffer,
): Promise<{ deletion: VersionDeletion; freed: string[] }> {
  await lockKey(trx, bucket.id, key);
  const versionId = bucket.versioning === 'Enabled' ? newVersionId() : NULL_VERSION;
  const freed = await retireCurrent(trx, bucket, key, versionId);
  await trx('object_versions').insert({
    bucket_id: bucket.id,
    key,
    size: 0,
    etag: '',
    last_modified: new Date(),
    version_id: versionId,
    delete_marker: true,
  });
  return { deletion: { versionId, deleteMarker: true }, freed };
}

/**
 * Permanently deletes one version (or delete marker). Deleting the current version makes the next newest
 * one current, unless that is a delete marker. A version that does not exist is no error, as on S3.
 */
export async function deleteVersion(
  trx: Knex.Transaction,
  bucket: Bucket,
  key: Buffer,
  versionId: string,
  bypassGovernance = false,
): Promise<{ deletion: VersionDeletion; freed: string[] }> {
  await lockKey(trx, bucket.id, key);
  const where = { bucket_id: bucket.id, key, version_id: versionId };
  // Retention beats everyone: decided here, under the key's lock, on what is committed now.
  const held = await findVersion(trx, bucket, key, versionId);
  if (held) checkDeletable(held, bypassGovernance);
  const current = await trx('objects').where(where).delete().returning(['blob_id', 'layout']);
  const old = current.length
    ? []
    : await trx('object_versions').where(where).delete().returning(['blob_id', 'layout', 'delete_marker']);
  await promoteNewest(trx, bucket, key);
  const freed = await queueTrash(trx, blobsOf([...current, ...old]));
  return { deletion: { versionId, deleteMarker: old.some((r) => r.delete_marker) }, freed };
}

/** A version's row (current or not) with its lock columns, locked for the transaction. */
async function findVersion(
  trx: Knex.Transaction,
  bucket: Bucket,
  key: Buffer,
  versionId: string | undefined,
): Promise<(LockColumns & { table: string }) | undefined> {
  const cols = ['retain_mode', 'retain_until', 'legal_hold'];
  const current = trx('objects').where({ bucket_id: bucket.id, key });
  if (versionId === undefined) {
    const row = await current.forUpdate().first(cols);
    return row && { ...row, table: 'objects' };
  }
  const row = await current.where({ version_id: versionId }).forUpdate().first(cols);
  if (row) return { ...row, table: 'objects' };
  const old = await trx('object_versions')
    .where({ bucket_id: bucket.id, key, version_id: versionId, delete_marker: false })
    .forUpdate()
    .first(cols);
  return old && { ...old, table: 'object_versions' };
}

/**
 * Changes one version's retention or legal hold under the key's lock. A retention change that weakens an
 * active retention is refused (GOVERNANCE: unless `bypassGovernance`); a legal hold may always change.
 * Returns false when there is no such version.
 */
export async function changeLock(
  trx: Knex.Transaction,
  bucket: Bucket,
  key: Buffer,
  versionId: string | undefined,
  change: { retention: Retention | undefined; bypassGovernance: boolean } | { legalHold: boolean },
): Promise<boolean> {
  await lockKey(trx, bucket.id, key);
  const row = await findVersion(trx, bucket, key, versionId);
  if (!row) return false;
  const where: Record<string, unknown> = { bucket_id: bucket.id, key };
  if (versionId !== undefined) where.version_id = versionId;
  if ('legalHold' in change) {
    await trx(row.table).where(where).update({ legal_hold: change.legalHold });
    return true;
  }
  checkRetentionChange(retentionOf(row), change.retention, change.bypassGovernance);
  await trx(row.table)
    .where(where)
    .update({ retain_mode: change.retention?.mode ?? null, retain_until: change.retention?.until ?? null });
  return true;
}
