import pg from 'pg';
import type { Log } from '../log.js';

/** The channel migration 0007's triggers notify on, with the changed table's name as payload. */
export const CHANGES_CHANNEL = 'coffer_changes';

/** What a cache needs to stay true across gateway processes: change signals, and whether they flow. */
export interface ChangeSignals {
  /** True while notifications are being received: only then may a cache trust what it holds. */
  readonly live: boolean;
  /** Calls `fn` after any change to `table`, and whenever changes may have been missed (reconnects, backstop). */
  onChange(table: string, fn: () => void): void;
}

export interface ChangeFeedOptions {
  databaseUrl: string;
  connectTimeoutMs: number;
  /** Every subscriber is told to reload this often even without a notification, in case one was lost. */
  backstopMs: number;
  reconnectMs: number;
}

/**
 * Postgres LISTEN on one dedicated connection. Triggers notify on every change to the tables whose rows
 * gateways cache (credentials, buckets), whichever process or tool made it, so every gateway sees it
 * within milliseconds; a periodic reload is the backstop for anything missed.
 */
export class ChangeFeed implements ChangeSignals {
  private client: pg.Client | undefined;
  private readonly subscribers = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  live = false;

  constructor(
    private readonly opts: ChangeFeedOptions,
    private readonly log: Log,
  ) {}

  onChange(table: string, fn: () => void): void {
    const set = this.subscribers.get(table) ?? new Set();
    set.add(fn);
    this.subscribers.set(table, set);
  }

  /** Connects and listens; a failure is logged and retried, never fatal (caches then simply reload). */
  async start(): Promise<void> {
    this.timer = setInterval(() => this.notifyAll(), this.opts.backstopMs);
    this.timer.unref();
    await this.connect();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    this.live = false;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl,
      connectionTimeoutMillis: this.opts.connectTimeoutMs,
      keepAlive: true,
    });
    client.on('notification', (msg) => {
      if (msg.channel === CHANGES_CHANNEL && msg.payload) this.notify(msg.payload);
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      this.lost(client, err as Error);
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.live = true;
    // Whatever changed while nobody listened is picked up now.
    this.notifyAll();
  }

  private lost(client: pg.Client, err?: Error): void {
    if (this.client !== undefined && this.client !== client) return;
    const wasLive = this.live;
    this.client = undefined;
    this.live = false;
    if (this.closed || this.retry) return;
    if (wasLive || err)
      this.log.warn(
        { reason: err?.message ?? 'connection ended' },
        'change feed lost; caches reload until it is back',
      );
    this.notifyAll();
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, this.opts.reconnectMs);
    this.retry.unref();
  }

  private notify(table: string): void {
    for (const fn of this.subscribers.get(table) ?? []) fn();
  }

  private notifyAll(): void {
    for (const table of this.subscribers.keys()) this.notify(table);
  }
}
