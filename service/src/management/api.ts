/**
 * The management API under /_coffer/api/v1: JSON in and out, authenticated by an admin API key
 * (`Authorization: Bearer cfk_…`) or a console session cookie plus its CSRF token. Errors are
 * `{error, message}` with a fitting status. Bucket names cannot contain `_`, so the prefix never
 * shadows a path-style bucket; a SigV4-signed request is always S3's, even under this prefix.
 */
import cookie from '@fastify/cookie';
import type {} from '@fastify/swagger';
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audited, type AuditScope } from '../audit/audit-log.js';
import { S3Error } from '../errors/s3-errors.js';
import type { Admin } from './admin-store.js';
import { registerAuditRoutes } from './audit-routes.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerOverviewRoutes } from './overview-routes.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { ApiError } from './errors.js';
import { COMPONENTS } from './response-schemas.js';
import { registerBucketRoutes } from './bucket-routes.js';
import { registerCredentialRoutes } from './credential-routes.js';
import { registerObjectRoutes } from './object-routes.js';
import { registerPresignedRoutes } from './presigned-routes.js';
import { registerUploadRoutes } from './upload-routes.js';
import { registerUserRoutes } from './user-routes.js';
import { registerWebhookRoutes } from './webhook-routes.js';
import { API_PREFIX, SESSION_COOKIE, type ManagementDeps } from './deps.js';

export { API_PREFIX };

declare module 'fastify' {
  interface FastifyRequest {
    admin?: Admin;
  }
  interface FastifyContextConfig {
    /** Routes reachable without an API key or session (login, the OpenAPI document). */
    public?: boolean;
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Who an audit record names: the authenticated admin, or the one a login names. */
function adminOf(request: FastifyRequest): string | undefined {
  const attempted = (request.body as { username?: unknown } | undefined)?.username;
  const who =
    request.admin?.username ??
    (request.routeOptions.url?.endsWith('/auth/login') && typeof attempted === 'string'
      ? attempted
      : undefined);
  return who === undefined ? undefined : `admin:${who}`;
}

/** An audit record's operation: the method and the route, without the prefix. */
const operationOf = (request: FastifyRequest) =>
  `${request.method} ${(request.routeOptions.url ?? request.url).slice(API_PREFIX.length)}`;

/** The `error` of a JSON error body, for the audit record. */
function errorCodeOf(payload: string): string | undefined {
  try {
    const code = (JSON.parse(payload) as { error?: unknown }).error;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

async function authenticate(deps: ManagementDeps, request: FastifyRequest): Promise<Admin> {
  const header = request.headers.authorization;
  const apiKey = header?.startsWith('Bearer ') ? header.slice(7).trim() : request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) {
    const admin = await deps.admins.byApiKey(apiKey);
    if (!admin) throw new ApiError(401, 'InvalidApiKey', 'The API key is not valid');
    if (!admin.isActive)
      throw new ApiError(403, 'AdminDisabled', 'The admin owning this API key is disabled');
    return admin;
  }
  const token = request.cookies[SESSION_COOKIE];
  if (token) {
    const session = await deps.admins.session(token);
    if (!session) throw new ApiError(401, 'SessionExpired', 'The console session has ended; log in again');
    if (!session.admin.isActive) throw new ApiError(403, 'AdminDisabled', 'This admin account is disabled');
    // SameSite=Strict already keeps other sites' requests cookie-less; the token makes forging one useless too.
    if (MUTATING.has(request.method) && request.headers['x-csrf-token'] !== session.csrfToken)
      throw new ApiError(
        403,
        'CsrfTokenInvalid',
        'The X-CSRF-Token header is missing or does not match the session',
      );
    return session.admin;
  }
  throw new ApiError(
    401,
    'Unauthorized',
    'Send an API key (Authorization: Bearer <key>) or log in to the console',
  );
}

export async function registerManagementApi(app: FastifyInstance, deps: ManagementDeps): Promise<void> {
  // At the root, where the OpenAPI document collects shared schemas as components.
  for (const schema of COMPONENTS) app.addSchema(schema);
  await app.register(
    async (api) => {
      await api.register(cookie);
      api.removeAllContentTypeParsers();
      api.addContentTypeParser(
        'application/json',
        { parseAs: 'string', bodyLimit: 1 << 20 },
        (_req, body, done) => {
          if (body === '') return done(null, {});
          try {
            done(null, JSON.parse(body as string));
          } catch {
            done(new ApiError(400, 'MalformedJson', 'The request body is not valid JSON'), undefined);
          }
        },
      );
      api.addContentTypeParser('*', (_req, _payload, done) => done(null));

      // Bodies are validated as sent (no coercion, no silently dropped fields); query strings and path
      // parameters arrive as text, so they are coerced to the declared types.
      const strict = new Ajv({
        allErrors: false,
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: true,
      });
      const coercing = new Ajv({
        allErrors: false,
        coerceTypes: true,
        removeAdditional: false,
        useDefaults: true,
      });
      api.setValidatorCompiler(({ schema, httpPart }) =>
        (httpPart === 'body' ? strict : coercing).compile(schema),
      );

      api.addHook('onRequest', async (request, reply) => {
        if (deps.isSigned(request)) return deps.s3(request, reply);
        reply.header('cache-control', 'no-store');
      });
      // Authentication comes before body parsing and validation: a stranger learns nothing about inputs.
      api.addHook('onRequest', async (request, reply) => {
        if (reply.sent || request.routeOptions.config.public) return;
        request.admin = await authenticate(deps, request);
      });
      // Without this, an unknown path under the prefix would fall through to S3's catch-all route.
      api.all('/*', { config: { public: true }, schema: { hide: true } }, async (request, reply) =>
        reply
          .code(404)
          .send({ error: 'NotFound', message: `No management endpoint ${request.method} ${request.url}` }),
      );
      api.setErrorHandler((error: Error & { validation?: unknown; statusCode?: number }, request, reply) => {
        if (error instanceof ApiError) return reply.code(error.status).send(error.body());
        if (error instanceof S3Error)
          return reply.code(error.status).send({ error: error.code, message: error.message });
        if (error.validation)
          return reply.code(400).send({ error: 'ValidationError', message: error.message });
        if (error.statusCode && error.statusCode < 500)
          return reply.code(error.statusCode).send({ error: 'BadRequest', message: error.message });
        if (isDatabaseUnavailable(error)) {
          request.log.warn({ reason: error.message }, 'database unavailable');
          return reply.code(503).header('retry-after', '2').send({
            error: 'ServiceUnavailable',
            message: 'The metadata database is not answering; retry shortly',
          });
        }
        request.log.error({ err: error }, 'management API failure');
        return reply
          .code(500)
          .send({ error: 'InternalError', message: 'The request failed; the gateway log has details' });
      });

      // Every change and every refusal through the API or the console, logins included, goes on the
      // audit trail; a signed request was the S3 handler's, which records it itself. A change the store
      // commits with its record (an object deleted) leaves no second one. The scope is entered once the
      // body is parsed: callbacks of the request stream would not carry it.
      const scopes = new WeakMap<FastifyRequest, AuditScope>();
      api.addHook('preValidation', (request, reply, done) => {
        if (reply.sent || deps.isSigned(request)) return done();
        const scope: AuditScope = {
          event: {
            principal: adminOf(request),
            source: request.ip,
            operation: operationOf(request),
            bucket: (request.params as { bucket?: string } | undefined)?.bucket,
            requestId: request.id,
          },
          recorded: false,
        };
        scopes.set(request, scope);
        void deps.audit.within(scope, async () => done());
      });
      api.addHook('onSend', async (request, reply, payload) => {
        if (
          deps.isSigned(request) ||
          scopes.get(request)?.recorded ||
          !audited(request.method, reply.statusCode, deps.audit.settings.reads)
        )
          return payload;
        const params = (request.params ?? {}) as Record<string, string | undefined>;
        const code =
          reply.statusCode >= 400 && typeof payload === 'string' ? errorCodeOf(payload) : undefined;
        // Written before the answer leaves: an admin who got a refusal can find it in the trail at once.
        await deps.audit.recorded({
          principal: adminOf(request),
          source: request.ip,
          operation: operationOf(request),
          bucket: params.bucket,
          key: params.key ?? params['*'],
          result: [reply.statusCode, code].filter(Boolean).join(' '),
          requestId: request.id,
        });
        return payload;
      });

      registerAuthRoutes(api, deps);
      registerAdminRoutes(api, deps);
      registerAuditRoutes(api, deps);
      registerOverviewRoutes(api, deps);
      registerCredentialRoutes(api, deps);
      registerUserRoutes(api, deps);
      registerBucketRoutes(api, deps);
      registerUploadRoutes(api, deps);
      registerObjectRoutes(api, deps);
      registerPresignedRoutes(api, deps);
      registerWebhookRoutes(api, deps);
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () =>
        app.swagger(),
      );
    },
    { prefix: API_PREFIX },
  );
}
