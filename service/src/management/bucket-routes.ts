/** Buckets and the objects in them, a page at a time; bulk delete. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bucketNameProblem, regionProblem } from '../parse/bucket-names.js';
import { adminPrincipal, asAdmin } from './as-admin.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { humanSize } from '../parse/human-size.js';
import { bucketParam, checkKey, listQuery } from './route-schemas.js';
import {
  BUCKET,
  OBJECT_PAGE,
  list,
  listOf,
  object,
  responses,
  string,
  withProperties,
} from './response-schemas.js';

export function registerBucketRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory, credentials, store } = deps;

  api.get(
    '/buckets',
    {
      schema: {
        operationId: 'listBuckets',
        response: responses({ 200: { description: 'The buckets', body: listOf('buckets', BUCKET) } }),
        tags: ['buckets'],
        summary: 'Every bucket with owner, object count and size',
      },
    },
    async () => ({
      buckets: await inventory.buckets(),
    }),
  );

  api.post(
    '/buckets',
    {
      schema: {
        operationId: 'createBucket',
        response: responses({ 201: { description: 'The bucket, created', body: BUCKET } }, [404, 409]),
        tags: ['buckets'],
        summary: 'Create a bucket owned by a user: owner_user_id, or owner_id naming one of its credentials',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: {
              type: 'string',
              description:
                "S3's rules: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no '..', not an IP address; a refusal names the rule broken",
            },
            owner_id: { type: 'integer', minimum: 1 },
            owner_user_id: { type: 'integer', minimum: 1 },
            region: { type: 'string', minLength: 1, maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { name: string; owner_id?: number; owner_user_id?: number; region?: string };
      if ((b.owner_id === undefined) === (b.owner_user_id === undefined))
        throw new ApiError(400, 'ValidationError', 'Give exactly one of owner_user_id and owner_id');
      const problem = bucketNameProblem(b.name);
      if (problem) throw new ApiError(400, 'InvalidBucketName', `The bucket name ${problem}`);
      const wrongRegion = b.region === undefined ? undefined : regionProblem(b.region, deps.region);
      if (wrongRegion)
        throw new ApiError(400, 'InvalidRegion', `The bucket cannot be created: ${wrongRegion}`);
      const owner = await deps.users.get(b.owner_user_id ?? (await credentials.get(b.owner_id!)).userId);
      await deps.authorizer.authorize({
        principal: adminPrincipal(request),
        action: 's3:CreateBucket',
        bucket: b.name,
      });
      await store.buckets.create(owner.canonicalId, b.name, undefined);
      reply.code(201);
      return inventory.bucket(b.name);
    },
  );

  const page = async (
    request: FastifyRequest,
    name: string,
    q: { prefix?: string; delimiter?: string; marker?: string; 'max-keys': number },
  ) => {
    const bucket = await asAdmin(deps.authorizer, request, 's3:ListBucket', name);
    const r = await store.listObjects(bucket, {
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
        operationId: 'getBucket',
        response: responses(
          {
            200: {
              description: 'The bucket and a page of its objects',
              body: withProperties(BUCKET, OBJECT_PAGE),
            },
          },
          [404],
        ),
        tags: ['buckets'],
        summary: 'A bucket with its objects, a page at a time (marker, max-keys)',
        params: bucketParam,
        querystring: listQuery,
      },
    },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      const summary = await inventory.bucket(bucket);
      return { ...summary, ...(await page(request, bucket, request.query as never)) };
    },
  );

  api.delete(
    '/buckets/:bucket',
    {
      schema: {
        operationId: 'deleteBucket',
        response: responses({ 200: { description: 'Deleted' } }, [404, 409]),
        tags: ['buckets'],
        summary: 'Delete an empty bucket',
        params: bucketParam,
      },
    },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      await store.buckets.delete(await asAdmin(deps.authorizer, request, 's3:DeleteBucket', bucket));
      return { message: 'Operation completed successfully' };
    },
  );

  api.get(
    '/buckets/:bucket/objects',
    {
      schema: {
        operationId: 'listObjects',
        response: responses({ 200: { description: 'A page of objects', body: object(OBJECT_PAGE) } }, [404]),
        tags: ['objects'],
        summary: 'Objects by prefix; with delimiter=/ folders come back as common_prefixes',
        params: bucketParam,
        querystring: listQuery,
      },
    },
    async (request) => page(request, (request.params as { bucket: string }).bucket, request.query as never),
  );

  api.post(
    '/buckets/:bucket/delete',
    {
      schema: {
        operationId: 'deleteObjects',
        response: responses(
          {
            200: {
              description: "What was deleted, not found, or refused with S3's reason",
              body: object({
                deleted: list(string),
                not_found: list(string),
                refused: list(object({ key: string, error: string, message: string })),
              }),
            },
          },
          [404],
        ),
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
      const results = await store.deleteObjects(
        await asAdmin(deps.authorizer, request, 's3:DeleteObject', bucket),
        keys.map((key) => ({ key })),
      );
      return {
        deleted: results.filter((r) => r.deleted).map((r) => r.key),
        not_found: results.filter((r) => !r.deleted && !r.error).map((r) => r.key),
        // Kept, with S3's reason: object lock, or a versioned key S3 itself would not remove.
        refused: results
          .filter((r) => r.error)
          .map((r) => ({ key: r.key, error: r.error!.code, message: r.error!.message })),
      };
    },
  );
}
