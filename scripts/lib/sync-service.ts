/**
 * Scheduled syncs as services of the compose deployment: --install records the job in deployment.json
 * and starts its service (sync-NAME, the gateway image's sync-cli) without touching the others;
 * --uninstall stops it and forgets it. The host directory itself is never touched by either.
 */
import { existsSync, statSync } from 'node:fs';
import { $ } from 'zx';
import { syncJobProblems, type SyncJob } from '../../service/src/parse/sync-job.js';
import { topology } from '../../stacks/topology.js';
import {
  compose,
  composeFile,
  requireRunning,
  saveSettings,
  waitHealthy,
  type DeployOptions,
} from './deploy.js';
import { OperatorError, step } from './exec.js';
import { buildImages } from './images.js';

/** The deployment with `job` in place of any job of that name; refused when the job cannot run. */
export function withJob(o: DeployOptions, job: SyncJob): DeployOptions {
  if (!existsSync(job.hostDir) || !statSync(job.hostDir).isDirectory())
    throw new OperatorError(`${job.hostDir} is not a directory on this host; a scheduled sync needs one`);
  const syncJobs = [...o.syncJobs.filter((j) => j.name !== job.name), job];
  const [problem] = syncJobProblems(syncJobs);
  if (problem) throw new OperatorError(problem);
  return { ...o, syncJobs };
}

export function withoutJob(o: DeployOptions, name: string): DeployOptions {
  if (!o.syncJobs.some((j) => j.name === name))
    throw new OperatorError(
      `no scheduled sync is named ${name} (${o.syncJobs.map((j) => j.name).join(', ') || 'there are none'})`,
    );
  return { ...o, syncJobs: o.syncJobs.filter((j) => j.name !== name) };
}

/**
 * Brings the running deployment to `next`: the job's old service and its directory volume go first (a
 * volume keeps the directory it was made with), then compose starts what `next` names and removes the rest.
 */
export async function applySyncJobs(root: string, before: DeployOptions, next: DeployOptions, name: string) {
  await requireRunning(next.project);
  const file = await composeFile(before);
  if (before.syncJobs.some((j) => j.name === name)) {
    await compose(file, ['rm', '-s', '-f', `sync-${name}`]);
    await $({ quiet: true, nothrow: true })`docker volume rm ${`${next.project}_sync-${name}`}`;
    // Two-way listings of the old job would describe other sides: a job starts from both sides as they are.
    const image = topology(before).services.find((s) => s.name === `sync-${name}`)!.image;
    await $({
      quiet: true,
      nothrow: true,
    })`docker run --rm --entrypoint rm -v ${`${next.project}_sync-state:/state`} ${image} -rf ${`/state/${name}`}`;
  }
  await saveSettings(root, next);
  await buildImages(next);
  const target = await composeFile(next);
  step(next.syncJobs.some((j) => j.name === name) ? `starting sync-${name}` : `removing sync-${name}`);
  const up = await compose(target, ['up', '-d', '--remove-orphans']);
  if (up.exitCode !== 0)
    throw new OperatorError(`docker compose up failed: ${up.stderr.trim().split('\n').slice(-3).join(' ')}`);
  await waitHealthy(target);
}
