import { promises as fs } from 'node:fs';
import type { Log } from '../log.js';
import type { BlobStore } from '../blobs/blob-store.js';
import type { Multipart } from './multipart.js';
import type { Store } from './store.js';

export interface CollectorReport {
  staleUploads: number;
  trash: number;
  orphans: number;
  temp: number;
}

const BATCH = 500;

/**
 * Removes data no committed metadata references: blobs queued as trash by overwrites and deletes,
 * temp files of uploads that never finished, and blob files left by a crash between rename and
 * commit. Files younger than the grace period may belong to a write still in flight and are kept.
 */
export class Collector {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CollectorReport> | undefined;

  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
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

  runOnce(graceMs = this.graceMs): Promise<CollectorReport> {
    this.running ??= this.collect(graceMs).finally(() => {
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
    const trash = await this.store.trashedBlobs();
    const stillUsed = await this.store.referencedBlobs(trash);
    for (const id of trash) {
      if (!stillUsed.has(id)) {
        await this.blobs.remove(id);
        report.trash++;
      }
      await this.store.forgetTrash(id);
    }
    const cutoff = Date.now() - graceMs;
    let batch: Array<{ name: string; path: string }> = [];
    const flush = async () => {
      const used = await this.store.referencedBlobs(batch.map((b) => b.name));
      for (const b of batch) {
        if (!used.has(b.name)) {
          await fs.rm(b.path, { force: true });
          report.orphans++;
        }
      }
      batch = [];
    };
    for await (const f of this.blobs.listFiles()) {
      if (f.mtimeMs > cutoff) continue;
      if (f.kind === 'tmp') {
        await fs.rm(f.path, { force: true });
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
