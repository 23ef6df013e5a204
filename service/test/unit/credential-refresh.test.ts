import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { describe, expect, it } from 'vitest';
import { MasterKey } from '../../src/crypto/master-key.js';
import { CredentialStore } from '../../src/management/credential-store.js';

/**
 * A stand-in for the two reads a refresh makes: each answers with the rows as they were when it was
 * asked, but only when the test lets it, so replies can come back in any order (as they do from a pool
 * under load).
 */
function fakeDb(master: MasterKey) {
  const users = [{ id: '1', name: 'ingest', canonical_id: 'c1' }];
  const credentials = [
    { access_key: 'AKIAOLD', secret_sealed: master.wrap(Buffer.from('old')), user_id: '1' },
  ];
  const held: Array<() => void> = [];
  const answer = <T>(rows: T[]) =>
    new Promise<T[]>((resolve) => {
      const snapshot = [...rows];
      held.push(() => resolve(snapshot));
    });
  const db = ((table: string) => ({
    select: () => (table === 'users' ? answer(users) : answer(credentials)),
    where: () => ({ select: () => answer(credentials) }),
  })) as unknown as Knex;
  return { db, credentials, held };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('the credential mirror', () => {
  it('ends on the newest rows when reloads overlap and the older one answers last', async () => {
    const master = new MasterKey(randomBytes(32));
    const { db, credentials, held } = fakeDb(master);
    const store = new CredentialStore(db, master);
    const release = async (i: number) => {
      held.splice(i, 1)[0]!();
      await settle();
    };
    const first = store.refresh();
    await settle();
    await release(0); // its users; it now reads the credentials, before the new key exists
    // A key is added, and its notification starts a second reload while the first is still reading.
    credentials.push({ access_key: 'AKIANEW', secret_sealed: master.wrap(Buffer.from('new')), user_id: '1' });
    const second = store.refresh();
    await settle();
    // The second reload's reads answer first; the first reload's stale credentials come back last.
    while (held.length) await release(held.length - 1);
    await Promise.all([first, second]);
    expect(store.secretFor('AKIANEW')).toBe('new');
    expect(store.secretFor('AKIAOLD')).toBe('old');
  });
});
