/** Stats, credentials, buckets, objects, multipart uploads and presigned URLs. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bucketNameProblem } from '../store/bucket-names.js';
import { KEY_PROBLEMS, keyProblem, MAX_KEY_BYTES } from '../store/object-keys.js';
import type { ManagementDeps } from './deps.js';
import type { CredentialRow } from './credential-store.js';
import { ApiError } from './errors.js';
import { humanSize } from './inventory.js';
import { presignUrl } from './presign.js';

const bucketParam = {
  type: 'object',
  required: ['bucket'],
  properties: { bucket: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9.-]+$' } },
};
const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
};
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', maxLength: MAX_KEY_BYTES },
    delimiter: { type: 'string', maxLength: 1 },
    marker: { type: 'string', maxLength: MAX_KEY_BYTES },
    'max-keys': { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
  },
};

function checkKey(key: string, field = 'key'): string {
  const problem = keyProblem(key);
  if (problem) throw new ApiError(400, 'ValidationError', `${field} ${KEY_PROBLEMS[problem]}`);
  return key;
}

const credentialJson = (c: CredentialRow) => ({
  id: c.id,
  access_key: c.accessKey,
  user_name: c.userName,
  is_active: c.isActive,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

/** scheme://host the client reached us at; nginx forwards the original Host and X-Forwarded-Proto. */
function origin(request: FastifyRequest): string {
  const proto = request.headers['x-forwarded-proto'] === 'https' ? 'https' : request.protocol;
  return `${proto}://${request.headers.host}`;
}

export function registerResourceRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory, credentials, store, multipart } = deps;

  api.get('/stats', { schema: { tags: ['stats'], summary: 'Usage at a glance' } }, () => inventory.stats());

  // ---- credentials ----
  api.get(
    '/credentials',
    { schema: { tags: ['credentials'], summary: 'Every S3 credential (never a secret)' } },
    async () => ({
      credentials: (await credentials.list()).map(credentialJson),
    }),
  );

  api.post(
    '/credentials',
    {
      schema: {
        tags: ['credentials'],
        summary: 'Issue an S3 credential; the secret is in this response and nowhere else',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            user_name: { type: 'string', minLength: 1, maxLength: 128 },
            access_key: { type: 'string', pattern: '^[A-Za-z0-9._~+=-]{3,128}$' },
            secret_key: { type: 'string', minLength: 8, maxLength: 128 },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { user_name?: string; access_key?: string; secret_key?: string };
      const c = await credentials.create({
        userName: b.user_name,
        accessKey: b.access_key,
        secretKey: b.secret_key,
      });
      reply.code(201);
      return { ...credentialJson(c), secret_key: c.secretKey };
    },
  );

  api.get(
    '/credentials/:id',
    {
      schema: {
        tags: ['credentials'],
        summary: 'One credential with its buckets and their sizes',
        params: idParam,
      },
    },
    async (request) => {
      const c = await credentials.get((request.params as { id: number }).id);
      const buckets = await inventory.buckets({ owner: c.accessKey });
      return { ...credentialJson(c), bucket_count: buckets.length, buckets };
    },
  );

  api.patch(
    '/credentials/:id',
    {
      schema: {
        tags: ['credentials'],
        summary: 'Rename, disable or enable; a disabled key is refused from its next S3 request on',
        params: idParam,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            user_name: { type: ['string', 'null'], maxLength: 128 },
            is_active: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => {
      const b = request.body as { user_name?: string | null; is_active?: boolean };
      const c = await credentials.update((request.params as { id: number }).id, {
        userName: b.user_name,
        isActive: b.is_active,
      });
      return { message: 'Operation completed successfully', credential: credentialJson(c) };
    },
  );

  api.delete(
    '/credentials/:id',
    {
      schema: {
        tags: ['credentials'],
        summary:
          'Delete a credential. One that owns buckets is refused (409) unless transfer_to names the credential to hand them to',
        params: idParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { transfer_to: { type: 'integer', minimum: 1 } },
        },
      },
    },
    async (request) => {
      const { transfer_to } = request.query as { transfer_to?: number };
      const r = await credentials.delete((request.params as { id: number }).id, transfer_to);
      return { message: 'Operation completed successfully', transferred_buckets: r.transferredBuckets };
    },
  );

  // ---- buckets ----
  api.get(
    '/buckets',
    { schema: { tags: ['buckets'], summary: 'Every bucket with owner, object count and size' } },
    async () => ({
      buckets: await inventory.buckets(),
    }),
  );

  api.post(
    '/buckets',
    {
      schema: {
        tags: ['buckets'],
        summary: 'Create a bucket owned by a credential',
        body: {
          type: 'object',
          required: ['name', 'owner_id'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9.-]+$' },
            owner_id: { type: 'integer', minimum: 1 },
            region: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { name: string; owner_id: number; region?: string };
      const problem = bucketNameProblem(b.name);
      if (problem) throw new ApiError(400, 'InvalidBucketName', `The bucket name ${problem}`);
      const region = b.region ?? deps.region;
      if (region !== deps.region)
        throw new ApiError(400, 'InvalidRegion', `This gateway serves region ${deps.region}, not ${region}`);
      const owner = await credentials.get(b.owner_id);
      await store.createBucket(owner.accessKey, b.name, undefined);
      reply.code(201);
      return inventory.bucket(b.name);
    },
  );

  const ownerOf = async (bucket: string) => (await inventory.bucket(bucket)).owner_access_key;
  const list = async (
    bucket: string,
    q: { prefix?: string; delimiter?: string; marker?: string; 'max-keys': number },
  ) => {
    const owner = await ownerOf(bucket);
    const r = await store.listObjects(owner, {
      bucket,
      prefix: q.prefix ?? '',
      delimiter: q.delimiter ?? '',
      maxKeys: q['max-keys'],
      after: q.marker ?? '',
    });
    return {
      objects: r.objects.map((o) => ({
        key: o.key,
        size: o.size,
        size_human: humanSize(o.size),
        content_type: o.contentType ?? 'application/octet-stream',
        etag: o.etag.replace(/"/g, ''),
        // A multipart object's ETag ends in -<part count>; listings do not load the part layout.
        is_multipart: /-\d+"?$/.test(o.etag),
        created_at: o.lastModified,
      })),
      common_prefixes: r.commonPrefixes,
      is_truncated: r.isTruncated,
      next_marker: r.isTruncated ? (r.lastEntry ?? null) : null,
    };
  };

  api.get(
    '/buckets/:bucket',
    {
      schema: {
        tags: ['buckets'],
        summary: 'A bucket with its objects, a page at a time (marker, max-keys)',
        params: bucketParam,
        querystring: listQuery,
      },
    },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      const summary = await inventory.bucket(bucket);
      return { ...summary, ...(await list(bucket, request.query as never)) };
    },
  );

  api.delete(
    '/buckets/:bucket',
    { schema: { tags: ['buckets'], summary: 'Delete an empty bucket', params: bucketParam } },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      await store.deleteBucket(await ownerOf(bucket), bucket);
      return { message: 'Operation completed successfully' };
    },
  );

  api.get(
    '/buckets/:bucket/objects',
    {
      schema: {
        tags: ['objects'],
        summary: 'Objects by prefix; with delimiter=/ folders come back as common_prefixes',
        params: bucketParam,
        querystring: listQuery,
      },
    },
    async (request) => list((request.params as { bucket: string }).bucket, request.query as never),
  );

  api.post(
    '/buckets/:bucket/delete',
    {
      schema: {
        tags: ['objects'],
        summary: 'Delete up to 1000 objects by key',
        params: bucketParam,
        body: {
          type: 'object',
          required: ['keys'],
          additionalProperties: false,
          properties: {
            keys: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1 } },
          },
        },
      },
    },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      const keys = (request.body as { keys: string[] }).keys.map((k) => checkKey(k, 'keys[]'));
      const results = await store.deleteObjects(await ownerOf(bucket), bucket, keys);
      return {
        deleted: results.filter((r) => r.deleted).map((r) => r.key),
        not_found: results.filter((r) => !r.deleted).map((r) => r.key),
      };
    },
  );

  api.get(
    '/buckets/:bucket/uploads',
    { schema: { tags: ['multipart'], summary: 'Multipart uploads in progress', params: bucketParam } },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      await inventory.bucket(bucket);
      return { uploads: await inventory.uploads(bucket) };
    },
  );

  api.delete(
    '/buckets/:bucket/uploads/:uploadId',
    {
      schema: {
        tags: ['multipart'],
        summary: 'Abort a multipart upload and free its parts',
        params: {
          type: 'object',
          required: ['bucket', 'uploadId'],
          properties: {
            ...bucketParam.properties,
            uploadId: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
    },
    async (request) => {
      const { bucket, uploadId } = request.params as { bucket: string; uploadId: string };
      const upload = (await inventory.uploads(bucket)).find((u) => u.upload_id === uploadId);
      if (!upload)
        throw new ApiError(404, 'NoSuchUpload', `No upload ${uploadId} is in progress in ${bucket}`);
      await multipart.abort(await ownerOf(bucket), bucket, upload.object_key, uploadId);
      return { message: 'Operation completed successfully' };
    },
  );

  const objectParams = {
    type: 'object',
    required: ['bucket', '*'],
    properties: { ...bucketParam.properties, '*': { type: 'string' } },
  };
  api.get(
    '/buckets/:bucket/objects/*',
    {
      schema: {
        tags: ['objects'],
        summary: 'Object details, metadata and where its sealed data lives',
        params: objectParams,
      },
    },
    async (request) => {
      const p = request.params as { bucket: string; '*': string };
      return inventory.object(p.bucket, checkKey(p['*']));
    },
  );

  api.delete(
    '/buckets/:bucket/objects/*',
    { schema: { tags: ['objects'], summary: 'Delete one object', params: objectParams } },
    async (request) => {
      const p = request.params as { bucket: string; '*': string };
      const key = checkKey(p['*']);
      await inventory.object(p.bucket, key);
      await store.deleteObject(await ownerOf(p.bucket), p.bucket, key);
      return { message: 'Operation completed successfully' };
    },
  );

  // ---- presigned URLs ----
  api.post(
    '/presigned-urls',
    {
      schema: {
        tags: ['presigned'],
        summary:
          'A presigned URL for GET, PUT or DELETE of one object, signed with a credential that owns the bucket',
        body: {
          type: 'object',
          required: ['bucket_name', 'object_key', 'access_key'],
          additionalProperties: false,
          properties: {
            bucket_name: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9.-]+$' },
            object_key: { type: 'string', minLength: 1 },
            method: { type: 'string', enum: ['GET', 'PUT', 'DELETE'], default: 'GET' },
            expires_in: { type: 'integer', minimum: 1, maximum: 604800, default: 3600 },
            access_key: { type: 'string', minLength: 3, maxLength: 128 },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as {
        bucket_name: string;
        object_key: string;
        method: string;
        expires_in: number;
        access_key: string;
      };
      checkKey(b.object_key, 'object_key');
      const bucket = await inventory.bucket(b.bucket_name);
      const cred = await credentials.byAccessKey(b.access_key);
      if (!cred)
        throw new ApiError(404, 'CredentialNotFound', `No credential has access key ${b.access_key}`);
      const secret = credentials.secretFor(b.access_key);
      if (!cred.isActive || !secret)
        throw new ApiError(
          409,
          'CredentialDisabled',
          'The credential is disabled; its URLs would be refused',
        );
      if (bucket.owner_access_key !== b.access_key)
        throw new ApiError(
          409,
          'NotBucketOwner',
          `${b.access_key} does not own ${b.bucket_name}; S3 would refuse the URL`,
        );
      const now = new Date();
      const url = presignUrl({
        method: b.method,
        origin: origin(request),
        bucket: b.bucket_name,
        key: b.object_key,
        accessKey: b.access_key,
        secretKey: secret,
        region: deps.region,
        expiresIn: b.expires_in,
        now,
      });
      const expiresAt = new Date(now.getTime() + b.expires_in * 1000);
      await deps.db('presigned_urls').insert({
        bucket_name: b.bucket_name,
        object_key: b.object_key,
        method: b.method,
        access_key: b.access_key,
        created_by: request.admin!.id,
        created_at: now,
        expires_at: expiresAt,
      });
      reply.code(201);
      return { url, method: b.method, expires_at: expiresAt };
    },
  );

  api.get(
    '/presigned-urls',
    { schema: { tags: ['presigned'], summary: 'Presigned URLs that have not expired' } },
    async () => {
      const rows = await deps
        .db('presigned_urls')
        .where('expires_at', '>', new Date())
        .orderBy('created_at', 'desc')
        .limit(1000);
      return {
        urls: rows.map((r) => ({
          bucket_name: r.bucket_name,
          object_key: r.object_key,
          method: r.method,
          access_key: r.access_key,
          expires_at: r.expires_at,
          created_at: r.created_at,
        })),
      };
    },
  );
}
