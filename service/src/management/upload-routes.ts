/** Multipart uploads in progress: list, abort. */
import type { FastifyInstance } from 'fastify';
import { asAdmin } from './as-admin.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { bucketParam } from './route-schemas.js';
import { UPLOAD, listOf, responses } from './response-schemas.js';

export function registerUploadRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory } = deps;
  api.get(
    '/buckets/:bucket/uploads',
    {
      schema: {
        operationId: 'listUploads',
        response: responses(
          { 200: { description: 'Uploads in progress', body: listOf('uploads', UPLOAD) } },
          [404],
        ),
        tags: ['multipart'],
        summary: 'Multipart uploads in progress',
        params: bucketParam,
      },
    },
    async (request) => {
      const { bucket } = request.params as { bucket: string };
      await asAdmin(deps.authorizer, request, 's3:ListBucketMultipartUploads', bucket);
      return { uploads: await inventory.uploads(bucket) };
    },
  );

  api.delete(
    '/buckets/:bucket/uploads/:uploadId',
    {
      schema: {
        operationId: 'abortUpload',
        response: responses({ 200: { description: 'Aborted' } }, [404]),
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
      await deps.multipart.abort(
        await asAdmin(deps.authorizer, request, 's3:AbortMultipartUpload', bucket, upload.object_key),
        upload.object_key,
        uploadId,
      );
      return { message: 'Operation completed successfully' };
    },
  );
}
