/**
 * The gateway's Prometheus metrics, one registry per gateway (no process-wide default). Figures that
 * live in Postgres (pool, stored bytes, the jobs' runs) are read when scraped, through the callbacks
 * the gateway passes in; with several worker processes they are the same in each, so the aggregate keeps
 * one worker's value instead of summing them.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A worker asks the primary for every worker's metrics under this message type. */
const SCRAPE = 'coffer:metrics';
const SCRAPE_TIMEOUT_MS = 10_000;

/**
 * In the primary of GATEWAY_WORKERS: answers a worker's scrape with every worker's metrics, aggregated
 * (prom-client asks each worker for its registry over the cluster's IPC channel).
 */
export function answerWorkerScrapes(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== SCRAPE) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: SCRAPE, id: msg.id, text }),
      (err: Error) => worker.send({ type: SCRAPE, id: msg.id, error: err.message }),
    );
  });
}

export interface ScrapeSources {
  /** Connections of this process's Postgres pool. */
  pool(): { used: number; free: number; pending: number };
  /** Stored bytes and objects per bucket. */
  buckets(): Promise<Array<{ bucket: string; bytes: number; objects: number }>>;
  /** Whether Postgres answers a trivial query now. */
  postgresUp(): Promise<boolean>;
  /** Size and free space of the filesystem under the object data. */
  dataVolume(): Promise<{ total: number; free: number }>;
  /** When the served TLS certificate expires (seconds since the epoch), if the gateway is told where it is. */
  certificateExpiry(): Promise<number | undefined>;
  /** Bucket events not yet turned into messages, and messages waiting per webhook target and state. */
  events(): Promise<{
    undispatched: number;
    byTarget: Array<{ target: string; state: string; count: number; oldest: Date }>;
  }>;
  /** Each background job's last run. */
  jobs(): Promise<
    Array<{
      job: string;
      finishedAt: Date;
      outcome: string;
      report: Record<string, number> | null;
      lastOk: Date | null;
    }>
  >;
}

/** One call shared by the callers that arrive while it runs: one query for the gauges of one scrape. */
function perScrape<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () =>
    (running ??= fn().finally(() => {
      running = undefined;
    }));
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'operation' | 'status'>;
  private readonly duration: Histogram<'operation'>;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly inFlight: Gauge;
  private readonly dbErrors: Counter;
  private readonly batches: Histogram;
  private readonly deliveries: Counter<'target' | 'outcome'>;

  private scrapes = 0;

  constructor(sources: ScrapeSources) {
    const registers = [this.registry];
    // A worker's registry is what it reports when the primary aggregates.
    // (prom-client answers the primary's requests once an AggregatorRegistry exists in the worker.)
    if (cluster.isWorker) {
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([this.registry]);
    }
    this.requests = new Counter({
      name: 'coffer_s3_requests_total',
      help: 'S3 requests answered, by operation and HTTP status (0: no answer was sent)',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'coffer_s3_request_duration_seconds',
      help: 'Time from a request to its last byte, by operation',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.bytesIn = new Counter({
      name: 'coffer_s3_received_bytes_total',
      help: 'Request body bytes',
      registers,
    });
    this.bytesOut = new Counter({
      name: 'coffer_s3_sent_bytes_total',
      help: 'Response body bytes',
      registers,
    });
    this.inFlight = new Gauge({
      name: 'coffer_s3_requests_in_flight',
      help: 'S3 requests being served',
      registers,
    });
    this.dbErrors = new Counter({
      name: 'coffer_db_unavailable_total',
      help: 'S3 requests answered 503 because Postgres did not answer',
      registers,
    });
    this.batches = new Histogram({
      name: 'coffer_group_commit_batch_size',
      help: 'Object rows committed together in one statement',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    new Gauge({
      name: 'coffer_db_pool_connections',
      help: "This process's Postgres pool: used, free, and requests waiting for a connection",
      labelNames: ['state'],
      registers,
      collect() {
        const p = sources.pool();
        this.set({ state: 'used' }, p.used);
        this.set({ state: 'free' }, p.free);
        this.set({ state: 'pending' }, p.pending);
      },
    });
    new Gauge({
      name: 'coffer_postgres_up',
      help: 'Whether Postgres answered this scrape (1) or not (0)',
      aggregator: 'min',
      registers,
      async collect() {
        this.set((await sources.postgresUp()) ? 1 : 0);
      },
    });
    const volume = perScrape(sources.dataVolume);
    new Gauge({
      name: 'coffer_data_volume_free_bytes',
      help: 'Free bytes on the filesystem under the object data (DATA_DIR)',
      aggregator: 'first',
      registers,
      async collect() {
        this.set((await volume()).free);
      },
    });
    new Gauge({
      name: 'coffer_data_volume_size_bytes',
      help: 'Size of the filesystem under the object data (DATA_DIR)',
      aggregator: 'first',
      registers,
      async collect() {
        this.set((await volume()).total);
      },
    });
    new Gauge({
      name: 'coffer_tls_certificate_expiry_timestamp_seconds',
      help: 'When the TLS certificate clients are served (TLS_CERT_FILE) expires, in seconds since the epoch',
      aggregator: 'first',
      registers,
      async collect() {
        const at = await sources.certificateExpiry();
        if (at === undefined) this.reset();
        else this.set(at);
      },
    });
    // The registry collects its metrics side by side: gauges read from one query share it per scrape.
    const bucketRows = perScrape(sources.buckets);
    const jobRows = perScrape(sources.jobs);
    const fromRows = <R>(rows: () => Promise<R[]>, fill: (g: Gauge, r: R) => void) =>
      async function collect(this: Gauge) {
        const got = await rows();
        this.reset();
        for (const r of got) fill(this, r);
      };
    new Gauge({
      name: 'coffer_bucket_stored_bytes',
      help: 'Bytes stored in each bucket (current and noncurrent versions)',
      labelNames: ['bucket'],
      aggregator: 'first',
      registers,
      collect: fromRows(bucketRows, (g, r) => g.set({ bucket: r.bucket }, r.bytes)),
    });
    new Gauge({
      name: 'coffer_bucket_objects',
      help: 'Objects (versions included) in each bucket',
      labelNames: ['bucket'],
      aggregator: 'first',
      registers,
      collect: fromRows(bucketRows, (g, r) => g.set({ bucket: r.bucket }, r.objects)),
    });
    this.deliveries = new Counter({
      name: 'coffer_event_deliveries_total',
      help: 'Bucket event messages sent to webhook targets: delivered, attempts that failed, and messages given up',
      labelNames: ['target', 'outcome'],
      registers,
    });
    const eventRows = perScrape(sources.events);
    new Gauge({
      name: 'coffer_events_undispatched',
      help: 'Committed bucket events not yet turned into messages (a growing figure: the delivery worker is not running)',
      aggregator: 'first',
      registers,
      async collect() {
        this.set((await eventRows()).undispatched);
      },
    });
    new Gauge({
      name: 'coffer_event_messages',
      help: 'Messages waiting for each webhook target: pending (being retried) and failed (given up, to retry or drop)',
      labelNames: ['target', 'state'],
      aggregator: 'first',
      registers,
      collect: fromRows(
        async () => (await eventRows()).byTarget,
        (g, r) => g.set({ target: r.target, state: r.state }, r.count),
      ),
    });
    new Gauge({
      name: 'coffer_event_oldest_message_timestamp_seconds',
      help: 'When the oldest message waiting for each webhook target was committed',
      labelNames: ['target', 'state'],
      aggregator: 'first',
      registers,
      collect: fromRows(
        async () => (await eventRows()).byTarget,
        (g, r) => g.set({ target: r.target, state: r.state }, r.oldest.getTime() / 1000),
      ),
    });
    new Gauge({
      name: 'coffer_job_last_run_timestamp_seconds',
      help: 'When each background job last succeeded (ok), and when its newest run failed (failed)',
      labelNames: ['job', 'outcome'],
      aggregator: 'max',
      registers,
      collect: fromRows(jobRows, (g, r) => {
        if (r.lastOk) g.set({ job: r.job, outcome: 'ok' }, r.lastOk.getTime() / 1000);
        if (r.outcome === 'failed') g.set({ job: r.job, outcome: 'failed' }, r.finishedAt.getTime() / 1000);
      }),
    });
    new Gauge({
      name: 'coffer_job_last_run_work',
      help: "What each background job's last run did (collector: trash, orphans, temp, staleUploads; lifecycle: expired, ...)",
      labelNames: ['job', 'what'],
      aggregator: 'first',
      registers,
      collect: fromRows(jobRows, (g, r) => {
        for (const [what, n] of Object.entries(r.report ?? {})) g.set({ job: r.job, what }, n);
      }),
    });
  }

  /** A message reached its target. */
  delivered(target: string): void {
    this.deliveries.inc({ target, outcome: 'delivered' });
  }

  /** An attempt to send a message failed; it is retried later. */
  attemptFailed(target: string): void {
    this.deliveries.inc({ target, outcome: 'attempt_failed' });
  }

  /** A message is given up after its retries. */
  gaveUp(target: string): void {
    this.deliveries.inc({ target, outcome: 'given_up' });
  }

  /** Called as a request starts; the returned function as it ends. */
  started(): (operation: string, status: number | undefined, bytesIn: number, bytesOut: number) => void {
    this.inFlight.inc();
    const end = this.duration.startTimer();
    return (operation, status, bytesIn, bytesOut) => {
      this.inFlight.dec();
      end({ operation });
      this.requests.inc({ operation, status: String(status ?? 0) });
      if (bytesIn > 0) this.bytesIn.inc(bytesIn);
      if (bytesOut > 0) this.bytesOut.inc(bytesOut);
    };
  }

  /** One scrape: this process's metrics, or, in a worker, every worker's as the primary aggregates them. */
  async scrape(): Promise<string> {
    if (!cluster.isWorker || !process.send) return this.registry.metrics();
    const id = ++this.scrapes;
    return new Promise((resolve, reject) => {
      const done = (msg: { type?: string; id?: number; text?: string; error?: string }) => {
        if (msg?.type !== SCRAPE || msg.id !== id) return;
        clearTimeout(timer);
        process.off('message', done);
        if (msg.error !== undefined) reject(new Error(msg.error));
        else resolve(msg.text!);
      };
      const timer = setTimeout(() => {
        process.off('message', done);
        reject(new Error('the other gateway workers did not report their metrics in time'));
      }, SCRAPE_TIMEOUT_MS);
      process.on('message', done);
      process.send!({ type: SCRAPE, id });
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  databaseUnavailable(): void {
    this.dbErrors.inc();
  }

  committed(rows: number): void {
    this.batches.observe(rows);
  }
}
