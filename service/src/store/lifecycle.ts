/**
 * Bucket lifecycle rules as S3 defines them (one storage class, so no transitions), and which objects a
 * rule selects. The worker that applies them is lifecycle-worker.ts.
 */

/** What a rule looks at in an object. */
export interface LifecycleSubject {
  key: string;
  size: number;
  tags?: Record<string, string>;
  lastModified: Date;
}

export interface LifecycleFilter {
  prefix?: string;
  tags?: Record<string, string>;
  sizeGreaterThan?: number;
  sizeLessThan?: number;
}

export interface LifecycleRule {
  id: string;
  enabled: boolean;
  filter: LifecycleFilter;
  expiration?: { days?: number; date?: string; expiredObjectDeleteMarker?: boolean };
  noncurrentExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  abortIncompleteMultipartUploadDays?: number;
}

export interface LifecycleConfig {
  rules: LifecycleRule[];
}

/** Whether a rule's filter selects an object (prefix, every tag, size bounds). */
export function selects(filter: LifecycleFilter, o: Omit<LifecycleSubject, 'lastModified'>): boolean {
  if (filter.prefix && !o.key.startsWith(filter.prefix)) return false;
  for (const [k, v] of Object.entries(filter.tags ?? {})) if (o.tags?.[k] !== v) return false;
  if (filter.sizeGreaterThan !== undefined && !(o.size > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(o.size < filter.sizeLessThan)) return false;
  return true;
}

/**
 * When an object written at `lastModified` expires under `rule`, or undefined when the rule does not expire
 * current versions. With real days, S3 rounds up to the next midnight UTC; shortened days are not rounded.
 */
export function expiryOf(rule: LifecycleRule, lastModified: Date, dayMs: number): Date | undefined {
  if (!rule.enabled || !rule.expiration) return undefined;
  if (rule.expiration.date) return new Date(rule.expiration.date);
  if (rule.expiration.days === undefined) return undefined;
  const at = new Date(lastModified.getTime() + rule.expiration.days * dayMs);
  if (
    dayMs === 24 * 3600 * 1000 &&
    at.getUTCHours() + at.getUTCMinutes() + at.getUTCSeconds() + at.getUTCMilliseconds()
  )
    at.setUTCHours(24, 0, 0, 0);
  return at;
}

/** The earliest expiry any rule gives an object, for x-amz-expiration. */
export function expirationOf(
  config: LifecycleConfig | undefined,
  o: LifecycleSubject,
  dayMs: number,
): { date: Date; ruleId: string } | undefined {
  let best: { date: Date; ruleId: string } | undefined;
  for (const rule of config?.rules ?? []) {
    if (!selects(rule.filter, o)) continue;
    const date = expiryOf(rule, o.lastModified, dayMs);
    if (date && (!best || date < best.date)) best = { date, ruleId: rule.id };
  }
  return best;
}
