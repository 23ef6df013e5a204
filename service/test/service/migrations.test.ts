import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../scripts/lib/embedded-postgres.js';
import { freePort } from '../../../scripts/lib/free-port.js';
import { toRecord, type AuditLogRow } from '../../src/audit/audit-log.js';
import { GENESIS, recordHash } from '../../src/audit/chain.js';
import { migrationSource } from '../../src/db/migrations.js';

/** Migrations that change what existing rows or triggers do, applied over data written before them. */
let pg: RunningPostgres;
let db: Knex;

async function migrateBefore(prefix: string): Promise<void> {
  for (;;) {
    const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], Array<{ name: string }>];
    if (!pending.length || pending[0]!.name >= prefix) return;
    await db.migrate.up({ migrationSource });
  }
}

async function record(key: string | null): Promise<void> {
  await db('audit_log').insert({
    seq: 0,
    at: new Date(),
    prev_hash: Buffer.alloc(0),
    hash: Buffer.alloc(0),
    principal: 'alice',
    access_key: null,
    source: '192.0.2.7',
    operation: 'PutObject',
    bucket: 'archive',
    key,
    result: 'committed',
    bytes: 7,
    request_id: `r-${key}`,
  });
}

beforeAll(async () => {
  pg = await startEmbeddedPostgres({ port: await freePort() });
  db = knexFactory({ client: 'pg', connection: pg.url });
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await pg?.stop();
});

describe('migration 0019_audit_chain_inline', () => {
  // The chain trigger's hashed text, rewritten as one expression: a chain begun before goes on unbroken.
  it('continues the chain the earlier trigger began, and the earlier trigger continues it after a rollback', async () => {
    await migrateBefore('0019');
    for (const key of ['before/1', 'before/ß ✓', null]) await record(key);
    await db.migrate.up({ migrationSource });
    for (const key of ['after/1', 'after/x|y', null]) await record(key);
    await db.migrate.down({ migrationSource });
    for (const key of ['rolled-back/1']) await record(key);

    const rows = await db<AuditLogRow>('audit_log').orderBy('seq');
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    let prev: Buffer = GENESIS;
    for (const r of rows) {
      expect(r.prev_hash.equals(prev)).toBe(true);
      const hash = recordHash(prev, toRecord(r));
      expect(hash.equals(r.hash)).toBe(true);
      prev = r.hash;
    }
  });
});

describe('migration 0020_inline_data_uncompressed', () => {
  it('stores sealed bytes kept inline out of line and uncompressed, in current and older versions alike', async () => {
    await db.migrate.latest({ migrationSource });
    const storage = await db('pg_attribute')
      .select({ table: db.raw('attrelid::regclass::text'), storage: 'attstorage' })
      .where({ attname: 'inline_data' })
      .whereIn(db.raw('attrelid::regclass::text') as never, ['objects', 'object_versions'])
      .orderBy('table');
    // 'e' (EXTERNAL): Postgres never runs its compressor over AES-GCM output, which cannot shrink.
    expect(storage).toEqual([
      { table: 'object_versions', storage: 'e' },
      { table: 'objects', storage: 'e' },
    ]);
  });
});
