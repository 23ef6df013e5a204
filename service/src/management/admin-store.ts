/**
 * Console and management API identity: admins (scrypt password, optional TOTP second step, lockout
 * after repeated failures), their API keys (only SHA-256 digests stored) and console sessions.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { ChangeRecorder } from '../audit/audit-log.js';
import { changing } from '../store/audited.js';
import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import type { MasterKey } from '../crypto/master-key.js';
import { ApiError } from './errors.js';
import { DECOY_HASH, hashPassword, verifyPassword } from './password.js';
import { totpFor, totpStep } from './totp.js';

export interface Admin {
  id: number;
  username: string;
  totpEnabled: boolean;
  isActive: boolean;
}

/** The admin file setup-credentials writes: only digests, never a plaintext password or key. */
export interface AdminListing extends Admin {
  createdAt: Date;
  createdBy: string | null;
  apiKeys: number;
}

/** Why a new password is refused, or undefined: long enough to resist guessing offline if a hash leaks. */
export function passwordProblem(password: string, current?: string): string | undefined {
  if ([...password].length < 12) return 'A password needs at least 12 characters';
  if (password === current) return 'The new password must differ from the current one';
  return undefined;
}

export interface AdminSeed {
  username: string;
  passwordHash: string;
  apiKeySha256?: string;
}

export interface LoginPolicy {
  maxFailures: number;
  lockSeconds: number;
  sessionSeconds: number;
}

export interface Session {
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

const loginFailed = () => new ApiError(401, 'InvalidCredentials', 'Login was unsuccessful');

export class AdminStore {
  constructor(
    private readonly db: Knex,
    private readonly masterKey: MasterKey,
    private readonly policy: LoginPolicy,
    private readonly now: () => number = Date.now,
    /** A request's audit record commits with the change it makes (TOTP, sessions). */
    private readonly audit?: ChangeRecorder,
  ) {}

  private changing<T>(work: (db: Knex) => Promise<T>): Promise<T> {
    return changing(this.db, this.audit, [{}], work);
  }

  /**
   * The first admin as the admin secret file describes it. A new file (`setup-credentials --force`)
   * rotates that admin's password and the one API key it names, so the key it replaced stops working;
   * the same file at every start leaves a password changed in the console alone. TOTP enrollment and
   * other admins are left alone.
   */
  async seed(seed: AdminSeed): Promise<void> {
    await this.db.transaction(async (trx) => {
      const {
        rows: [admin],
      } = await trx.raw(
        `INSERT INTO admins AS a (username, password_hash, seeded_password_hash) VALUES (?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET
           password_hash = CASE WHEN a.seeded_password_hash IS DISTINCT FROM EXCLUDED.seeded_password_hash
                                THEN EXCLUDED.password_hash ELSE a.password_hash END,
           seeded_password_hash = EXCLUDED.seeded_password_hash
         RETURNING id`,
        [seed.username, seed.passwordHash, seed.passwordHash],
      );
      if (!seed.apiKeySha256) return;
      const digest = Buffer.from(seed.apiKeySha256, 'hex');
      await trx('api_keys')
        .where({ admin_id: admin.id, label: 'setup-credentials' })
        .whereNot({ key_sha256: digest })
        .delete();
      await trx('api_keys')
        .insert({ admin_id: admin.id, key_sha256: digest, label: 'setup-credentials' })
        .onConflict('key_sha256')
        .ignore();
    });
  }

  /**
   * Password, then TOTP once enrolled. Each attempt first takes a slot in Postgres, in one statement, so
   * parallel attempts cannot outrun the lockout: at most `maxFailures` are ever evaluated. Slots are
   * kept per name tried, known or not, so a locked admin and an unknown name get the same answers.
   */
  async login(username: string, password: string, totpCode: string | undefined): Promise<Admin> {
    await this.takeAttempt(username);
    const row = await this.db('admins').where({ username }).first();
    if (!row) {
      await verifyPassword(password, DECOY_HASH);
      return this.fail(username);
    }
    if (!(await verifyPassword(password, row.password_hash))) return this.fail(username);
    if (!row.is_active) throw new ApiError(403, 'AdminDisabled', 'This admin account is disabled');
    if (row.totp_enabled) {
      if (!totpCode) {
        await this.giveBackAttempt(username);
        throw new ApiError(401, 'TotpRequired', 'Enter the 6-digit code from your authenticator app');
      }
      if (!(await this.acceptTotp(row, totpCode))) return this.fail(username);
    }
    await this.giveBackAttempt(username);
    return toAdmin(row);
  }

  /**
   * Counts an attempt before it is evaluated, or refuses it while the name is locked or while
   * `maxFailures` attempts are already counted. Failures older than the lock period are forgotten.
   */
  private async takeAttempt(username: string): Promise<void> {
    const now = new Date(this.now());
    const stale = new Date(this.now() - this.policy.lockSeconds * 1000);
    await this.db('login_throttle')
      .where('last_attempt_at', '<', stale)
      .andWhere((q) => q.whereNull('locked_until').orWhere('locked_until', '<=', now))
      .delete();
    const taken = await this.db.raw(
      `INSERT INTO login_throttle AS t (username, failures, last_attempt_at) VALUES (:username, 1, :now)
       ON CONFLICT (username) DO UPDATE SET
         failures = CASE WHEN t.locked_until <= :now OR t.last_attempt_at < :stale THEN 1 ELSE t.failures + 1 END,
         locked_until = NULL,
         last_attempt_at = :now
       WHERE t.locked_until <= :now
          OR (t.locked_until IS NULL AND (t.failures < :max OR t.last_attempt_at < :stale))
       RETURNING failures`,
      { username, now, stale, max: this.policy.maxFailures },
    );
    if (taken.rows.length === 0) {
      const row = await this.db('login_throttle').where({ username }).first('locked_until');
      throw this.blocked(row?.locked_until ?? new Date(this.now() + this.policy.lockSeconds * 1000));
    }
  }

  /** A successful step takes back its own slot; the failures counted beside it still stand. */
  private async giveBackAttempt(username: string): Promise<void> {
    await this.db('login_throttle')
      .where({ username })
      .update({ failures: this.db.raw('GREATEST(failures - 1, 0)') });
  }

  private blocked(until: Date): ApiError {
    return new ApiError(429, 'LoginBlocked', 'Login was unsuccessful', {
      restriction_state: `locked until ${until.toISOString()} after ${this.policy.maxFailures} failed attempts`,
    });
  }

  /** The attempt's slot stays counted; the one that fills the last slot starts the lock. */
  private async fail(username: string): Promise<never> {
    const [locked] = await this.db('login_throttle')
      .where({ username })
      .andWhere('failures', '>=', this.policy.maxFailures)
      .update({
        locked_until: this.db.raw('COALESCE(locked_until, ?)', [
          new Date(this.now() + this.policy.lockSeconds * 1000),
        ]),
      })
      .returning(['locked_until']);
    if (locked) throw this.blocked(locked.locked_until);
    throw loginFailed();
  }

  /** RFC 6238 with one step of drift either way; a code is accepted once (its step is remembered). */
  private async acceptTotp(
    row: { id: number; username: string; totp_secret_sealed: Buffer | null; last_totp_step: string | null },
    code: string,
  ): Promise<boolean> {
    if (!row.totp_secret_sealed) return false;
    const step = totpStep(this.masterKey.unwrap(row.totp_secret_sealed), code, this.now());
    if (step === undefined) return false;
    const updated = await this.db('admins')
      .where({ id: row.id })
      .andWhere((q) => q.whereNull('last_totp_step').orWhere('last_totp_step', '<', step))
      .update({ last_totp_step: step });
    return updated === 1;
  }

  /** Starts (or restarts) enrollment: a new secret, not enforced until confirmed with a valid code. */
  async enrollTotp(adminId: number): Promise<{ secret: string; otpauthUri: string; qrSvg: string }> {
    const row = await this.db('admins').where({ id: adminId }).first();
    if (row.totp_enabled)
      throw new ApiError(409, 'TotpAlreadyEnabled', 'Two-step verification is already enabled');
    const secret = new OTPAuth.Secret({ size: 20 });
    const bytes = new Uint8Array(secret.bytes);
    await this.changing((db) =>
      db('admins')
        .where({ id: adminId })
        .update({ totp_secret_sealed: this.masterKey.wrap(Buffer.from(bytes)), last_totp_step: null }),
    );
    const otpauthUri = totpFor(row.username, bytes).toString();
    const qrSvg = await QRCode.toString(otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { secret: secret.base32, otpauthUri, qrSvg };
  }

  async confirmTotp(adminId: number, code: string): Promise<void> {
    const row = await this.db('admins').where({ id: adminId }).first();
    if (row.totp_enabled)
      throw new ApiError(409, 'TotpAlreadyEnabled', 'Two-step verification is already enabled');
    if (!row.totp_secret_sealed) throw new ApiError(409, 'TotpNotEnrolled', 'Start enrollment first');
    if (!(await this.acceptTotp(row, code)))
      throw new ApiError(400, 'InvalidTotp', 'The code does not match; check the time on your device');
    await this.changing((db) => db('admins').where({ id: adminId }).update({ totp_enabled: true }));
  }

  async createSession(adminId: number): Promise<Session> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    const expiresAt = new Date(this.now() + this.policy.sessionSeconds * 1000);
    await this.changing((db) =>
      db('admin_sessions').insert({
        token_sha256: sha256(token),
        admin_id: adminId,
        csrf_token: csrfToken,
        expires_at: expiresAt,
      }),
    );
    await this.db('admin_sessions').where('expires_at', '<', new Date(this.now())).delete();
    return { token, csrfToken, expiresAt };
  }

  async session(token: string): Promise<{ admin: Admin; csrfToken: string; expiresAt: Date } | undefined> {
    const row = await this.db('admin_sessions as s')
      .join('admins as a', 'a.id', 's.admin_id')
      .where('s.token_sha256', sha256(token))
      .andWhere('s.expires_at', '>', new Date(this.now()))
      .first('a.*', 's.csrf_token', 's.expires_at');
    return row ? { admin: toAdmin(row), csrfToken: row.csrf_token, expiresAt: row.expires_at } : undefined;
  }

  async endSession(token: string): Promise<void> {
    await this.changing((db) =>
      db('admin_sessions')
        .where({ token_sha256: sha256(token) })
        .delete(),
    );
  }

  /** Every admin, for the console's accounts page. */
  async list(): Promise<AdminListing[]> {
    const rows = await this.db('admins as a')
      .leftJoin('admins as c', 'c.id', 'a.created_by')
      .select(
        'a.*',
        'c.username as created_by_name',
        this.db.raw('(SELECT count(*)::int FROM api_keys k WHERE k.admin_id = a.id) AS api_keys'),
      )
      .orderBy('a.id');
    return rows.map((r) => ({
      ...toAdmin(r),
      createdAt: r.created_at,
      createdBy: r.created_by_name ?? null,
      apiKeys: r.api_keys,
    }));
  }

  /** Another admin, with a first password they change themselves; they enroll their own TOTP. */
  async create(username: string, password: string, createdBy: number): Promise<Admin> {
    const problem = passwordProblem(password);
    if (problem) throw new ApiError(400, 'WeakPassword', problem);
    const passwordHash = await hashPassword(password);
    try {
      const [row] = await this.changing((db) =>
        db('admins').insert({ username, password_hash: passwordHash, created_by: createdBy }).returning('*'),
      );
      return toAdmin(row);
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new ApiError(409, 'AdminExists', `An admin named ${username} already exists`);
      throw err;
    }
  }

  /**
   * Removes an admin with their sessions and API keys. Nobody removes themselves, and the last active
   * admin stays: the console must always have someone who can sign in.
   */
  async remove(id: number, actorId: number): Promise<void> {
    if (id === actorId)
      throw new ApiError(409, 'CannotRemoveSelf', 'You cannot remove your own account; another admin can');
    await this.db.transaction(async (trx) => {
      const target = await trx('admins').where({ id }).forUpdate().first();
      if (!target) throw new ApiError(404, 'NoSuchAdmin', `No admin has id ${id}`);
      const others = await trx('admins').whereNot({ id }).where({ is_active: true }).count({ active: '*' });
      const active = others[0]?.active ?? 0;
      if (Number(active) === 0)
        throw new ApiError(409, 'LastAdmin', 'This is the only active admin; add another one first');
      await changing(trx, this.audit, [{}], (db) => db('admins').where({ id }).delete());
    });
  }

  /**
   * Changes the signed-in admin's own password. The current one is checked through the same lockout as
   * a login, and every other session of that admin ends.
   */
  async changePassword(adminId: number, current: string, next: string, keepToken?: string): Promise<void> {
    const row = await this.db('admins').where({ id: adminId }).first();
    await this.takeAttempt(row.username);
    if (!(await verifyPassword(current, row.password_hash)))
      return this.fail(row.username).catch((err) => {
        throw err instanceof ApiError && err.code === 'InvalidCredentials'
          ? new ApiError(400, 'InvalidCurrentPassword', 'The current password is not right')
          : err;
      });
    await this.giveBackAttempt(row.username);
    const problem = passwordProblem(next, current);
    if (problem) throw new ApiError(400, 'WeakPassword', problem);
    const passwordHash = await hashPassword(next);
    await this.changing(async (db) => {
      await db('admins').where({ id: adminId }).update({ password_hash: passwordHash });
      await db('admin_sessions')
        .where({ admin_id: adminId })
        .modify((q) => {
          if (keepToken) q.whereNot({ token_sha256: sha256(keepToken) });
        })
        .delete();
    });
  }

  /** For an admin who lost their authenticator: they enroll again at their next sign-in. */
  async resetTotp(id: number, actorId: number): Promise<void> {
    if (id === actorId)
      throw new ApiError(409, 'CannotResetOwnTotp', 'Another admin must reset your two-step verification');
    const updated = await this.changing((db) =>
      db('admins')
        .where({ id })
        .update({ totp_enabled: false, totp_secret_sealed: null, last_totp_step: null }),
    );
    if (!updated) throw new ApiError(404, 'NoSuchAdmin', `No admin has id ${id}`);
  }

  async byApiKey(key: string): Promise<Admin | undefined> {
    const row = await this.db('api_keys as k')
      .join('admins as a', 'a.id', 'k.admin_id')
      .where('k.key_sha256', sha256(key))
      .first('a.*', 'k.id as key_id');
    if (!row) return undefined;
    await this.db('api_keys')
      .where({ id: row.key_id })
      .update({ last_used_at: new Date(this.now()) });
    return toAdmin(row);
  }
}

function toAdmin(r: {
  id: string | number;
  username: string;
  totp_enabled: boolean;
  is_active: boolean;
}): Admin {
  return { id: Number(r.id), username: r.username, totpEnabled: r.totp_enabled, isActive: r.is_active };
}
