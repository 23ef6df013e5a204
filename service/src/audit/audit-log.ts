import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';
import { Coalescer } from '../db/coalescer.js';
import type { Log } from '../log.js';
import { checkLink, GENESIS, type AuditRecord, type ChainBreak } from './chain.js';

/** What a caller records; the database numbers, times and chains it. */
export interface AuditEvent {
  principal?: string;
  accessKey?: string;
  source?: string;
  operation: string;
  bucket?: string;
  key?: string;
  versionId?: string;
  /** The HTTP status and, for a failure, its error code: "200", "403 AccessDenied". */
  result: string;
  bytes?: number;
  requestId?: string;
}

export interface AuditSettings {
  /** Reads are recorded too (GET, HEAD, listings), not only changes and refusals. */
  reads: boolean;
  /** Records younger than this cannot be deleted. */
  retentionDays: number;
}

const MAX_BATCH = 256;

/** An audit_log row to insert; seq, at and the hashes are the chain trigger's to set. */
export type AuditRow = Record<string, unknown>;

/** What a change adds to its request's record: the object it touched (and its bucket, where the route does not name it). */
export interface ChangeDetails {
  bucket?: string;
  key?: string;
  versionId?: string;
  bytes?: number;
}

/**
 * What the store asks while it commits a change: the records to write in the same statement or
 * transaction (none outside a request). Once the commit succeeded, the request leaves no other record.
 */
export interface ChangeRecorder {
  committing<T>(changes: ChangeDetails[], commit: (rows: AuditRow[]) => Promise<T>): Promise<T>;
  /** Runs `work` as the request or background job `scope` describes. */
  within<T>(scope: AuditScope, work: () => Promise<T>): Promise<T>;
  /** Records what changed nothing (a refusal); a record that cannot be written is logged. */
  record(event: AuditEvent): void;
}

/** A request in progress: what its record says, and whether a change already wrote one. */
export interface AuditScope {
  event: Omit<AuditEvent, 'result'>;
  recorded: boolean;
}

/** The result of a record written with its change: the change is in, whatever the answer then was. */
export const COMMITTED = 'committed';

function rowOf(event: AuditEvent): AuditRow {
  return {
    seq: 0,
    at: new Date(0),
    prev_hash: GENESIS,
    hash: GENESIS,
    principal: event.principal ?? null,
    access_key: event.accessKey ?? null,
    source: event.source ?? null,
    operation: event.operation,
    bucket: event.bucket ?? null,
    key: event.key ?? null,
    version_id: event.versionId ?? null,
    result: event.result,
    bytes: event.bytes ?? 0,
    request_id: event.requestId ?? null,
  };
}

const TEXT_FIELDS = [
  'principal',
  'access_key',
  'source',
  'operation',
  'bucket',
  'key',
  'version_id',
  'result',
  'request_id',
] as const;

/**
 * The records as a CTE body for a statement that changes rows in its other CTEs: the insert reads
 * `after` first, so the chain's head is locked only after the change's own row locks. Taken in the
 * other order, a statement could hold the head while waiting for a row another transaction holds
 * while waiting for the head.
 */
export function recordsAfter(db: Knex, rows: AuditRow[], after: string): Knex.Raw {
  return db.raw(recordsAfterSql('?', after), [recordsJson(rows)]);
}

/** `recordsAfter`'s SQL, taking the records (`recordsJson`) from the parameter `param` ('?' or '$n'). */
export function recordsAfterSql(param: string, after: string): string {
  return `INSERT INTO audit_log (seq, at, prev_hash, hash, ${TEXT_FIELDS.join(', ')}, bytes)
     SELECT 0, now(), '\\x', '\\x', ${TEXT_FIELDS.map((f) => `r.${f}`).join(', ')}, r.bytes
     FROM jsonb_to_recordset(${param}::jsonb) AS r(${TEXT_FIELDS.map((f) => `${f} text`).join(', ')}, bytes bigint)
     WHERE (SELECT count(*) FROM ${after}) >= 0`;
}

/** The records as the JSON array `recordsAfterSql` reads. */
export function recordsJson(rows: AuditRow[]): string {
  return JSON.stringify(
    rows.map((r) => ({
      ...Object.fromEntries(TEXT_FIELDS.map((f) => [f, r[f] ?? null])),
      bytes: r.bytes ?? 0,
    })),
  );
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Which requests leave a record: every one that may change something, answered or not, and every
 * refusal of who asks (401, 403); other reads only when the setting asks for them.
 */
export function audited(method: string, status: number | undefined, reads: boolean): boolean {
  return reads || !READS.has(method) || status === 401 || status === 403;
}

const COLUMNS =
  'seq, at, principal, access_key, source, operation, bucket, key, version_id, result, bytes, request_id, prev_hash, hash';

/** A row of audit_log as pg returns it. */
export interface AuditLogRow {
  seq: string;
  at: Date;
  principal: string | null;
  access_key: string | null;
  source: string | null;
  operation: string;
  bucket: string | null;
  key: string | null;
  version_id: string | null;
  result: string;
  bytes: string;
  request_id: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

export function toRecord(r: AuditLogRow): AuditRecord {
  return {
    seq: Number(r.seq),
    at: r.at,
    principal: r.principal,
    accessKey: r.access_key,
    source: r.source,
    operation: r.operation,
    bucket: r.bucket,
    key: r.key,
    versionId: r.version_id,
    result: r.result,
    bytes: Number(r.bytes),
    requestId: r.request_id,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface AuditFilter {
  since?: Date;
  until?: Date;
  principal?: string;
  operation?: string;
  bucket?: string;
  key?: string;
  source?: string;
  /** A prefix of the result: "403", "2", "500 InternalError". */
  result?: string;
  /** Records older than this sequence number (the next page). */
  before?: number;
}

/** The chain's newest link: what is exported outside the database so that losing the newest records shows. */
export interface ChainHead {
  seq: number;
  hash: string;
  at: string;
}

/** The tamper-evident audit trail in Postgres (0014_audit): appended to, read, checked. */
export class AuditLog implements ChangeRecorder {
  private readonly scopes = new AsyncLocalStorage<AuditScope>();

  constructor(
    private readonly db: Knex,
    readonly settings: AuditSettings,
    private readonly log: Log,
  ) {}

  /**
   * Records one event in a transaction of its own. Events that arrive while a batch is being written go
   * out together in the next statement: the head row's lock and a WAL flush once per batch.
   */
  async append(event: AuditEvent): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.pending.add({ event, resolve, reject });
    });
  }

  private readonly pending = new Coalescer<{
    event: AuditEvent;
    resolve(): void;
    reject(err: unknown): void;
  }>(MAX_BATCH, async (batch) => {
    try {
      // One statement: the trigger chains its rows in the order given.
      await this.db('audit_log').insert(batch.map((p) => rowOf(p.event)));
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  });

  /** Runs `work` as the request `scope` describes: changes it commits carry their record with them. */
  within<T>(scope: AuditScope, work: () => Promise<T>): Promise<T> {
    return this.scopes.run(scope, work);
  }

  async committing<T>(changes: ChangeDetails[], commit: (rows: AuditRow[]) => Promise<T>): Promise<T> {
    const scope = this.scopes.getStore();
    const rows = scope ? changes.map((c) => rowOf({ ...scope.event, ...c, result: COMMITTED })) : [];
    const out = await commit(rows);
    if (scope && rows.length) scope.recorded = true;
    return out;
  }

  /** As append, for callers that must answer whatever happens: a record that cannot be written is logged. */
  record(event: AuditEvent): void {
    void this.recorded(event);
  }

  /** As record, resolved once the record is written (or its failure logged): before the answer goes out. */
  recorded(event: AuditEvent): Promise<void> {
    return this.append(event).catch((err: Error) =>
      this.log.error({ reason: err.message, event }, 'audit record not written'),
    );
  }

  async applyRetention(): Promise<void> {
    await this.db('audit_head').where({ id: 1 }).update({ retention_days: this.settings.retentionDays });
  }

  async head(): Promise<ChainHead> {
    const row = await this.db('audit_head').where({ id: 1 }).first('seq', 'hash');
    return { seq: Number(row.seq), hash: (row.hash as Buffer).toString('hex'), at: new Date().toISOString() };
  }

  /**
   * Writes the head to `file` (atomically): outside the database, a table cut short no longer matches
   * it. A head older than the one already exported is never written over it: that is the evidence.
   */
  async exportHead(file: string): Promise<ChainHead> {
    const head = await this.head();
    const previous = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as ChainHead,
      () => undefined,
    );
    if (previous && previous.seq > 0) {
      // Moving on only from a head the chain still holds: otherwise the file is the evidence of a cut.
      const held = await this.db('audit_log').where({ seq: previous.seq }).first('hash');
      if (!held || (held.hash as Buffer).toString('hex') !== previous.hash) {
        this.log.error(
          { exported: previous.seq, now: head.seq },
          'the audit chain no longer holds its exported head: records were removed or changed',
        );
        return previous;
      }
    }
    // Every worker of every replica exports, each through its own temporary file (pids repeat across containers).
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    // With blobs in a remote store nothing else makes the data directory.
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(tmp, `${JSON.stringify(head)}\n`, { mode: 0o600 });
    await rename(tmp, file);
    return head;
  }

  /** One page of records for the management API: newest first, filtered, continuing below `before`. */
  async list(filter: AuditFilter, limit: number): Promise<AuditRecord[]> {
    let q = this.db('audit_log').select(this.db.raw(COLUMNS));
    if (filter.before !== undefined) q = q.where('seq', '<', filter.before);
    if (filter.since) q = q.where('at', '>=', filter.since);
    if (filter.until) q = q.where('at', '<', filter.until);
    for (const column of ['principal', 'operation', 'bucket', 'key', 'source'] as const)
      if (filter[column] !== undefined) q = q.where(column, filter[column]);
    if (filter.result !== undefined)
      q = q.whereLike('result', `${filter.result.replace(/[\\%_]/g, '\\$&')}%`);
    return ((await q.orderBy('seq', 'desc').limit(limit)) as AuditLogRow[]).map(toRecord);
  }

  /** Records from `since` on, oldest first, a page at a time. */
  async *records(filter: { since?: Date; afterSeq?: number } = {}, page = 1000): AsyncGenerator<AuditRecord> {
    let after = filter.afterSeq ?? 0;
    for (;;) {
      let q = this.db('audit_log').select(this.db.raw(COLUMNS)).where('seq', '>', after);
      if (filter.since) q = q.where('at', '>=', filter.since);
      const rows = (await q.orderBy('seq').limit(page)) as AuditLogRow[];
      for (const row of rows) yield toRecord(row);
      if (rows.length < page) return;
      after = Number(rows.at(-1)!.seq);
    }
  }

  /**
   * Walks the whole chain: every link, and the head row. With `exported`, a head written earlier outside
   * the database, the chain must still contain that record with that hash.
   */
  async verify(exported?: ChainHead): Promise<VerifyResult> {
    const state: { seq: number; hash: Buffer | undefined } = { seq: 0, hash: undefined };
    let first: number | undefined;
    let count = 0;
    let exportedSeen = false;
    for await (const r of this.records()) {
      first ??= r.seq;
      if (r.seq === 1 && !r.prevHash.equals(GENESIS))
        return {
          ok: false,
          count,
          first,
          break: { seq: 1, reason: 'the first record does not start the chain' },
        };
      const broken = checkLink(r, state);
      if (broken) return { ok: false, count, first, break: broken };
      if (exported && r.seq === exported.seq) {
        if (r.hash.toString('hex') !== exported.hash)
          return {
            ok: false,
            count,
            first,
            break: { seq: r.seq, reason: 'it differs from the exported head' },
          };
        exportedSeen = true;
      }
      count++;
    }
    const head = await this.head();
    if (head.seq !== state.seq || (state.hash && head.hash !== state.hash.toString('hex')))
      return {
        ok: false,
        count,
        first,
        break: {
          seq: state.seq + 1,
          reason: `the head names record ${head.seq}, the table ends at ${state.seq}`,
        },
      };
    if (exported && !exportedSeen && exported.seq > 0)
      return {
        ok: false,
        count,
        first,
        break: {
          seq: Math.min(exported.seq, state.seq + 1),
          reason: `the exported head names record ${exported.seq}, which the table no longer holds`,
        },
      };
    return { ok: true, count, first, last: state.seq };
  }
}

export type VerifyResult =
  | { ok: true; count: number; first?: number; last: number }
  | { ok: false; count: number; first?: number; break: ChainBreak };
