/** The background jobs' runs on record: when each last ran, what it did, and whether it failed. */
import type { Knex } from 'knex';
import { exclusively, JOB_LOCKS } from './exclusive.js';

export type JobName = keyof typeof JOB_LOCKS;

/** Runs kept per job: enough to see a pattern, not a growing table. */
const KEPT = 100;

export interface JobRun {
  job: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: 'ok' | 'failed';
  report: Record<string, number> | null;
  error: string | null;
}

async function record(db: Knex, run: Omit<JobRun, 'finishedAt'>): Promise<void> {
  await db('job_runs').insert({
    job: run.job,
    started_at: run.startedAt,
    finished_at: new Date(),
    outcome: run.outcome,
    report: run.report ? JSON.stringify(run.report) : null,
    error: run.error,
  });
  await db('job_runs')
    .where({ job: run.job })
    .whereNotIn('id', db('job_runs').select('id').where({ job: run.job }).orderBy('id', 'desc').limit(KEPT))
    .delete();
}

/**
 * `work` on one gateway at a time (exclusively), with its run recorded: its report, or its failure.
 * undefined when another gateway holds the job, and nothing is recorded then.
 */
export async function runJob<T extends object>(
  db: Knex,
  job: JobName,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const startedAt = new Date();
  let report: T | undefined;
  try {
    report = await exclusively(db, JOB_LOCKS[job], work);
  } catch (err) {
    await record(db, {
      job,
      startedAt,
      outcome: 'failed',
      report: null,
      error: (err as Error).message,
    }).catch(() => undefined);
    throw err;
  }
  if (report !== undefined)
    await record(db, {
      job,
      startedAt,
      outcome: 'ok',
      report: report as Record<string, number>,
      error: null,
    });
  return report;
}

/** The newest run of each job, and the newest successful one when that is older. */
export async function lastRuns(db: Knex): Promise<Array<JobRun & { lastOk: Date | null }>> {
  const { rows } = await db.raw(`
    SELECT DISTINCT ON (job) job, started_at, finished_at, outcome, report, error,
      (SELECT max(finished_at) FROM job_runs o WHERE o.job = r.job AND o.outcome = 'ok') AS last_ok
    FROM job_runs r ORDER BY job, finished_at DESC, id DESC`);
  return rows.map((r: Record<string, unknown>) => ({
    job: r.job as string,
    startedAt: r.started_at as Date,
    finishedAt: r.finished_at as Date,
    outcome: r.outcome as 'ok' | 'failed',
    report: (r.report as Record<string, number> | null) ?? null,
    error: (r.error as string | null) ?? null,
    lastOk: (r.last_ok as Date | null) ?? null,
  }));
}
