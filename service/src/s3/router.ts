import type { S3Action } from '../authz/actions.js';
import type { S3Context, S3Response } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { copyObject } from './copy.js';
import { deleteBucketCors, getBucketCors, putBucketCors } from './cors.js';
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

export const ENDPOINTS: Endpoint[] = [
  sub('PutObjectTagging', 'PUT', 'object', 'tagging', 's3:PutObjectTagging', putObjectTagging),
  sub('GetObjectTagging', 'GET', 'object', 'tagging', 's3:GetObjectTagging', getObjectTagging),
  sub('DeleteObjectTagging', 'DELETE', 'object', 'tagging', 's3:DeleteObjectTagging', deleteObjectTagging),
  sub(
    'PutObjectTagging',
    'PUT',
    'object',
    ['tagging', 'versionId'],
    's3:PutObjectVersionTagging',
    putObjectTagging,
  ),
  sub(
    'GetObjectTagging',
    'GET',
    'object',
    ['tagging', 'versionId'],
    's3:GetObjectVersionTagging',
    getObjectTagging,
  ),
  sub(
    'DeleteObjectTagging',
    'DELETE',
    'object',
    ['tagging', 'versionId'],
    's3:DeleteObjectVersionTagging',
    deleteObjectTagging,
  ),
  sub('GetBucketVersioning', 'GET', 'bucket', 'versioning', 's3:GetBucketVersioning', getBucketVersioning),
  sub('PutBucketVersioning', 'PUT', 'bucket', 'versioning', 's3:PutBucketVersioning', putBucketVersioning),
  sub('ListObjectVersions', 'GET', 'bucket', 'versions', 's3:ListBucketVersions', listObjectVersions),
  sub('GetObject', 'GET', 'object', 'versionId', 's3:GetObjectVersion', getObject),
  sub('GetObject', 'GET', 'object', ['partNumber', 'versionId'], 's3:GetObjectVersion', getObject),
  sub('HeadObject', 'HEAD', 'object', 'versionId', 's3:GetObjectVersion', headObject),
  sub('HeadObject', 'HEAD', 'object', ['partNumber', 'versionId'], 's3:GetObjectVersion', headObject),
  sub('DeleteObject', 'DELETE', 'object', 'versionId', 's3:DeleteObjectVersion', deleteObject),
  sub(
    'GetObjectLockConfiguration',
    'GET',
    'bucket',
    'object-lock',
    's3:GetBucketObjectLockConfiguration',
    getObjectLockConfiguration,
  ),
  sub(
    'PutObjectLockConfiguration',
    'PUT',
    'bucket',
    'object-lock',
    's3:PutBucketObjectLockConfiguration',
    putObjectLockConfiguration,
  ),
  sub(
    'GetBucketLifecycleConfiguration',
    'GET',
    'bucket',
    'lifecycle',
    's3:GetLifecycleConfiguration',
    getBucketLifecycle,
  ),
  sub(
    'PutBucketLifecycleConfiguration',
    'PUT',
    'bucket',
    'lifecycle',
    's3:PutLifecycleConfiguration',
    putBucketLifecycle,
  ),
  // As on AWS, removing the rules needs the permission to set them.
  sub(
    'DeleteBucketLifecycle',
    'DELETE',
    'bucket',
    'lifecycle',
    's3:PutLifecycleConfiguration',
    deleteBucketLifecycle,
  ),
  ...[[], ['versionId']].flatMap((v) => [
    sub(
      'GetObjectRetention',
      'GET',
      'object',
      ['retention', ...v],
      's3:GetObjectRetention',
      getObjectRetention,
    ),
    sub(
      'PutObjectRetention',
      'PUT',
      'object',
      ['retention', ...v],
      's3:PutObjectRetention',
      putObjectRetention,
    ),
    sub(
      'GetObjectLegalHold',
      'GET',
      'object',
      ['legal-hold', ...v],
      's3:GetObjectLegalHold',
      getObjectLegalHold,
    ),
    sub(
      'PutObjectLegalHold',
      'PUT',
      'object',
      ['legal-hold', ...v],
      's3:PutObjectLegalHold',
      putObjectLegalHold,
    ),
  ]),
  sub('PutBucketCors', 'PUT', 'bucket', 'cors', 's3:PutBucketCORS', putBucketCors),
  sub('GetBucketCors', 'GET', 'bucket', 'cors', 's3:GetBucketCORS', getBucketCors),
  sub('DeleteBucketCors', 'DELETE', 'bucket', 'cors', 's3:PutBucketCORS', deleteBucketCors),
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
    handler: deleteObjects,
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
  { name: 'GetObject', method: 'GET', target: 'object', action: 's3:GetObject', handler: getObject },
  {
    name: 'GetObject',
    method: 'GET',
    target: 'object',
    subresources: ['partNumber'],
    action: 's3:GetObject',
    handler: getObject,
  },
  { name: 'HeadObject', method: 'HEAD', target: 'object', action: 's3:GetObject', handler: headObject },
  {
    name: 'HeadObject',
    method: 'HEAD',
    target: 'object',
    subresources: ['partNumber'],
    action: 's3:GetObject',
    handler: headObject,
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
  {
    name: 'DeleteObject',
    method: 'DELETE',
    target: 'object',
    action: 's3:DeleteObject',
    handler: deleteObject,
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
