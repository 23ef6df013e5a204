import type { LifecycleConfig } from './lifecycle.js';
import type { ChecksumAlgorithm } from '../integrity/checksums.js';

export interface Bucket {
  id: number;
  name: string;
  owner: string;
  region: string;
  createdAt: Date;
  /** S3 versioning: absent for a bucket that was never versioned (it can never return to that state). */
  versioning?: 'Enabled' | 'Suspended';
  /** Present once object lock is enabled (it never goes away), with the default retention if any. */
  objectLock?: ObjectLockConfig;
  lifecycle?: LifecycleConfig;
  /** The bucket policy document as it was put (JSON text). */
  policy?: string;
  /** Statements of the grants made to other users (management API), in bucket policy form. */
  grantStatements?: unknown[];
  /** The bucket's ACL; absent means the owner alone (the private canned ACL). */
  acl?: Acl;
  /** Absent for a bucket without ownership controls (ACLs honoured, objects owned by their writer). */
  ownership?: ObjectOwnership;
  publicAccessBlock?: PublicAccessBlock;
}

export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

export type AclPermission = 'FULL_CONTROL' | 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP';

/** A grantee: a user by canonical id, or one of S3's predefined groups by URI. */
export type AclGrantee = { type: 'CanonicalUser'; id: string } | { type: 'Group'; uri: string };

/** An access control list as S3 keeps it: an owner and its grants (the owner's own included). */
export interface Acl {
  owner: string;
  grants: Array<{ grantee: AclGrantee; permission: AclPermission }>;
}

export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

/** A version may not be deleted, nor its retention weakened, before `until` (GOVERNANCE: unless bypassed). */
export interface Retention {
  mode: RetentionMode;
  until: Date;
}

export interface ObjectLockConfig {
  /** Applied to every new version written without explicit retention. */
  rule?: { mode: RetentionMode; days?: number; years?: number };
}

/** What a write asks for: explicit retention (or the bucket's default), and a legal hold. */
export interface ObjectLockInput {
  retention?: Retention;
  legalHold: boolean;
}

/** Headers S3 stores with an object and returns on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
}

export interface ObjectInfo extends ObjectHeaders {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  userMetadata: Record<string, string>;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** COMPOSITE for a multipart object's checksum of part checksums, FULL_OBJECT otherwise. */
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
  /** Set for objects completed from a multipart upload. */
  partsCount?: number;
  tags?: Record<string, string>;
  /** Absent: the private ACL of the bucket owner. */
  acl?: Acl;
  /** `null` for the null version; reported only by buckets that have versioning configured. */
  versionId?: string;
  retention?: Retention;
  legalHold?: boolean;
}

/** One part of a multipart object, as its row's `layout` keeps it. */
export interface LayoutPart {
  partNumber: number;
  size: number;
  etag: string;
  blobId: string;
  /** base64 */
  wrappedKey: string;
  segmentSize: number;
  checksum?: string;
}

/** If-None-Match: * (only create) or If-Match: etag (only replace that version), checked atomically at commit. */
export interface WriteCondition {
  ifNoneMatch?: boolean;
  ifMatch?: string;
  /** ifNoneMatch comes from a create-only grant, not the client: an existing key is AccessDenied, not 412. */
  byGrant?: boolean;
}

export interface PutObjectInput extends ObjectHeaders {
  key: string;
  /** The new object's ACL (absent: owned by the bucket owner, private). */
  acl?: Acl;
  lock?: ObjectLockInput;
  condition?: WriteCondition;
  tags?: Record<string, string>;
  userMetadata: Record<string, string>;
  body: AsyncIterable<Buffer>;
  /** The body's length when the request declared it: sealing then needs no look-ahead. */
  size?: number;
  /**
   * Called once the body is consumed and sealed, before the metadata commit. It checks every digest the
   * request declared and returns the object's ETag and checksums; throwing stores nothing.
   */
  finalize(): Promise<{ etag: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }>;
}

export interface ListInput {
  prefix: string;
  delimiter: string;
  maxKeys: number;
  /** List entries strictly after this key (marker, start-after, or decoded continuation token). */
  after: string;
}

export interface ListResult {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page continues from. */
  lastEntry?: string;
}

export interface DeleteResult {
  key: string;
  deleted: boolean;
  /** For versioned deletes: the version removed, or the delete marker added. */
  versionId?: string;
  deleteMarker?: boolean;
  /** Why this one was not deleted (object lock), as the S3 error DeleteObjects reports for it. */
  error?: { code: string; message: string };
}
