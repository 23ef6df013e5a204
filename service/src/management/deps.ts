/** What the management routes are given: shared by api.ts and every route module, so none imports another. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { AuditLog } from '../audit/audit-log.js';
import type { Authorizer } from '../authz/authorize.js';
import type { Outbox } from '../events/outbox.js';
import type { TargetStore } from '../events/targets.js';
import type { Store } from '../store/store.js';
import type { Multipart } from '../store/multipart.js';
import type { AdminStore } from './admin-store.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { CredentialStore } from './credential-store.js';
import type { Inventory } from './inventory.js';
import type { UserStore } from './user-store.js';

export const API_PREFIX = '/_coffer/api/v1';
export const SESSION_COOKIE = 'coffer_session';

export interface ManagementDeps {
  db: Knex;
  store: Store;
  multipart: Multipart;
  /** The one authorization decision; management routes ask it as the admin they authenticated. */
  authorizer: Authorizer;
  credentials: CredentialStore;
  users: UserStore;
  admins: AdminStore;
  inventory: Inventory;
  audit: AuditLog;
  /** Webhook targets, and the messages waiting for them. */
  targets: TargetStore;
  outbox: Outbox;
  region: string;
  /** Prometheus metrics, scraped through GET /metrics. */
  metrics: GatewayMetrics;
  /** Hands a signed request to the S3 handler. */
  s3: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  isSigned: (request: FastifyRequest) => boolean;
}
