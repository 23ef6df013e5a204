/**
 * Master-key rotation's online half: every wrapped data key and sealed secret still wrapped by an older
 * key is rewrapped by the current one, row by row, while the gateway serves. Object data is never
 * rewritten. Each row changes only if it still holds what was read (a concurrent overwrite wins, and is
 * already under the current key), so the pass can be killed at any point and run again to finish.
 */
import type { Knex } from 'knex';
import { MasterKey } from '../crypto/master-key.js';
import { exclusively, JOB_LOCKS } from '../db/exclusive.js';
import type { LayoutPart } from './types.js';

interface Source {
  table: string;
  keys: string[];
  column: string;
  /** Multipart objects keep each part's wrapped key in their layout. */
  layout?: boolean;
}

/** Every place a wrapped key lives. */
const SOURCES: Source[] = [
  { table: 'objects', keys: ['bucket_id', 'key'], column: 'wrapped_key', layout: true },
  { table: 'object_versions', keys: ['bucket_id', 'key', 'seq'], column: 'wrapped_key', layout: true },
  { table: 'parts', keys: ['upload_id', 'part_number'], column: 'wrapped_key' },
  { table: 'credentials', keys: ['id'], column: 'secret_sealed' },
  { table: 'admins', keys: ['id'], column: 'totp_secret_sealed' },
  { table: 'webhook_targets', keys: ['id'], column: 'secret_sealed' },
];

const idOf = (column: string) => `encode(substring(${column} from 2 for 4), 'hex')`;
const LAYOUT_ID = idOf("decode(p->>'wrappedKey', 'base64')");

/** How many wrapped keys each master key (by hex id) wraps, over every table. */
export async function keyUse(db: Knex): Promise<Record<string, number>> {
  const use: Record<string, number> = {};
  for (const s of SOURCES) {
    const queries = [
      `SELECT ${idOf(s.column)} AS id, count(*)::int AS n FROM ${s.table} WHERE length(${s.column}) > 0 GROUP BY 1`,
      ...(s.layout
        ? [
            `SELECT ${LAYOUT_ID} AS id, count(*)::int AS n FROM ${s.table} t, jsonb_array_elements(t.layout) p
             WHERE t.layout IS NOT NULL GROUP BY 1`,
          ]
        : []),
    ];
    for (const q of queries)
      for (const r of (await db.raw(q)).rows as Array<{ id: string; n: number }>)
        use[r.id] = (use[r.id] ?? 0) + r.n;
  }
  return use;
}

export interface RewrapReport {
  rewrapped: number;
  /** Rows left under older keys (a pass made no progress on them: changed as it ran). */
  remaining: Record<string, number>;
}

/** Rewraps everything not under the current key; `onBatch` hears each batch's count. */
export async function rewrapAll(
  db: Knex,
  masterKey: MasterKey,
  opts: { batch?: number; onBatch?: (table: string, rows: number) => void; stopped?: () => boolean } = {},
): Promise<RewrapReport> {
  const current = masterKey.ids[0]!;
  const unknown = Object.keys(await keyUse(db)).filter((id) => !masterKey.ids.includes(id));
  if (unknown.length)
    throw new Error(
      `some keys are wrapped by master key ${unknown.join(', ')}, which the key file does not hold: put it back as a later line`,
    );
  const batch = opts.batch ?? 500;
  let rewrapped = 0;
  for (const s of SOURCES) {
    const stale = (q: Knex.QueryBuilder) =>
      q.where((w) => {
        w.whereRaw(`length(${s.column}) > 0 AND ${idOf(s.column)} <> ?`, [current]);
        if (s.layout)
          w.orWhereRaw(
            `layout IS NOT NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements(layout) p WHERE ${LAYOUT_ID} <> ?)`,
            [current],
          );
      });
    while (!opts.stopped?.()) {
      const rows = await stale(
        db(s.table).select([...s.keys, s.column, ...(s.layout ? ['layout'] : [])]),
      ).limit(batch);
      let done = 0;
      for (const r of rows) {
        const update: Record<string, unknown> = {};
        const wrapped = r[s.column] as Buffer | null;
        if (wrapped?.length && MasterKey.wrappedBy(wrapped) !== current)
          update[s.column] = masterKey.rewrap(wrapped);
        const layout = r.layout as LayoutPart[] | null | undefined;
        if (layout?.some((p) => MasterKey.wrappedBy(Buffer.from(p.wrappedKey, 'base64')) !== current))
          update.layout = JSON.stringify(
            layout.map((p) => {
              const w = Buffer.from(p.wrappedKey, 'base64');
              return MasterKey.wrappedBy(w) === current
                ? p
                : { ...p, wrappedKey: masterKey.rewrap(w).toString('base64') };
            }),
          );
        const where = Object.fromEntries(s.keys.map((k) => [k, r[k]]));
        const q = db(s.table).where(where).andWhere(s.column, wrapped);
        if (s.layout)
          q.andWhere((w) =>
            layout ? w.whereRaw('layout = ?::jsonb', [JSON.stringify(layout)]) : w.whereNull('layout'),
          );
        done += await q.update(update);
      }
      rewrapped += done;
      if (done) opts.onBatch?.(s.table, done);
      // Nothing left, or nothing that would change: rows that moved under us are counted as remaining.
      if (rows.length < batch || done === 0) break;
    }
  }
  const remaining = await keyUse(db);
  delete remaining[current];
  return { rewrapped, remaining };
}

export interface RewrapLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * What a gateway started on several master keys does by itself (a Pulumi rotation has no script to run
 * rekey-cli): rewraps under the first key in the background, on one gateway at a time, and says in the log
 * when the others can be retired. stop() ends it between batches; a later start finishes the job.
 */
export function rewrapInBackground(
  db: Knex,
  masterKey: MasterKey,
  log: RewrapLog,
): { stop(): Promise<void> } {
  let stopping = false;
  const [current, ...older] = masterKey.ids;
  const run = exclusively(db, JOB_LOCKS.rekey, async () => {
    const r = await rewrapAll(db, masterKey, { stopped: () => stopping });
    if (stopping) return;
    const left = Object.entries(r.remaining).filter(([, n]) => n > 0);
    if (left.length)
      log.error(
        { rewrapped: r.rewrapped, remaining: r.remaining },
        `master-key rewrap left ${left.map(([id, n]) => `${n} under ${id}`).join(', ')}; it runs again at the next start`,
      );
    else
      log.info(
        { rewrapped: r.rewrapped, current },
        `master-key rewrap done: everything is under ${current}; nothing refers to ${older.join(', ')}, which can be retired`,
      );
  }).catch((err: Error) => log.error({ reason: err.message }, 'master-key rewrap failed'));
  return {
    async stop() {
      stopping = true;
      await run;
    },
  };
}
