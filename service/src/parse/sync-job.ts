/**
 * A scheduled sync as plain data, and its checks: one definition that the sync script (which records it),
 * the deployment engines (which run it as a service) and the gateway image's sync-cli (which performs it) share.
 */
import { bucketNameProblem } from './bucket-names.js';

export const SYNC_DIRECTIONS = ['push', 'pull', 'two-way'] as const;
export type SyncDirection = (typeof SYNC_DIRECTIONS)[number];

export const AFTER_COPY = ['keep', 'delete'] as const;
export type AfterCopy = (typeof AFTER_COPY)[number];

export interface SyncJob {
  /** Names its service (sync-NAME) and the volume that is its directory. */
  name: string;
  direction: SyncDirection;
  /** An absolute directory on the deployment's host. */
  hostDir: string;
  /** BUCKET[/PATH] in this deployment. */
  target: string;
  afterCopy: AfterCopy;
  /** How long between runs: 90s, 15m, 1h. */
  every: string;
}

/** Runs closer together than this would only pile up on each other. */
export const MIN_INTERVAL_MS = 60_000;
/** A week: well inside what one timer can wait (about 24.8 days). */
export const MAX_INTERVAL_MS = 7 * 24 * 3_600_000;

/** `15m`, `1h`, `90s` → milliseconds; undefined when it is not such an interval. */
export function intervalMs(spec: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h)$/.exec(spec);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'];
}

/** Why an interval cannot schedule a sync; undefined when it can. */
export function intervalProblem(spec: string): string | undefined {
  const ms = intervalMs(spec);
  if (ms === undefined) return `takes a number and s, m or h (got "${spec}")`;
  if (ms < MIN_INTERVAL_MS) return `must be at least 1m (got "${spec}")`;
  if (ms > MAX_INTERVAL_MS) return `must be at most 168h (got "${spec}")`;
  return undefined;
}

/** Why these jobs cannot run; each problem names the job and the setting. */
export function syncJobProblems(jobs: SyncJob[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const j of jobs) {
    const say = (what: string) => problems.push(`sync job ${j.name}: ${what}`);
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(j.name))
      say('its name must be a lower-case name of at most 31 letters, digits and hyphens');
    if (seen.has(j.name)) say('is named twice');
    seen.add(j.name);
    if (!(SYNC_DIRECTIONS as readonly string[]).includes(j.direction))
      say(`direction must be ${SYNC_DIRECTIONS.join(', ')} (got ${j.direction})`);
    if (!j.hostDir.startsWith('/') || j.hostDir.split('/').includes('..'))
      say(`its directory must be an absolute path (got ${j.hostDir})`);
    const bucket = j.target.split('/')[0]!;
    const bad = bucketNameProblem(bucket);
    if (bad) say(`target bucket "${bucket}" ${bad}`);
    if (!(AFTER_COPY as readonly string[]).includes(j.afterCopy))
      say(`after-copy must be keep or delete (got ${j.afterCopy})`);
    if (j.direction === 'two-way' && j.afterCopy === 'delete')
      say('after-copy delete needs push or pull: two-way keeps both sides');
    const every = intervalProblem(j.every);
    if (every) say(`every ${every}`);
  }
  return problems;
}
