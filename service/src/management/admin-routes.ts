/** Console accounts: the admins, each with their own password and TOTP; changing one's own password. */
import type { FastifyInstance } from 'fastify';
import type { AdminListing } from './admin-store.js';
import { SESSION_COOKIE, type ManagementDeps } from './deps.js';
import { idParam } from './route-schemas.js';
import { ADMIN, boolean, integer, listOf, object, responses, string } from './response-schemas.js';

const adminJson = (a: AdminListing) => ({
  id: a.id,
  username: a.username,
  totp_enabled: a.totpEnabled,
  is_active: a.isActive,
  api_keys: a.apiKeys,
  created_by: a.createdBy,
  created_at: a.createdAt,
});

const password = { type: 'string', minLength: 1, maxLength: 1024 };

export function registerAdminRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { admins } = deps;
  api.get(
    '/admins',
    {
      schema: {
        operationId: 'listAdmins',
        response: responses({ 200: { description: 'The admins', body: listOf('admins', ADMIN) } }),
        tags: ['admins'],
        summary: 'Every console admin, with whether two-step verification is on',
      },
    },
    async () => ({ admins: (await admins.list()).map(adminJson) }),
  );

  api.post(
    '/admins',
    {
      schema: {
        operationId: 'createAdmin',
        response: responses(
          {
            201: {
              description: 'The admin, created',
              body: object({ id: integer, username: string, totp_enabled: boolean }),
            },
          },
          [409],
        ),
        tags: ['admins'],
        summary: 'Add an admin with a first password (12 characters or more); they enroll their own TOTP',
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' },
            password,
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { username: string; password: string };
      const created = await admins.create(b.username, b.password, request.admin!.id);
      reply.code(201);
      return { id: created.id, username: created.username, totp_enabled: false };
    },
  );

  api.delete(
    '/admins/:id',
    {
      schema: {
        operationId: 'deleteAdmin',
        response: responses({ 200: { description: 'Removed' } }, [404, 409]),
        tags: ['admins'],
        summary: 'Remove an admin with their sessions and API keys (not yourself, not the last one)',
        params: idParam,
      },
    },
    async (request) => {
      await admins.remove((request.params as { id: number }).id, request.admin!.id);
      return { message: 'Operation completed successfully' };
    },
  );

  api.delete(
    '/admins/:id/totp',
    {
      schema: {
        operationId: 'resetAdminTotp',
        response: responses({ 200: { description: 'Reset' } }, [404, 409]),
        tags: ['admins'],
        summary: "Reset another admin's two-step verification (a lost phone); they enroll again",
        params: idParam,
      },
    },
    async (request) => {
      await admins.resetTotp((request.params as { id: number }).id, request.admin!.id);
      return { message: 'Two-step verification was reset' };
    },
  );

  api.post(
    '/auth/password',
    {
      schema: {
        operationId: 'changePassword',
        response: responses({ 200: { description: 'Changed' } }, [429]),
        tags: ['auth'],
        summary: 'Change your own password; your other sessions end',
        body: {
          type: 'object',
          required: ['current_password', 'new_password'],
          additionalProperties: false,
          properties: { current_password: password, new_password: password },
        },
      },
    },
    async (request) => {
      const b = request.body as { current_password: string; new_password: string };
      await admins.changePassword(
        request.admin!.id,
        b.current_password,
        b.new_password,
        request.cookies[SESSION_COOKIE],
      );
      return { message: 'Password changed' };
    },
  );
}
