/** S3 credentials: issue, list, enable or disable, delete (handing buckets over). */
import type { FastifyInstance } from 'fastify';
import type { CredentialRow } from './credential-store.js';
import type { ManagementDeps } from './deps.js';
import { idParam } from './route-schemas.js';
import {
  BUCKET,
  CREDENTIAL,
  TRANSFERRED,
  integer,
  list,
  listOf,
  object,
  responses,
  string,
  withProperties,
} from './response-schemas.js';

const credentialJson = (c: CredentialRow) => ({
  id: c.id,
  access_key: c.accessKey,
  user_id: c.userId,
  user_name: c.userName,
  is_active: c.isActive,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

export function registerCredentialRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { credentials, inventory } = deps;
  api.get(
    '/credentials',
    {
      schema: {
        operationId: 'listCredentials',
        response: responses({
          200: { description: 'The credentials', body: listOf('credentials', CREDENTIAL) },
        }),
        tags: ['credentials'],
        summary: 'Every S3 credential (never a secret)',
      },
    },
    async () => ({
      credentials: (await credentials.list()).map(credentialJson),
    }),
  );

  api.post(
    '/credentials',
    {
      schema: {
        operationId: 'createCredential',
        response: responses(
          {
            201: {
              description: 'The credential with its secret, shown this once',
              body: withProperties(CREDENTIAL, { secret_key: string }),
            },
          },
          [404, 409],
        ),
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
        operationId: 'getCredential',
        response: responses(
          {
            200: {
              description: 'The credential and its buckets',
              body: withProperties(CREDENTIAL, { bucket_count: integer, buckets: list(BUCKET) }),
            },
          },
          [404],
        ),
        tags: ['credentials'],
        summary: 'One credential with its buckets and their sizes',
        params: idParam,
      },
    },
    async (request) => {
      const c = await credentials.get((request.params as { id: number }).id);
      const buckets = await inventory.buckets({ owner: (await deps.users.get(c.userId)).canonicalId });
      return { ...credentialJson(c), bucket_count: buckets.length, buckets };
    },
  );

  api.patch(
    '/credentials/:id',
    {
      schema: {
        operationId: 'updateCredential',
        response: responses(
          { 200: { description: 'Changed', body: object({ message: string, credential: CREDENTIAL }) } },
          [404, 409],
        ),
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
        operationId: 'deleteCredential',
        response: responses(
          { 200: { description: 'Deleted; the buckets handed over, if any', body: TRANSFERRED } },
          [404, 409],
        ),
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
}
