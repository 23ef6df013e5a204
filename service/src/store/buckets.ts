import type { Knex } from 'knex';
import type { ChangeRecorder } from '../audit/audit-log.js';
import type { ChangeSignals } from '../db/change-feed.js';
import { S3Error } from '../errors/s3-errors.js';
import { bucketNameProblem, regionProblem } from '../parse/bucket-names.js';
import type { NotificationRule } from '../events/rules.js';
import { targetNameOf } from '../events/targets.js';
import { changing } from './audited.js';
import { toBucket } from './rows.js';
import { dropUploads, type Trash } from './trash.js';
import type { LifecycleConfig } from './lifecycle.js';
import type { Acl, Bucket, ObjectLockConfig, ObjectOwnership, PublicAccessBlock } from './types.js';

/** What a grant to another user allows: read, write (new objects only) or both. */
export type GrantAccess = 'read' | 'write' | 'read-write';

export interface BucketGrant {
  id: number;
  userId: number;
  userName: string;
  access: GrantAccess;
  prefix: string;
  createdAt: Date;
}

/** Whether an ACL grants anything to anyone but `owner`: what disabling ACLs would silently take away. */
export function grantsOthers(acl: Acl, owner: string): boolean {
  return acl.grants.some((g) => !(g.grantee.type === 'CanonicalUser' && g.grantee.id === owner));
}

/** What a new bucket starts with when its creation does not say. */
export interface NewBucketDefaults {
  ownership?: ObjectOwnership;
  publicAccessBlock?: PublicAccessBlock;
}

/** AWS's defaults since April 2023: ACLs disabled, public access blocked. */
export const CURRENT_DEFAULTS: NewBucketDefaults = {
  ownership: 'BucketOwnerEnforced',
  publicAccessBlock: {
    BlockPublicAcls: true,
    IgnorePublicAcls: true,
    BlockPublicPolicy: true,
    RestrictPublicBuckets: true,
  },
};

/** The defaults older tools and Ceph RGW assume: ACLs honoured, objects owned by their writer, nothing blocked. */
export const LEGACY_DEFAULTS: NewBucketDefaults = { ownership: 'ObjectWriter' };

/** The bucket settings kept as JSON columns. */
export type BucketSetting = 'tags' | 'cors' | 'notification';

const CACHE_MAX = 10_000;
const BUCKET_COLUMNS = [
  'id',
  'name',
  'owner',
  'region',
  'created_at',
  'versioning',
  'object_lock',
  'lifecycle',
  'policy',
  'acl',
  'ownership',
  'public_access_block',
].map((c) => `b.${c}`);

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
    private readonly defaults: NewBucketDefaults = CURRENT_DEFAULTS,
    private readonly audit?: ChangeRecorder,
  ) {
    for (const table of ['buckets', 'bucket_grants']) changes?.onChange(table, () => this.invalidate());
  }

  /** A change of bucket settings, with the request's audit record in its transaction. */
  private changing<T>(work: (db: Knex) => Promise<T>): Promise<T> {
    return changing(this.db, this.audit, [{}], work);
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
    const row = await this.db('buckets as b')
      .where({ name })
      .first(
        ...BUCKET_COLUMNS,
        this.db.raw(
          '(SELECT jsonb_agg(g.statements ORDER BY g.id) FROM bucket_grants g WHERE g.bucket_id = b.id) AS grant_statements',
        ),
      );
    if (!row) return undefined;
    const bucket = toBucket(row);
    if (live && generation === this.generation) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(name, bucket);
    }
    return bucket;
  }

  /** Every bucket, or those one user (by canonical id) owns. */
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
    opts: { objectLock?: boolean; ownership?: ObjectOwnership; acl?: Acl } = {},
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
    const ownership = opts.ownership ?? this.defaults.ownership;
    if (ownership === 'BucketOwnerEnforced' && opts.acl && grantsOthers(opts.acl, owner))
      throw new S3Error('InvalidBucketAclWithObjectOwnership');
    const inserted = await this.changing(async (db) => {
      const rows = await db('buckets')
        .insert({
          name,
          owner,
          region: this.region,
          ownership: ownership ?? null,
          public_access_block: this.defaults.publicAccessBlock
            ? JSON.stringify(this.defaults.publicAccessBlock)
            : null,
          acl: opts.acl && ownership !== 'BucketOwnerEnforced' ? JSON.stringify(opts.acl) : null,
          ...(opts.objectLock ? { versioning: 'Enabled', object_lock: JSON.stringify({}) } : {}),
        })
        .onConflict('name')
        .ignore()
        .returning('*');
      // The name is taken: refused inside, so the transaction keeps no record of a change.
      if (!rows[0]) {
        const existing = await this.db('buckets').where({ name }).first('owner');
        throw new S3Error(
          existing?.owner === owner ? 'BucketAlreadyOwnedByYou' : 'BucketAlreadyExists',
          undefined,
          { BucketName: name },
        );
      }
      return rows;
    });
    this.invalidate(name);
    return toBucket(inserted[0]);
  }

  /**
   * Deletes an empty bucket and, as AWS and Ceph RGW do, its incomplete multipart uploads, in one
   * transaction; their parts' blobs are queued as trash in it and freed after the commit.
   */
  async delete(bucket: Bucket): Promise<void> {
    this.invalidate(bucket.name);
    let freed: string[];
    try {
      freed = await this.changing((db) =>
        db.transaction(async (trx) => {
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
        }),
      );
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
    await this.changing(async (db) => {
      const n = await db('buckets')
        .where({ id: bucket.id })
        .where((q) => (status === 'Enabled' ? q : q.whereNull('object_lock')))
        .update({ versioning: status });
      if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    }).finally(() => this.invalidate(bucket.name));
  }

  /**
   * PutObjectLockConfiguration: enables object lock on a versioning-enabled bucket (for good) and sets or
   * clears its default retention.
   */
  async setObjectLock(bucket: Bucket, config: ObjectLockConfig): Promise<void> {
    await this.changing(async (db) => {
      const n = await db('buckets')
        .where({ id: bucket.id, versioning: 'Enabled' })
        .update({ object_lock: JSON.stringify(config) });
      if (n === 0)
        throw new S3Error(
          'InvalidBucketState',
          'Object Lock configuration cannot be enabled on a bucket without versioning Enabled.',
        );
    }).finally(() => this.invalidate(bucket.name));
  }

  /** PutBucketLifecycleConfiguration (a config) and DeleteBucketLifecycle (null). */
  async setLifecycle(bucket: Bucket, config: LifecycleConfig | null): Promise<void> {
    await this.update(bucket, { lifecycle: config === null ? null : JSON.stringify(config) });
  }

  /** PutBucketPolicy (the document, already checked) and DeleteBucketPolicy (null). */
  async setPolicy(bucket: Bucket, policy: string | null): Promise<void> {
    await this.update(bucket, { policy });
  }

  /** PutBucketAcl. */
  async setAcl(bucket: Bucket, acl: Acl): Promise<void> {
    await this.update(bucket, { acl: JSON.stringify(acl) });
  }

  /** Put/DeleteBucketOwnershipControls; BucketOwnerEnforced also resets the ACL, as AWS ignores it from then on. */
  async setOwnership(bucket: Bucket, ownership: ObjectOwnership | null): Promise<void> {
    await this.update(bucket, ownership === 'BucketOwnerEnforced' ? { ownership, acl: null } : { ownership });
  }

  /** Put/DeletePublicAccessBlock. */
  async setPublicAccessBlock(bucket: Bucket, block: PublicAccessBlock | null): Promise<void> {
    await this.update(bucket, { public_access_block: block === null ? null : JSON.stringify(block) });
  }

  /** Changes settings columns of a bucket; every gateway's cache forgets it (the change feed). */
  private async update(bucket: Bucket, columns: Record<string, unknown>): Promise<void> {
    await this.changing(async (db) => {
      const n = await db('buckets').where({ id: bucket.id }).update(columns);
      if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    }).finally(() => this.invalidate(bucket.name));
  }

  /** The grants made on a bucket to other users, newest last. */
  async grants(bucket: Bucket): Promise<BucketGrant[]> {
    const rows = await this.db('bucket_grants as g')
      .join('users as u', 'u.id', 'g.user_id')
      .where('g.bucket_id', bucket.id)
      .orderBy('g.id')
      .select('g.id', 'g.user_id', 'u.name as user_name', 'g.access', 'g.prefix', 'g.created_at');
    return rows.map((r) => ({
      id: Number(r.id),
      userId: Number(r.user_id),
      userName: r.user_name,
      access: r.access,
      prefix: r.prefix,
      createdAt: r.created_at,
    }));
  }

  /** Grants `access` on a bucket (or a key prefix of it) to a user, replacing what that user had there. */
  async putGrant(
    bucket: Bucket,
    grant: { userId: number; access: GrantAccess; prefix: string; statements: unknown[] },
  ): Promise<void> {
    await this.changing((db) =>
      db('bucket_grants')
        .insert({
          bucket_id: bucket.id,
          user_id: grant.userId,
          access: grant.access,
          prefix: grant.prefix,
          statements: JSON.stringify(grant.statements),
        })
        .onConflict(['bucket_id', 'user_id', 'prefix'])
        .merge(['access', 'statements']),
    );
    this.invalidate(bucket.name);
  }

  /** Revokes one grant; false when there was none. */
  async deleteGrant(bucket: Bucket, id: number): Promise<boolean> {
    const n = await this.changing((db) => db('bucket_grants').where({ bucket_id: bucket.id, id }).delete());
    this.invalidate(bucket.name);
    return n > 0;
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
    await this.changing(async (db) => {
      const n = await db('buckets')
        .where({ id: bucket.id })
        .update({ [column]: value === null ? null : JSON.stringify(value) });
      if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    });
  }

  /**
   * PutBucketNotificationConfiguration (null removes it). Every rule must name a webhook target an admin
   * created for the bucket's owner, checked in the transaction that stores the rules.
   */
  async setNotification(bucket: Bucket, rules: NotificationRule[], region: string): Promise<void> {
    await this.changing(async (db) => {
      const names = [...new Set(rules.map((r) => targetNameOf(r.target, region) ?? ''))];
      const owned = new Set(
        await db('webhook_targets as t')
          .join('users as u', 'u.id', 't.user_id')
          .whereIn('t.name', names)
          .where('u.canonical_id', bucket.owner)
          .forShare()
          .pluck('t.name'),
      );
      const unknown = rules.filter((r) => !owned.has(targetNameOf(r.target, region) ?? ''));
      if (unknown.length)
        throw new S3Error('InvalidArgument', 'Unable to validate the following destination configurations', {
          ArgumentName: unknown[0]!.target,
          ArgumentValue: 'The destination is not a webhook target of the bucket owner',
        });
      const n = await db('buckets')
        .where({ id: bucket.id })
        .update({ notification: rules.length ? JSON.stringify({ rules }) : null });
      if (n === 0) throw new S3Error('NoSuchBucket', undefined, { BucketName: bucket.name });
    });
  }

  async notification(bucket: Bucket): Promise<NotificationRule[]> {
    return (await this.setting<{ rules: NotificationRule[] }>(bucket, 'notification'))?.rules ?? [];
  }

  /** CORS rules by bucket name, for preflights, which carry no credentials. */
  async corsRules<T>(name: string): Promise<T | null> {
    const row = await this.db('buckets').where({ name }).first('cors');
    return (row?.cors as T | null) ?? null;
  }
}
