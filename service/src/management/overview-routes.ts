/** What the dashboard shows: usage now and over time, the last hour's requests, health, the jobs' runs. */
import type { FastifyInstance } from 'fastify';
import { lastRuns } from '../db/job-runs.js';
import { recentRequests } from '../db/request-counts.js';
import { usageSince } from '../store/usage-sampler.js';
import type { ManagementDeps } from './deps.js';
import { ACTIVITY, HEALTH, STATS, responses } from './response-schemas.js';

/** How far back the stored-bytes chart reaches. */
const USAGE_DAYS = 30;

export function registerOverviewRoutes(api: FastifyInstance, deps: ManagementDeps): void {
  const { db } = deps;
  api.get(
    '/stats',
    {
      schema: {
        operationId: 'getStats',
        response: responses({ 200: { description: 'Counts and sizes', body: STATS } }),
        tags: ['stats'],
        summary: 'Usage at a glance',
      },
    },
    () => deps.inventory.stats(),
  );

  api.get(
    '/activity',
    {
      schema: {
        operationId: 'getActivity',
        response: responses({ 200: { description: 'Requests, storage and jobs over time', body: ACTIVITY } }),
        tags: ['stats'],
        summary:
          'S3 requests per minute over the last hour by outcome, stored bytes over the last 30 days, and the background jobs’ last runs',
      },
    },
    async () => ({
      requests: await recentRequests(db, 60),
      storage: await usageSince(db, new Date(Date.now() - USAGE_DAYS * 86_400_000)),
      jobs: (await lastRuns(db)).map((r) => ({
        job: r.job,
        started_at: r.startedAt,
        finished_at: r.finishedAt,
        outcome: r.outcome,
        report: r.report,
        error: r.error,
        last_ok_at: r.lastOk,
      })),
    }),
  );

  api.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        response: {
          ...responses({}),
          200: {
            description: 'Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
        tags: ['stats'],
        summary:
          "Prometheus metrics (text format) of this gateway's processes: requests by operation and status, latency, bytes, in flight, Postgres pool, group commits, background jobs, storage per bucket. Scrape with an admin API key as the bearer token",
      },
    },
    async (_request, reply) => {
      const text = await deps.metrics.scrape();
      return reply.type(deps.metrics.contentType).send(text);
    },
  );

  api.get(
    '/health',
    {
      schema: {
        operationId: 'getHealth',
        response: responses({
          200: { description: 'Health of this gateway and its Postgres', body: HEALTH },
        }),
        tags: ['stats'],
        summary: 'This gateway and its Postgres: up, how long, how quickly Postgres answers',
      },
    },
    async () => {
      const started = process.hrtime.bigint();
      let postgres;
      try {
        const { rows } = await db.raw(
          `SELECT current_setting('server_version') AS version,
                  (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database()) AS connections,
                  pg_database_size(current_database()) AS size`,
        );
        postgres = {
          status: 'ok',
          latency_ms: Number(process.hrtime.bigint() - started) / 1e6,
          version: rows[0].version,
          connections: rows[0].connections,
          database_bytes: Number(rows[0].size),
        };
      } catch (err) {
        postgres = { status: 'unavailable', reason: (err as Error).message };
      }
      return {
        gateway: {
          status: 'ok',
          uptime_seconds: Math.round(process.uptime()),
          node: process.version,
          pid: process.pid,
        },
        postgres,
        region: deps.region,
      };
    },
  );
}
