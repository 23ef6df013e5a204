/**
 * From committed changes to messages. The trigger of migration 0018 leaves one bucket_events row per
 * change to an object of a bucket with a notification configuration, in the change's transaction;
 * `dispatch` turns each into one delivery per matching rule (the configuration as it was when the
 * change committed), in one transaction, so a crash repeats a dispatch but never loses one.
 */
import type { Knex } from 'knex';
import { eventMessage, type CommittedChange } from './message.js';
import { eventNameOf, ruleMatches, type NotificationRule } from './rules.js';
import { targetNameOf } from './targets.js';

/** A bucket's notification configuration as it is stored (buckets.notification). */
export interface NotificationConfig {
  rules: NotificationRule[];
}

export type DeliveryState = 'pending' | 'failed';

export interface Delivery {
  id: number;
  eventSeq: number;
  targetId: number;
  target: string;
  bucket: string;
  key: string;
  eventName: string;
  state: DeliveryState;
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  lastError: string | null;
  payload: unknown;
}

interface EventRow {
  seq: string;
  at: Date;
  bucket: string;
  bucket_owner: string;
  notification: NotificationConfig;
  key: string;
  version_id: string | null;
  operation: string;
  present: boolean;
  delete_marker: boolean;
  size: string | null;
  etag: string | null;
  principal: string | null;
  access_key: string | null;
  source: string | null;
  request_id: string | null;
}

const changeOf = (r: EventRow): CommittedChange => ({
  seq: Number(r.seq),
  at: r.at,
  bucket: r.bucket,
  bucketOwner: r.bucket_owner,
  key: r.key,
  versionId: r.version_id,
  size: r.size === null ? null : Number(r.size),
  etag: r.etag,
  principal: r.principal,
  accessKey: r.access_key,
  source: r.source,
  requestId: r.request_id,
});

/** The deliveries one committed change becomes: one per rule that matches it and names a target of the bucket's owner. */
export function deliveriesOf(
  r: EventRow,
  targets: Map<string, { id: number; owner: string }>,
  region: string,
): Array<Record<string, unknown>> {
  const name = eventNameOf(r.operation, { present: r.present, deleteMarker: r.delete_marker });
  if (!name) return [];
  const out: Array<Record<string, unknown>> = [];
  for (const rule of r.notification.rules ?? []) {
    if (!ruleMatches(rule, name, r.key)) continue;
    const target = targets.get(targetNameOf(rule.target, region) ?? '');
    // A target removed since, or one that is not the owner's (never accepted, checked again): nowhere to go.
    if (!target || target.owner !== r.bucket_owner) continue;
    out.push({
      event_seq: r.seq,
      target_id: target.id,
      bucket: r.bucket,
      key: r.key,
      event_name: name,
      payload: JSON.stringify(eventMessage(changeOf(r), name, rule.id, region)),
      created_at: r.at,
    });
  }
  return out;
}

const DELIVERY_COLUMNS =
  'd.id, d.event_seq, d.target_id, t.name AS target, d.bucket, d.key, d.event_name, d.state, d.attempts, ' +
  'd.created_at, d.next_attempt_at, d.last_attempt_at, d.last_error, d.payload';

const toDelivery = (r: Record<string, unknown>): Delivery => ({
  id: Number(r.id),
  eventSeq: Number(r.event_seq),
  targetId: Number(r.target_id),
  target: r.target as string,
  bucket: r.bucket as string,
  key: r.key as string,
  eventName: r.event_name as string,
  state: r.state as DeliveryState,
  attempts: Number(r.attempts),
  createdAt: r.created_at as Date,
  nextAttemptAt: r.next_attempt_at as Date,
  lastAttemptAt: (r.last_attempt_at as Date | null) ?? null,
  lastError: (r.last_error as string | null) ?? null,
  payload: r.payload,
});

export interface DeliveryFilter {
  state?: DeliveryState;
  target?: string;
  bucket?: string;
  /** Deliveries with a larger id (the next page). */
  after?: number;
}

export class Outbox {
  constructor(
    private readonly db: Knex,
    private readonly region: string,
  ) {}

  /** Turns up to `limit` committed changes into deliveries; how many changes it took. */
  async dispatch(limit = 500): Promise<number> {
    return this.db.transaction(async (trx) => {
      const rows = (await trx('bucket_events')
        .orderBy('seq')
        .limit(limit)
        .forUpdate()
        .skipLocked()) as EventRow[];
      if (rows.length === 0) return 0;
      const targets = new Map<string, { id: number; owner: string }>();
      for (const t of await trx('webhook_targets as t')
        .join('users as u', 'u.id', 't.user_id')
        .select('t.id', 't.name', 'u.canonical_id'))
        targets.set(t.name, { id: Number(t.id), owner: t.canonical_id });
      const deliveries = rows.flatMap((r) => deliveriesOf(r, targets, this.region));
      for (let i = 0; i < deliveries.length; i += 500)
        await trx('event_deliveries').insert(deliveries.slice(i, i + 500));
      await trx('bucket_events')
        .whereIn(
          'seq',
          rows.map((r) => r.seq),
        )
        .delete();
      return rows.length;
    });
  }

  /**
   * What may be sent now: for each target and key, its oldest pending deliveries in order (up to
   * `perKey`), when the oldest is due. A later one never overtakes an earlier one of the same key.
   */
  async due(now: Date, perKey = 16, limit = 2000): Promise<Delivery[][]> {
    const { rows } = await this.db.raw(
      `SELECT ${DELIVERY_COLUMNS} FROM (
         SELECT *, row_number() OVER (PARTITION BY target_id, bucket, key ORDER BY id) AS n
         FROM event_deliveries WHERE state = 'pending') d
       JOIN webhook_targets t ON t.id = d.target_id
       WHERE d.n <= ? ORDER BY d.target_id, d.bucket, d.key, d.id LIMIT ?`,
      [perKey, limit],
    );
    const groups = new Map<string, Delivery[]>();
    for (const r of rows as Array<Record<string, unknown>>) {
      const d = toDelivery(r);
      const id = JSON.stringify([d.targetId, d.bucket, d.key]);
      groups.set(id, [...(groups.get(id) ?? []), d]);
    }
    return [...groups.values()].filter((g) => g[0]!.nextAttemptAt <= now);
  }

  /** Deliveries that reached their targets. */
  async delivered(ids: number[]): Promise<void> {
    if (ids.length) await this.db('event_deliveries').whereIn('id', ids).delete();
  }

  /** Records a failed attempt: tried again at `next`, or with `next` undefined given up (failed). */
  async attemptFailed(id: number, error: string, at: Date, next: Date | undefined): Promise<void> {
    await this.db('event_deliveries')
      .where({ id })
      .update({
        attempts: this.db.raw('attempts + 1'),
        last_attempt_at: at,
        last_error: error.slice(0, 1000),
        ...(next ? { next_attempt_at: next } : { state: 'failed' }),
      });
  }

  async list(filter: DeliveryFilter, limit: number): Promise<Delivery[]> {
    let q = this.db('event_deliveries as d')
      .join('webhook_targets as t', 't.id', 'd.target_id')
      .select(this.db.raw(DELIVERY_COLUMNS));
    if (filter.state) q = q.where('d.state', filter.state);
    if (filter.target) q = q.where('t.name', filter.target);
    if (filter.bucket) q = q.where('d.bucket', filter.bucket);
    if (filter.after !== undefined) q = q.where('d.id', '>', filter.after);
    return ((await q.orderBy('d.id').limit(limit)) as Array<Record<string, unknown>>).map(toDelivery);
  }

  /** Deliveries `ids` names, or without ids every failed one of `filter`. */
  private selected(filter: DeliveryFilter & { ids?: number[] }): Knex.QueryBuilder {
    let q = this.db('event_deliveries');
    q = filter.ids ? q.whereIn('id', filter.ids) : q.where('state', 'failed');
    if (filter.target)
      q = q.whereIn('target_id', this.db('webhook_targets').select('id').where({ name: filter.target }));
    if (filter.bucket) q = q.where('bucket', filter.bucket);
    return q;
  }

  /** Sends deliveries again at once, from their first attempt; how many. */
  async retry(filter: DeliveryFilter & { ids?: number[] }): Promise<number> {
    return this.selected(filter).update({ state: 'pending', attempts: 0, next_attempt_at: this.db.fn.now() });
  }

  /** Drops deliveries for good; how many. */
  async drop(filter: DeliveryFilter & { ids?: number[] }): Promise<number> {
    return this.selected(filter).delete();
  }

  /** Deliveries waiting, per target and state, and changes not yet dispatched: what metrics and the overview show. */
  async counts(): Promise<{
    undispatched: number;
    byTarget: Array<{ target: string; state: DeliveryState; count: number; oldest: Date }>;
  }> {
    const [counted] = await this.db('bucket_events').count({ n: '*' });
    const rows = await this.db('event_deliveries as d')
      .join('webhook_targets as t', 't.id', 'd.target_id')
      .groupBy('t.name', 'd.state')
      .select(
        't.name as target',
        'd.state',
        this.db.raw('count(*)::int AS count'),
        this.db.raw('min(d.created_at) AS oldest'),
      );
    return {
      undispatched: Number(counted?.n ?? 0),
      byTarget: rows.map((r: Record<string, unknown>) => ({
        target: r.target as string,
        state: r.state as DeliveryState,
        count: Number(r.count),
        oldest: r.oldest as Date,
      })),
    };
  }
}
