import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../scripts/lib/embedded-postgres.js';
import { freePort } from '../../../scripts/lib/free-port.js';
import { migrationSource } from '../../src/db/migrations.js';

/**
 * A database as a gateway left it before users existed (buckets and uploads naming access keys), then
 * migrated: every credential becomes one user, and what it owned follows it.
 */
let pg: RunningPostgres;
let db: Knex;

beforeAll(async () => {
  pg = await startEmbeddedPostgres({ port: await freePort() });
  db = knexFactory({ client: 'pg', connection: pg.url });
  // Every migration up to and including 0011, the last one before users.
  for (;;) {
    const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], Array<{ name: string }>];
    if (!pending.length || pending[0]!.name >= '0012') break;
    await db.migrate.up({ migrationSource });
  }
  const sealed = randomBytes(40);
  await db('credentials').insert([
    { access_key: 'AKIAALICE', secret_sealed: sealed, user_name: 'alice' },
    { access_key: 'AKIABOB', secret_sealed: sealed, user_name: null },
    // Two credentials once carried the same user name; users' names are unique.
    { access_key: 'AKIAALICE2', secret_sealed: sealed, user_name: 'alice' },
  ]);
  const [alice] = await db('buckets')
    .insert({ name: 'alice-data', owner: 'AKIAALICE', region: 'us-east-1' })
    .returning('id');
  await db('buckets').insert({ name: 'bob-data', owner: 'AKIABOB', region: 'us-east-1' });
  // A bucket whose credential was removed from the secrets file long ago.
  await db('buckets').insert({ name: 'orphan-data', owner: 'AKIAGONE', region: 'us-east-1' });
  await db('uploads').insert({
    upload_id: 'u1',
    bucket_id: alice.id,
    key: Buffer.from('k'),
    initiator: 'AKIAALICE',
  });
  await db.migrate.latest({ migrationSource });
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await pg?.stop();
});

describe('migrating credentials to users', () => {
  it('makes one user per credential, named after it, with an AWS-shaped canonical id', async () => {
    const rows = await db('credentials as c')
      .join('users as u', 'u.id', 'c.user_id')
      .orderBy('c.access_key')
      .select('c.access_key', 'u.name', 'u.canonical_id');
    expect(rows.map((r) => [r.access_key, r.name])).toEqual([
      ['AKIAALICE', 'alice'],
      ['AKIAALICE2', 'AKIAALICE2'],
      ['AKIABOB', 'AKIABOB'],
    ]);
    for (const r of rows) expect(r.canonical_id).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(rows.map((r) => r.canonical_id)).size).toBe(3);
  });

  it("hands every bucket and upload to its credential's user, keeping ones whose credential is gone", async () => {
    const owners = await db('buckets as b')
      .join('users as u', 'u.canonical_id', 'b.owner')
      .orderBy('b.name')
      .select('b.name', 'u.name as user');
    expect(owners.map((r) => [r.name, r.user])).toEqual([
      ['alice-data', 'alice'],
      ['bob-data', 'AKIABOB'],
      ['orphan-data', 'AKIAGONE'],
    ]);
    const upload = await db('uploads as up')
      .join('users as u', 'u.canonical_id', 'up.initiator')
      .first('u.name');
    expect(upload?.name).toBe('alice');
  });

  it('keeps what the buckets had: only the owner, ACLs not honoured, public access blocked', async () => {
    const b = await db('buckets')
      .where({ name: 'alice-data' })
      .first('ownership', 'public_access_block', 'policy', 'acl');
    expect(b).toEqual({
      ownership: 'BucketOwnerEnforced',
      public_access_block: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
      policy: null,
      acl: null,
    });
  });

  it('refuses a bucket owned by nobody from now on', async () => {
    await expect(
      db('buckets').insert({ name: 'nobodys', owner: 'f'.repeat(64), region: 'us-east-1' }),
    ).rejects.toThrow(/buckets_owner/);
  });
});
