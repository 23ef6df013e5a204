import { randomFillSync } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestCounter } from '../db/request-counts.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { Log } from '../log.js';
import { audited, type AuditLog, type AuditScope } from '../audit/audit-log.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { StoreUnavailableError } from '../errors/store-unavailable.js';
import { BodyTimeoutError, drainSmallRemainder, limitBodyTime } from '../http/request-limits.js';
import { authenticate, type Authenticated } from '../auth/authenticate.js';
import type { CredentialProvider } from '../auth/credentials.js';
import type { AccessRequest, Authorizer, Principal, RequestContext } from '../authz/authorize.js';
import type { UserDirectory } from '../authz/policy.js';
import { conditionValues } from './condition-values.js';
import { SigningKeyCache } from '../auth/signing-key-cache.js';
import { parseRawQuery, safeDecode, type WireRequest } from '../auth/sigv4.js';
import type { DigestPool } from '../integrity/digest-pool.js';
import type { Multipart } from '../store/multipart.js';
import type { Bucket } from '../store/types.js';
import type { Store } from '../store/store.js';
import { principalOf, type S3Context, type S3Response, type S3Settings } from './context.js';
import { corsHeaders, matchRule, preflight, type CorsRule } from './cors.js';
import { isS3Error, S3Error } from '../errors/s3-errors.js';
import { checkKey } from './object-request.js';
import { describeUnrouted, route, type Endpoint } from './router.js';
import { resolveTarget, type Target } from './target.js';
import { refuseUnhonouredHeaders } from './unhonoured.js';
import { toXml } from './xml.js';

export interface S3HandlerDeps {
  store: Store;
  multipart: Multipart;
  /** Where large bodies' digests are computed, off the event loop. */
  digests: DigestPool;
  credentials: CredentialProvider & UserDirectory;
  authorizer: Authorizer;
  settings: S3Settings;
  domain?: string;
  audit: AuditLog;
  /** Requests per minute and status class, for the console's last hour. */
  requests: RequestCounter;
  metrics: GatewayMetrics;
  log: Log;
}

/** What a 503 asks clients to wait before retrying. */
const RETRY_AFTER_SECONDS = '2';

/**
 * Request ids: 16 hex digits each, cut from random bytes drawn 4 KiB at a time. Each draw from the
 * CSPRNG costs a getpid() (OpenSSL's fork check), several microseconds on this kind of VM, once per request.
 */
export function requestIds(): () => string {
  const pool = Buffer.alloc(8 * 512);
  let at = pool.length;
  return () => {
    if (at === pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    return pool.toString('hex', at, (at += 8)).toUpperCase();
  };
}

function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

export function errorBody(err: S3Error, resource: string, requestId: string): string {
  return toXml(
    'Error',
    {
      Code: err.code,
      Message: err.message,
      Resource: resource,
      ...err.extra,
      RequestId: requestId,
      HostId: requestId,
    },
    false,
  );
}

/** Serves one S3 request on the raw response: exact headers (HEAD lengths, 304s) and streamed bodies. */
export function createS3Handler(deps: S3HandlerDeps) {
  const keyCache = new SigningKeyCache();
  return async function handle(fastifyRequest: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.hijack();
    const req = fastifyRequest.raw;
    const res = reply.raw;
    const requestId = fastifyRequest.id;
    const started = process.hrtime.bigint();
    const finished = deps.metrics.started();
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const rawPath = qi < 0 ? url : url.slice(0, qi);
    const rawQuery = qi < 0 ? '' : url.slice(qi + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    let operation = 'Unknown';
    let bucket: string | undefined;
    let key: string | undefined;
    let accessKeyId: string | undefined;
    let principalName: string | undefined;
    let askedVersion: string | undefined;
    /** Set once the request may change something: a change committed with its record marks it. */
    let scope: AuditScope | undefined;
    let s3code: string | undefined;
    let claimedKey: string | undefined;
    const sent = { bytes: 0 };
    let ended: string | undefined;
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('server', 'Coffer');
    try {
      const wire: WireRequest = { method, rawPath, rawQuery, headers: pairs(req.rawHeaders) };
      const queryPairs = parseRawQuery(rawQuery);
      const target = resolveTarget(req.headers.host, rawPath, deps.domain);
      bucket = target.bucket;
      key = target.key;
      if (method === 'OPTIONS') {
        operation = 'PreflightCors';
        await send(
          res,
          await preflight(req.headers, target.bucket, (b) => deps.store.buckets.corsRules<CorsRule[]>(b)),
          method,
          sent,
        );
        return;
      }
      const query = new Map<string, string>();
      for (const [k, v] of queryPairs) if (!query.has(k)) query.set(k, v);
      askedVersion = query.get('versionId');
      const request = { raw: req, method, bucket: target.bucket, key: target.key, query };
      // Routing comes first so every log line names what was asked, even when it is refused.
      let endpoint: Endpoint | undefined;
      let unrouted: unknown;
      try {
        endpoint = route(request);
        operation = endpoint.name;
      } catch (err) {
        unrouted = err;
        operation = describeUnrouted(request);
      }
      const auth = authenticate(wire, queryPairs, {
        credentials: deps.credentials,
        now: new Date(),
        region: deps.settings.region,
        enforcePayloadVerification: deps.settings.enforcePayloadVerification,
        keyCache,
        signatureV2: deps.settings.signatureV2,
        virtualBucket: target.virtualHosted ? target.bucket : undefined,
      });
      accessKeyId = auth.accessKeyId;
      const principal = principalOf(auth.accessKeyId, deps.credentials);
      principalName = nameOf(principal);
      if (!endpoint) throw unrouted;
      // The key rule is checked once, before authorization, as AWS refuses a malformed key first.
      if (endpoint.target === 'object') checkKey(request.key!);
      refuseUnhonouredHeaders(req.headers, endpoint);
      if (!endpoint.streamsBody) limitBodyTime(req, deps.settings.smallBodyTimeoutMs);
      const context = requestContext(deps.store, fastifyRequest, query, auth, principal, target);
      const authorizeAs = (p: Principal, r: Omit<AccessRequest, 'principal'>) =>
        deps.authorizer.authorize({ ...r, principal: p, context });
      const authorize = (r: Omit<AccessRequest, 'principal'>) => authorizeAs(principal, r);
      // One decision, before any handler runs: the endpoint's action on the resource the request names.
      const asked = { action: endpoint.action, bucket: request.bucket, key: request.key };
      const grant =
        endpoint.authorization === 'each-key'
          ? await deps.authorizer.authorizeAnyKey({ ...asked, principal })
          : endpoint.authorization === 'in-form'
            ? await deps.authorizer.resolveForForm({ ...asked, principal })
            : await authorize(asked);
      const ctx: S3Context = {
        ...request,
        users: deps.credentials,
        signers: deps.credentials,
        authorizeAs,
        requestId,
        auth,
        grant,
        authorize,
        store: deps.store,
        multipart: deps.multipart,
        digests: deps.digests,
        settings: deps.settings,
      };
      // Only now, authenticated and routed, is the client invited to send the body it held back.
      if (/^100-continue$/i.test(String(req.headers.expect ?? '').trim())) res.writeContinue();
      const handler = endpoint.handler;
      const changing: AuditScope = (scope = {
        event: {
          principal: principalName,
          accessKey: accessKeyId,
          source: fastifyRequest.ip,
          operation,
          bucket,
          key,
          requestId,
        },
        recorded: false,
      });
      const response = await deps.audit
        .within(changing, () => handler(ctx))
        .catch((err) => concealMissing(err, authorize, request.bucket));
      const origin = req.headers.origin;
      if (origin && ctx.bucket) {
        // A browser reads the response only if the bucket's rules allow this origin and method.
        const rules = await deps.store.buckets.corsRules<CorsRule[]>(ctx.bucket);
        const rule = rules ? matchRule(rules, origin, method === 'HEAD' ? 'HEAD' : method, []) : undefined;
        if (rule) response.headers = { ...response.headers, ...corsHeaders(rule, origin, [], false) };
      }
      await send(res, response, method, sent);
    } catch (err) {
      if (err instanceof BodyTimeoutError || clientWentAway(err, res)) {
        // A client that went away or stalled gets no answer (its connection is gone): one info line, below.
        ended = err instanceof BodyTimeoutError ? err.message : 'client disconnected';
        res.destroy();
        return;
      }
      const unavailable = isDatabaseUnavailable(err);
      const storeDown = err instanceof StoreUnavailableError;
      const s3err = isS3Error(err)
        ? err
        : unavailable
          ? new S3Error('ServiceUnavailable', 'The metadata database is not answering; retry shortly.')
          : storeDown
            ? new S3Error('ServiceUnavailable', 'The blob store is not answering; retry shortly.')
            : new S3Error('InternalError');
      if (res.headersSent) {
        // The status line is gone; cutting the connection is the only honest signal left.
        deps.log.error({ err, requestId, operation }, 'response failed after headers were sent');
        res.destroy();
        return;
      }
      if (unavailable) {
        deps.metrics.databaseUnavailable();
        deps.log.warn({ requestId, operation, reason: (err as Error).message }, 'database unavailable');
      } else if (storeDown) {
        deps.log.warn({ requestId, operation, reason: (err as Error).message }, 'blob store unavailable');
      } else if (s3err.code === 'InternalError')
        deps.log.error({ err, requestId, operation }, 'request failed');
      // A small unread rest is read so the client sees the answer; a large one closes the connection,
      // which would otherwise read it in full before the next request on this socket.
      if (!req.complete && !(await drainSmallRemainder(req))) res.setHeader('connection', 'close');
      s3code = s3err.code;
      // A refused signature still names the key it claimed: who tried is what an auditor asks.
      claimedKey = s3err.extra.AWSAccessKeyId;
      if (s3err.code === 'ServiceUnavailable') res.setHeader('retry-after', RETRY_AFTER_SECONDS);
      for (const [name, value] of Object.entries(s3err.headers)) res.setHeader(name, value);
      const body = method === 'HEAD' ? undefined : errorBody(s3err, safeDecode(rawPath) || '/', requestId);
      await send(
        res,
        { status: s3err.status, headers: { 'content-type': 'application/xml' }, body },
        method,
        sent,
      ).catch(() => undefined);
    } finally {
      // No status when none was sent (a stalled body, a client gone before the answer).
      const status = res.headersSent ? res.statusCode : undefined;
      deps.requests.count(status);
      const bytesIn = Number(
        req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length'] ?? 0,
      );
      finished(operation, status, bytesIn, sent.bytes);
      if (!scope?.recorded && audited(method, status, deps.audit.settings.reads))
        deps.audit.record({
          principal: principalName,
          accessKey: accessKeyId ?? claimedKey,
          source: fastifyRequest.ip,
          operation,
          bucket,
          key,
          versionId: versionOf(res.getHeader('x-amz-version-id')) ?? askedVersion,
          result: [status ?? 'no answer', s3code ?? ended].filter(Boolean).join(' '),
          bytes: method === 'GET' || method === 'HEAD' ? sent.bytes : bytesIn,
          requestId,
        });
      deps.log.info(
        {
          requestId,
          operation,
          method,
          bucket,
          accessKeyId,
          status,
          bytesIn,
          bytesOut: sent.bytes,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        ended ?? 'request',
      );
    }
  };
}

const versionOf = (header: unknown) => (typeof header === 'string' ? header : undefined);

/** Who a principal is, in an audit record: a user's name, or what kind of caller it was. */
function nameOf(p: Principal): string {
  return p.kind === 'user' ? p.user.name : p.kind === 'admin' ? `admin:${p.username}` : 'anonymous';
}

/** What policies can test of this request, and how to load the object a decision is about. */
function requestContext(
  store: Store,
  request: FastifyRequest,
  query: Map<string, string>,
  auth: Authenticated,
  principal: Principal,
  target: Target,
): RequestContext {
  const now = new Date();
  let values: ReadonlyMap<string, readonly string[]> | undefined;
  return {
    // Read only when a policy is evaluated: an owner's request to a bucket without one never needs them.
    get values() {
      return (values ??= conditionValues({
        raw: request.raw,
        query,
        auth,
        user: principal.kind === 'user' ? principal.user : undefined,
        sourceIp: request.ip,
        secure: request.protocol === 'https',
        now,
      }));
    },
    existingObject: (b: Bucket, k: string) =>
      // The version the request names, when it asks about its own key (a copy's source is another one).
      store
        .objectAccess(b, k, b.name === target.bucket && k === target.key ? query.get('versionId') : undefined)
        // A missing object has nothing to test; any other failure must not pass for "nothing".
        .catch((err) => {
          if (isS3Error(err)) return undefined;
          throw err;
        }),
  };
}

/** As AWS: a missing key is NoSuchKey only to who may list the bucket; anyone else learns nothing (403). */
async function concealMissing(
  err: unknown,
  authorize: (r: Omit<AccessRequest, 'principal'>) => Promise<unknown>,
  bucket: string | undefined,
): Promise<never> {
  if (isS3Error(err) && (err.code === 'NoSuchKey' || err.code === 'NoSuchVersion') && bucket !== undefined) {
    try {
      await authorize({ action: 's3:ListBucket', bucket });
    } catch (refused) {
      if (isS3Error(refused)) throw new S3Error('AccessDenied');
      throw refused;
    }
  }
  throw err;
}

/** True when the failure is the client having closed the connection, not a fault of ours. */
function clientWentAway(err: unknown, res: ServerResponse): boolean {
  if (isS3Error(err) || res.writableFinished) return false;
  return (
    (err as { code?: string } | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    res.destroyed ||
    !!res.socket?.destroyed
  );
}

/** Writes the response; `sent.bytes` counts body bytes as they go, so a cut transfer still reports them. */
async function send(
  res: ServerResponse,
  response: S3Response,
  method: string,
  sent: { bytes: number },
): Promise<void> {
  const body = response.body;
  // A stream's first chunk is read before the status line: failing to open the data (a blob store that
  // does not answer) is then still an S3 error the client can act on, not a connection cut after 200.
  const stream =
    body !== undefined && method !== 'HEAD' && typeof body !== 'string' && !Buffer.isBuffer(body)
      ? body[Symbol.asyncIterator]()
      : undefined;
  const first = stream ? await stream.next() : undefined;
  res.statusCode = response.status;
  for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v);
  if (body === undefined || method === 'HEAD') {
    if (!res.hasHeader('content-length') && response.status !== 304 && response.status !== 204)
      res.setHeader('content-length', 0);
    res.end();
    return;
  }
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    res.setHeader('content-length', buf.length);
    res.end(buf);
    sent.bytes = buf.length;
    return;
  }
  const rest = stream!;
  // Written straight to the response, not through a Readable and a pipeline, and a MiB to a syscall: the
  // socket then sends full segments, not each 64 KiB plaintext segment's odd tail as a packet of its own.
  let corked = 0;
  // A lending source (a large object's read) reuses a chunk's memory once told the socket has taken it.
  let taken: Promise<void> | undefined;
  try {
    for (let next = first!; !next.done; next = await rest.next(taken)) {
      if (res.destroyed) throw prematureClose();
      if (corked === 0) res.cork();
      taken = written(res, next.value);
      sent.bytes += next.value.length;
      corked += next.value.length;
      if (corked < SEND_BATCH) continue;
      corked = 0;
      res.uncork();
      if (res.writableNeedDrain) await drained(res);
    }
  } finally {
    if (corked > 0) res.uncork();
    // Stopped early (the client went away): the source's own cleanup (closing the blob) still runs.
    await rest.return?.(undefined);
  }
  res.end();
  await finished(res);
}

/** Writes a chunk; resolves once the socket has taken its bytes, rejects (handled) if it never will. */
function written(res: ServerResponse, chunk: Buffer): Promise<void> {
  const taken = new Promise<void>((resolve, reject) =>
    res.write(chunk, (err) => (err ? reject(err) : resolve())),
  );
  taken.catch(() => undefined);
  return taken;
}

/** Bytes a response holds corked before they go to the socket in one write. */
const SEND_BATCH = 1024 * 1024;

const prematureClose = () =>
  Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/** Resolves when the response takes more; rejects when it closes or fails first, so a gone client frees the read. */
function drained(res: ServerResponse): Promise<void> {
  // Closed already: its 'close' has been emitted and would never be heard.
  if (res.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const settle = (err?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      res.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(prematureClose());
    res.on('drain', onDrain);
    res.on('close', onClose);
    res.on('error', settle);
  });
}
