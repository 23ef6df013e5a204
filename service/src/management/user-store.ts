/**
 * Users: they own buckets, hold access keys and receive grants. A key rotates (create the new one,
 * delete the old) without any bucket moving, because buckets belong to the user.
 */
import type { Knex } from 'knex';
import type { ChangeRecorder } from '../audit/audit-log.js';
import { changing } from '../store/audited.js';
import { newCanonicalId, type CredentialStore } from './credential-store.js';
import { ApiError } from './errors.js';

export interface UserRow {
  id: number;
  name: string;
  canonicalId: string;
  createdAt: Date;
  accessKeys: Array<{ id: number; accessKey: string; isActive: boolean }>;
  bucketCount: number;
}

const USER_NAME = /^[A-Za-z0-9._@+=,-]{1,64}$/;

export class UserStore {
  constructor(
    private readonly db: Knex,
    private readonly credentials: CredentialStore,
    /** A request's audit record commits with the change it makes. */
    private readonly audit?: ChangeRecorder,
  ) {}

  private changing<T>(work: (db: Knex) => Promise<T>): Promise<T> {
    return changing(this.db, this.audit, [{}], work);
  }

  async list(): Promise<UserRow[]> {
    return this.rows(this.db('users').orderBy('id'));
  }

  async get(id: number): Promise<UserRow> {
    const [row] = await this.rows(this.db('users').where({ id }));
    if (!row) throw new ApiError(404, 'UserNotFound', `No user has id ${id}`);
    return row;
  }

  private async rows(q: Knex.QueryBuilder): Promise<UserRow[]> {
    const users = await q.select(
      'users.*',
      this.db.raw('(SELECT count(*) FROM buckets b WHERE b.owner = users.canonical_id) AS bucket_count'),
    );
    if (users.length === 0) return [];
    const keys = await this.db('credentials')
      .whereIn(
        'user_id',
        users.map((u: { id: string }) => u.id),
      )
      .orderBy('id')
      .select('id', 'user_id', 'access_key', 'is_active');
    return users.map(
      (u: { id: string; name: string; canonical_id: string; created_at: Date; bucket_count: string }) => ({
        id: Number(u.id),
        name: u.name,
        canonicalId: u.canonical_id,
        createdAt: u.created_at,
        bucketCount: Number(u.bucket_count),
        accessKeys: keys
          .filter((k: { user_id: string }) => k.user_id === u.id)
          .map((k: { id: string; access_key: string; is_active: boolean }) => ({
            id: Number(k.id),
            accessKey: k.access_key,
            isActive: k.is_active,
          })),
      }),
    );
  }

  async create(name: string): Promise<UserRow> {
    checkName(name);
    const row = await this.changing(async (db) => {
      const [inserted] = await db('users')
        .insert({ name, canonical_id: newCanonicalId() })
        .onConflict('name')
        .ignore()
        .returning('id');
      if (!inserted) throw new ApiError(409, 'UserAlreadyExists', `A user named ${name} already exists`);
      return inserted;
    });
    await this.credentials.refresh();
    return this.get(Number(row.id));
  }

  /** Renames a user; policies naming it by ARN (user/<name>) follow the name, as IAM's do not. */
  async rename(id: number, name: string): Promise<UserRow> {
    checkName(name);
    try {
      await this.changing(async (db) => {
        const n = await db('users').where({ id }).update({ name });
        if (n === 0) throw new ApiError(404, 'UserNotFound', `No user has id ${id}`);
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new ApiError(409, 'UserAlreadyExists', `A user named ${name} already exists`);
      throw err;
    }
    await this.credentials.refresh();
    return this.get(id);
  }

  /**
   * Deletes a user with its keys and grants. One that owns buckets is refused unless `transferTo`
   * names the user to hand them to, in the same transaction: no bucket is ever left ownerless.
   */
  async delete(id: number, transferTo?: number): Promise<{ transferredBuckets: string[] }> {
    const result = await this.changing((db) =>
      db.transaction(async (trx) => {
        const user = await trx('users').where({ id }).forUpdate().first();
        if (!user) throw new ApiError(404, 'UserNotFound', `No user has id ${id}`);
        const buckets: string[] = (
          await trx('buckets').where({ owner: user.canonical_id }).orderBy('name')
        ).map((b: { name: string }) => b.name);
        if (buckets.length && transferTo === undefined)
          throw new ApiError(
            409,
            'UserOwnsBuckets',
            `The user owns ${buckets.length} bucket(s) (${buckets.slice(0, 5).join(', ')}); pass transfer_to=<user id> to hand them over, or delete them first`,
          );
        if (buckets.length) {
          if (transferTo === id)
            throw new ApiError(400, 'ValidationError', 'transfer_to must be another user');
          const heir = await trx('users').where({ id: transferTo }).first('canonical_id');
          if (!heir) throw new ApiError(404, 'UserNotFound', `No user has id ${transferTo}`);
          await trx('buckets').where({ owner: user.canonical_id }).update({ owner: heir.canonical_id });
        }
        const keys = await trx('credentials').where({ user_id: id }).delete().returning('access_key');
        // Deleted keys stay deleted: the credentials file must not bring them back at the next start.
        for (const k of keys as Array<{ access_key: string }>)
          await trx('deleted_access_keys')
            .insert({ access_key: k.access_key })
            .onConflict('access_key')
            .merge();
        await trx('users').where({ id }).delete();
        return { transferredBuckets: buckets };
      }),
    );
    await this.credentials.refresh();
    return result;
  }
}

function checkName(name: string): void {
  if (!USER_NAME.test(name))
    throw new ApiError(400, 'ValidationError', 'A user name is 1-64 letters, digits or ._@+=,-');
}
