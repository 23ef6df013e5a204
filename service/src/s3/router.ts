import type { S3Action } from '../authz/actions.js';
import type { S3Context, S3Response } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { copyObject } from './copy.js';
import { getBucketAcl, getObjectAcl, putBucketAcl, putObjectAcl } from './acl.js';
import {
  deleteOwnershipControls,
  deletePublicAccessBlock,
  getOwnershipControls,
  getPublicAccessBlock,
  putOwnershipControls,
  putPublicAccessBlock,
} from './ownership.js';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.js';
import { getBucketNotification, putBucketNotification } from './notification.js';
import {
  deleteBucketPolicy,
  getBucketPolicy,
  getBucketPolicyStatus,
  putBucketPolicy,
} from './bucket-policy.js';
import {
  deleteBucketTagging,
  deleteObjectTagging,
  getBucketTagging,
  getObjectTagging,
  putBucketTagging,
  putObjectTagging,
} from './tagging.js';
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from './buckets.js';
import { listObjectsV1, listObjectsV2 } from './list.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
  uploadPartCopy,
} from './multipart.js';
import { postObject } from './post-object.js';
import { deleteObject, deleteObjects, getObject, headObject, putObject } from './objects.js';
import { getBucketVersioning, listObjectVersions, putBucketVersioning } from './versioning.js';
import { deleteBucketLifecycle, getBucketLifecycle, putBucketLifecycle } from './lifecycle.js';
import {
  getObjectLegalHold,
  getObjectLockConfiguration,
  getObjectRetention,
  putObjectLegalHold,
  putObjectLockConfiguration,
  putObjectRetention,
} from './object-lock.js';

/** The resource an endpoint acts on: the account (service), a bucket, or an object in one. */
type Target = 'service' | 'bucket' | 'object';

export interface Endpoint {
  name: string;
  method: string;
  target: Target;
  /** The sub-resource query parameters that select this endpoint (all of them, and no others). */
  subresources?: string[];
  /** Extra discriminator (e.g. list-type=2, x-amz-copy-source). */
  when?: (ctx: RoutedRequest) => boolean;
  /** The IAM action the authorizer checks, on the resource `target` names. */
  action: S3Action;
  /**
   * When the decision is not the endpoint's action on the request's resource: `each-key`, the handler
   * decides each key its body names (DeleteObjects); `in-form`, the principal signs inside the body
   * (POST Object), so only the bucket is resolved before the handler authorizes it.
   */
  authorization?: 'each-key' | 'in-form';
  /** Object data of any size: only the idle bound applies to its body, not the small-body deadline. */
  streamsBody?: boolean;
  handler: (ctx: S3Context) => Promise<S3Response>;
}

/**
 * Every S3 sub-resource a client may name. A request naming one that no endpoint below serves is
 * answered NotImplemented, never routed to the plain operation (a GET ?acl must not list objects).
 */
export const SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'partNumber',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
  'renameObject',
  'metadataTable',
  'abac',
];

const hasHeader = (name: string) => (ctx: RoutedRequest) => ctx.raw.headers[name] !== undefined;
const lacksHeader = (name: string) => (ctx: RoutedRequest) => ctx.raw.headers[name] === undefined;

const sub = (
  name: string,
  method: string,
  target: Target,
  subresource: string | string[],
  action: S3Action,
  handler: Endpoint['handler'],
): Endpoint => ({ name, method, target, subresources: [subresource].flat(), action, handler });

/**
 * An object endpoint and its twin that names a version (`?versionId=`, the null version included), with
 * the action each performs (`versionAction` null: the same one).
 */
const versioned = (
  name: string,
  method: string,
  subresources: string[],
  action: S3Action,
  versionAction: S3Action | null,
  handler: Endpoint['handler'],
): Endpoint[] => [
  sub(name, method, 'object', subresources, action, handler),
  sub(name, method, 'object', [...subresources, 'versionId'], versionAction ?? action, handler),
];

/** The endpoints of one bucket sub-resource: [name, method, action, handler] each. */
const bucketSubs = (
  subresource: string,
  entries: Array<[string, string, S3Action, Endpoint['handler']]>,
): Endpoint[] =>
  entries.map(([name, method, action, handler]) => sub(name, method, 'bucket', subresource, action, handler));

export const ENDPOINTS: Endpoint[] = [
  ...versioned('GetObject', 'GET', [], 's3:GetObject', 's3:GetObjectVersion', getObject),
  ...versioned('GetObject', 'GET', ['partNumber'], 's3:GetObject', 's3:GetObjectVersion', getObject),
  ...versioned('HeadObject', 'HEAD', [], 's3:GetObject', 's3:GetObjectVersion', headObject),
  ...versioned('HeadObject', 'HEAD', ['partNumber'], 's3:GetObject', 's3:GetObjectVersion', headObject),
  ...versioned('DeleteObject', 'DELETE', [], 's3:DeleteObject', 's3:DeleteObjectVersion', deleteObject),
  ...versioned(
    'PutObjectTagging',
    'PUT',
    ['tagging'],
    's3:PutObjectTagging',
    's3:PutObjectVersionTagging',
    putObjectTagging,
  ),
  ...versioned(
    'GetObjectTagging',
    'GET',
    ['tagging'],
    's3:GetObjectTagging',
    's3:GetObjectVersionTagging',
    getObjectTagging,
  ),
  ...versioned(
    'DeleteObjectTagging',
    'DELETE',
    ['tagging'],
    's3:DeleteObjectTagging',
    's3:DeleteObjectVersionTagging',
    deleteObjectTagging,
  ),
  // Retention and legal hold are the same action whether or not the request names a version, as on AWS.
  ...versioned('GetObjectRetention', 'GET', ['retention'], 's3:GetObjectRetention', null, getObjectRetention),
  ...versioned('PutObjectRetention', 'PUT', ['retention'], 's3:PutObjectRetention', null, putObjectRetention),
  ...versioned(
    'GetObjectLegalHold',
    'GET',
    ['legal-hold'],
    's3:GetObjectLegalHold',
    null,
    getObjectLegalHold,
  ),
  ...versioned(
    'PutObjectLegalHold',
    'PUT',
    ['legal-hold'],
    's3:PutObjectLegalHold',
    null,
    putObjectLegalHold,
  ),
  ...bucketSubs('versioning', [
    ['GetBucketVersioning', 'GET', 's3:GetBucketVersioning', getBucketVersioning],
    ['PutBucketVersioning', 'PUT', 's3:PutBucketVersioning', putBucketVersioning],
  ]),
  ...bucketSubs('versions', [['ListObjectVersions', 'GET', 's3:ListBucketVersions', listObjectVersions]]),
  ...bucketSubs('object-lock', [
    ['GetObjectLockConfiguration', 'GET', 's3:GetBucketObjectLockConfiguration', getObjectLockConfiguration],
    ['PutObjectLockConfiguration', 'PUT', 's3:PutBucketObjectLockConfiguration', putObjectLockConfiguration],
  ]),
  ...bucketSubs('lifecycle', [
    ['GetBucketLifecycleConfiguration', 'GET', 's3:GetLifecycleConfiguration', getBucketLifecycle],
    ['PutBucketLifecycleConfiguration', 'PUT', 's3:PutLifecycleConfiguration', putBucketLifecycle],
    // As on AWS, removing the rules needs the permission to set them.
    ['DeleteBucketLifecycle', 'DELETE', 's3:PutLifecycleConfiguration', deleteBucketLifecycle],
  ]),
  ...versioned('GetObjectAcl', 'GET', ['acl'], 's3:GetObjectAcl', 's3:GetObjectVersionAcl', getObjectAcl),
  ...versioned('PutObjectAcl', 'PUT', ['acl'], 's3:PutObjectAcl', 's3:PutObjectVersionAcl', putObjectAcl),
  ...bucketSubs('acl', [
    ['GetBucketAcl', 'GET', 's3:GetBucketAcl', getBucketAcl],
    ['PutBucketAcl', 'PUT', 's3:PutBucketAcl', putBucketAcl],
  ]),
  ...bucketSubs('ownershipControls', [
    ['GetBucketOwnershipControls', 'GET', 's3:GetBucketOwnershipControls', getOwnershipControls],
    ['PutBucketOwnershipControls', 'PUT', 's3:PutBucketOwnershipControls', putOwnershipControls],
    // As on AWS, removing the controls needs the permission to set them.
    ['DeleteBucketOwnershipControls', 'DELETE', 's3:PutBucketOwnershipControls', deleteOwnershipControls],
  ]),
  ...bucketSubs('publicAccessBlock', [
    ['GetPublicAccessBlock', 'GET', 's3:GetBucketPublicAccessBlock', getPublicAccessBlock],
    ['PutPublicAccessBlock', 'PUT', 's3:PutBucketPublicAccessBlock', putPublicAccessBlock],
    ['DeletePublicAccessBlock', 'DELETE', 's3:PutBucketPublicAccessBlock', deletePublicAccessBlock],
  ]),
  ...bucketSubs('policy', [
    ['GetBucketPolicy', 'GET', 's3:GetBucketPolicy', getBucketPolicy],
    ['PutBucketPolicy', 'PUT', 's3:PutBucketPolicy', putBucketPolicy],
    ['DeleteBucketPolicy', 'DELETE', 's3:DeleteBucketPolicy', deleteBucketPolicy],
  ]),
  ...bucketSubs('policyStatus', [
    ['GetBucketPolicyStatus', 'GET', 's3:GetBucketPolicyStatus', getBucketPolicyStatus],
  ]),
  sub('PutBucketCors', 'PUT', 'bucket', 'cors', 's3:PutBucketCORS', putBucketCors),
  sub('GetBucketCors', 'GET', 'bucket', 'cors', 's3:GetBucketCORS', getBucketCors),
  sub('DeleteBucketCors', 'DELETE', 'bucket', 'cors', 's3:PutBucketCORS', deleteBucketCors),
  sub(
    'PutBucketNotificationConfiguration',
    'PUT',
    'bucket',
    'notification',
    's3:PutBucketNotification',
    putBucketNotification,
  ),
  sub(
    'GetBucketNotificationConfiguration',
    'GET',
    'bucket',
    'notification',
    's3:GetBucketNotification',
    getBucketNotification,
  ),
  sub('PutBucketTagging', 'PUT', 'bucket', 'tagging', 's3:PutBucketTagging', putBucketTagging),
  sub('GetBucketTagging', 'GET', 'bucket', 'tagging', 's3:GetBucketTagging', getBucketTagging),
  sub('DeleteBucketTagging', 'DELETE', 'bucket', 'tagging', 's3:PutBucketTagging', deleteBucketTagging),
  {
    name: 'ListBuckets',
    method: 'GET',
    target: 'service',
    action: 's3:ListAllMyBuckets',
    handler: listBuckets,
  },
  {
    name: 'CreateBucket',
    method: 'PUT',
    target: 'bucket',
    action: 's3:CreateBucket',
    handler: createBucket,
  },
  { name: 'HeadBucket', method: 'HEAD', target: 'bucket', action: 's3:ListBucket', handler: headBucket },
  {
    name: 'DeleteBucket',
    method: 'DELETE',
    target: 'bucket',
    action: 's3:DeleteBucket',
    handler: deleteBucket,
  },
  {
    name: 'GetBucketLocation',
    method: 'GET',
    target: 'bucket',
    subresources: ['location'],
    action: 's3:GetBucketLocation',
    handler: getBucketLocation,
  },
  {
    name: 'ListObjectsV2',
    method: 'GET',
    target: 'bucket',
    when: (ctx) => ctx.query.get('list-type') === '2',
    action: 's3:ListBucket',
    handler: listObjectsV2,
  },
  {
    name: 'ListObjects',
    method: 'GET',
    target: 'bucket',
    when: (ctx) => !ctx.query.has('list-type'),
    action: 's3:ListBucket',
    handler: listObjectsV1,
  },
  {
    name: 'DeleteObjects',
    method: 'POST',
    target: 'bucket',
    subresources: ['delete'],
    action: 's3:DeleteObject',
    authorization: 'each-key',
    handler: deleteObjects,
  },
  {
    name: 'PostObject',
    method: 'POST',
    target: 'bucket',
    when: (ctx) => /^multipart\/form-data/i.test(String(ctx.raw.headers['content-type'] ?? '')),
    action: 's3:PutObject',
    authorization: 'in-form',
    streamsBody: true,
    handler: postObject,
  },
  {
    name: 'CopyObject',
    method: 'PUT',
    target: 'object',
    when: hasHeader('x-amz-copy-source'),
    action: 's3:PutObject',
    handler: copyObject,
  },
  {
    name: 'PutObject',
    method: 'PUT',
    target: 'object',
    when: lacksHeader('x-amz-copy-source'),
    action: 's3:PutObject',
    streamsBody: true,
    handler: putObject,
  },
  {
    name: 'CreateMultipartUpload',
    method: 'POST',
    target: 'object',
    subresources: ['uploads'],
    action: 's3:PutObject',
    handler: createMultipartUpload,
  },
  {
    name: 'UploadPartCopy',
    method: 'PUT',
    target: 'object',
    subresources: ['partNumber', 'uploadId'],
    when: hasHeader('x-amz-copy-source'),
    action: 's3:PutObject',
    handler: uploadPartCopy,
  },
  {
    name: 'UploadPart',
    method: 'PUT',
    target: 'object',
    subresources: ['partNumber', 'uploadId'],
    when: lacksHeader('x-amz-copy-source'),
    action: 's3:PutObject',
    streamsBody: true,
    handler: uploadPart,
  },
  {
    name: 'CompleteMultipartUpload',
    method: 'POST',
    target: 'object',
    subresources: ['uploadId'],
    action: 's3:PutObject',
    handler: completeMultipartUpload,
  },
  {
    name: 'AbortMultipartUpload',
    method: 'DELETE',
    target: 'object',
    subresources: ['uploadId'],
    action: 's3:AbortMultipartUpload',
    handler: abortMultipartUpload,
  },
  {
    name: 'ListParts',
    method: 'GET',
    target: 'object',
    subresources: ['uploadId'],
    action: 's3:ListMultipartUploadParts',
    handler: listParts,
  },
  {
    name: 'ListMultipartUploads',
    method: 'GET',
    target: 'bucket',
    subresources: ['uploads'],
    action: 's3:ListBucketMultipartUploads',
    handler: listMultipartUploads,
  },
];

/** What routing looks at: the request's shape, never its authentication. */
export type RoutedRequest = Pick<S3Context, 'raw' | 'method' | 'bucket' | 'key' | 'query'>;

function targetOf(ctx: RoutedRequest): Target {
  if (ctx.bucket === undefined) return 'service';
  return ctx.key === undefined || ctx.key === '' ? 'bucket' : 'object';
}

function namedSubresources(ctx: RoutedRequest): string[] {
  return SUBRESOURCES.filter((s) => ctx.query.has(s));
}

/** A name for the log when no endpoint serves the request, e.g. `GET bucket ?acl`. */
export function describeUnrouted(ctx: RoutedRequest): string {
  const named = namedSubresources(ctx);
  return `${ctx.method} ${targetOf(ctx)}${named.length ? ' ?' + named.join('&') : ''}`;
}

/** Whether `e` serves the request: same method and target, exactly its sub-resources, and its discriminator. */
export function serves(e: Endpoint, ctx: RoutedRequest): boolean {
  return servesShape(e, ctx, targetOf(ctx), namedSubresources(ctx));
}

function servesShape(e: Endpoint, ctx: RoutedRequest, target: Target, named: string[]): boolean {
  const wanted = e.subresources ?? [];
  return (
    e.method === ctx.method &&
    e.target === target &&
    named.length === wanted.length &&
    wanted.every((w) => named.includes(w)) &&
    (!e.when || e.when(ctx))
  );
}

/** The one endpoint serving the request; `table` is a parameter so a test can prove order does not matter. */
export function route(ctx: RoutedRequest, table: readonly Endpoint[] = ENDPOINTS): Endpoint {
  const target = targetOf(ctx);
  const named = namedSubresources(ctx);
  const found = table.find((e) => servesShape(e, ctx, target, named));
  if (found) return found;
  if (named.length > 0 || ctx.query.has('list-type')) {
    throw new S3Error(
      'NotImplemented',
      `${ctx.method} with ${named.join(', ') || 'list-type'} is not implemented.`,
    );
  }
  throw new S3Error('MethodNotAllowed', `${ctx.method} is not allowed on this resource.`, {
    Method: ctx.method,
    ResourceType: target.toUpperCase(),
  });
}
