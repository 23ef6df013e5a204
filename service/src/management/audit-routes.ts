/** The audit trail, newest first, filtered: what the console's audit page shows. */
import type { FastifyInstance } from 'fastify';
import type { AuditRecord } from '../audit/chain.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { AUDIT_RECORD, integer, listOf, responses } from './response-schemas.js';

const text = { type: 'string', minLength: 1, maxLength: 1024 };
const time = { type: 'string', minLength: 1, maxLength: 64, description: 'ISO 8601' };

function timeOf(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) throw new ApiError(400, 'ValidationError', `${name} is not a time`);
  return t;
}

const view = (r: AuditRecord) => ({
  seq: r.seq,
  at: r.at.toISOString(),
  principal: r.principal,
  access_key: r.accessKey,
  source: r.source,
  operation: r.operation,
  bucket: r.bucket,
  key: r.key,
  version_id: r.versionId,
  result: r.result,
  bytes: r.bytes,
  request_id: r.requestId,
  hash: r.hash.toString('hex'),
});

export function registerAuditRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  api.get(
    '/audit',
    {
      schema: {
        operationId: 'listAuditRecords',
        response: responses({
          200: {
            description: 'A page of records; next_before when there may be more',
            body: listOf('records', AUDIT_RECORD, { next_before: integer }, ['next_before']),
          },
        }),
        tags: ['audit'],
        summary: 'Audit records, newest first; page on with before=<the last seq>',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: time,
            until: time,
            principal: text,
            operation: text,
            bucket: text,
            key: text,
            source: text,
            result: { ...text, description: 'A prefix of the result: 403, 2, 500 InternalError' },
            before: { type: 'integer', minimum: 1 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query as Record<string, string | undefined> & { before?: number; limit: number };
      const records = await deps.audit.list(
        { ...q, since: timeOf(q.since, 'since'), until: timeOf(q.until, 'until') },
        q.limit,
      );
      const last = records.at(-1);
      return {
        records: records.map(view),
        ...(records.length === q.limit && last ? { next_before: last.seq } : {}),
      };
    },
  );
}
