/** One object: its details (never a file path) and deleting it. */
import type { FastifyInstance } from 'fastify';
import { asAdmin } from './as-admin.js';
import type { ManagementDeps } from './deps.js';
import { checkKey, objectParams } from './route-schemas.js';

export function registerObjectRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory } = deps;
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
      const key = checkKey(p['*']);
      await asAdmin(deps.authorizer, request, 's3:GetObject', p.bucket, key);
      return inventory.object(p.bucket, key);
    },
  );

  api.delete(
    '/buckets/:bucket/objects/*',
    { schema: { tags: ['objects'], summary: 'Delete one object', params: objectParams } },
    async (request) => {
      const p = request.params as { bucket: string; '*': string };
      const key = checkKey(p['*']);
      const bucket = await asAdmin(deps.authorizer, request, 's3:DeleteObject', p.bucket, key);
      await inventory.object(p.bucket, key);
      await deps.store.deleteObject(bucket, key);
      return { message: 'Operation completed successfully' };
    },
  );
}
