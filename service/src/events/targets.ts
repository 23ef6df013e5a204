/**
 * Webhook targets: where bucket events go. An admin creates each one for one user; only that user's
 * buckets may name it in their notification configuration. A bearer token or HMAC secret is sealed
 * under the master key like every other secret, and never shown again.
 */
import { createSecureContext } from 'node:tls';
import type { Knex } from 'knex';
import type { MasterKey } from '../crypto/master-key.js';

export type TargetAuth = 'none' | 'bearer' | 'hmac';

export interface WebhookTarget {
  id: number;
  name: string;
  arn: string;
  userId: number;
  userName: string;
  url: string;
  auth: TargetAuth;
  caBundle: string | null;
  createdAt: Date;
}

/** What the delivery worker needs besides: the secret, opened. */
export interface SendableTarget extends WebhookTarget {
  secret: string | null;
}

export interface NewTarget {
  name: string;
  userName: string;
  url: string;
  auth: TargetAuth;
  secret?: string;
  caBundle?: string;
}

/** A target that cannot be created or removed as asked; `reason` picks the answer's status. */
export class TargetError extends Error {
  constructor(
    readonly reason: 'invalid' | 'exists' | 'not-found' | 'in-use',
    message: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const ARN = /^arn:coffer:sqs:([^:]*):([A-Za-z0-9][A-Za-z0-9_-]{0,62}):webhook$/;

/** A target's ARN, as a notification configuration's <Queue> names it (MinIO's form, Coffer's partition). */
export const targetArn = (region: string, name: string) => `arn:coffer:sqs:${region}:${name}:webhook`;

/** The target name an ARN of this region names, or undefined. */
export function targetNameOf(arn: string, region: string): string | undefined {
  const m = ARN.exec(arn);
  return m && m[1] === region ? m[2] : undefined;
}

/** Why the settings of a new target are refused, or undefined. */
export function targetProblem(t: NewTarget): string | undefined {
  if (!NAME.test(t.name)) return 'name: 1 to 63 letters, digits, "-" or "_", starting with a letter or digit';
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    return `url: "${t.url}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url: must be http or https';
  if (url.username || url.password) return 'url: credentials go in the secret, not the URL';
  if (t.auth === 'none' ? t.secret !== undefined : !t.secret)
    return t.auth === 'none' ? 'secret: only with auth bearer or hmac' : `secret: auth ${t.auth} needs one`;
  if (t.secret !== undefined && (t.secret.length < 16 || t.secret.length > 4096 || /[\r\n]/.test(t.secret)))
    return 'secret: 16 to 4096 characters on one line';
  if (t.caBundle !== undefined) {
    if (url.protocol !== 'https:') return 'ca_bundle: only for an https url';
    try {
      createSecureContext({ ca: t.caBundle });
    } catch (err) {
      return `ca_bundle: not PEM certificates (${(err as Error).message})`;
    }
    if (!t.caBundle.includes('-----BEGIN CERTIFICATE-----')) return 'ca_bundle: not PEM certificates';
  }
  return undefined;
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
      .insert({
        name: t.name,
        user_id: user.id,
        url: t.url,
        auth: t.auth,
        secret_sealed: t.secret === undefined ? null : this.masterKey.wrap(Buffer.from(t.secret, 'utf8')),
        ca_bundle: t.caBundle ?? null,
      })
      .onConflict('name')
      .ignore()
      .returning('id');
    if (inserted.length === 0) throw new TargetError('exists', `A target named "${t.name}" exists`);
    return this.toTarget((await this.query(db).where('t.id', inserted[0].id).first()) as Row);
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
    const n = await db('webhook_targets').where({ name }).delete();
    if (n === 0) throw new TargetError('not-found', `No target is named "${name}"`);
  }
}
