/**
 * The compliance-archive preset as plain data, and its checks: one definition that the gateway (which
 * applies it), the deployment engines (which configure it) and the policy rules (which check it) share.
 */
import { bucketNameProblem } from './bucket-names.js';

export const PRESETS = ['compliance-archive'] as const;
export type PresetName = (typeof PRESETS)[number];

export const ARCHIVE_RETENTION_MODES = ['COMPLIANCE', 'GOVERNANCE'] as const;
export type ArchiveRetentionMode = (typeof ARCHIVE_RETENTION_MODES)[number];

export interface ArchivePreset {
  /** Buckets created (or brought up to the preset) with object lock, versioning and default retention. */
  buckets: string[];
  retentionMode: ArchiveRetentionMode;
  /** Default retention of every new version, in days. */
  retentionDays: number;
}

export const ARCHIVE_DEFAULTS: ArchivePreset = {
  buckets: ['archive'],
  retentionMode: 'COMPLIANCE',
  retentionDays: 365,
};

/** Longest default retention S3 accepts (100 years). */
export const MAX_RETENTION_DAYS = 36500;

/** The users the preset's keys belong to; the archive buckets are owned by a user with no key at all. */
export const ARCHIVE_USERS = {
  owner: 'archive-owner',
  ingest: 'archive-ingest',
  reader: 'archive-reader',
} as const;

/** Why a preset cannot be deployed; each problem names the setting. */
export function archivePresetProblems(p: ArchivePreset): string[] {
  const problems: string[] = [];
  if (p.buckets.length === 0) problems.push('buckets must name at least one bucket');
  for (const b of p.buckets) {
    const why = bucketNameProblem(b);
    if (why) problems.push(`bucket '${b}' ${why}`);
  }
  if (new Set(p.buckets).size !== p.buckets.length) problems.push('buckets are named twice');
  if (!(ARCHIVE_RETENTION_MODES as readonly string[]).includes(p.retentionMode))
    problems.push(
      `retention mode must be ${ARCHIVE_RETENTION_MODES.join(' or ')} (got '${p.retentionMode}')`,
    );
  if (!Number.isInteger(p.retentionDays) || p.retentionDays < 1 || p.retentionDays > MAX_RETENTION_DAYS)
    problems.push(
      `retention days must be an integer from 1 to ${MAX_RETENTION_DAYS} (got ${p.retentionDays})`,
    );
  return problems;
}

/**
 * How `next` would weaken what `before` promised, if it does: a bucket left out, a shorter retention, or
 * COMPLIANCE turned into GOVERNANCE. An archive only ever gets stricter.
 */
export function archiveWeakening(before: ArchivePreset, next: ArchivePreset): string[] {
  const problems: string[] = [];
  const dropped = before.buckets.filter((b) => !next.buckets.includes(b));
  if (dropped.length) problems.push(`the archive bucket(s) ${dropped.join(', ')} would be left out`);
  if (next.retentionDays < before.retentionDays)
    problems.push(`the retention would shrink from ${before.retentionDays} to ${next.retentionDays} days`);
  if (before.retentionMode === 'COMPLIANCE' && next.retentionMode !== 'COMPLIANCE')
    problems.push('the retention mode would change from COMPLIANCE to GOVERNANCE');
  return problems;
}
