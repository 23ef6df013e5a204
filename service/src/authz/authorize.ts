import { S3Error } from '../errors/s3-errors.js';
import type { Bucket } from '../store/types.js';
import { ACCOUNT_ACTIONS, type S3Action } from './actions.js';

/** Who asks: an S3 credential (SigV4), or an admin acting through the management API or console. */
export type Principal = { kind: 'credential'; accessKeyId: string } | { kind: 'admin'; username: string };

/** What a bucket policy will be able to test; gathered once per request, unused by the owner rule. */
export interface RequestContext {
  /** The peer address of the connection (aws:SourceIp). */
  sourceIp?: string;
}

export interface AccessRequest {
  principal: Principal;
  action: S3Action;
  /** The resource: arn:aws:s3:::bucket, or arn:aws:s3:::bucket/key when `key` is set. */
  bucket?: string;
  key?: string;
  context?: RequestContext;
}

/** A permitted request, with the bucket it acts on resolved once for the handler and the store. */
export interface Grant {
  principal: Principal;
  action: S3Action;
  bucket?: Bucket;
}

/** How the authorizer finds a bucket by name (BucketStore, cached across requests). */
export interface BucketLookup {
  byName(name: string): Promise<Bucket | undefined>;
}

/**
 * The one place that decides whether a request may proceed. Today's rule: a bucket's owner may do
 * everything to it and what it holds, and an admin may do everything; ACLs, bucket policies, grants to
 * other credentials and object-lock bypass are further inputs here, never checks inside handlers.
 */
export class Authorizer {
  constructor(private readonly buckets: BucketLookup) {}

  async authorize(request: AccessRequest): Promise<Grant> {
    const { principal, action } = request;
    if (ACCOUNT_ACTIONS.has(action)) return { principal, action };
    if (request.bucket === undefined) throw new Error(`${action} names no bucket`);
    const bucket = await this.buckets.byName(request.bucket);
    // As AWS: a missing bucket is NoSuchBucket whoever asks; an existing one of someone else's is AccessDenied.
    if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: request.bucket });
    if (!mayAct(principal, bucket)) throw new S3Error('AccessDenied');
    return { principal, action, bucket };
  }
}

function mayAct(principal: Principal, bucket: Bucket): boolean {
  return principal.kind === 'admin' || principal.accessKeyId === bucket.owner;
}
