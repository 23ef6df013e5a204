/**
 * Webhook targets (an admin creates each one for a user, whose buckets may then send events to it)
 * and the event messages waiting for them: pending ones being retried, failed ones given up, each
 * with its last error, to retry or drop.
 */
import type { FastifyInstance } from 'fastify';
import type { Delivery, DeliveryFilter } from '../events/outbox.js';
import { TargetError, type NewTarget, type WebhookTarget } from '../events/targets.js';
import type { ManagementDeps } from './deps.js';
import { ApiError } from './errors.js';
import { EVENT_MESSAGE, WEBHOOK, integer, listOf, object, responses } from './response-schemas.js';

const webhookJson = (t: WebhookTarget) => ({
  id: t.id,
  name: t.name,
  arn: t.arn,
  user_name: t.userName,
  url: t.url,
  auth: t.auth,
  ca_bundle: t.caBundle,
  declared: t.declared,
  created_at: t.createdAt,
});

const messageJson = (d: Delivery) => ({
  id: d.id,
  event_seq: d.eventSeq,
  target: d.target,
  bucket: d.bucket,
  key: d.key,
  event_name: d.eventName,
  state: d.state,
  attempts: d.attempts,
  created_at: d.createdAt,
  next_attempt_at: d.nextAttemptAt,
  last_attempt_at: d.lastAttemptAt,
  last_error: d.lastError,
  payload: d.payload,
});

const STATUS = { invalid: 400, exists: 409, 'not-found': 404, 'in-use': 409, declared: 409 } as const;
const CODE = {
  invalid: 'ValidationError',
  exists: 'WebhookExists',
  'not-found': 'WebhookNotFound',
  'in-use': 'WebhookInUse',
  declared: 'WebhookDeclared',
} as const;

/** A target store refusal as the API answers it. */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof TargetError) throw new ApiError(STATUS[err.reason], CODE[err.reason], err.message);
    throw err;
  }
}

const name = { type: 'string', minLength: 1, maxLength: 63 };
const filterProperties = {
  target: name,
  bucket: { type: 'string', minLength: 3, maxLength: 63 },
};
const selection = {
  type: 'object',
  additionalProperties: false,
  description: 'The messages `ids` names; without ids, every failed message of the target and bucket given',
  properties: {
    ids: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 1000 },
    ...filterProperties,
  },
};
const COUNT = object({ count: integer });

export function registerWebhookRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { targets, outbox } = deps;
  api.get(
    '/webhooks',
    {
      schema: {
        operationId: 'listWebhooks',
        response: responses({ 200: { description: 'The targets', body: listOf('webhooks', WEBHOOK) } }),
        tags: ['events'],
        summary: 'Every webhook target',
      },
    },
    async () => ({ webhooks: (await targets.list()).map(webhookJson) }),
  );

  api.post(
    '/webhooks',
    {
      schema: {
        operationId: 'createWebhook',
        response: responses({ 201: { description: 'The target, created', body: WEBHOOK } }, [409]),
        tags: ['events'],
        summary:
          "Create a webhook target for a user's buckets; its ARN goes in their notification configuration",
        body: {
          type: 'object',
          required: ['name', 'user', 'url'],
          additionalProperties: false,
          properties: {
            name,
            user: {
              type: 'string',
              minLength: 1,
              maxLength: 64,
              description: 'The user whose buckets may use it',
            },
            url: { type: 'string', minLength: 1, maxLength: 2048 },
            auth: { type: 'string', enum: ['none', 'bearer', 'hmac'], default: 'none' },
            secret: {
              type: 'string',
              maxLength: 4096,
              description:
                'The bearer token or HMAC key (auth bearer or hmac); kept sealed, never shown again',
            },
            ca_bundle: {
              type: 'string',
              maxLength: 65536,
              description: 'PEM certificates to trust for an https url',
            },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { name: string; user: string; url: string; auth: NewTarget['auth'] } & {
        secret?: string;
        ca_bundle?: string;
      };
      const target = await answering(() =>
        targets.create({
          name: b.name,
          userName: b.user,
          url: b.url,
          auth: b.auth,
          secret: b.secret,
          caBundle: b.ca_bundle,
        }),
      );
      reply.code(201);
      return webhookJson(target);
    },
  );

  api.delete(
    '/webhooks/:name',
    {
      schema: {
        operationId: 'deleteWebhook',
        response: responses({ 200: { description: 'Deleted, with its waiting messages' } }, [404, 409]),
        tags: ['events'],
        summary: 'Delete a webhook target no bucket sends events to',
        params: { type: 'object', required: ['name'], properties: { name } },
      },
    },
    async (request) => {
      const { name: target } = request.params as { name: string };
      await answering(() => targets.remove(target));
      return { message: `Webhook target ${target} deleted` };
    },
  );

  api.get(
    '/events',
    {
      schema: {
        operationId: 'listEventMessages',
        response: responses({
          200: {
            description: 'Messages not yet delivered, oldest first; next_after when there may be more',
            body: listOf('messages', EVENT_MESSAGE, { next_after: integer }, ['next_after']),
          },
        }),
        tags: ['events'],
        summary: 'Event messages waiting for their targets: pending (retried) or failed (given up)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: ['pending', 'failed'] },
            ...filterProperties,
            after: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query as DeliveryFilter & { limit: number };
      const messages = await outbox.list(q, q.limit);
      const last = messages.at(-1);
      return {
        messages: messages.map(messageJson),
        ...(messages.length === q.limit && last ? { next_after: last.id } : {}),
      };
    },
  );

  api.post(
    '/events/retry',
    {
      schema: {
        operationId: 'retryEventMessages',
        response: responses({ 200: { description: 'How many messages are sent again now', body: COUNT } }),
        tags: ['events'],
        summary: 'Send messages again now, from their first attempt',
        body: selection,
      },
    },
    async (request) => {
      const count = await outbox.retry(request.body as DeliveryFilter & { ids?: number[] });
      return { count };
    },
  );

  api.post(
    '/events/drop',
    {
      schema: {
        operationId: 'dropEventMessages',
        response: responses({ 200: { description: 'How many messages were dropped', body: COUNT } }),
        tags: ['events'],
        summary: 'Drop messages for good: they are never sent',
        body: selection,
      },
    },
    async (request) => {
      const count = await outbox.drop(request.body as DeliveryFilter & { ids?: number[] });
      return { count };
    },
  );
}
