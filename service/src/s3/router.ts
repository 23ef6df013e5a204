import type { S3Context, S3Response } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { copyObject, uploadPartCopy } from './copy.js';
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
} from './multipart.js';
import { deleteObject, deleteObjects, getObject, headObject, putObject } from './objects.js';

type Target = 'service' | 'bucket' | 'object';
export type Permission = 'list-buckets' | 'bucket-admin' | 'bucket-read' | 'object-read' | 'object-write';

export interface Endpoint {
  name: string;
  method: string;
  target: Target;
  /** The sub-resource query parameters that select this endpoint (all of them, and no others). */
  subresources?: string[];
  /** Extra discriminator (e.g. list-type=2, x-amz-copy-source). */
  when?: (ctx: RoutedRequest) => boolean;
  permission: Permission;
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
  subresource: string,
  permission: Permission,
  handler: Endpoint['handler'],
): Endpoint => ({ name, method, target, subresources: [subresource], permission, handler });

export const ENDPOINTS: Endpoint[] = [
  sub('PutObjectTagging', 'PUT', 'object', 'tagging', 'object-write', putObjectTagging),
  sub('GetObjectTagging', 'GET', 'object', 'tagging', 'object-read', getObjectTagging),
  sub('DeleteObjectTagging', 'DELETE', 'object', 'tagging', 'object-write', deleteObjectTagging),
  sub('PutBucketCors', 'PUT', 'bucket', 'cors', 'bucket-admin', putBucketCors),
  sub('GetBucketCors', 'GET', 'bucket', 'cors', 'bucket-read', getBucketCors),
  sub('DeleteBucketCors', 'DELETE', 'bucket', 'cors', 'bucket-admin', deleteBucketCors),
  sub('PutBucketTagging', 'PUT', 'bucket', 'tagging', 'bucket-admin', putBucketTagging),
  sub('GetBucketTagging', 'GET', 'bucket', 'tagging', 'bucket-read', getBucketTagging),
  sub('DeleteBucketTagging', 'DELETE', 'bucket', 'tagging', 'bucket-admin', deleteBucketTagging),
  { name: 'ListBuckets', method: 'GET', target: 'service', permission: 'list-buckets', handler: listBuckets },
  {
    name: 'CreateBucket',
    method: 'PUT',
    target: 'bucket',
    permission: 'bucket-admin',
    handler: createBucket,
  },
  { name: 'HeadBucket', method: 'HEAD', target: 'bucket', permission: 'bucket-read', handler: headBucket },
  {
    name: 'DeleteBucket',
    method: 'DELETE',
    target: 'bucket',
    permission: 'bucket-admin',
    handler: deleteBucket,
  },
  {
    name: 'GetBucketLocation',
    method: 'GET',
    target: 'bucket',
    subresources: ['location'],
    permission: 'bucket-read',
    handler: getBucketLocation,
  },
  {
    name: 'ListObjectsV2',
    method: 'GET',
    target: 'bucket',
    when: (ctx) => ctx.query.get('list-type') === '2',
    permission: 'bucket-read',
    handler: listObjectsV2,
  },
  {
    name: 'ListObjects',
    method: 'GET',
    target: 'bucket',
    when: (ctx) => !ctx.query.has('list-type'),
    permission: 'bucket-read',
    handler: listObjectsV1,
  },
  {
    name: 'DeleteObjects',
    method: 'POST',
    target: 'bucket',
    subresources: ['delete'],
    permission: 'object-write',
    handler: deleteObjects,
  },
  {
    name: 'CopyObject',
    method: 'PUT',
    target: 'object',
    when: hasHeader('x-amz-copy-source'),
    permission: 'object-write',
    handler: copyObject,
  },
  {
    name: 'PutObject',
    method: 'PUT',
    target: 'object',
    when: lacksHeader('x-amz-copy-source'),
    permission: 'object-write',
    streamsBody: true,
    handler: putObject,
  },
  { name: 'GetObject', method: 'GET', target: 'object', permission: 'object-read', handler: getObject },
  {
    name: 'GetObject',
    method: 'GET',
    target: 'object',
    subresources: ['partNumber'],
    permission: 'object-read',
    handler: getObject,
  },
  { name: 'HeadObject', method: 'HEAD', target: 'object', permission: 'object-read', handler: headObject },
  {
    name: 'HeadObject',
    method: 'HEAD',
    target: 'object',
    subresources: ['partNumber'],
    permission: 'object-read',
    handler: headObject,
  },
  {
    name: 'CreateMultipartUpload',
    method: 'POST',
    target: 'object',
    subresources: ['uploads'],
    permission: 'object-write',
    handler: createMultipartUpload,
  },
  {
    name: 'UploadPartCopy',
    method: 'PUT',
    target: 'object',
    subresources: ['partNumber', 'uploadId'],
    when: hasHeader('x-amz-copy-source'),
    permission: 'object-write',
    handler: uploadPartCopy,
  },
  {
    name: 'UploadPart',
    method: 'PUT',
    target: 'object',
    subresources: ['partNumber', 'uploadId'],
    when: lacksHeader('x-amz-copy-source'),
    permission: 'object-write',
    streamsBody: true,
    handler: uploadPart,
  },
  {
    name: 'CompleteMultipartUpload',
    method: 'POST',
    target: 'object',
    subresources: ['uploadId'],
    permission: 'object-write',
    handler: completeMultipartUpload,
  },
  {
    name: 'AbortMultipartUpload',
    method: 'DELETE',
    target: 'object',
    subresources: ['uploadId'],
    permission: 'object-write',
    handler: abortMultipartUpload,
  },
  {
    name: 'ListParts',
    method: 'GET',
    target: 'object',
    subresources: ['uploadId'],
    permission: 'object-read',
    handler: listParts,
  },
  {
    name: 'ListMultipartUploads',
    method: 'GET',
    target: 'bucket',
    subresources: ['uploads'],
    permission: 'bucket-read',
    handler: listMultipartUploads,
  },
  {
    name: 'DeleteObject',
    method: 'DELETE',
    target: 'object',
    permission: 'object-write',
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
  // versionId=null names the only version an unversioned bucket has.
  return SUBRESOURCES.filter((s) => ctx.query.has(s) && !(s === 'versionId' && ctx.query.get(s) === 'null'));
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
