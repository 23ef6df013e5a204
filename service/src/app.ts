import { OpeningPool } from './blobs/opening-pool.js';
import { DigestPool } from './integrity/digest-pool.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import swagger from '@fastify/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminStore } from './management/admin-store.js';
import { registerManagementApi } from './management/api.js';
import { API_PREFIX } from './management/deps.js';
import { registerConsole } from './management/console.js';
import { CredentialStore } from './management/credential-store.js';
import { Inventory } from './management/inventory.js';
import { createBlobBackend } from './blobs/backends.js';
import { Sealer } from './blobs/sealer.js';
import { Authorizer } from './authz/authorize.js';
import { ChangeFeed } from './db/change-feed.js';
import type { Config } from './config.js';
import { connect, migrate, ping } from './db/database.js';
import { guardBodyIdle, limitBodyTime } from './http/request-limits.js';
import { S3Error } from './errors/s3-errors.js';
import { UserStore } from './management/user-store.js';
import { applyArchivePreset } from './management/archive-preset.js';
import { CURRENT_DEFAULTS, LEGACY_DEFAULTS } from './store/buckets.js';
import { AuditLog } from './audit/audit-log.js';
import { Outbox } from './events/outbox.js';
import { TargetStore } from './events/targets.js';
import { EventWorker } from './events/worker.js';
import { createS3Handler, errorBody, requestIds } from './s3/handler.js';
import { resolveTarget } from './s3/target.js';
import { Collector } from './store/collector.js';
import { rewrapInBackground } from './store/rekey.js';
import { LifecycleWorker } from './store/lifecycle-worker.js';
import { UsageSampler } from './store/usage-sampler.js';
import { RequestCounter } from './db/request-counts.js';
import { gatewayMetrics } from './metrics-sources.js';
import { Multipart } from './store/multipart.js';
import { Store } from './store/store.js';

/** How often caches reload even without a change notification: the backstop for a lost one. */
const CACHE_BACKSTOP_MS = 30_000;

export interface Gateway {
  app: FastifyInstance;
  store: Store;
  multipart: Multipart;
  collector: Collector;
  lifecycle: LifecycleWorker;
  /** S3 requests per minute; flushed to Postgres every few seconds (tests flush it themselves). */
  requests: RequestCounter;
  credentials: CredentialStore;
  admins: AdminStore;
}

/** An S3 request: any Authorization but a management Bearer key, or presigned query parameters. */
function isSigned(request: FastifyRequest): boolean {
  const auth = request.headers.authorization;
  if (auth) return !/^Bearer /i.test(auth);
  // SigV4 or SigV2 query-string signatures.
  return /[?&](X-Amz-(Algorithm|Signature)|AWSAccessKeyId)=/.test(request.raw.url ?? '');
}

/** Builds the gateway: migrations run, blob directories exist, routes registered; not yet listening. */
export async function buildGateway(
  config: Config,
  /** Where log lines go; stdout unless a caller (a test reading the log) passes its own. */
  logStream?: DestinationStream,
): Promise<Gateway> {
  const newRequestId = requestIds();
  const app = Fastify({
    logger: logStream ? { level: config.logLevel, stream: logStream } : { level: config.logLevel },
    // One structured line per S3 request comes from the handler, with operation, bucket and bytes.
    logController: new LogController({ disableRequestLogging: true }),
    exposeHeadRoutes: false,
    // request.ip and request.protocol follow X-Forwarded-* only from these proxies (nginx in a deployment).
    trustProxy: config.trustProxy.length ? config.trustProxy : false,
    genReqId: newRequestId,
    requestIdHeader: false,
    keepAliveTimeout: 65_000,
    // No bound on a whole request: a multi-GiB upload may take hours. Stalls are bounded below instead.
    requestTimeout: 0,
    http: {
      headersTimeout: config.limits.headersTimeoutMs,
      // How often Node checks header deadlines; the default 30 s would let a stalled client stay twice as long.
      connectionsCheckingInterval: Math.min(1000, config.limits.headersTimeoutMs),
    },
    return503OnClosing: true,
    routerOptions: { maxParamLength: 8192, ignoreDuplicateSlashes: false },
    // A URL the router cannot decode never reaches the S3 handler; it still gets an S3 error, not Fastify JSON.
    frameworkErrors: (error, request, reply) => {
      const err = new S3Error('InvalidURI');
      request.log.info(
        { requestId: request.id, method: request.method, status: err.status, reason: error.message },
        'request refused before routing',
      );
      const body = request.method === 'HEAD' ? '' : errorBody(err, '/', request.id);
      reply.hijack();
      reply.raw.writeHead(err.status, {
        'x-amz-request-id': request.id,
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(body),
      });
      reply.raw.end(body);
    },
    // Requests Node's HTTP parser refuses (malformed, headers too large, header timeout) get an S3 error too.
    clientErrorHandler: (error, socket) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      const s3err =
        code === 'HPE_HEADER_OVERFLOW'
          ? new S3Error('RequestHeaderSectionTooLarge')
          : code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? new S3Error('RequestTimeout')
            : new S3Error('InvalidRequest', 'The request is not valid HTTP/1.1.');
      const requestId = newRequestId();
      app.log.info(
        { requestId, status: s3err.status, code, reason: error.message },
        'request refused by the HTTP parser',
      );
      const body = errorBody(s3err, '/', requestId);
      socket.end(
        `HTTP/1.1 ${s3err.status} Bad Request\r\n` +
          `x-amz-request-id: ${requestId}\r\ncontent-type: application/xml\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
  });
  // Migrations may wait on another gateway's migration lock: their own connection, without statement timeouts.
  const migrator = connect(
    config.databaseUrl,
    { ...config.database, poolMax: 2, statementTimeoutMs: 0 },
    app.log,
  );
  try {
    await migrate(migrator);
  } finally {
    await migrator.destroy();
  }
  const db = connect(config.databaseUrl, config.database, app.log);
  const backend = createBlobBackend({
    kind: config.blobBackend,
    dataDir: config.dataDir,
    directIo: config.blobDirectIo,
    s3: config.blobStore,
  });
  await backend.init();
  const opening = new OpeningPool({ threads: config.decryptThreads });
  const sealer = new Sealer({
    backend,
    masterKey: config.masterKey,
    inlineMax: config.inlineMaxBytes,
    opening,
  });
  // Other gateways on the same database change credentials and buckets too: caches follow their changes.
  const changes = new ChangeFeed(
    {
      databaseUrl: config.databaseUrl,
      connectTimeoutMs: config.database.connectTimeoutMs,
      backstopMs: CACHE_BACKSTOP_MS,
      reconnectMs: 1000,
    },
    app.log,
  );
  const audit = new AuditLog(db, config.audit, app.log);
  await audit.applyRetention();
  const outbox = new Outbox(db, config.region);
  const metrics = gatewayMetrics(db, config.dataDir, () => outbox.counts(), config.tlsCertFile);
  const store = new Store({
    db,
    sealer,
    region: config.region,
    log: app.log,
    changes,
    bucketDefaults: config.bucketDefaults === 'legacy' ? LEGACY_DEFAULTS : CURRENT_DEFAULTS,
    audit,
    onCommitted: (rows) => metrics.committed(rows),
  });
  const multipart = new Multipart(db, sealer, store);
  const collector = new Collector(db, store.trash, backend, config.gcGraceSeconds * 1000, app.log, {
    multipart,
    maxUploadAgeMs: config.multipartExpiryHours * 3600 * 1000,
  });
  const lifecycle = new LifecycleWorker(db, store, multipart, config.lifecycle, app.log);
  const usage = new UsageSampler(db, config.usageSampleSeconds * 1000, app.log);
  const requests = new RequestCounter(db, app.log);
  const credentials = new CredentialStore(db, config.masterKey, changes, app.log, audit);
  const authorizer = new Authorizer(store.buckets, new Set(config.archive?.preset.buckets ?? []));
  await credentials.seed(config.credentials);
  await changes.start();
  const admins = new AdminStore(db, config.masterKey, config.login, Date.now, audit);
  const targets = new TargetStore(db, config.masterKey, config.region);
  if (config.webhooks) {
    const { applied, skipped } = await targets.declare(config.webhooks);
    if (skipped.length) app.log.warn({ skipped }, 'webhook targets of WEBHOOKS_FILE not applied');
    app.log.info({ applied }, 'webhook targets declared by WEBHOOKS_FILE');
  }
  const events = new EventWorker(db, outbox, targets, config.events, app.log, metrics);
  // A change committed on any gateway wakes the worker at once; the poll is the backstop.
  changes.onChange('bucket_events', () => events.wake());
  if (config.admin) await admins.seed(config.admin);

  // Node answers Expect itself unless told otherwise: 100 Continue before any authentication, and 417 for
  // anything else. Both go through the normal path; the S3 handler sends 100 Continue once it may.
  const handOn = (req: IncomingMessage, res: ServerResponse) => app.server.emit('request', req, res);
  app.server.on('checkContinue', handOn);
  app.server.on('checkExpectation', handOn);
  app.addHook('onRequest', async (request) => {
    guardBodyIdle(request.raw, config.limits.bodyIdleTimeoutMs);
    // JSON and console requests are small: their whole body has a deadline too.
    if (!isSigned(request) && request.url.startsWith('/_coffer/'))
      limitBodyTime(request.raw, config.limits.smallBodyTimeoutMs);
  });
  app.addHook('preParsing', async (request, reply) => {
    if (!reply.sent && /^100-continue$/i.test(String(request.headers.expect ?? '').trim()))
      reply.raw.writeContinue();
  });

  // S3 bodies are streamed by the operation handlers; Fastify must never buffer or parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  const digests = new DigestPool({ threads: config.digestThreads });
  const s3 = createS3Handler({
    store,
    multipart,
    digests,
    credentials,
    authorizer,
    settings: {
      region: config.region,
      enforcePayloadVerification: config.enforcePayloadVerification,
      signatureV2: config.signatureV2,
      smallBodyTimeoutMs: config.limits.smallBodyTimeoutMs,
      lifecycleDayMs: config.lifecycle.dayMs,
    },
    domain: config.domain,
    audit,
    requests,
    metrics,
    log: app.log,
  });
  // Health endpoints answer unsigned requests only: a signed GET /health is ListObjects on a bucket named "health".
  app.get('/health', { schema: { hide: true } }, async (request, reply) => {
    if (isSigned(request)) return s3(request, reply);
    return { status: 'ok' };
  });
  app.get('/ready', { schema: { hide: true } }, async (request, reply) => {
    if (isSigned(request)) return s3(request, reply);
    try {
      await ping(db, config.database.connectTimeoutMs);
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', reason: 'postgres unreachable' });
    }
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Coffer management API',
        version: '1',
        description:
          'Credentials, buckets, objects, multipart uploads and presigned URLs of a Coffer gateway. ' +
          'Authenticate with an admin API key (Authorization: Bearer <key>) or a console session cookie ' +
          'plus X-CSRF-Token. Errors are {"error", "message"}.',
      },
      servers: [{ url: API_PREFIX }],
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An admin API key (cfk_…)' },
          session: { type: 'apiKey', in: 'cookie', name: 'coffer_session' },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
    // Shared schemas become components named by their $id (ApiError), not def-0.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // Documented paths are relative to the server URL above; S3 and health routes are not part of it.
    transform: ({ schema, url }) => ({
      schema,
      url: url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) : url,
    }),
  });
  const users = new UserStore(db, credentials, audit);
  if (config.archive)
    await applyArchivePreset(
      { store, users, credentials, log: app.log },
      config.archive.preset,
      config.archive.keys,
    );
  const managementDeps = {
    db,
    store,
    multipart,
    authorizer,
    credentials,
    users,
    admins,
    inventory: new Inventory(db, backend),
    audit,
    targets,
    outbox,
    region: config.region,
    metrics,
    s3,
    isSigned,
  };
  await registerManagementApi(app, managementDeps);
  await registerConsole(app, isSigned, s3);
  // S3 takes the request in onRequest, before Fastify parses anything: S3 stores any Content-Type, even
  // one Fastify cannot parse, and streams the body itself.
  // A person who opens the endpoint in a browser gets the console's login, not ListBuckets' AccessDenied;
  // S3 clients never ask for HTML, and a virtual-hosted bucket's root stays S3's.
  const root = async (request: FastifyRequest, reply: FastifyReply) => {
    const browser = request.method === 'GET' && /\btext\/html\b/.test(request.headers.accept ?? '');
    if (browser && !isSigned(request) && !resolveTarget(request.headers.host, '/', config.domain).bucket)
      return reply.redirect('/_coffer/console/', 302);
    return s3(request, reply);
  };
  app.all('/', { schema: { hide: true }, onRequest: root }, root);
  app.all('/*', { schema: { hide: true }, onRequest: s3 }, s3);

  // The chain's head leaves the database now and then: a table cut short no longer matches it.
  const exportHead = () =>
    audit
      .exportHead(config.audit.headFile)
      .catch((err: Error) => app.log.warn({ reason: err.message }, 'audit head not exported'));
  let headTimer: NodeJS.Timeout | undefined;
  let rewrap: { stop(): Promise<void> } | undefined;
  app.addHook('onReady', async () => {
    collector.start(config.gcIntervalSeconds * 1000);
    // Started on an older key besides the current one: a rotation is under way, so finish it.
    if (config.rewrapOnStart && config.masterKey.ids.length > 1)
      rewrap = rewrapInBackground(db, config.masterKey, app.log);
    lifecycle.start();
    events.start();
    usage.start();
    requests.start();
    await exportHead();
    headTimer = setInterval(exportHead, config.audit.headIntervalMs);
    headTimer.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(headTimer);
    await rewrap?.stop();
    await exportHead();
    await digests.close();
    await opening.close();
    await collector.stop();
    await lifecycle.stop();
    await events.stop();
    usage.stop();
    await requests.stop();
    await changes.stop();
    await db.destroy();
  });
  return { app, store, multipart, collector, lifecycle, requests, credentials, admins };
}
