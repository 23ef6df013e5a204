/**
 * GATEWAY_WORKERS: one gateway process per core, sharing one port. Each worker has its own Postgres pool
 * and group commit; caches follow other processes' changes through the change feed, and background jobs
 * take a Postgres advisory lock, so they run once however many workers and hosts there are.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config.js';
import { withMallocTuning } from './malloc-tuning.js';
import { answerWorkerScrapes } from './metrics/gateway-metrics.js';

export interface SupervisorOptions {
  workers: number;
  /** The module each worker runs; by default this process's own entry point. */
  exec?: string;
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** One line per event, for the operator. */
  say(line: string): void;
}

export interface Supervisor {
  /** Asks every worker to shut down (SIGTERM, as the process itself was), and waits for them. */
  stop(): Promise<void>;
}

/** A worker exited before it served: its exit code says why (78 is a configuration error). */
export class WorkerStartError extends Error {
  constructor(readonly code: number) {
    super(`a gateway worker exited with code ${code} before it started serving`);
  }
}

const STOP_GRACE_MS = 30_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Forks the workers and resolves once every one serves; a worker that fails to start then stops them
 * all, so a bad setting is reported once instead of retried forever. A worker that dies after serving is
 * replaced (with a growing delay while replacements keep failing, as when Postgres is away).
 */
export function superviseWorkers(opts: SupervisorOptions): Promise<Supervisor> {
  // The kernel hands connections to whichever worker accepts: with round robin the primary passes each one
  // on itself, and one passed to a worker that has just been killed is never answered.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({
    ...(opts.exec === undefined ? {} : { exec: opts.exec }),
    execArgv: opts.execArgv ?? process.execArgv,
  });
  answerWorkerScrapes();
  const live = new Set<Worker>();
  let stopping = false;
  let started = false;
  let restartDelay = 250;

  const supervisor: Supervisor = {
    async stop() {
      stopping = true;
      await Promise.all(
        [...live].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              const force = setTimeout(() => w.process.kill('SIGKILL'), STOP_GRACE_MS);
              w.once('exit', () => {
                clearTimeout(force);
                resolve();
              });
              w.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };

  return new Promise((resolve, reject) => {
    let serving = 0;
    const fork = (slot: number) => {
      const worker = cluster.fork({
        ...withMallocTuning({ ...process.env, ...opts.env }),
        COFFER_WORKER: String(slot),
      });
      let served = false;
      live.add(worker);
      worker.once('listening', () => {
        served = true;
        restartDelay = 250;
        if (!started && ++serving === opts.workers) {
          started = true;
          resolve(supervisor);
        }
      });
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        if (stopping) return;
        if (!started) {
          stopping = true;
          void supervisor.stop().then(() => reject(new WorkerStartError(code ?? 1)));
          return;
        }
        const how = signal ? `signal ${signal}` : `code ${code}`;
        opts.say(
          served
            ? `worker ${slot} (pid ${worker.process.pid}) ended with ${how}; starting another`
            : `worker ${slot} could not start (${how}); trying again in ${restartDelay / 1000} s`,
        );
        setTimeout(() => !stopping && fork(slot), served ? 0 : restartDelay);
        if (!served) restartDelay = Math.min(MAX_RESTART_DELAY_MS, restartDelay * 2);
      });
    };
    for (let slot = 0; slot < opts.workers; slot++) fork(slot);
  });
}

/** A worker's share of what the settings give the whole gateway: the Postgres pool is divided among them. */
export function workerConfig(config: Config): Config {
  if (config.workers <= 1) return config;
  const poolMax = Math.max(2, Math.ceil(config.database.poolMax / config.workers));
  return { ...config, database: { ...config.database, poolMax } };
}
