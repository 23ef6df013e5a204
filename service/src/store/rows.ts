/** Row shapes of the objects, uploads and buckets tables, and their mapping to domain types. */
import { isChecksumAlgorithm } from '../integrity/checksums.js';
import type { SealedBlob } from '../blobs/sealer.js';
import type { LifecycleConfig } from './lifecycle.js';
import { retentionOf, type LockColumns } from './object-lock.js';
import type {
  Acl,
  Bucket,
  LayoutPart,
  ObjectHeaders,
  ObjectInfo,
  ObjectLockConfig,
  ObjectLockInput,
  ObjectOwnership,
  PublicAccessBlock,
  RetentionMode,
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

export interface ObjectRow extends HeaderColumns {
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
  acl?: Acl | null;
  version_id?: string;
  retain_mode?: RetentionMode | null;
  retain_until?: Date | null;
  legal_hold?: boolean;
}

/** A stored object as sealed pieces in order: one for a plain PUT, one per part for multipart. */
export interface StoredObject {
  info: ObjectInfo;
  pieces: Array<{ start: number; partNumber: number; blob: SealedBlob }>;
}

export function toInfo(row: ObjectRow): ObjectInfo {
  const checksums: ObjectInfo['checksums'] = {};
  for (const [alg, v] of Object.entries(row.checksums ?? {}))
    if (isChecksumAlgorithm(alg)) checksums[alg] = v;
  return {
    key: row.key.toString('utf8'),
    size: Number(row.size),
    etag: row.etag,
    lastModified: row.last_modified,
    ...headersOf(row),
    userMetadata: row.user_metadata ?? {},
    checksums,
    checksumType: row.checksum_type === 'COMPOSITE' ? 'COMPOSITE' : undefined,
    partsCount: row.layout ? row.layout.length : undefined,
    tags: row.tags ?? {},
    acl: row.acl ?? undefined,
    versionId: row.version_id,
    retention: retentionOf({
      retain_mode: row.retain_mode ?? null,
      retain_until: row.retain_until ?? null,
      legal_hold: !!row.legal_hold,
    }),
    legalHold: !!row.legal_hold,
  };
}

/** A new version's lock columns. */
export function lockColumns(lock: ObjectLockInput | undefined): LockColumns {
  return {
    retain_mode: lock?.retention?.mode ?? null,
    retain_until: lock?.retention?.until ?? null,
    legal_hold: lock?.legalHold ?? false,
  };
}

/** Each content header S3 stores: its field in the domain and its column in objects and uploads. */
const HEADER_FIELDS: ReadonlyArray<readonly [keyof ObjectHeaders, keyof HeaderColumns]> = [
  ['contentType', 'content_type'],
  ['contentEncoding', 'content_encoding'],
  ['contentDisposition', 'content_disposition'],
  ['contentLanguage', 'content_language'],
  ['cacheControl', 'cache_control'],
  ['expires', 'expires'],
];

/** The stored content headers of an object or upload, as their table columns. */
export function headerColumns(h: ObjectHeaders): HeaderColumns {
  return Object.fromEntries(
    HEADER_FIELDS.map(([field, column]) => [column, h[field] ?? null]),
  ) as unknown as HeaderColumns;
}

function headersOf(row: HeaderColumns): ObjectHeaders {
  return Object.fromEntries(HEADER_FIELDS.map(([field, column]) => [field, row[column] ?? undefined]));
}

/** Only the content headers of an object (what a copy with the COPY directive keeps). */
export function contentHeaders(h: ObjectHeaders): ObjectHeaders {
  return Object.fromEntries(HEADER_FIELDS.map(([field]) => [field, h[field]]));
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

export function toBucket(row: {
  id: string | number;
  name: string;
  owner: string;
  region: string;
  created_at: Date;
  versioning?: string | null;
  object_lock?: ObjectLockConfig | null;
  lifecycle?: LifecycleConfig | null;
  policy?: string | null;
  grant_statements?: unknown[][] | null;
  acl?: Acl | null;
  ownership?: ObjectOwnership | null;
  public_access_block?: PublicAccessBlock | null;
}): Bucket {
  const bucket: Bucket = {
    id: Number(row.id),
    name: row.name,
    owner: row.owner,
    region: row.region,
    createdAt: row.created_at,
  };
  if (row.versioning === 'Enabled' || row.versioning === 'Suspended') bucket.versioning = row.versioning;
  if (row.object_lock) bucket.objectLock = row.object_lock;
  if (row.lifecycle) bucket.lifecycle = row.lifecycle;
  if (row.policy) bucket.policy = row.policy;
  if (row.grant_statements?.length) bucket.grantStatements = row.grant_statements.flat();
  if (row.acl) bucket.acl = row.acl;
  if (row.ownership) bucket.ownership = row.ownership;
  if (row.public_access_block) bucket.publicAccessBlock = row.public_access_block;
  return bucket;
}
