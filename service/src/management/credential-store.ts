/**
 * S3 credentials kept in Postgres, their secrets sealed under the master key. SigV4 verification asks
 * for a secret on every request, so active credentials are mirrored in memory. A change made here
 * refreshes the mirror before answering; a change made by another gateway process reaches it through
 * the change feed, so a disabled key is refused everywhere within a second.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ChangeRecorder } from '../audit/audit-log.js';
import { changing } from '../store/audited.js';
import type { CredentialProvider, Identity, S3Credential } from '../auth/credentials.js';
import type { MasterKey } from '../crypto/master-key.js';
import type { ChangeSignals } from '../db/change-feed.js';
import type { Log } from '../log.js';
import { ApiError } from './errors.js';

export interface CredentialRow {
  id: number;
  accessKey: string;
  userId: number;
  userName: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewCredential {
  /** The user the key is for; without one, a new user is created (named userName, or the key). */
  userId?: number;
  userName?: string;
  accessKey?: string;
  secretKey?: string;
}

/** Serializes seeding across gateway processes ("Seed" in ASCII). */
const SEED_LOCK = 0x53656564;
const ACCESS_KEY = /^[A-Za-z0-9._~+=-]{3,128}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** AWS-shaped: AKIA + 16 base32 characters, and a 40-character base64-ish secret. */
export function generateAccessKey(): string {
  return 'AKIA' + [...randomBytes(16)].map((b) => ALPHABET[b % 32]).join('');
}
export function generateSecretKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'x').replace(/\//g, 'y');
}

/** A fresh canonical user id: 64 hex digits, as AWS's. */
export function newCanonicalId(): string {
  return randomBytes(32).toString('hex');
}

/** Creates a user named `name`, or `name-<key>` when that name is taken (file and migrated keys). */
async function insertUser(trx: Knex, name: string, fallback: string): Promise<number> {
  for (const candidate of [name, `${name}-${fallback}`]) {
    const [row] = await trx('users')
      .insert({ name: candidate, canonical_id: newCanonicalId() })
      .onConflict('name')
      .ignore()
      .returning('id');
    if (row) return Number(row.id);
  }
  throw new ApiError(409, 'UserAlreadyExists', `A user named ${name} already exists`);
}

export class CredentialStore implements CredentialProvider {
  private active = new Map<string, { secret: string; user: Identity }>();
  private users = new Map<string, Identity>();
  private loading: Promise<void> | undefined;
  private reloadAfter: Promise<void> | undefined;

  constructor(
    private readonly db: Knex,
    private readonly masterKey: MasterKey,
    changes?: ChangeSignals,
    private readonly log?: Log,
    /** A request's audit record commits with the change it makes (issue, update, delete). */
    private readonly audit?: ChangeRecorder,
  ) {
    // A change made through another gateway (or any tool) reaches this one's mirror within milliseconds.
    for (const table of ['credentials', 'users'])
      changes?.onChange(table, () => {
        this.refresh().catch((err) =>
          this.log?.warn(
            { reason: (err as Error).message },
            'credential reload failed; keeping the last known set',
          ),
        );
      });
  }

  /**
   * Adds the credentials of the secrets file that are not in the table yet. Never re-enables or
   * overwrites one, and never brings back one an admin deleted.
   */
  private changing<T>(work: (db: Knex) => Promise<T>): Promise<T> {
    return changing(this.db, this.audit, [{}], work);
  }

  async seed(list: S3Credential[]): Promise<void> {
    const deleted = new Set(
      (await this.db('deleted_access_keys').select('access_key')).map(
        (r: { access_key: string }) => r.access_key,
      ),
    );
    for (const c of list.filter((x) => !deleted.has(x.accessKeyId))) {
      // Each new file credential is a user of its own, as every credential was before users existed.
      await this.db.transaction(async (trx) => {
        // Gateways starting together seed the same file: one at a time, so each key becomes one user.
        await trx.raw('SELECT pg_advisory_xact_lock(?)', [SEED_LOCK]);
        if (await trx('credentials').where({ access_key: c.accessKeyId }).first('id')) return;
        const userId = await insertUser(trx, c.userName ?? c.accessKeyId, c.accessKeyId);
        await trx('credentials').insert({
          access_key: c.accessKeyId,
          secret_sealed: this.masterKey.wrap(Buffer.from(c.secretAccessKey, 'utf8')),
          user_name: c.userName ?? null,
          user_id: userId,
        });
      });
    }
    await this.refresh();
  }

  /**
   * Reloads the mirror. Reloads never overlap: one asked for while another runs starts when it ends (one
   * for every caller meanwhile), so an older read can never land after a newer one and bring back a set
   * from before a change (an added key refused on one worker while another already takes it).
   */
  refresh(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => (this.loading = undefined));
      return this.loading;
    }
    this.reloadAfter ??= this.loading
      .catch(() => undefined)
      .then(() => {
        this.reloadAfter = undefined;
        return this.refresh();
      });
    return this.reloadAfter;
  }

  private async load(): Promise<void> {
    const users: Array<{ id: string; name: string; canonical_id: string }> = await this.db('users').select(
      'id',
      'name',
      'canonical_id',
    );
    const byId = new Map<number, Identity>();
    const byCanonical = new Map<string, Identity>();
    for (const u of users) {
      const identity = { userId: Number(u.id), canonicalId: u.canonical_id, name: u.name };
      byId.set(identity.userId, identity);
      byCanonical.set(u.canonical_id, identity);
    }
    const rows = await this.db('credentials')
      .where({ is_active: true })
      .select('access_key', 'secret_sealed', 'user_id');
    const active = new Map<string, { secret: string; user: Identity }>();
    for (const r of rows as Array<{ access_key: string; secret_sealed: Buffer; user_id: string }>) {
      const user = byId.get(Number(r.user_id));
      if (user)
        active.set(r.access_key, { secret: this.masterKey.unwrap(r.secret_sealed).toString('utf8'), user });
    }
    this.active = active;
    this.users = byCanonical;
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.active.get(accessKeyId)?.secret;
  }

  identityOf(accessKeyId: string): Identity | undefined {
    return this.active.get(accessKeyId)?.user;
  }

  userByName(name: string): Identity | undefined {
    for (const user of this.users.values()) if (user.name === name) return user;
    return undefined;
  }

  /** The user with this canonical id (for DisplayName), active keys or not. */
  userByCanonicalId(canonicalId: string): Identity | undefined {
    return this.users.get(canonicalId);
  }

  async list(): Promise<CredentialRow[]> {
    return (await this.db('credentials').orderBy('id')).map(toRow);
  }

  async get(id: number): Promise<CredentialRow> {
    const row = await this.db('credentials').where({ id }).first();
    if (!row) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${id}`);
    return toRow(row);
  }

  async byAccessKey(accessKey: string): Promise<CredentialRow | undefined> {
    const row = await this.db('credentials').where({ access_key: accessKey }).first();
    return row ? toRow(row) : undefined;
  }

  async create(input: NewCredential): Promise<CredentialRow & { secretKey: string }> {
    const accessKey = input.accessKey ?? generateAccessKey();
    const secretKey = input.secretKey ?? generateSecretKey();
    if (!ACCESS_KEY.test(accessKey))
      throw new ApiError(400, 'ValidationError', 'access_key must be 3-128 letters, digits or ._~+=-');
    if (secretKey.length < 8 || secretKey.length > 128)
      throw new ApiError(400, 'ValidationError', 'secret_key must be 8-128 characters');
    const row = await this.changing((db) =>
      db.transaction(async (trx) => {
        let userId = input.userId;
        if (userId === undefined) userId = await insertUser(trx, input.userName ?? accessKey, accessKey);
        else if (!(await trx('users').where({ id: userId }).first('id')))
          throw new ApiError(404, 'UserNotFound', `No user has id ${userId}`);
        const [inserted] = await trx('credentials')
          .insert({
            access_key: accessKey,
            secret_sealed: this.masterKey.wrap(Buffer.from(secretKey, 'utf8')),
            user_name: input.userName ?? null,
            user_id: userId,
          })
          .onConflict('access_key')
          .ignore()
          .returning('*');
        if (!inserted)
          throw new ApiError(409, 'CredentialAlreadyExists', `The access key ${accessKey} is already in use`);
        // Issuing a deleted key again is an explicit decision; the file may seed it again from now on.
        await trx('deleted_access_keys').where({ access_key: accessKey }).delete();
        return inserted;
      }),
    );
    await this.refresh();
    return { ...toRow(row), secretKey };
  }

  async update(id: number, patch: { userName?: string | null; isActive?: boolean }): Promise<CredentialRow> {
    const changes: Record<string, unknown> = { updated_at: this.db.fn.now() };
    if (patch.userName !== undefined) changes.user_name = patch.userName;
    if (patch.isActive !== undefined) changes.is_active = patch.isActive;
    const row = await this.changing(async (db) => {
      const [updated] = await db('credentials').where({ id }).update(changes).returning('*');
      if (!updated) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${id}`);
      return updated;
    });
    await this.refresh();
    return toRow(row);
  }

  /**
   * Deletes a credential. Another key of the same user keeps everything (that is a rotation). The
   * user's last key takes the user with it: its buckets move to `transferTo`'s user in the same
   * transaction, and without one a user that still owns buckets is refused, so no data is left ownerless.
   */
  async delete(id: number, transferTo?: number): Promise<{ transferredBuckets: string[] }> {
    const result = await this.changing((db) =>
      db.transaction(async (trx) => {
        const row = await trx('credentials').where({ id }).forUpdate().first();
        if (!row) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${id}`);
        const user = await trx('users').where({ id: row.user_id }).forUpdate().first();
        const siblings = await trx('credentials')
          .where({ user_id: row.user_id })
          .whereNot({ id })
          .first('id');
        const buckets: string[] = siblings
          ? []
          : (await trx('buckets').where({ owner: user.canonical_id }).orderBy('name')).map(
              (b: { name: string }) => b.name,
            );
        if (buckets.length && transferTo === undefined)
          throw new ApiError(
            409,
            'CredentialOwnsBuckets',
            `The credential owns ${buckets.length} bucket(s) (${buckets.slice(0, 5).join(', ')}); pass transfer_to=<credential id> to hand them over, or delete them first`,
          );
        if (transferTo !== undefined && !siblings) {
          if (transferTo === id)
            throw new ApiError(400, 'ValidationError', 'transfer_to must be another credential');
          const heir = await trx('credentials as c')
            .join('users as u', 'u.id', 'c.user_id')
            .where('c.id', transferTo)
            .first('u.canonical_id', 'u.id');
          if (!heir) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${transferTo}`);
          await trx('buckets').where({ owner: user.canonical_id }).update({ owner: heir.canonical_id });
        }
        await trx('credentials').where({ id }).delete();
        if (!siblings) await trx('users').where({ id: row.user_id }).delete();
        await trx('deleted_access_keys')
          .insert({ access_key: row.access_key })
          .onConflict('access_key')
          .merge();
        return { transferredBuckets: transferTo === undefined ? [] : buckets };
      }),
    );
    await this.refresh();
    return result;
  }
}

function toRow(r: {
  id: string | number;
  access_key: string;
  user_id: string | number;
  user_name: string | null;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}): CredentialRow {
  return {
    id: Number(r.id),
    accessKey: r.access_key,
    userId: Number(r.user_id),
    userName: r.user_name,
    isActive: r.is_active,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
