/**
 * What a compliance report states, gathered from the database at one moment: the buckets and how they are
 * locked, what they hold and until when, the audit chain (verified now), refused deletions in the period,
 * the keys and settings in force, and stored bytes over time.
 */
import type { Knex } from 'knex';
import type { AuditEvent, AuditLog, ChainHead } from '../audit/audit-log.js';

export interface BucketReport {
  name: string;
  owner: string;
  createdAt: Date;
  versioning: string;
  lockMode?: string;
  lockDays?: number;
  /** Kept by the compliance-archive preset: nobody may loosen or delete it. */
  presetKept: boolean;
  publicAccessBlocked: boolean;
  aclsDisabled: boolean;
  objects: number;
  versions: number;
  deleteMarkers: number;
  bytes: number;
  lockedVersions: number;
  /** The soonest retain-until date of a version still locked: when the first of them may go. */
  soonestRetainUntil?: Date;
  latestRetainUntil?: Date;
  legalHolds: number;
}

/** A refused record as the report lists it: who, from where, what, and when. */
export type RefusedDeletion = Pick<
  AuditEvent,
  'principal' | 'accessKey' | 'source' | 'operation' | 'bucket' | 'key' | 'versionId' | 'result'
> & { at: Date };

export interface KeyReport {
  accessKey: string;
  user: string;
  active: boolean;
  createdAt: Date;
}

export interface ComplianceData {
  generatedAt: Date;
  period: { since: Date; until: Date };
  buckets: BucketReport[];
  audit: {
    length: number;
    head?: { seq: number; hash: string; at: Date };
    firstAt?: Date;
    /** The verification this report ran. */
    verifiedNow: { ok: boolean; count: number; broken?: { seq: number; reason: string } };
    /** The verification before this one (`audit verify`), as the trail recorded it. */
    lastVerification?: { at: Date; result: string };
    retentionDays: number;
    readsRecorded: boolean;
  };
  refusedDeletions: RefusedDeletion[];
  /** How many refused deletions the period had (the list shows the newest ones). */
  refusedDeletionCount: number;
  keys: KeyReport[];
  settings: Record<string, string>;
  /** Bytes of the versions stored now, by the day each was written: cumulative. */
  storedBytes: Array<{ day: string; bytes: number }>;
}

export interface ReportInputs {
  since: Date;
  until: Date;
  /** The settings the report states as in force (preset, SigV2, TLS, ...), already readable. */
  settings: Record<string, string>;
  presetBuckets: ReadonlySet<string>;
  auditRetentionDays: number;
  auditReads: boolean;
  /** How many refused deletions to list; the count covers all of them. */
  maxRefusals?: number;
  /** What `audit verify` last found, as it wrote it beside the exported head. */
  lastVerification?: { at: Date; result: string };
  /** The head the gateway exported outside the database: records cut from the table no longer match it. */
  exportedHead?: ChainHead;
}

/** S3 and management operations that remove data; lifecycle removals are `Lifecycle:...`. */
const DELETION = `(operation LIKE 'Delete%' OR operation LIKE 'DELETE %' OR operation LIKE 'POST %/delete'
  OR operation LIKE 'Lifecycle:%' OR operation = 'PutObjectRetention' OR operation = 'PutObjectLegalHold')`;

export async function collectComplianceData(
  db: Knex,
  audit: AuditLog,
  inputs: ReportInputs,
): Promise<ComplianceData> {
  const generatedAt = new Date();
  const buckets = await bucketReports(db, inputs.presetBuckets);
  const verify = await audit.verify(inputs.exportedHead);
  const head = await db('audit_log').orderBy('seq', 'desc').first('seq', 'hash', 'at');
  const first = await db('audit_log').orderBy('seq', 'asc').first('at');
  const refusedWhere = (q: Knex.QueryBuilder) =>
    q
      .whereRaw(DELETION)
      .where('result', 'like', '4%')
      .where('at', '>=', inputs.since)
      .where('at', '<', inputs.until);
  const refused = await refusedWhere(db('audit_log'))
    .orderBy('seq', 'desc')
    .limit(inputs.maxRefusals ?? 500)
    .select('at', 'principal', 'access_key', 'source', 'operation', 'bucket', 'key', 'version_id', 'result');
  const [{ n: refusedCount }] = await refusedWhere(db('audit_log')).count({ n: '*' });
  const keys = await db('credentials as c')
    .join('users as u', 'u.id', 'c.user_id')
    .orderBy('c.id')
    .select('c.access_key', 'u.name', 'c.is_active', 'c.created_at');
  return {
    generatedAt,
    period: { since: inputs.since, until: inputs.until },
    buckets,
    audit: {
      length: verify.count,
      head: head
        ? { seq: Number(head.seq), hash: (head.hash as Buffer).toString('hex'), at: head.at }
        : undefined,
      firstAt: first?.at,
      verifiedNow: verify.ok
        ? { ok: true, count: verify.count }
        : { ok: false, count: verify.count, broken: verify.break },
      lastVerification: inputs.lastVerification,
      retentionDays: inputs.auditRetentionDays,
      readsRecorded: inputs.auditReads,
    },
    refusedDeletions: refused.map((r: Record<string, unknown>) => ({
      at: r.at as Date,
      principal: (r.principal as string | null) ?? undefined,
      accessKey: (r.access_key as string | null) ?? undefined,
      source: (r.source as string | null) ?? undefined,
      operation: r.operation as string,
      bucket: (r.bucket as string | null) ?? undefined,
      key: (r.key as string | null) ?? undefined,
      versionId: (r.version_id as string | null) ?? undefined,
      result: r.result as string,
    })),
    refusedDeletionCount: Number(refusedCount),
    keys: keys.map((k: { access_key: string; name: string; is_active: boolean; created_at: Date }) => ({
      accessKey: k.access_key,
      user: k.name,
      active: k.is_active,
      createdAt: k.created_at,
    })),
    settings: inputs.settings,
    storedBytes: await storedBytes(db),
  };
}

async function bucketReports(db: Knex, presetBuckets: ReadonlySet<string>): Promise<BucketReport[]> {
  // Current versions and older ones alike: a version is data whichever table holds it.
  const { rows } = await db.raw(`
    WITH v AS (
      SELECT bucket_id, size, retain_mode, retain_until, legal_hold, false AS delete_marker, true AS current
        FROM objects
      UNION ALL
      SELECT bucket_id, size, retain_mode, retain_until, legal_hold, delete_marker, false FROM object_versions
    )
    SELECT b.name, u.name AS owner, b.created_at, b.versioning, b.object_lock, b.ownership,
           b.public_access_block,
           count(*) FILTER (WHERE v.current) AS objects,
           count(*) FILTER (WHERE v.bucket_id IS NOT NULL AND NOT v.delete_marker) AS versions,
           count(*) FILTER (WHERE v.delete_marker) AS delete_markers,
           coalesce(sum(v.size) FILTER (WHERE NOT v.delete_marker), 0) AS bytes,
           count(*) FILTER (WHERE v.retain_until > now()) AS locked,
           min(v.retain_until) FILTER (WHERE v.retain_until > now()) AS soonest,
           max(v.retain_until) FILTER (WHERE v.retain_until > now()) AS latest,
           count(*) FILTER (WHERE v.legal_hold) AS holds
      FROM buckets b
      LEFT JOIN users u ON u.canonical_id = b.owner
      LEFT JOIN v ON v.bucket_id = b.id
     GROUP BY b.id, u.name
     ORDER BY b.name`);
  return (rows as Array<Record<string, unknown>>).map((r) => {
    const rule = (r.object_lock as { rule?: { mode: string; days?: number; years?: number } } | null)?.rule;
    const block = r.public_access_block as Record<string, boolean> | null;
    return {
      name: r.name as string,
      owner: (r.owner as string | null) ?? '(unknown)',
      createdAt: r.created_at as Date,
      versioning: (r.versioning as string | null) ?? 'Unversioned',
      lockMode: r.object_lock ? (rule?.mode ?? 'enabled, no default') : undefined,
      lockDays: rule ? (rule.days ?? 0) + (rule.years ?? 0) * 365 : undefined,
      presetKept: presetBuckets.has(r.name as string),
      publicAccessBlocked:
        !!block && Object.values(block).length === 4 && Object.values(block).every(Boolean),
      aclsDisabled: r.ownership === 'BucketOwnerEnforced',
      objects: Number(r.objects),
      versions: Number(r.versions),
      deleteMarkers: Number(r.delete_markers),
      bytes: Number(r.bytes),
      lockedVersions: Number(r.locked),
      soonestRetainUntil: (r.soonest as Date | null) ?? undefined,
      latestRetainUntil: (r.latest as Date | null) ?? undefined,
      legalHolds: Number(r.holds),
    };
  });
}

async function storedBytes(db: Knex): Promise<Array<{ day: string; bytes: number }>> {
  const { rows } = await db.raw(`
    WITH v AS (
      SELECT last_modified, size FROM objects
      UNION ALL
      SELECT last_modified, size FROM object_versions WHERE NOT delete_marker
    ), d AS (
      SELECT to_char(date_trunc('day', last_modified AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, sum(size) AS bytes
        FROM v GROUP BY 1
    )
    SELECT day, sum(bytes) OVER (ORDER BY day) AS bytes FROM d ORDER BY day`);
  return (rows as Array<{ day: string; bytes: string }>).map((r) => ({ day: r.day, bytes: Number(r.bytes) }));
}
