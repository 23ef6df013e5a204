import type { IncomingMessage } from 'node:http';
import type { Authenticated } from '../auth/authenticate.js';
import type { CredentialProvider } from '../auth/credentials.js';
import { S3Error } from '../errors/s3-errors.js';
import type { AccessRequest, Grant, Principal, User } from '../authz/authorize.js';
import type { UserDirectory } from '../authz/policy.js';
import type { Bucket } from '../store/types.js';
import type { DigestPool } from '../integrity/digest-pool.js';
import type { Multipart } from '../store/multipart.js';
import type { Store } from '../store/store.js';

export interface S3Settings {
  region: string;
  enforcePayloadVerification: boolean;
  /** Whether Signature Version 2 is accepted. */
  signatureV2: boolean;
  /** Whole-body deadline for endpoints that take small documents; 0 disables it. */
  smallBodyTimeoutMs: number;
  /** How long a lifecycle "day" is (shortened for tests and demonstrations). */
  lifecycleDayMs: number;
}

/** One authenticated S3 request as the operation handlers see it. */
export interface S3Context {
  requestId: string;
  raw: IncomingMessage;
  method: string;
  bucket?: string;
  key?: string;
  /** Decoded query parameters; a repeated parameter keeps its first value. */
  query: Map<string, string>;
  auth: Authenticated;
  /** What the authorizer permitted, with the bucket it resolved (absent for account-level actions). */
  grant: Grant;
  /** The same decision for a second resource the operation touches (a copy's source), as this principal. */
  authorize(request: Omit<AccessRequest, 'principal'>): Promise<Grant>;
  /** The same decision for another principal: POST Object's, who signed the form's policy. */
  authorizeAs(principal: Principal, request: Omit<AccessRequest, 'principal'>): Promise<Grant>;
  /** Secrets and users by access key: POST Object verifies the signature inside its form. */
  signers: CredentialProvider;
  store: Store;
  multipart: Multipart;
  digests: DigestPool;
  settings: S3Settings;
  /** Users by canonical id and name: owners' display names, policies' principals. */
  users: UserDirectory;
}

export interface S3Response {
  status: number;
  headers?: Record<string, string | number>;
  /** A stream's iterator is given, with each `next()`, a promise of when the socket took the previous chunk. */
  body?: string | Buffer | AsyncIterable<Buffer>;
}

export function xmlResponse(
  body: string,
  status = 200,
  headers: Record<string, string | number> = {},
): S3Response {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body };
}

export function headerOf(ctx: S3Context, name: string): string | undefined {
  const v = ctx.raw.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** The bucket the authorizer resolved for this request; every bucket or object endpoint has one. */
export function bucketOf(ctx: Pick<S3Context, 'grant'>): Bucket {
  const bucket = ctx.grant.bucket;
  if (!bucket) throw new Error(`${ctx.grant.action} was authorized without a bucket`);
  return bucket;
}

/** The user making the request; account and owner operations are never authorized for anyone else. */
export function requesterOf(ctx: Pick<S3Context, 'grant'>): User {
  const p = ctx.grant.principal;
  if (p.kind !== 'user') throw new Error(`${ctx.grant.action} was authorized for a ${p.kind} principal`);
  return p.user;
}

/** Owner and Initiator elements: the user's canonical id, and its name as DisplayName. */
export function ownerXml(ctx: Pick<S3Context, 'users'>, canonicalId: string) {
  return { ID: canonicalId, DisplayName: ctx.users.userByCanonicalId(canonicalId)?.name ?? canonicalId };
}

/** Who started an upload, as Initiator reports it: a user's canonical id, or "anonymous". */
export function initiatorOf(ctx: Pick<S3Context, 'grant'>): string {
  const p = ctx.grant.principal;
  return p.kind === 'user' ? p.user.canonicalId : p.kind === 'admin' ? `admin:${p.username}` : 'anonymous';
}

/** The user behind a verified access key, or nobody for an unsigned request. */
export function principalOf(accessKeyId: string | undefined, credentials: CredentialProvider): Principal {
  if (accessKeyId === undefined) return { kind: 'anonymous' };
  const user = credentials.identityOf(accessKeyId);
  // Verified a moment ago, but its user went away in between: as if the key had never existed.
  if (!user) throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  return { kind: 'user', accessKeyId, user };
}
