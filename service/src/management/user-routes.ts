/** Users (who own buckets and hold keys), their keys, and grants of one user's buckets to another. */
import type { FastifyInstance } from 'fastify';
import { grantStatements } from '../authz/grants.js';
import type { BucketGrant, GrantAccess } from '../store/buckets.js';
import { asAdmin } from './as-admin.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { bucketParam, idParam } from './route-schemas.js';
import type { UserRow } from './user-store.js';
import {
  GRANT,
  TRANSFERRED,
  USER,
  boolean,
  integer,
  listOf,
  object,
  responses,
  string,
} from './response-schemas.js';

const userJson = (u: UserRow) => ({
  id: u.id,
  name: u.name,
  canonical_id: u.canonicalId,
  created_at: u.createdAt,
  bucket_count: u.bucketCount,
  access_keys: u.accessKeys.map((k) => ({ id: k.id, access_key: k.accessKey, is_active: k.isActive })),
});

const grantJson = (g: BucketGrant) => ({
  id: g.id,
  user_id: g.userId,
  user_name: g.userName,
  access: g.access,
  prefix: g.prefix,
  created_at: g.createdAt,
});

const nameBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
};

export function registerUserRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { users, credentials, store } = deps;
  api.get(
    '/users',
    {
      schema: {
        operationId: 'listUsers',
        response: responses({ 200: { description: 'The users', body: listOf('users', USER) } }),
        tags: ['users'],
        summary: 'Every user with its access keys',
      },
    },
    async () => ({
      users: (await users.list()).map(userJson),
    }),
  );

  api.post(
    '/users',
    {
      schema: {
        operationId: 'createUser',
        response: responses({ 201: { description: 'The user, created', body: USER } }, [409]),
        tags: ['users'],
        summary: 'Create a user (it has no key until one is issued)',
        body: nameBody,
      },
    },
    async (request, reply) => {
      const u = await users.create((request.body as { name: string }).name);
      reply.code(201);
      return userJson(u);
    },
  );

  api.get(
    '/users/:id',
    {
      schema: {
        operationId: 'getUser',
        response: responses({ 200: { description: 'The user', body: USER } }, [404]),
        tags: ['users'],
        summary: 'One user',
        params: idParam,
      },
    },
    async (request) => userJson(await users.get((request.params as { id: number }).id)),
  );

  api.patch(
    '/users/:id',
    {
      schema: {
        operationId: 'renameUser',
        response: responses({ 200: { description: 'The user, renamed', body: USER } }, [404, 409]),
        tags: ['users'],
        summary: 'Rename a user',
        params: idParam,
        body: nameBody,
      },
    },
    async (request) =>
      userJson(
        await users.rename((request.params as { id: number }).id, (request.body as { name: string }).name),
      ),
  );

  api.delete(
    '/users/:id',
    {
      schema: {
        operationId: 'deleteUser',
        response: responses(
          { 200: { description: 'Deleted; the buckets handed over, if any', body: TRANSFERRED } },
          [404, 409],
        ),
        tags: ['users'],
        summary:
          'Delete a user with its keys and grants. One that owns buckets is refused (409) unless transfer_to names the user to hand them to',
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
      const r = await users.delete((request.params as { id: number }).id, transfer_to);
      return { message: 'Operation completed successfully', transferred_buckets: r.transferredBuckets };
    },
  );

  api.post(
    '/users/:id/keys',
    {
      schema: {
        operationId: 'createUserKey',
        response: responses(
          {
            201: {
              description: 'The key with its secret, shown this once',
              body: object({
                id: integer,
                access_key: string,
                secret_key: string,
                user_id: integer,
                is_active: boolean,
              }),
            },
          },
          [404, 409],
        ),
        tags: ['users'],
        summary: 'Issue another access key for a user (rotation: issue, switch clients, delete the old one)',
        params: idParam,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            access_key: { type: 'string', pattern: '^[A-Za-z0-9._~+=-]{3,128}$' },
            secret_key: { type: 'string', minLength: 8, maxLength: 128 },
          },
        },
      },
    },
    async (request, reply) => {
      const b = (request.body ?? {}) as { access_key?: string; secret_key?: string };
      const user = await users.get((request.params as { id: number }).id);
      const c = await credentials.create({
        userId: user.id,
        accessKey: b.access_key,
        secretKey: b.secret_key,
      });
      reply.code(201);
      return {
        id: c.id,
        access_key: c.accessKey,
        secret_key: c.secretKey,
        user_id: user.id,
        is_active: c.isActive,
      };
    },
  );

  api.get(
    '/buckets/:bucket/grants',
    {
      schema: {
        operationId: 'listGrants',
        response: responses({ 200: { description: 'The grants', body: listOf('grants', GRANT) } }, [404]),
        tags: ['grants'],
        summary: 'The grants of a bucket to other users',
        params: bucketParam,
      },
    },
    async (request) => {
      const bucket = await asAdmin(
        deps.authorizer,
        request,
        's3:GetBucketPolicy',
        (request.params as { bucket: string }).bucket,
      );
      return { grants: (await store.buckets.grants(bucket)).map(grantJson) };
    },
  );

  api.put(
    '/buckets/:bucket/grants',
    {
      schema: {
        operationId: 'putGrant',
        response: responses(
          { 200: { description: 'The grants, the new one among them', body: listOf('grants', GRANT) } },
          [404],
        ),
        tags: ['grants'],
        summary:
          'Grant a user read, write (new objects only: no delete, no overwrite) or read-write on a bucket or a key prefix; replaces what that user had on the same prefix',
        params: bucketParam,
        body: {
          type: 'object',
          required: ['user_id', 'access'],
          additionalProperties: false,
          properties: {
            user_id: { type: 'integer', minimum: 1 },
            access: { type: 'string', enum: ['read', 'write', 'read-write'] },
            prefix: { type: 'string', maxLength: 1024, default: '' },
          },
        },
      },
    },
    async (request) => {
      const b = request.body as { user_id: number; access: GrantAccess; prefix: string };
      if (/[*?]/.test(b.prefix))
        throw new ApiError(
          400,
          'ValidationError',
          'prefix is a literal key prefix: it may not contain * or ?',
        );
      const bucket = await asAdmin(
        deps.authorizer,
        request,
        's3:PutBucketPolicy',
        (request.params as { bucket: string }).bucket,
      );
      const user = await users.get(b.user_id);
      if (user.canonicalId === bucket.owner)
        throw new ApiError(400, 'ValidationError', 'The user owns the bucket and may already do everything');
      await store.buckets.putGrant(bucket, {
        userId: user.id,
        access: b.access,
        prefix: b.prefix,
        statements: grantStatements(bucket.name, user.canonicalId, b.access, b.prefix),
      });
      return { grants: (await store.buckets.grants(bucket)).map(grantJson) };
    },
  );

  api.delete(
    '/buckets/:bucket/grants/:id',
    {
      schema: {
        operationId: 'deleteGrant',
        response: responses({ 200: { description: 'Revoked' } }, [404]),
        tags: ['grants'],
        summary: 'Revoke a grant; the next request of that user is refused, on every gateway',
        params: {
          type: 'object',
          required: ['bucket', 'id'],
          properties: { ...bucketParam.properties, ...idParam.properties },
        },
      },
    },
    async (request) => {
      const p = request.params as { bucket: string; id: number };
      const bucket = await asAdmin(deps.authorizer, request, 's3:PutBucketPolicy', p.bucket);
      if (!(await store.buckets.deleteGrant(bucket, p.id)))
        throw new ApiError(404, 'GrantNotFound', `Bucket ${p.bucket} has no grant ${p.id}`);
      return { message: 'Operation completed successfully' };
    },
  );
}
