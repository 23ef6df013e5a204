/**
 * What the management API answers, as JSON Schema: Fastify serializes every response through these (a
 * field no schema names never leaves), and service/openapi.json documents them for generated clients.
 * Field names are seed 001's. A field that may be null says so: the serializer would turn null into "".
 */

type Schema = Record<string, unknown>;

const string = { type: 'string' } as const;
const integer = { type: 'integer' } as const;
const boolean = { type: 'boolean' } as const;
const number = { type: 'number' } as const;
const time = { type: 'string', format: 'date-time' } as const;

/** The same schema, or null. */
function nullable(s: Schema): Schema {
  return { ...s, type: [s.type as string, 'null'] };
}

/** A named schema (a component of the document) where it is used: a reference to it. */
const use = (s: Schema): Schema => (s.$id ? { $ref: `${String(s.$id)}#` } : s);

/** An object whose properties are all present unless listed as optional. */
function object(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, use(v)])),
  };
}

/** A schema of the document's components, named `id` (Bucket, Credential, ...). */
const named = (id: string, s: Schema): Schema => ({ $id: id, ...s });

const list = (items: Schema): Schema => ({ type: 'array', items: use(items) });
/** Names chosen by users (metadata, tags) or by the job (a report's counters). */
const map = (values: Schema): Schema => ({ type: 'object', additionalProperties: values });

export const MESSAGE = object({ message: string });

const retention = nullable(object({ mode: string, until: time }));

export const SESSION = named(
  'Session',
  object({
    username: string,
    totp_enabled: boolean,
    csrf_token: string,
    expires_at: time,
  }),
);

export const ADMIN = named(
  'Admin',
  object({
    id: integer,
    username: string,
    totp_enabled: boolean,
    is_active: boolean,
    api_keys: integer,
    created_by: nullable(string),
    created_at: time,
  }),
);

export const CREDENTIAL = named(
  'Credential',
  object({
    id: integer,
    access_key: string,
    user_id: integer,
    user_name: nullable(string),
    is_active: boolean,
    created_at: time,
    updated_at: time,
  }),
);

export const BUCKET = named(
  'Bucket',
  object({
    name: string,
    region: string,
    owner: string,
    owner_id: nullable(integer),
    owner_access_key: nullable(string),
    owner_user_id: integer,
    owner_canonical_id: string,
    created_at: time,
    object_count: integer,
    total_size: integer,
    total_size_human: string,
    versioning: { type: ['string', 'null'], enum: ['Enabled', 'Suspended', null] },
    object_lock: nullable(
      object({
        default_retention: nullable(
          object({ mode: string, days: integer, years: integer }, ['days', 'years']),
        ),
      }),
    ),
    lifecycle_rules: integer,
  }),
);

/** One page of a bucket's objects; a key with `/` under a delimiter shows as a common prefix. */
/** What a listing and an object's details both say of it. */
const OBJECT_FIELDS = {
  key: string,
  size: integer,
  size_human: string,
  content_type: string,
  etag: string,
  is_multipart: boolean,
  created_at: time,
};

export const OBJECT_PAGE = {
  objects: list(object(OBJECT_FIELDS)),
  common_prefixes: list(string),
  is_truncated: boolean,
  next_marker: nullable(string),
};

export const OBJECT_DETAIL = named(
  'ObjectDetail',
  object({
    ...OBJECT_FIELDS,
    updated_at: time,
    part_count: integer,
    metadata: map(string),
    tags: map(string),
    checksums: map(string),
    checksum_type: nullable(string),
    version_id: string,
    retention,
    legal_hold: boolean,
    storage: object({ backend: string, blobs: integer }),
    encryption: object({ algorithm: string, segment_size: integer, master_key_id: string }),
    encrypted: boolean,
  }),
);

export const VERSION = named(
  'ObjectVersion',
  object({
    version_id: string,
    is_latest: boolean,
    delete_marker: boolean,
    size: integer,
    etag: string,
    last_modified: time,
    retention,
    legal_hold: boolean,
  }),
);

export const UPLOAD = named(
  'Upload',
  object({
    upload_id: string,
    object_key: string,
    initiated_by: string,
    content_type: string,
    initiated_at: time,
    part_count: integer,
    total_size: integer,
    total_size_human: string,
  }),
);

export const USER = named(
  'User',
  object({
    id: integer,
    name: string,
    canonical_id: string,
    created_at: time,
    bucket_count: integer,
    access_keys: list(object({ id: integer, access_key: string, is_active: boolean })),
  }),
);

export const GRANT = named(
  'Grant',
  object({
    id: integer,
    user_id: integer,
    user_name: string,
    access: { type: 'string', enum: ['read', 'write', 'read-write'] },
    prefix: string,
    created_at: time,
  }),
);

export const PRESIGNED_URL = named(
  'PresignedUrl',
  object({
    bucket_name: string,
    object_key: string,
    method: string,
    access_key: string,
    expires_at: time,
    created_at: time,
  }),
);

export const AUDIT_RECORD = named(
  'AuditRecord',
  object({
    seq: integer,
    at: time,
    principal: nullable(string),
    access_key: nullable(string),
    source: nullable(string),
    operation: string,
    bucket: nullable(string),
    key: nullable(string),
    version_id: nullable(string),
    result: string,
    bytes: integer,
    request_id: nullable(string),
    hash: string,
  }),
);

export const WEBHOOK = named(
  'Webhook',
  object({
    id: integer,
    name: string,
    arn: string,
    user_name: string,
    url: string,
    auth: { type: 'string', enum: ['none', 'bearer', 'hmac'] },
    ca_bundle: nullable(string),
    declared: boolean,
    created_at: time,
  }),
);

export const EVENT_MESSAGE = named(
  'EventMessage',
  object({
    id: integer,
    event_seq: integer,
    target: string,
    bucket: string,
    key: string,
    event_name: string,
    state: { type: 'string', enum: ['pending', 'failed'] },
    attempts: integer,
    created_at: time,
    next_attempt_at: time,
    last_attempt_at: nullable(time),
    last_error: nullable(string),
    payload: { type: 'object', additionalProperties: true, description: 'The S3 event message sent' },
  }),
);

export const STATS = named(
  'Stats',
  object({
    credentials: integer,
    buckets: integer,
    objects: integer,
    total_storage: integer,
    total_storage_human: string,
    active_multipart_uploads: integer,
    active_presigned_urls: integer,
  }),
);

export const ACTIVITY = named(
  'Activity',
  object({
    requests: list(
      object({ minute: time, ok: integer, client_error: integer, server_error: integer, no_answer: integer }),
    ),
    storage: list(object({ at: time, bytes: integer, objects: integer })),
    jobs: list(
      object({
        job: string,
        started_at: time,
        finished_at: time,
        outcome: { type: 'string', enum: ['ok', 'failed'] },
        report: nullable(map(number)),
        error: nullable(string),
        last_ok_at: nullable(time),
      }),
    ),
  }),
);

export const HEALTH = named(
  'Health',
  object({
    gateway: object({ status: string, uptime_seconds: integer, node: string, pid: integer }),
    postgres: object(
      {
        status: { type: 'string', enum: ['ok', 'unavailable'] },
        latency_ms: number,
        version: string,
        connections: integer,
        database_bytes: integer,
        reason: string,
      },
      ['latency_ms', 'version', 'connections', 'database_bytes', 'reason'],
    ),
    region: string,
  }),
);

/** The body of every failure: a code to branch on and a sentence for people. One shared schema, by $id. */
export const API_ERROR = {
  $id: 'ApiError',
  ...object({ error: string, message: string, restriction_state: string }, ['restriction_state']),
};

const WHY: Record<number, string> = {
  400: 'The request is not valid (ValidationError, MalformedJson, or a code naming the rule broken)',
  401: 'No valid API key or console session',
  403: 'The admin is disabled, or the console request lacks its CSRF token',
  404: 'What the path names does not exist',
  409: 'The change conflicts with the current state (the code says which)',
  429: 'Too many failed logins: locked for a while (restriction_state says until when)',
  500: 'The gateway failed; its log has the details',
  503: 'The metadata database is not answering; retry after Retry-After seconds',
};

/**
 * A route's `response` schemas: its answers by status, each with a description, and the failures it can
 * give besides those every route can (401 and 403 unless public, 400 for its inputs, 500, 503).
 */
export function responses(
  answers: Record<number, { description: string; body?: Schema }>,
  failures: number[] = [],
  opts: { public?: boolean } = {},
): Record<number, Schema> {
  const out: Record<number, Schema> = {};
  for (const [status, a] of Object.entries(answers))
    out[Number(status)] = { description: a.description, ...use(a.body ?? MESSAGE) };
  const always = opts.public ? [400, 500, 503] : [400, 401, 403, 500, 503];
  for (const status of [...new Set([...always, ...failures])].sort((a, b) => a - b))
    out[status] = { description: WHY[status] ?? 'A failure', $ref: 'ApiError#' };
  return out;
}

/** `{ [name]: [items] }`: the listing responses' shape. */
export const listOf = (
  name: string,
  items: Schema,
  extra: Record<string, Schema> = {},
  optional: string[] = [],
) => object({ [name]: list(items), ...extra }, optional);

/** `base` with more properties, all present. */
export function withProperties(base: Schema, extra: Record<string, Schema>): Schema {
  const { $id: _, ...copy } = base;
  return {
    ...copy,
    required: [...(base.required as string[]), ...Object.keys(extra)],
    properties: {
      ...(base.properties as Record<string, Schema>),
      ...(object(extra).properties as Record<string, Schema>),
    },
  };
}

/** Every named schema, for the API to register where the document finds them. */
export const COMPONENTS = [
  API_ERROR,
  SESSION,
  ADMIN,
  CREDENTIAL,
  BUCKET,
  OBJECT_DETAIL,
  VERSION,
  UPLOAD,
  USER,
  GRANT,
  PRESIGNED_URL,
  AUDIT_RECORD,
  WEBHOOK,
  EVENT_MESSAGE,
  STATS,
  ACTIVITY,
  HEALTH,
];

export const TRANSFERRED = object({ message: string, transferred_buckets: list(string) });

export { boolean, integer, list, nullable, object, string, time };
