/**
 * The delivery worker: on one gateway at a time (an advisory lock, so with several gateways each
 * message is sent by one of them), it dispatches committed changes and sends what is due, each key's
 * messages in order, retrying with exponential backoff until a message is older than the give-up age.
 * Every gateway runs it; the others find the lock taken and wait for the next turn.
 */
import type { Knex } from 'knex';
import { exclusively, JOB_LOCKS } from '../db/exclusive.js';
import type { Log } from '../log.js';
import type { Delivery, Outbox } from './outbox.js';
import { send } from './sender.js';
import type { SendableTarget, TargetStore } from './targets.js';

export interface DeliverySettings {
  /** A turn at least this often, besides the wake-ups a new event brings. */
  pollMs: number;
  /** A receiver that has not answered by then has failed this attempt. */
  timeoutMs: number;
  /** The first retry's delay; each further one doubles, up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** A message still undelivered this long after its change is given up (failed), to be retried or dropped by an admin. */
  giveUpMs: number;
  /** Keys whose messages are sent at the same time. */
  concurrency: number;
}

export interface DeliveryCounters {
  delivered(target: string): void;
  attemptFailed(target: string): void;
  gaveUp(target: string): void;
}

/** The delay before attempt `attempts + 1`, jittered by up to a fifth so retries of many messages spread. */
export function backoff(attempts: number, s: DeliverySettings, random = Math.random): number {
  const base = Math.min(s.retryMaxMs, s.retryBaseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.2 * random()));
}

/**
 * How long a wake-up waits before its turn: the changes committed meanwhile go in the same turn, so a
 * stream of writes costs a turn per few dozen messages rather than one each.
 */
const COALESCE_MS = 20;

/** Dispatch rounds (of up to 500 changes each) in one turn before what is due is sent. */
const MAX_DISPATCH_ROUNDS = 20;

export class EventWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private failing = false;

  constructor(
    private readonly db: Knex,
    private readonly outbox: Outbox,
    private readonly targets: TargetStore,
    private readonly settings: DeliverySettings,
    private readonly log: Log,
    private readonly counters?: DeliveryCounters,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** A change committed or a target changed: take a turn soon (or right after the current one). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(COALESCE_MS);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.turn(), ms);
    this.timer.unref();
  }

  private async turn(): Promise<void> {
    if (this.running || this.stopped) return;
    this.again = false;
    this.running = exclusively(this.db, JOB_LOCKS.events, () => this.pass())
      .then((report) => {
        if (this.failing) this.log.info({}, 'event delivery works again');
        this.failing = false;
        // A backlog drains turn after turn, not one turn per poll.
        if (report && report.sent + report.dispatched > 0) this.again = true;
      })
      .catch((err: Error) => {
        // Once per outage, not once per poll: nothing is lost meanwhile, the outbox keeps every event.
        if (!this.failing)
          this.log.warn({ reason: err.message }, 'event delivery stopped; retrying every poll');
        this.failing = true;
      })
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.again ? COALESCE_MS : this.settings.pollMs);
      });
    await this.running;
  }

  /** One turn: everything committed so far dispatched, then what is due sent. */
  async pass(now = () => new Date()): Promise<{ dispatched: number; sent: number; failed: number }> {
    let dispatched = 0;
    // Bounded, so that sending is not starved while changes keep committing faster than a round takes.
    for (let round = 0, n; round < MAX_DISPATCH_ROUNDS && (n = await this.outbox.dispatch()) > 0; round++)
      dispatched += n;
    const report = { dispatched, sent: 0, failed: 0 };
    const groups = await this.outbox.due(now());
    const targets = new Map<number, Promise<SendableTarget | undefined>>();
    const targetOf = (id: number) => {
      if (!targets.has(id)) targets.set(id, this.targets.sendable(id));
      return targets.get(id)!;
    };
    let next = 0;
    const delivered: number[] = [];
    const lane = async () => {
      while (next < groups.length && !this.stopped) {
        for (const d of groups[next++]!) {
          if (this.stopped) break;
          const target = await targetOf(d.targetId);
          if (!target) break;
          if (d.nextAttemptAt > now()) break;
          if (!(await this.deliver(d, target, now))) {
            report.failed++;
            break;
          }
          delivered.push(d.id);
          report.sent++;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, this.settings.concurrency) }, lane));
    } finally {
      // One statement for the turn's deliveries: a crash before it sends them again (at least once).
      await this.outbox.delivered(delivered);
    }
    return report;
  }

  /** Sends one message; whether it was delivered. A later message of the same key waits for this one. */
  private async deliver(d: Delivery, target: SendableTarget, now: () => Date): Promise<boolean> {
    const result = await send(
      target,
      JSON.stringify(d.payload),
      { 'x-coffer-delivery': String(d.id), 'x-coffer-event': d.eventName },
      this.settings.timeoutMs,
      now().getTime(),
    );
    if (result.ok) {
      this.counters?.delivered(target.name);
      return true;
    }
    const at = now();
    const next =
      at.getTime() - d.createdAt.getTime() >= this.settings.giveUpMs
        ? undefined
        : new Date(at.getTime() + backoff(d.attempts + 1, this.settings));
    await this.outbox.attemptFailed(d.id, result.error ?? 'failed', at, next);
    this.counters?.attemptFailed(target.name);
    if (!next) {
      this.counters?.gaveUp(target.name);
      this.log.warn(
        { target: target.name, bucket: d.bucket, key: d.key, event: d.eventName, reason: result.error },
        'event given up after retries; retry or drop it in the management API',
      );
    }
    return false;
  }
}
