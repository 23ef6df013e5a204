import { S3Error } from '../errors/s3-errors.js';
import type { Acl, Bucket } from '../store/types.js';
import { aclPermits, bucketAclPermission, objectAclPermission } from './acl.js';
import { ACCOUNT_ACTIONS, type S3Action } from './actions.js';
import {
  evaluate,
  mayAllow,
  namedConditionKeys,
  parseStatement,
  type PolicyRequest,
  type Statement,
} from './policy.js';

/** A user as the authorizer knows it: policies and grants name users, never their access keys. */
export interface User {
  canonicalId: string;
  name: string;
}

/**
 * Who asks: a user through one of its access keys, nobody (an unsigned request), or an admin acting
 * through the management API or console.
 */
export type Principal =
  | { kind: 'user'; accessKeyId: string; user: User }
  | { kind: 'anonymous' }
  | { kind: 'admin'; username: string };

/** What policy conditions can test, gathered once per request. */
export interface RequestContext {
  /** Condition keys (lower-cased) and their values: aws:SourceIp, s3:prefix, s3:x-amz-acl, ... */
  values?: ReadonlyMap<string, readonly string[]>;
  /**
   * The object acted on (its tags and ACL), loaded only when a statement tests s3:ExistingObjectTag/<key>
   * or an object ACL is consulted; undefined when there is no such object.
   */
  existingObject?: (
    bucket: Bucket,
    key: string,
  ) => Promise<{ tags?: Record<string, string>; acl?: Acl } | undefined>;
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
  /**
   * Permitted only as a write that creates: a create-only grant met by a request without If-None-Match.
   * The handler writes as if it had been sent, and an existing object is refused, never replaced.
   */
  onlyIfAbsent?: boolean;
}

/** How the authorizer finds a bucket by name (BucketStore, cached across requests). */
export interface BucketLookup {
  byName(name: string): Promise<Bucket | undefined>;
}

/** An owner is never locked out of its own bucket's policy (as AWS's root user is not). */
const OWNER_ALWAYS: ReadonlySet<S3Action> = new Set([
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
]);

/** Writes that a create-only grant permits when they are made conditional on the key being absent. */
const CREATE_ONLY_ACTIONS: ReadonlySet<S3Action> = new Set([
  's3:PutObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
]);

const EXISTING_TAG = 's3:existingobjecttag/';

/**
 * What nobody may do to a bucket the compliance-archive preset keeps, not its owner and not an admin:
 * delete it, hide its objects behind delete markers (a version whose retention ended is still removed
 * by its version id), or change what protects it (versioning, object lock, lifecycle, public access,
 * ACLs, policy and grants). Only the deployment's settings change these, and only stricter.
 */
export const FROZEN_ACTIONS: ReadonlySet<S3Action> = new Set([
  's3:DeleteBucket',
  's3:DeleteObject',
  's3:PutBucketVersioning',
  's3:PutBucketObjectLockConfiguration',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPublicAccessBlock',
  's3:PutBucketOwnershipControls',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketAcl',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
]);

/**
 * The one place that decides whether a request may proceed. Inputs: the bucket's owner (who may do
 * everything, as an account's root may), the bucket policy and the grants to other users (one engine;
 * an explicit Deny wins, even over the owner), and admins (who may do everything).
 */
export class Authorizer {
  /** Parsed statements per bucket object: the bucket cache hands out the same object until it changes. */
  private readonly compiled = new WeakMap<Bucket, CompiledPolicy>();

  /** `frozen`: the buckets a preset keeps, on which FROZEN_ACTIONS are denied to everyone. */
  constructor(
    private readonly buckets: BucketLookup,
    private readonly frozen: ReadonlySet<string> = new Set(),
  ) {}

  /** An explicit deny above every policy, owner and admin: the preset's, not the bucket's. */
  private checkFrozen(bucket: Bucket, action: S3Action): void {
    if (this.frozen.has(bucket.name) && FROZEN_ACTIONS.has(action))
      throw new S3Error(
        'AccessDenied',
        `Bucket ${bucket.name} is kept by the compliance-archive preset: ${action} is denied to everyone.`,
      );
  }

  /**
   * The bucket of an operation that names many keys (DeleteObjects), each then decided by `authorize`.
   * Refused here already when nothing could permit the action to this principal on any key, so a
   * stranger is refused before its request body is read, as for every other endpoint.
   */
  async authorizeAnyKey(request: AccessRequest): Promise<Grant> {
    const { principal, action } = request;
    const bucket = await this.resolve(request);
    this.checkFrozen(bucket, action);
    const grant = { principal, action, bucket };
    if (principal.kind === 'admin') return grant;
    const requester = principal.kind === 'user' ? principal.user : undefined;
    if (requester?.canonicalId === bucket.owner) return grant;
    if (this.policyOf(bucket).statements.some((s) => mayAllow(s, requester, action))) return grant;
    const onBucket = bucketAclPermission(action);
    const acls = bucket.ownership !== 'BucketOwnerEnforced' && bucket.acl && onBucket;
    if (acls && aclPermits(bucket.acl!, requester, onBucket, !!bucket.publicAccessBlock?.IgnorePublicAcls))
      return grant;
    throw new S3Error('AccessDenied');
  }

  /**
   * The bucket of a request whose principal signs inside its body (POST Object): nothing is permitted
   * yet; the handler asks `authorize` as that principal once the form is read.
   */
  async resolveForForm(request: AccessRequest): Promise<Grant> {
    return { principal: request.principal, action: request.action, bucket: await this.resolve(request) };
  }

  /** The bucket a request names; as AWS, a missing one is NoSuchBucket whoever asks. */
  private async resolve(request: AccessRequest): Promise<Bucket> {
    if (request.bucket === undefined) throw new Error(`${request.action} names no bucket`);
    const bucket = await this.buckets.byName(request.bucket);
    if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: request.bucket });
    return bucket;
  }

  async authorize(request: AccessRequest): Promise<Grant> {
    const { principal, action } = request;
    if (ACCOUNT_ACTIONS.has(action)) {
      if (principal.kind === 'anonymous') throw new S3Error('AccessDenied');
      return { principal, action };
    }
    // A missing bucket is NoSuchBucket whoever asks; an existing one of someone else's is AccessDenied.
    const bucket = await this.resolve(request);
    this.checkFrozen(bucket, action);
    if (principal.kind === 'admin') return { principal, action, bucket };
    const owner = principal.kind === 'user' && principal.user.canonicalId === bucket.owner;
    const { statements, testsExistingTags } = this.policyOf(bucket);
    if (owner && statements.length === 0) return { principal, action, bucket };
    const requester = principal.kind === 'user' ? principal.user : undefined;
    const load = request.context?.existingObject;
    const key = request.key;
    const existing = once(load && key !== undefined ? () => load(bucket, key) : undefined);
    const policyRequest: PolicyRequest = {
      requester,
      action,
      resource: `arn:aws:s3:::${bucket.name}${request.key === undefined ? '' : '/' + request.key}`,
      values: await withExistingTags(testsExistingTags, request.context?.values, existing),
    };
    const decision = evaluate(statements, policyRequest);
    if (decision === 'Deny' && !(owner && OWNER_ALWAYS.has(action))) throw new S3Error('AccessDenied');
    if (owner) return { principal, action, bucket };
    // RestrictPublicBuckets: what a policy opens to everyone stays closed to anonymous requests.
    const restricted = !requester && !!bucket.publicAccessBlock?.RestrictPublicBuckets;
    if (decision === 'Allow' && !restricted) return { principal, action, bucket };
    if (await this.aclAllows(bucket, request, requester, existing)) return { principal, action, bucket };
    if (!restricted && CREATE_ONLY_ACTIONS.has(action) && !policyRequest.values.has('s3:if-none-match')) {
      const values = new Map(policyRequest.values).set('s3:if-none-match', ['*']);
      if (evaluate(statements, { ...policyRequest, values }) === 'Allow')
        return { principal, action, bucket, onlyIfAbsent: true };
    }
    throw new S3Error('AccessDenied');
  }

  /** ACLs count unless the bucket disables them (BucketOwnerEnforced); public grants unless ignored. */
  private async aclAllows(
    bucket: Bucket,
    request: AccessRequest,
    requester: User | undefined,
    existing: () => Promise<{ acl?: Acl } | undefined>,
  ): Promise<boolean> {
    if (bucket.ownership === 'BucketOwnerEnforced') return false;
    const ignorePublic = !!bucket.publicAccessBlock?.IgnorePublicAcls;
    const onBucket = bucketAclPermission(request.action);
    if (onBucket && bucket.acl && aclPermits(bucket.acl, requester, onBucket, ignorePublic)) return true;
    const onObject = objectAclPermission(request.action);
    if (!onObject || request.key === undefined) return false;
    const acl = (await existing())?.acl;
    return !!acl && aclPermits(acl, requester, onObject, ignorePublic);
  }

  private policyOf(bucket: Bucket): CompiledPolicy {
    let policy = this.compiled.get(bucket);
    if (!policy) {
      // Checked when put; compiled here without the user directory (a deleted user simply matches nobody).
      const doc = bucket.policy ? (JSON.parse(bucket.policy) as { Statement: unknown }).Statement : [];
      const raw = [...(Array.isArray(doc) ? doc : [doc]), ...(bucket.grantStatements ?? [])];
      const statements = raw.map((s) => parseStatement(s, bucket.name, undefined));
      const testsExistingTags = [...namedConditionKeys(statements)].some((k) => k.startsWith(EXISTING_TAG));
      policy = { statements, testsExistingTags };
      this.compiled.set(bucket, policy);
    }
    return policy;
  }
}

/** A bucket's policy and grants, parsed and compiled once per cached bucket. */
interface CompiledPolicy {
  statements: Statement[];
  /** Whether some statement tests s3:ExistingObjectTag/<key> (the object is then loaded). */
  testsExistingTags: boolean;
}

/** The request's condition values, plus existing-object tags when some statement tests them. */
async function withExistingTags(
  wanted: boolean,
  values: ReadonlyMap<string, readonly string[]> = new Map(),
  existing: () => Promise<{ tags?: Record<string, string> } | undefined>,
): Promise<ReadonlyMap<string, readonly string[]>> {
  if (!wanted) return values;
  const withTags = new Map(values);
  for (const [k, v] of Object.entries((await existing())?.tags ?? {}))
    withTags.set(EXISTING_TAG + k.toLowerCase(), [v]);
  return withTags;
}

/** Loads at most once, and not at all when nothing asks. */
function once<T>(load: (() => Promise<T>) | undefined): () => Promise<T | undefined> {
  let loaded: Promise<T> | undefined;
  return () => (load ? (loaded ??= load()) : Promise.resolve(undefined));
}
