/**
 * Read-only views for the management API: usage figures, buckets with their sizes, object details.
 * Mutations go through Store and Multipart so they keep every invariant S3 requests keep.
 */
import type { Knex } from 'knex';
import type { BlobBackend } from '../blobs/backend.js';
import type { LayoutPart } from '../store/types.js';
import { humanSize } from '../parse/human-size.js';
import { ApiError } from './errors.js';

export interface BucketSummary {
  name: string;
  region: string;
  /** The owning user's name. */
  owner: string;
  /** Seed 001's: the id of the owner's first credential (null when the user has none left). */
  owner_id: number | null;
  owner_access_key: string | null;
  owner_user_id: number;
  owner_canonical_id: string;
  created_at: Date;
  object_count: number;
  total_size: number;
  total_size_human: string;
  /** null (never versioned), Enabled or Suspended. */
  versioning: string | null;
  /** null without object lock; otherwise its default retention (null when there is none). */
  object_lock: { default_retention: { mode: string; days?: number; years?: number } | null } | null;
  lifecycle_rules: number;
}

/** What every object is sealed with (blobs/segments.ts): shown to operators and auditors, never a path. */
const ENCRYPTION = 'AES-256-GCM';

export class Inventory {
  constructor(
    private readonly db: Knex,
    private readonly backend: Pick<BlobBackend, 'kind'>,
  ) {}

  async stats() {
    const count = async (q: Knex.QueryBuilder) => Number((await q.count({ n: '*' }).first())?.n ?? 0);
    const storage = await this.db('objects').sum({ total: 'size' }).first();
    const total = Number(storage?.total ?? 0);
    return {
      credentials: await count(this.db('credentials')),
      buckets: await count(this.db('buckets')),
      objects: await count(this.db('objects')),
      total_storage: total,
      total_storage_human: humanSize(total),
      active_multipart_uploads: await count(this.db('uploads')),
      active_presigned_urls: await count(this.db('presigned_urls').where('expires_at', '>', new Date())),
    };
  }

  /** Every bucket, or those of one owner (by canonical id) or of one name. */
  async buckets(filter: { owner?: string; name?: string } = {}): Promise<BucketSummary[]> {
    const q = this.db('buckets as b')
      .join('users as u', 'u.canonical_id', 'b.owner')
      .select(
        'b.name',
        'b.region',
        'b.owner',
        'b.created_at',
        'b.versioning',
        'b.object_lock',
        'b.lifecycle',
        'u.id as user_id',
        'u.name as user_name',
        this.db.raw(
          '(SELECT c.id FROM credentials c WHERE c.user_id = u.id ORDER BY c.id LIMIT 1) AS owner_id',
        ),
        this.db.raw(
          '(SELECT c.access_key FROM credentials c WHERE c.user_id = u.id ORDER BY c.id LIMIT 1) AS owner_access_key',
        ),
        this.db.raw('(SELECT count(*) FROM objects o WHERE o.bucket_id = b.id) AS object_count'),
        this.db.raw('(SELECT coalesce(sum(size), 0) FROM objects o WHERE o.bucket_id = b.id) AS total_size'),
      )
      .orderBy('b.name');
    if (filter.owner) q.where('b.owner', filter.owner);
    if (filter.name) q.where('b.name', filter.name);
    const rows = await q;
    return rows.map((r) => ({
      name: r.name,
      region: r.region,
      owner: r.user_name,
      owner_id: r.owner_id === null ? null : Number(r.owner_id),
      owner_access_key: r.owner_access_key,
      owner_user_id: Number(r.user_id),
      owner_canonical_id: r.owner,
      created_at: r.created_at,
      object_count: Number(r.object_count),
      total_size: Number(r.total_size),
      total_size_human: humanSize(Number(r.total_size)),
      versioning: r.versioning ?? null,
      object_lock: r.object_lock ? { default_retention: r.object_lock.rule ?? null } : null,
      lifecycle_rules: r.lifecycle?.rules?.length ?? 0,
    }));
  }

  async bucket(name: string): Promise<BucketSummary> {
    const [b] = await this.buckets({ name });
    if (!b) throw new ApiError(404, 'NoSuchBucket', `The bucket ${name} does not exist`);
    return b;
  }

  async object(bucket: string, key: string) {
    const row = await this.db('objects as o')
      .join('buckets as b', 'b.id', 'o.bucket_id')
      .where({ 'b.name': bucket, 'o.key': Buffer.from(key, 'utf8') })
      .first('o.*');
    if (!row) throw new ApiError(404, 'NoSuchKey', `The object ${key} does not exist in ${bucket}`);
    const parts: LayoutPart[] | null = row.layout;
    const blobs = parts ? parts.length : row.blob_id ? 1 : 0;
    const wrapped = row.wrapped_key as Buffer;
    const size = Number(row.size);
    return {
      key,
      size,
      size_human: humanSize(size),
      content_type: row.content_type ?? 'application/octet-stream',
      etag: String(row.etag).replace(/"/g, ''),
      is_multipart: !!parts,
      // Every PUT makes a new version of the key; its time is both when this content was created and updated.
      created_at: row.last_modified,
      updated_at: row.last_modified,
      part_count: parts?.length ?? 0,
      metadata: row.user_metadata ?? {},
      tags: row.tags ?? {},
      // The ETag is the body's MD5 only for a single-part object; the others are what the client sent or asked for.
      checksums: { ...(parts ? {} : { md5: String(row.etag).replace(/"/g, '') }), ...(row.checksums ?? {}) },
      checksum_type: row.checksum_type ?? null,
      // Where the sealed bytes are, as a kind: small objects live sealed in their Postgres row.
      version_id: row.version_id,
      retention: row.retain_mode ? { mode: row.retain_mode, until: row.retain_until } : null,
      legal_hold: row.legal_hold,
      storage: { backend: blobs ? this.backend.kind : 'inline', blobs },
      encryption: {
        algorithm: ENCRYPTION,
        segment_size: row.segment_size,
        // Which master key wraps the data key (its fingerprint), so a rotation can be audited.
        master_key_id: wrapped.subarray(1, 5).toString('hex'),
      },
      encrypted: true,
    };
  }

  async uploads(bucket: string) {
    const rows = await this.db('uploads as u')
      .join('buckets as b', 'b.id', 'u.bucket_id')
      .leftJoin('users as i', 'i.canonical_id', 'u.initiator')
      .where('b.name', bucket)
      .select(
        'u.upload_id',
        'u.key',
        'u.initiator',
        'i.name as user_name',
        'u.content_type',
        'u.initiated_at',
        this.db.raw('(SELECT count(*) FROM parts p WHERE p.upload_id = u.upload_id) AS part_count'),
        this.db.raw(
          '(SELECT coalesce(sum(size), 0) FROM parts p WHERE p.upload_id = u.upload_id) AS total_size',
        ),
      )
      .orderBy([{ column: 'u.initiated_at' }, { column: 'u.upload_id' }]);
    return rows.map((r) => ({
      upload_id: r.upload_id,
      object_key: (r.key as Buffer).toString('utf8'),
      initiated_by: r.user_name ?? r.initiator,
      content_type: r.content_type ?? 'application/octet-stream',
      initiated_at: r.initiated_at,
      part_count: Number(r.part_count),
      total_size: Number(r.total_size),
      total_size_human: humanSize(Number(r.total_size)),
    }));
  }
}
