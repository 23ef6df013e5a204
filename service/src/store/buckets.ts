import type { Knex } from 'knex';
import type { ChangeSignals } from '../db/change-feed.js';
import { S3Error } from '../errors/s3-errors.js';
import { bucketNameProblem, regionProblem } from './bucket-names.js';
import { toBucket } from './rows.js';
import { dropUploads, type Trash } from './trash.js';
import type { LifecycleConfig } from './lifecycle.js';
import type { Bucket, ObjectLockConfig } from './types.js';

/** The bucket settings kept as JSON columns. */
export type BucketSetting = 'tags' | 'cors';

const CACHE_MAX = 10_000;

/**
 * Buckets and their settings. Every request resolves its bucket by name, so lookups are cached; the
 * cache is trusted only while the change feed is live, and every change to the table, by any gateway,
 * clears it (a stale entry can cost no more than a re-check: the objects' foreign key still decides).
 */
export class BucketStore {
  private readonly cache = new Map<string, Bucket>();
  /** Bumped on every invalidation, so a lookup that raced one does not cache what it read before it. */
  private generation = 0;

  constructor(
    private readonly db: Knex,
    private readonly region: string,
    private readonly trash: Trash,
    private readonly changes?: ChangeSignals,
  ) {
    changes?.onChange('buckets', () => this.invalidate());
  }

  private invalidate(name?: string): void {
    this.generation++;
    if (name === undefined) this.cache.clear();
    else this.cache.delete(name);
  }

  /** Forgets a cached bucket this process learned is gone (a write tripped the foreign key). */
  forget(name: string): void {
    this.invalidate(name);
  }

  async byName(name: string): Promise<Bucket | undefined> {
    const live = this.changes?.live ?? false;
    const hit = live ? this.cache.get(name) : undefined;
    if (hit) return hit;
    const generation = this.generation;
    const row = await this.db('buckets')
      .where({ name })
      .first('id', 'name', 'owner', 'region', 'created_at', 'versioning', 'object_lock', 'lifecycle');
    if (!row) return undefined;
    const bucket = toBucket(row);
    if (live && generation === this.generation) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(name, bucket);
    }
    return bucket;
  }

  /** Every bucket, or those one credential owns. */
  async list(owner?: string): Promise<Bucket[]> {
    const q = this.db('buckets').orderBy('name');
    const rows = owner === undefined ? await q : await q.where({ owner });
    return rows.map(toBucket);
  }

  /** `objectLock` creates the bucket with object lock enabled, which also turns versioning on. */
  async create(
    owner: string,
    name: string,
    locationConstraint: string | undefined,
    opts: { objectLock?: boolean } = {},
  ): Promise<Bucket> {
    const problem = bucketNameProblem(name);
    if (problem)
      throw new S3Error('InvalidBucketName', `The specified bucket is not valid: it ${problem}.`, {
        BucketName: name,
      });
    const wrongRegion = locationConstraint ? regionProblem(locationConstraint, this.region) : undefined;
    if (wrongRegion) {
      throw new S3Error(
        'InvalidLocationConstraint',
        `The specified location-constraint '${locationConstraint}' is not valid: ${wrongRegion}.`,
      );
    }
    const inserted = await this.db('buckets')
      .insert({
        name,
        owner,
        region: this.region,
        ...(opts.objectLock ? { versioning: 'Enabled', object_lock: JSON.stringify({}) } : {}),
      })
      .onConflict('name')
      .ignore()
      .returning('*');
    if (inserted[0]) {
      this.invalidate(name);
      return toBucket(inserted[0]);
    }
    const existing = await this.db('buckets').where({ name }).first();
    if (existing?.owner === owner)
      throw new S3Error('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
    throw new S3Error('BucketAlreadyExists', undefined, { BucketName: name });
  }

  /**
   * Deletes an empty bucket and, as AWS and Ceph RGW do, its incomplete multipart uploads, in one
   * transaction; their parts' blobs are queued as trash in it and freed after the commit.
   */
  async delete(bucket: Bucket): Promise<void> {
    this.invalidate(bucket.name);
    let freed: string[];
    try {
      freed = await this.db.transaction(async (trx) => {
        // Locking the bucket row makes a racing delete of the same bucket wait, then find nothing.
        if (!(await trx('buckets').where({ id: bucket.id }).forUpdate().first('id')))
          throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
        // Noncurrent versions and delete markers count: S3 deletes only a bucket with no version left.
        for (const table of ['objects', 'object_versions'])
          if (await trx(table).where({ bucket_id: bucket.id }).first(this.db.raw('1')))
            throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
        const ids = await dropUploads(trx, { bucket_id: bucket.id });
        await trx('buckets').where({ id: bucket.id }).delete();
        return ids;
      });
    } catch (err) {
      // A PUT or a new upload that committed while we deleted trips a foreign key: the bucket is in use.
      if ((err as { code?: string }).code === '23503')
        throw new S3Error('BucketNotEmpty', undefined, { BucketName: bucket.name });
      throw err;
    } finally {
      this.invalidate(bucket.name);
    }
    await this.trash.free(freed);
  }

  /** PutBucketVersioning: once versioned, a bucket can be suspended but never unversioned again. */
  async setVersioning(bucket: Bucket, status: 'Enabled' | 'Suspended'): Promise<void> {
    if (status !== 'Enabled' && bucket.objectLock)
      throw new S3Error(
        'InvalidBucketState',
        'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.',
      );
    // The condition repeats the check in SQL: a lock enabled meanwhile by another gateway still wins.
    const n = await this.db('buckets')
      .where({ id: bucket.id })
      .where((q) => (status === 'Enabled' ? q : q.whereNull('object_lock')))
      .update({ versioning: status });
    this.invalidate(bucket.name);
    if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
  }

  /**
   * PutObjectLockConfiguration: enables object lock on a versioning-enabled bucket (for good) and sets or
   * clears its default retention.
   */
  async setObjectLock(bucket: Bucket, config: ObjectLockConfig): Promise<void> {
    const n = await this.db('buckets')
      .where({ id: bucket.id, versioning: 'Enabled' })
      .update({ object_lock: JSON.stringify(config) });
    this.invalidate(bucket.name);
    if (n === 0)
      throw new S3Error(
        'InvalidBucketState',
        'Object Lock configuration cannot be enabled on a bucket without versioning Enabled.',
      );
  }

  /** PutBucketLifecycleConfiguration (a config) and DeleteBucketLifecycle (null). */
  async setLifecycle(bucket: Bucket, config: LifecycleConfig | null): Promise<void> {
    const n = await this.db('buckets')
      .where({ id: bucket.id })
      .update({ lifecycle: config === null ? null : JSON.stringify(config) });
    this.invalidate(bucket.name);
    if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
  }

  /** Buckets that have lifecycle rules, for the lifecycle worker. */
  async withLifecycle(): Promise<Bucket[]> {
    return (await this.db('buckets').whereNotNull('lifecycle').orderBy('id')).map(toBucket);
  }

  /** A bucket's JSON setting (null when unset). */
  async setting<T>(bucket: Bucket, column: BucketSetting): Promise<T | null> {
    const row = await this.db('buckets').where({ id: bucket.id }).first(column);
    if (!row) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    return (row[column] as T | null) ?? null;
  }

  async setSetting(bucket: Bucket, column: BucketSetting, value: unknown): Promise<void> {
    const n = await this.db('buckets')
      .where({ id: bucket.id })
      .update({ [column]: value === null ? null : JSON.stringify(value) });
    if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
  }

  /** CORS rules by bucket name, for preflights, which carry no credentials. */
  async corsRules<T>(name: string): Promise<T | null> {
    const row = await this.db('buckets').where({ name }).first('cors');
    return (row?.cors as T | null) ?? null;
  }
}
