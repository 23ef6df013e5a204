/**
 * Webhook targets: where bucket events go. An admin creates each one for one user; only that user's
 * buckets may name it in their notification configuration. A bearer token or HMAC secret is sealed
 * under the master key like every other secret, and never shown again.
 */
import type { Knex } from 'knex';
import type { MasterKey } from '../crypto/master-key.js';
import { targetProblem, type NewTarget, type TargetAuth } from '../parse/webhook-targets.js';

export type { NewTarget, TargetAuth };

export interface WebhookTarget {
  id: number;
  name: string;
  arn: string;
  userId: number;
  userName: string;
  url: string;
  auth: TargetAuth;
  caBundle: string | null;
  /** Declared by the deployment's WEBHOOKS_FILE, which alone changes it. */
  declared: boolean;
  createdAt: Date;
}

/** What the delivery worker needs besides: the secret, opened. */
export interface SendableTarget extends WebhookTarget {
  secret: string | null;
}

/** A target that cannot be created or removed as asked; `reason` picks the answer's status. */
export class TargetError extends Error {
  constructor(
    readonly reason: 'invalid' | 'exists' | 'not-found' | 'in-use' | 'declared',
    message: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

const ARN = /^arn:coffer:sqs:([^:]*):([A-Za-z0-9][A-Za-z0-9_-]{0,62}):webhook$/;

/** A target's ARN, as a notification configuration's <Queue> names it (MinIO's form, Coffer's partition). */
export const targetArn = (region: string, name: string) => `arn:coffer:sqs:${region}:${name}:webhook`;

/** The target name an ARN of this region names, or undefined. */
export function targetNameOf(arn: string, region: string): string | undefined {
  const m = ARN.exec(arn);
  return m && m[1] === region ? m[2] : undefined;
}

interface Row {
  id: string;
  name: string;
  user_id: string;
  user_name: string;
  url: string;
  auth: TargetAuth;
  secret_sealed: Buffer | null;
  ca_bundle: string | null;
  declared: boolean;
  created_at: Date;
}

export class TargetStore {
  constructor(
    private readonly db: Knex,
    private readonly masterKey: MasterKey,
    private readonly region: string,
  ) {}

  private query(db: Knex = this.db) {
    return db('webhook_targets as t')
      .join('users as u', 'u.id', 't.user_id')
      .select('t.*', 'u.name as user_name')
      .orderBy('t.id');
  }

  private toTarget(r: Row): WebhookTarget {
    return {
      id: Number(r.id),
      name: r.name,
      arn: targetArn(this.region, r.name),
      userId: Number(r.user_id),
      userName: r.user_name,
      url: r.url,
      auth: r.auth,
      caBundle: r.ca_bundle,
      declared: r.declared,
      createdAt: r.created_at,
    };
  }

  async list(): Promise<WebhookTarget[]> {
    return ((await this.query()) as Row[]).map((r) => this.toTarget(r));
  }

  async byName(name: string): Promise<WebhookTarget | undefined> {
    const row = (await this.query().where('t.name', name).first()) as Row | undefined;
    return row && this.toTarget(row);
  }

  /** The target as the worker sends to it, secret opened. */
  async sendable(id: number): Promise<SendableTarget | undefined> {
    const row = (await this.query().where('t.id', id).first()) as Row | undefined;
    if (!row) return undefined;
    const secret = row.secret_sealed ? this.masterKey.unwrap(row.secret_sealed).toString('utf8') : null;
    return { ...this.toTarget(row), secret };
  }

  /** Creates a target; `db` is the caller's transaction when its audit record commits with it. */
  async create(t: NewTarget, db: Knex = this.db): Promise<WebhookTarget> {
    const problem = targetProblem(t);
    if (problem) throw new TargetError('invalid', problem);
    const user = await db('users').where({ name: t.userName }).first('id');
    if (!user) throw new TargetError('invalid', `user: no user is named "${t.userName}"`);
    const inserted = await db('webhook_targets')
      .insert(this.columns(t, user.id))
      .onConflict('name')
      .ignore()
      .returning('id');
    if (inserted.length === 0) throw new TargetError('exists', `A target named "${t.name}" exists`);
    return this.toTarget((await this.query(db).where('t.id', inserted[0].id).first()) as Row);
  }

  /** The row a target's settings become; the secret sealed. */
  private columns(t: NewTarget, userId: number): Record<string, unknown> {
    return {
      name: t.name,
      user_id: userId,
      url: t.url,
      auth: t.auth,
      secret_sealed: t.secret === undefined ? null : this.masterKey.wrap(Buffer.from(t.secret, 'utf8')),
      ca_bundle: t.caBundle ?? null,
    };
  }

  /**
   * Makes the targets a deployment declares (WEBHOOKS_FILE) exist as declared, each as the file says.
   * One whose user does not exist is skipped and reported; one declared before but no longer is kept,
   * as an admin's, since buckets may still send to it.
   */
  async declare(targets: NewTarget[]): Promise<{ applied: string[]; skipped: string[] }> {
    return this.db.transaction(async (trx) => {
      const applied: string[] = [];
      const skipped: string[] = [];
      for (const t of targets) {
        const user = await trx('users').where({ name: t.userName }).first('id');
        if (!user) {
          skipped.push(`${t.name} (no user is named "${t.userName}")`);
          continue;
        }
        await trx('webhook_targets')
          .insert({ ...this.columns(t, user.id), declared: true })
          .onConflict('name')
          .merge();
        applied.push(t.name);
      }
      await trx('webhook_targets')
        .where({ declared: true })
        .whereNotIn('name', applied)
        .update({ declared: false });
      return { applied, skipped };
    });
  }

  /**
   * Removes a target no bucket's configuration names (its pending messages go with it); a target in
   * use is refused with the buckets that name it.
   */
  async remove(name: string, db: Knex = this.db): Promise<void> {
    const arn = targetArn(this.region, name);
    const users = await db('buckets')
      .whereRaw(`notification @> ?::jsonb`, [JSON.stringify({ rules: [{ target: arn }] })])
      .orderBy('name')
      .pluck('name');
    if (users.length)
      throw new TargetError('in-use', `The buckets ${users.join(', ')} send events to "${name}"`);
    const row = await db('webhook_targets').where({ name }).first('declared');
    if (!row) throw new TargetError('not-found', `No target is named "${name}"`);
    if (row.declared)
      throw new TargetError(
        'declared',
        `"${name}" is declared by the deployment (WEBHOOKS_FILE): remove it there`,
      );
    await db('webhook_targets').where({ name }).delete();
  }
}
