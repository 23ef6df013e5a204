/** Stored bytes and objects over time: one sample every interval, taken by one gateway at a time. */
import type { Knex } from 'knex';
import { exclusively, JOB_LOCKS } from '../db/exclusive.js';
import type { Log } from '../log.js';

/** Samples kept: 90 days at the default 5-minute interval. */
const KEPT_DAYS = 90;

export class UsageSampler {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Knex,
    private readonly intervalMs: number,
    private readonly log: Log,
  ) {}

  start(): void {
    if (this.intervalMs <= 0) return;
    const tick = () =>
      this.sample().catch((err: Error) => this.log.warn({ reason: err.message }, 'usage not sampled'));
    void tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One sample, unless another gateway took one within the interval (or is taking one now). */
  async sample(): Promise<boolean> {
    const taken = await exclusively(this.db, JOB_LOCKS.usage, async () => {
      const { rowCount } = await this.db.raw(
        `INSERT INTO usage_samples (at, bytes, objects)
         SELECT now(), coalesce(sum(size), 0), count(*) FROM objects
         WHERE NOT EXISTS (SELECT 1 FROM usage_samples WHERE at > now() - make_interval(secs => ?))`,
        [(this.intervalMs / 1000) * 0.9],
      );
      await this.db('usage_samples')
        .where('at', '<', this.db.raw(`now() - interval '${KEPT_DAYS} days'`))
        .delete();
      return rowCount === 1;
    });
    return taken ?? false;
  }
}

/** Samples since `since`, oldest first. */
export async function usageSince(db: Knex, since: Date) {
  const rows = await db('usage_samples').where('at', '>=', since).orderBy('at');
  return rows.map((r) => ({ at: r.at as Date, bytes: Number(r.bytes), objects: Number(r.objects) }));
}
