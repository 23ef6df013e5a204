/** Presigned URLs: issue one for a credential, list those not yet expired. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { S3Action } from '../authz/actions.js';
import { S3Error } from '../errors/s3-errors.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { presignUrl } from './presign.js';
import { PresignedUrlLog } from './presigned-urls.js';
import { checkKey } from './route-schemas.js';
import { PRESIGNED_URL, listOf, object, responses, string, time } from './response-schemas.js';

/** Each S3 operation a URL can be signed for: its HTTP method and what S3 checks when the URL is used. */
const OPERATIONS: Record<string, { method: string; action: S3Action; upload?: 'id' | 'part' }> = {
  GetObject: { method: 'GET', action: 's3:GetObject' },
  PutObject: { method: 'PUT', action: 's3:PutObject' },
  DeleteObject: { method: 'DELETE', action: 's3:DeleteObject' },
  // The console's uploads of large files: every step is an S3 request the gateway authorizes itself.
  CreateMultipartUpload: { method: 'POST', action: 's3:PutObject' },
  UploadPart: { method: 'PUT', action: 's3:PutObject', upload: 'part' },
  CompleteMultipartUpload: { method: 'POST', action: 's3:PutObject', upload: 'id' },
  AbortMultipartUpload: { method: 'DELETE', action: 's3:AbortMultipartUpload', upload: 'id' },
};
const BY_METHOD: Record<string, string> = { GET: 'GetObject', PUT: 'PutObject', DELETE: 'DeleteObject' };

/** The query a URL for the operation carries besides the signature (S3 picks the operation from it). */
function operationQuery(
  operation: string,
  b: { upload_id?: string; part_number?: number },
): Array<[string, string]> {
  const needs = OPERATIONS[operation]!.upload;
  const given = b.upload_id !== undefined || b.part_number !== undefined;
  if (!needs && given)
    throw new ApiError(400, 'InvalidArgument', `${operation} takes neither upload_id nor part_number`);
  if (needs && b.upload_id === undefined)
    throw new ApiError(400, 'InvalidArgument', `${operation} needs the upload_id`);
  if ((needs === 'part') !== (b.part_number !== undefined))
    throw new ApiError(
      400,
      'InvalidArgument',
      needs === 'part' ? 'UploadPart needs a part_number' : `${operation} takes no part_number`,
    );
  if (operation === 'CreateMultipartUpload') return [['uploads', '']];
  if (needs === 'part')
    return [
      ['partNumber', String(b.part_number)],
      ['uploadId', b.upload_id!],
    ];
  return needs ? [['uploadId', b.upload_id!]] : [];
}

/** scheme://host the client reached us at; nginx forwards the original Host and X-Forwarded-Proto. */
function origin(request: FastifyRequest): string {
  const proto = request.headers['x-forwarded-proto'] === 'https' ? 'https' : request.protocol;
  return `${proto}://${request.headers.host}`;
}

export function registerPresignedRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { inventory, credentials } = deps;
  const log = new PresignedUrlLog(deps.db, deps.audit);
  api.post(
    '/presigned-urls',
    {
      schema: {
        operationId: 'createPresignedUrl',
        response: responses(
          {
            201: {
              description: 'The URL',
              body: object({ url: string, method: string, operation: string, expires_at: time }),
            },
          },
          [404, 409],
        ),
        tags: ['presigned'],
        summary:
          'A presigned URL for one S3 operation on one object (GET, PUT, DELETE, or a step of a multipart upload), signed with a credential allowed to do it',
        body: {
          type: 'object',
          required: ['bucket_name', 'object_key', 'access_key'],
          additionalProperties: false,
          properties: {
            bucket_name: { type: 'string', minLength: 3, maxLength: 63, pattern: '^[a-z0-9.-]+$' },
            object_key: { type: 'string', minLength: 1 },
            method: {
              type: 'string',
              enum: ['GET', 'PUT', 'DELETE'],
              description:
                'GetObject, PutObject or DeleteObject by HTTP method; GET unless operation is given',
            },
            operation: { type: 'string', enum: Object.keys(OPERATIONS) },
            upload_id: { type: 'string', minLength: 1, maxLength: 256 },
            part_number: { type: 'integer', minimum: 1, maximum: 10000 },
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
        method?: string;
        operation?: string;
        upload_id?: string;
        part_number?: number;
        expires_in: number;
        access_key: string;
      };
      if (b.method && b.operation)
        throw new ApiError(400, 'InvalidArgument', 'Give either method or operation, not both');
      const operation = b.operation ?? BY_METHOD[b.method ?? 'GET']!;
      const { method, action } = OPERATIONS[operation]!;
      const query = operationQuery(operation, b);
      checkKey(b.object_key, 'object_key');
      await inventory.bucket(b.bucket_name);
      const cred = await credentials.byAccessKey(b.access_key);
      if (!cred)
        throw new ApiError(404, 'CredentialNotFound', `No credential has access key ${b.access_key}`);
      const secret = credentials.secretFor(b.access_key);
      const user = credentials.identityOf(b.access_key);
      if (!cred.isActive || !secret || !user)
        throw new ApiError(
          409,
          'CredentialDisabled',
          'The credential is disabled; its URLs would be refused',
        );
      // Ask the authorizer what S3 will ask when the URL is used, as that credential.
      const principal = { kind: 'user', accessKeyId: b.access_key, user } as const;
      try {
        await deps.authorizer.authorize({ principal, action, bucket: b.bucket_name, key: b.object_key });
      } catch (err) {
        if (!(err instanceof S3Error && err.code === 'AccessDenied')) throw err;
        throw new ApiError(
          409,
          'NotBucketOwner',
          `${b.access_key} may not ${action} in ${b.bucket_name}; S3 would refuse the URL`,
        );
      }
      const now = new Date();
      const url = presignUrl({
        method,
        query,
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
      await log.record({
        bucket: b.bucket_name,
        key: b.object_key,
        method,
        accessKey: b.access_key,
        createdBy: request.admin!.id,
        createdAt: now,
        expiresAt,
      });
      reply.code(201);
      return { url, method, operation, expires_at: expiresAt };
    },
  );

  api.get(
    '/presigned-urls',
    {
      schema: {
        operationId: 'listPresignedUrls',
        response: responses({
          200: { description: 'URLs not yet expired', body: listOf('urls', PRESIGNED_URL) },
        }),
        tags: ['presigned'],
        summary: 'Presigned URLs that have not expired',
      },
    },
    async () => ({ urls: await log.active() }),
  );
}
