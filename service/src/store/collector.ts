import type { Knex } from 'knex';
import { runJob } from '../db/job-runs.js';
import type { Log } from '../log.js';
import type { BlobBackend, BlobEntry } from '../blobs/backend.js';
import type { Multipart } from './multipart.js';
import type { Trash } from './trash.js';

export interface CollectorReport {
  staleUploads: number;
  trash: number;
  orphans: number;
  temp: number;
}

const BATCH = 500;

/**
 * Removes data no committed metadata references: blobs queued as trash by overwrites and deletes,
 * abandoned writes, and blobs left by a crash between the backend's commit and the metadata commit.
 * Entries younger than the grace period may belong to a write still in flight and are kept. It sees
 * blobs only through the backend interface.
 */
export class Collector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CollectorReport | undefined> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly trash: Trash,
    private readonly backend: BlobBackend,
    private readonly graceMs: number,
    private readonly log: Log,
    private readonly uploads?: { multipart: Multipart; maxUploadAgeMs: number },
  ) {}

  start(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err) => this.log.error({ err }, 'collector run failed'));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; undefined when another gateway (or worker process) is collecting. */
  runOnce(graceMs = this.graceMs): Promise<CollectorReport | undefined> {
    this.running ??= runJob(this.db, 'collector', () => this.collect(graceMs)).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async collect(graceMs: number): Promise<CollectorReport> {
    const report: CollectorReport = { staleUploads: 0, trash: 0, orphans: 0, temp: 0 };
    if (this.uploads) {
      report.staleUploads = await this.uploads.multipart.abortStale(
        new Date(Date.now() - this.uploads.maxUploadAgeMs),
      );
    }
    const trash = await this.trash.queued();
    for (let i = 0; i < trash.length; i += BATCH) {
      const ids = trash.slice(i, i + BATCH);
      const stillUsed = await this.trash.referenced(ids);
      // Nothing is claimed while a backup holds the trash; its blobs stay for the next run.
      for (const id of await this.trash.claim(ids)) {
        if (stillUsed.has(id)) continue;
        await this.backend.delete(id);
        report.trash++;
      }
    }
    const cutoff = Date.now() - graceMs;
    let batch: BlobEntry[] = [];
    const flush = async () => {
      const used = await this.trash.referenced(
        batch.map((b) => b.name),
        { queued: true },
      );
      for (const b of batch) {
        if (!used.has(b.name)) {
          await this.backend.discard(b);
          report.orphans++;
        }
      }
      batch = [];
    };
    for await (const f of this.backend.list()) {
      if (f.modifiedMs > cutoff) continue;
      if (f.pending) {
        await this.backend.discard(f);
        report.temp++;
        continue;
      }
      batch.push(f);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length) await flush();
    if (report.staleUploads || report.trash || report.orphans || report.temp)
      this.log.info({ ...report }, 'collector removed unreferenced data');
    return report;
  }
}
