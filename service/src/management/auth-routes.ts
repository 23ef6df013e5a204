/** Admin login (password, then TOTP once enrolled), console sessions and TOTP enrollment. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SESSION_COOKIE, type ManagementDeps } from './deps.js';
import type { Session } from './admin-store.js';
import { ApiError } from './errors.js';
import { SESSION, object, responses, string } from './response-schemas.js';

const sessionBody = (username: string, totpEnabled: boolean, s: { csrfToken: string; expiresAt: Date }) => ({
  username,
  totp_enabled: totpEnabled,
  csrf_token: s.csrfToken,
  expires_at: s.expiresAt,
});

function setSessionCookie(reply: FastifyReply, session: Session): void {
  reply.setCookie(SESSION_COOKIE, session.token, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: '/_coffer',
    expires: session.expiresAt,
  });
}

export function registerAuthRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  api.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        operationId: 'login',
        response: responses(
          { 200: { description: 'Logged in; the session cookie is set', body: SESSION } },
          [401, 403, 429],
          { public: true },
        ),
        tags: ['auth'],
        summary: 'Log in to the console (password, then a TOTP code once enrolled); sets the session cookie',
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: {
            username: { type: 'string', minLength: 1, maxLength: 128 },
            password: { type: 'string', minLength: 1, maxLength: 1024 },
            totp_code: { type: 'string', pattern: '^[0-9]{6}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const { username, password, totp_code } = request.body as {
        username: string;
        password: string;
        totp_code?: string;
      };
      const admin = await deps.admins.login(username, password, totp_code);
      const session = await deps.admins.createSession(admin.id);
      setSessionCookie(reply, session);
      return sessionBody(admin.username, admin.totpEnabled, session);
    },
  );

  api.post(
    '/auth/logout',
    {
      schema: {
        operationId: 'logout',
        response: responses({ 200: { description: 'Logged out' } }),
        tags: ['auth'],
        summary: 'End the console session',
      },
    },
    async (request, reply) => {
      const token = request.cookies[SESSION_COOKIE];
      if (token) await deps.admins.endSession(token);
      reply.clearCookie(SESSION_COOKIE, {
        path: '/_coffer',
        httpOnly: true,
        secure: true,
        sameSite: 'strict',
      });
      return { message: 'Logged out' };
    },
  );

  api.get(
    '/auth/session',
    {
      schema: {
        operationId: 'getSession',
        response: responses({ 200: { description: 'The session', body: SESSION } }),
        tags: ['auth'],
        summary: 'The current admin and the CSRF token for mutating requests',
      },
    },
    async (request) => {
      const token = request.cookies[SESSION_COOKIE];
      const session = token ? await deps.admins.session(token) : undefined;
      if (!session)
        throw new ApiError(400, 'NoSession', 'This request was authenticated by an API key, not a session');
      return sessionBody(session.admin.username, session.admin.totpEnabled, session);
    },
  );

  api.post(
    '/auth/totp/enroll',
    {
      schema: {
        operationId: 'enrollTotp',
        response: responses(
          {
            200: {
              description: 'The new secret, to confirm with a code',
              body: object({ secret: string, otpauth_uri: string, qr_svg: string }),
            },
          },
          [409],
        ),
        tags: ['auth'],
        summary: 'Start two-step verification: a new TOTP secret, its otpauth URI and a QR code (SVG)',
      },
    },
    async (request) => {
      const e = await deps.admins.enrollTotp(request.admin!.id);
      return { secret: e.secret, otpauth_uri: e.otpauthUri, qr_svg: e.qrSvg };
    },
  );

  api.post(
    '/auth/totp/confirm',
    {
      schema: {
        operationId: 'confirmTotp',
        response: responses({ 200: { description: 'Two-step verification is on' } }, [409]),
        tags: ['auth'],
        summary: 'Finish enrollment with a current code; from then on login asks for one',
        body: {
          type: 'object',
          required: ['code'],
          additionalProperties: false,
          properties: { code: { type: 'string', pattern: '^[0-9]{6}$' } },
        },
      },
    },
    async (request) => {
      await deps.admins.confirmTotp(request.admin!.id, (request.body as { code: string }).code);
      return { message: 'Two-step verification is enabled' };
    },
  );
}
