import cluster from 'node:cluster';
import { buildGateway } from './app.js';
import { superviseWorkers, workerConfig, WorkerStartError } from './cluster.js';
import { ConfigError, loadConfig } from './config.js';
import { tuneHeap } from './heap-tuning.js';

async function main(): Promise<void> {
  tuneHeap();
  let config;
  try {
    config = await loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`coffer: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  if (cluster.isPrimary && config.workers > 1) return supervise(config.workers);
  const { app } = await buildGateway(workerConfig(config));
  const close = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void close('SIGTERM'));
  process.once('SIGINT', () => void close('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
}

/** The primary of GATEWAY_WORKERS processes: it serves nothing itself, and stops when they have stopped. */
async function supervise(workers: number): Promise<void> {
  const say = (line: string) => process.stderr.write(`coffer: ${line}\n`);
  let supervisor;
  try {
    supervisor = await superviseWorkers({ workers, say });
  } catch (err) {
    // The worker has already said why in its own words.
    if (err instanceof WorkerStartError) process.exit(err.code);
    throw err;
  }
  const stop = async () => {
    await supervisor.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  process.stderr.write(`coffer: failed to start: ${err.message}\n`);
  process.exit(1);
});
