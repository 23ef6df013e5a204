/** Presigned URLs: issue one for a credential, list those not yet expired. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { S3Action } from '../authz/actions.js';
import { S3Error } from '../errors/s3-errors.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { presignUrl } from './presign.js';
import { PresignedUrlLog } from './presigned-urls.js';
import { checkKey } from './route-schemas.js';

/** What S3 will check when each kind of URL is used. */
const PRESIGNED_ACTIONS: Record<string, S3Action> = {
  GET: 's3:GetObject',
  PUT: 's3:PutObject',
  DELETE: 's3:DeleteObject',
};

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
      const action = PRESIGNED_ACTIONS[b.method]!;
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
      await log.record({
        bucket: b.bucket_name,
        key: b.object_key,
        method: b.method,
        accessKey: b.access_key,
        createdBy: request.admin!.id,
        createdAt: now,
        expiresAt,
      });
      reply.code(201);
      return { url, method: b.method, expires_at: expiresAt };
    },
  );

  api.get(
    '/presigned-urls',
    { schema: { tags: ['presigned'], summary: 'Presigned URLs that have not expired' } },
    async () => ({ urls: await log.active() }),
  );
}
