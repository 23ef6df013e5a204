/**
 * S3 credentials kept in Postgres, their secrets sealed under the master key. SigV4 verification asks
 * for a secret on every request, so active credentials are mirrored in memory. A change made here
 * refreshes the mirror before answering; a change made by another gateway process reaches it through
 * the change feed, so a disabled key is refused everywhere within a second.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { CredentialProvider, S3Credential } from '../auth/credentials.js';
import type { MasterKey } from '../crypto/master-key.js';
import type { ChangeSignals } from '../db/change-feed.js';
import type { Log } from '../log.js';
import { ApiError } from './errors.js';

export interface CredentialRow {
  id: number;
  accessKey: string;
  userName: string | null;
  isActive: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewCredential {
  userName?: string;
  accessKey?: string;
  secretKey?: string;
}

const ACCESS_KEY = /^[A-Za-z0-9._~+=-]{3,128}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** AWS-shaped: AKIA + 16 base32 characters, and a 40-character base64-ish secret. */
export function generateAccessKey(): string {
  return 'AKIA' + [...randomBytes(16)].map((b) => ALPHABET[b % 32]).join('');
}
export function generateSecretKey(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'x').replace(/\//g, 'y');
}

export class CredentialStore implements CredentialProvider {
  private active = new Map<string, string>();

  constructor(
    private readonly db: Knex,
    private readonly masterKey: MasterKey,
    changes?: ChangeSignals,
    private readonly log?: Log,
  ) {
    // A change made through another gateway (or any tool) reaches this one's mirror within milliseconds.
    changes?.onChange('credentials', () => {
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
  async seed(list: S3Credential[]): Promise<void> {
    const deleted = new Set(
      (await this.db('deleted_access_keys').select('access_key')).map(
        (r: { access_key: string }) => r.access_key,
      ),
    );
    for (const c of list.filter((x) => !deleted.has(x.accessKeyId))) {
      await this.db('credentials')
        .insert({
          access_key: c.accessKeyId,
          secret_sealed: this.masterKey.wrap(Buffer.from(c.secretAccessKey, 'utf8')),
          user_name: c.userName ?? null,
        })
        .onConflict('access_key')
        .ignore();
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const rows = await this.db('credentials')
      .where({ is_active: true })
      .select('access_key', 'secret_sealed');
    this.active = new Map(
      rows.map((r: { access_key: string; secret_sealed: Buffer }) => [
        r.access_key,
        this.masterKey.unwrap(r.secret_sealed).toString('utf8'),
      ]),
    );
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.active.get(accessKeyId);
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
    const [row] = await this.db('credentials')
      .insert({
        access_key: accessKey,
        secret_sealed: this.masterKey.wrap(Buffer.from(secretKey, 'utf8')),
        user_name: input.userName ?? null,
      })
      .onConflict('access_key')
      .ignore()
      .returning('*');
    if (!row)
      throw new ApiError(409, 'CredentialAlreadyExists', `The access key ${accessKey} is already in use`);
    // Issuing a deleted key again is an explicit decision; the file may seed it again from now on.
    await this.db('deleted_access_keys').where({ access_key: accessKey }).delete();
    await this.refresh();
    return { ...toRow(row), secretKey };
  }

  async update(id: number, patch: { userName?: string | null; isActive?: boolean }): Promise<CredentialRow> {
    const changes: Record<string, unknown> = { updated_at: this.db.fn.now() };
    if (patch.userName !== undefined) changes.user_name = patch.userName;
    if (patch.isActive !== undefined) changes.is_active = patch.isActive;
    const [row] = await this.db('credentials').where({ id }).update(changes).returning('*');
    if (!row) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${id}`);
    await this.refresh();
    return toRow(row);
  }

  /**
   * Deletes a credential. Its buckets move to `transferTo` in the same transaction;
   * without one, a credential that still owns buckets is refused, so no data is ever left ownerless.
   */
  async delete(id: number, transferTo?: number): Promise<{ transferredBuckets: string[] }> {
    const result = await this.db.transaction(async (trx) => {
      const row = await trx('credentials').where({ id }).forUpdate().first();
      if (!row) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${id}`);
      const buckets: string[] = (await trx('buckets').where({ owner: row.access_key }).orderBy('name')).map(
        (b: { name: string }) => b.name,
      );
      if (buckets.length && transferTo === undefined)
        throw new ApiError(
          409,
          'CredentialOwnsBuckets',
          `The credential owns ${buckets.length} bucket(s) (${buckets.slice(0, 5).join(', ')}); pass transfer_to=<credential id> to hand them over, or delete them first`,
        );
      if (transferTo !== undefined) {
        if (transferTo === id)
          throw new ApiError(400, 'ValidationError', 'transfer_to must be another credential');
        const heir = await trx('credentials').where({ id: transferTo }).first();
        if (!heir) throw new ApiError(404, 'CredentialNotFound', `No credential has id ${transferTo}`);
        await trx('buckets').where({ owner: row.access_key }).update({ owner: heir.access_key });
      }
      await trx('credentials').where({ id }).delete();
      await trx('deleted_access_keys')
        .insert({ access_key: row.access_key })
        .onConflict('access_key')
        .merge();
      return { transferredBuckets: transferTo === undefined ? [] : buckets };
    });
    await this.refresh();
    return result;
  }
}

function toRow(r: {
  id: string | number;
  access_key: string;
  user_name: string | null;
  is_active: boolean;
  created_at: Date;
  updated_at: Date;
}): CredentialRow {
  return {
    id: Number(r.id),
    accessKey: r.access_key,
    userName: r.user_name,
    isActive: r.is_active,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
