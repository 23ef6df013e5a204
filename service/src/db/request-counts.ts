/**
 * S3 requests per minute by status class, for the console's last hour. Each process counts in memory
 * and adds its counts to the shared table every few seconds, so several workers and hosts sum up.
 */
import type { Knex } from 'knex';
import type { Log } from '../log.js';

export type StatusClass = 'ok' | 'client_error' | 'server_error' | 'no_answer';

/** Minutes kept: the console shows one hour; a day leaves room to look back after an incident. */
const KEPT_MINUTES = 24 * 60;

const classOf = (status: number | undefined): StatusClass =>
  status === undefined ? 'no_answer' : status >= 500 ? 'server_error' : status >= 400 ? 'client_error' : 'ok';

export class RequestCounter {
  private pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Knex,
    private readonly log: Log,
    private readonly flushMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  count(status: number | undefined): void {
    const minute = Math.floor(this.now() / 60_000) * 60_000;
    const key = `${minute} ${classOf(status)}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.flush().catch((err: Error) => this.log.warn({ reason: err.message }, 'request counts not saved'));
    }, this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => undefined);
  }

  /**
   * Adds what was counted since the last flush; on failure the counts are kept for the next one. Flushes
   * run one after another, so one that returns has everything counted before it in the table.
   */
  flush(): Promise<void> {
    const run = this.flushing.then(
      () => this.flushNow(),
      () => this.flushNow(),
    );
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushNow(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows = [...batch].map(([key, count]) => {
      const [minute, cls] = key.split(' ');
      return { minute: new Date(Number(minute)), class: cls, count };
    });
    try {
      await this.db('request_counts')
        .insert(rows)
        .onConflict(['minute', 'class'])
        .merge({ count: this.db.raw('request_counts.count + EXCLUDED.count') });
      await this.db('request_counts')
        .where('minute', '<', new Date(this.now() - KEPT_MINUTES * 60_000))
        .delete();
    } catch (err) {
      for (const [key, n] of batch) this.pending.set(key, (this.pending.get(key) ?? 0) + n);
      throw err;
    }
  }
}

/** The last `minutes` minutes, oldest first, every minute present (zeros where nothing was counted). */
export async function recentRequests(db: Knex, minutes: number, now = Date.now()) {
  const last = Math.floor(now / 60_000) * 60_000;
  const first = last - (minutes - 1) * 60_000;
  const rows = await db('request_counts')
    .where('minute', '>=', new Date(first))
    .select('minute', 'class', 'count');
  const out = Array.from({ length: minutes }, (_, i) => ({
    minute: new Date(first + i * 60_000),
    ok: 0,
    client_error: 0,
    server_error: 0,
    no_answer: 0,
  }));
  for (const r of rows) {
    const slot = out[((r.minute as Date).getTime() - first) / 60_000];
    if (slot) slot[r.class as StatusClass] += Number(r.count);
  }
  return out;
}
