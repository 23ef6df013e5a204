/** One object: its details (never a file path), its versions, restoring and deleting them. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { asAdmin } from './as-admin.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { checkKey, objectParams } from './route-schemas.js';
import { OBJECT_DETAIL, VERSION, list, object, responses, string } from './response-schemas.js';

/** The bucket and (checked) key an object route names. */
function objectOf(request: FastifyRequest) {
  const p = request.params as { bucket: string; '*': string };
  return { p, key: checkKey(p['*']) };
}

export function registerObjectRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory } = deps;
  api.get(
    '/buckets/:bucket/objects/*',
    {
      schema: {
        operationId: 'getObject',
        response: responses({ 200: { description: 'The object', body: OBJECT_DETAIL } }, [404]),
        tags: ['objects'],
        summary: 'Object details, metadata and where its sealed data lives',
        params: objectParams,
      },
    },
    async (request) => {
      const { p, key } = objectOf(request);
      await asAdmin(deps.authorizer, request, 's3:GetObject', p.bucket, key);
      return inventory.object(p.bucket, key);
    },
  );

  api.delete(
    '/buckets/:bucket/objects/*',
    {
      schema: {
        operationId: 'deleteObject',
        response: responses({ 200: { description: 'Deleted' } }, [404, 409]),
        tags: ['objects'],
        summary: 'Delete one object',
        params: objectParams,
      },
    },
    async (request) => {
      const { p, key } = objectOf(request);
      const bucket = await asAdmin(deps.authorizer, request, 's3:DeleteObject', p.bucket, key);
      await inventory.object(p.bucket, key);
      await deps.store.deleteObject(bucket, key);
      return { message: 'Operation completed successfully' };
    },
  );

  api.get(
    '/buckets/:bucket/versions/*',
    {
      schema: {
        operationId: 'listObjectVersions',
        response: responses(
          {
            200: {
              description: 'The versions of the key, newest first',
              body: object({
                key: string,
                versioning: { type: ['string', 'null'], enum: ['Enabled', 'Suspended', null] },
                versions: list(VERSION),
              }),
            },
          },
          [404],
        ),
        tags: ['objects'],
        summary: 'Every version and delete marker of one key, newest first, with retention and legal hold',
        params: objectParams,
      },
    },
    async (request) => {
      const { p, key } = objectOf(request);
      const bucket = await asAdmin(deps.authorizer, request, 's3:ListBucketVersions', p.bucket, key);
      const versions = [];
      let keyMarker = '';
      let versionIdMarker = '';
      // One key's versions, page by page, until the listing moves past the key.
      for (;;) {
        const page = await deps.store.listVersions(bucket, {
          prefix: key,
          delimiter: '',
          maxKeys: 1000,
          keyMarker,
          versionIdMarker,
        });
        const mine = page.versions.filter((v) => v.key === key);
        for (const v of mine) {
          const info = v.deleteMarker
            ? undefined
            : (await deps.store.getObject(bucket, key, v.versionId)).info;
          versions.push({
            version_id: v.versionId,
            is_latest: v.isLatest,
            delete_marker: v.deleteMarker,
            size: v.size,
            etag: v.etag.replace(/"/g, ''),
            last_modified: v.lastModified,
            retention: info?.retention ? { mode: info.retention.mode, until: info.retention.until } : null,
            legal_hold: info?.legalHold ?? false,
          });
        }
        if (!page.isTruncated || mine.length < page.versions.length || !page.nextKeyMarker) break;
        keyMarker = page.nextKeyMarker;
        versionIdMarker = page.nextVersionIdMarker ?? '';
      }
      return { key, versioning: bucket.versioning ?? null, versions };
    },
  );

  api.post(
    '/buckets/:bucket/versions/*',
    {
      schema: {
        operationId: 'restoreObjectVersion',
        response: responses(
          {
            201: {
              description: 'The old version, now the current one',
              body: object({ key: string, version_id: string, restored_from: string }),
            },
          },
          [404, 405, 409],
        ),
        tags: ['objects'],
        summary: 'Restore a version: copy it over its key as the new current version (the old one stays)',
        params: objectParams,
        body: {
          type: 'object',
          required: ['version_id'],
          additionalProperties: false,
          properties: { version_id: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (request, reply) => {
      const { p, key } = objectOf(request);
      const { version_id } = request.body as { version_id: string };
      await asAdmin(deps.authorizer, request, 's3:GetObjectVersion', p.bucket, key);
      const bucket = await asAdmin(deps.authorizer, request, 's3:PutObject', p.bucket, key);
      if (!bucket.versioning)
        throw new ApiError(
          409,
          'NotVersioned',
          `${p.bucket} is not versioned: it has no old version to restore`,
        );
      const restored = await deps.store.restoreVersion(bucket, key, version_id);
      reply.code(201);
      return { key, version_id: restored.versionId, restored_from: version_id };
    },
  );

  api.delete(
    '/buckets/:bucket/versions/*',
    {
      schema: {
        operationId: 'deleteObjectVersion',
        response: responses({ 200: { description: 'Deleted' } }, [404, 409]),
        tags: ['objects'],
        summary:
          'Delete one version for good; refused, with the reason, while object lock protects it (retention or legal hold)',
        params: objectParams,
        querystring: {
          type: 'object',
          required: ['version_id'],
          additionalProperties: false,
          properties: { version_id: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (request) => {
      const { p, key } = objectOf(request);
      const { version_id } = request.query as { version_id: string };
      const bucket = await asAdmin(deps.authorizer, request, 's3:DeleteObjectVersion', p.bucket, key);
      // No governance bypass here: an admin console removes what S3 would let the owner remove, no more.
      await deps.store.deleteObject(bucket, key, version_id);
      return { message: 'Operation completed successfully' };
    },
  );
}
