/**
 * Object lock rules (WORM), one function each. Retention beats everyone: no principal, admin or
 * internal path may delete a version under COMPLIANCE retention or legal hold, or weaken that retention.
 */
import { S3Error } from '../errors/s3-errors.js';
import type { Bucket, ObjectLockConfig, Retention, RetentionMode } from './types.js';

/** Refuses lock operations on a bucket without object lock, as S3 does. */
export function requireObjectLock(bucket: Pick<Bucket, 'objectLock'>): void {
  if (!bucket.objectLock) throw new S3Error('InvalidRequest', 'Bucket is missing Object Lock Configuration');
}

export const RETENTION_MODES: readonly RetentionMode[] = ['GOVERNANCE', 'COMPLIANCE'];

/** A version's protection as its row keeps it. */
export interface LockColumns {
  retain_mode: RetentionMode | null;
  retain_until: Date | null;
  legal_hold: boolean;
}

export function retentionOf(row: LockColumns): Retention | undefined {
  return row.retain_mode && row.retain_until
    ? { mode: row.retain_mode, until: new Date(row.retain_until) }
    : undefined;
}

/** The retention a new version gets: what the request asked, else the bucket's default rule. */
export function retentionFor(
  config: ObjectLockConfig | undefined,
  asked: Retention | undefined,
  now = new Date(),
): Retention | undefined {
  if (asked || !config?.rule) return asked;
  const until = new Date(now);
  if (config.rule.years) until.setUTCFullYear(until.getUTCFullYear() + config.rule.years);
  else until.setUTCDate(until.getUTCDate() + (config.rule.days ?? 0));
  return { mode: config.rule.mode, until };
}

const denied = (why: string) =>
  new S3Error('AccessDenied', `Access Denied because object protected by object lock: ${why}.`);

/** Refuses to delete a version its lock protects; `bypassGovernance` is what the authorizer granted. */
export function checkDeletable(row: LockColumns, bypassGovernance: boolean, now = new Date()): void {
  if (row.legal_hold) throw denied('the version is under legal hold');
  const r = retentionOf(row);
  if (!r || r.until <= now) return;
  if (r.mode === 'COMPLIANCE') throw denied(`COMPLIANCE retention until ${r.until.toISOString()}`);
  if (!bypassGovernance)
    throw denied(
      `GOVERNANCE retention until ${r.until.toISOString()} (x-amz-bypass-governance-retention: true overrides it)`,
    );
}

/**
 * Refuses a retention change that weakens an active one: COMPLIANCE can only be extended; GOVERNANCE can
 * be extended or turned into COMPLIANCE, and shortened or removed only with the governance bypass.
 */
export function checkRetentionChange(
  current: Retention | undefined,
  next: Retention | undefined,
  bypassGovernance: boolean,
  now = new Date(),
): void {
  if (!current || current.until <= now) return;
  const weakens =
    !next || next.until < current.until || (current.mode === 'COMPLIANCE' && next.mode !== 'COMPLIANCE');
  if (!weakens) return;
  if (current.mode === 'COMPLIANCE')
    throw denied(`COMPLIANCE retention until ${current.until.toISOString()} can only be extended`);
  if (!bypassGovernance)
    throw denied(
      `GOVERNANCE retention until ${current.until.toISOString()} can be shortened or removed only with x-amz-bypass-governance-retention: true`,
    );
}
