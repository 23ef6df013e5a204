import { runJob } from '../db/job-runs.js';
import type { Knex } from 'knex';
import type { Log } from '../log.js';
import { S3Error } from '../errors/s3-errors.js';
import { expiryOf, selects, type LifecycleRule } from './lifecycle.js';
import type { Multipart } from './multipart.js';
import type { Store } from './store.js';
import type { Bucket } from './types.js';

export interface LifecycleOptions {
  /** How long a lifecycle "day" is: 86,400 s, shortened so tests and operators can watch rules act. */
  dayMs: number;
  intervalMs: number;
  /** At most this many actions per pass; the next pass continues. */
  maxActions: number;
}

export interface LifecycleReport {
  expired: number;
  noncurrentDeleted: number;
  markersRemoved: number;
  uploadsAborted: number;
  /** Versions a rule selected that object lock keeps (they stay). */
  keptLocked: number;
}

/**
 * Applies buckets' lifecycle rules in the background. Every removal goes through the Store, so object
 * lock is decided where it always is: a locked version is counted and kept, never removed. With several
 * gateways on one database, an advisory lock lets only one run a pass.
 */
export class LifecycleWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<LifecycleReport | undefined> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly store: Store,
    private readonly multipart: Multipart,
    private readonly opts: LifecycleOptions,
    private readonly log: Log,
  ) {}

  start(): void {
    if (this.opts.intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err) => this.log.error({ err }, 'lifecycle pass failed'));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; undefined when another gateway holds the lifecycle lock. */
  runOnce(now = new Date()): Promise<LifecycleReport | undefined> {
    this.running ??= this.pass(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(now: Date): Promise<LifecycleReport | undefined> {
    return runJob(this.db, 'lifecycle', async () => {
      const report: LifecycleReport = {
        expired: 0,
        noncurrentDeleted: 0,
        markersRemoved: 0,
        uploadsAborted: 0,
        keptLocked: 0,
      };
      let budget = this.opts.maxActions;
      for (const bucket of await this.store.buckets.withLifecycle()) {
        for (const rule of bucket.lifecycle!.rules.filter((r) => r.enabled)) {
          if (budget <= 0) break;
          budget -= await this.applyRule(bucket, rule, now, budget, report);
        }
      }
      if (Object.values(report).some((n) => n > 0))
        this.log.info({ ...report, budgetLeft: Math.max(0, budget) }, 'lifecycle pass');
      return report;
    });
  }

  /** Applies one rule, at most `budget` actions; returns how many it took. */
  private async applyRule(
    bucket: Bucket,
    rule: LifecycleRule,
    now: Date,
    budget: number,
    report: LifecycleReport,
  ): Promise<number> {
    let used = 0;
    const remove = async (key: string, versionId: string | undefined, counter: keyof LifecycleReport) => {
      used++;
      try {
        // The removal's audit record commits with it, naming the rule that made it.
        await this.store.asAudited(
          {
            principal: 'lifecycle',
            operation: `Lifecycle:${counter}`,
            bucket: bucket.name,
            key,
            versionId,
            requestId: rule.id,
          },
          () => this.store.deleteObject(bucket, key, versionId),
        );
        report[counter]++;
      } catch (err) {
        // Retention beats lifecycle: a locked version stays, and is counted as such.
        if (err instanceof S3Error && err.code === 'AccessDenied') report.keptLocked++;
        else throw err;
      }
    };
    const like = (rule.filter.prefix ?? '').replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    const keyLike = (q: Knex.QueryBuilder) =>
      q.whereRaw("convert_from(key, 'UTF8') LIKE ?", [like]).where('bucket_id', bucket.id);

    if (rule.expiration?.days !== undefined || rule.expiration?.date !== undefined) {
      // Candidates old enough under the rule; the filter's tags and sizes are checked on each.
      const latest = new Date(now.getTime() - (rule.expiration.days ?? 0) * this.opts.dayMs);
      const rows = await keyLike(this.db('objects').select('key', 'size', 'tags', 'last_modified'))
        .where('last_modified', '<=', rule.expiration.date ? now : latest)
        .orderBy('key')
        .limit(budget);
      for (const r of rows) {
        const subject = { key: (r.key as Buffer).toString('utf8'), size: Number(r.size), tags: r.tags ?? {} };
        const at = expiryOf(rule, r.last_modified, this.opts.dayMs);
        if (!selects(rule.filter, subject) || !at || at > now || used >= budget) continue;
        await remove(subject.key, undefined, 'expired');
      }
    }
    if (rule.noncurrentExpiration && bucket.versioning && used < budget) {
      const { noncurrentDays, newerNoncurrentVersions = 0 } = rule.noncurrentExpiration;
      const cutoff = new Date(now.getTime() - noncurrentDays * this.opts.dayMs);
      // Rank each key's noncurrent versions newest first: the newest N are kept whatever their age.
      const since = this.db.raw('COALESCE(noncurrent_since, last_modified) AS since');
      const rank = this.db.raw('row_number() OVER (PARTITION BY key ORDER BY seq DESC) AS rank');
      const rows = await this.db
        .select('*')
        .from(
          keyLike(this.db('object_versions').select('key', 'version_id', 'size', 'tags', since, rank))
            .where('delete_marker', false)
            .as('v'),
        )
        .where('rank', '>', newerNoncurrentVersions)
        .where('since', '<=', cutoff)
        .limit(budget - used);
      for (const r of rows) {
        const subject = { key: (r.key as Buffer).toString('utf8'), size: Number(r.size), tags: r.tags ?? {} };
        if (selects(rule.filter, subject)) await remove(subject.key, r.version_id, 'noncurrentDeleted');
      }
    }
    if (rule.expiration?.expiredObjectDeleteMarker && bucket.versioning && used < budget) {
      // A delete marker that is all a key has left protects nothing: it goes.
      const rows = await keyLike(this.db('object_versions as m').select('m.key', 'm.version_id'))
        .where('m.delete_marker', true)
        .whereNotExists((q) =>
          q
            .select(this.db.raw('1'))
            .from('object_versions as o')
            .whereRaw('o.bucket_id = m.bucket_id AND o.key = m.key AND o.seq <> m.seq'),
        )
        .whereNotExists((q) =>
          q
            .select(this.db.raw('1'))
            .from('objects as c')
            .whereRaw('c.bucket_id = m.bucket_id AND c.key = m.key'),
        )
        .limit(budget - used);
      for (const r of rows) await remove((r.key as Buffer).toString('utf8'), r.version_id, 'markersRemoved');
    }
    if (rule.abortIncompleteMultipartUploadDays !== undefined && used < budget) {
      const cutoff = new Date(now.getTime() - rule.abortIncompleteMultipartUploadDays * this.opts.dayMs);
      const rows = await keyLike(this.db('uploads').select('upload_id', 'key'))
        .where('initiated_at', '<=', cutoff)
        .limit(budget - used);
      for (const r of rows) {
        used++;
        await this.multipart
          .abort(bucket, (r.key as Buffer).toString('utf8'), r.upload_id)
          .then(() => report.uploadsAborted++)
          .catch((err) => {
            if (!(err instanceof S3Error && err.code === 'NoSuchUpload')) throw err;
          });
      }
    }
    return used;
  }
}
