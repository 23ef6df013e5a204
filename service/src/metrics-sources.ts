/** Where the gateway's scraped metrics come from: this process's pool, and Postgres's figures. */
import { X509Certificate } from 'node:crypto';
import { readFile, statfs } from 'node:fs/promises';
import type { Knex } from 'knex';
import { ping } from './db/database.js';
import { lastRuns } from './db/job-runs.js';
import type { Outbox } from './events/outbox.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

export function gatewayMetrics(
  db: Knex,
  dataDir: string,
  events: Outbox['counts'],
  tlsCertFile?: string,
): GatewayMetrics {
  // Summed at each scrape: a scrape every 15 s costs one pass over the objects' sizes.
  const buckets = async () =>
    (
      await db('buckets as b')
        .leftJoin('objects as o', 'o.bucket_id', 'b.id')
        .groupBy('b.name')
        .select('b.name', db.raw('coalesce(sum(o.size), 0) AS bytes'), db.raw('count(o.key) AS objects'))
    ).map((r) => ({ bucket: r.name as string, bytes: Number(r.bytes), objects: Number(r.objects) }));
  return new GatewayMetrics({
    pool() {
      const pool = (db.client as { pool?: TarnPool }).pool;
      return pool
        ? { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() }
        : { used: 0, free: 0, pending: 0 };
    },
    buckets,
    postgresUp: () =>
      ping(db, 2000).then(
        () => true,
        () => false,
      ),
    async dataVolume() {
      const fs = await statfs(dataDir);
      return { total: fs.blocks * fs.bsize, free: fs.bavail * fs.bsize };
    },
    jobs: () => lastRuns(db),
    events,
    // Read at each scrape: a renewed certificate shows without a restart.
    async certificateExpiry() {
      if (!tlsCertFile) return undefined;
      const cert = await readFile(tlsCertFile).then(
        (pem) => new X509Certificate(pem),
        () => undefined,
      );
      return cert && Math.floor(new Date(cert.validTo).getTime() / 1000);
    },
  });
}
