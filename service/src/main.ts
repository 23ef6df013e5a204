import { buildGateway } from './app.js';
import { ConfigError, loadConfig } from './config.js';

async function main(): Promise<void> {
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
  const { app } = await buildGateway(config);
  const close = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void close('SIGTERM'));
  process.once('SIGINT', () => void close('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
}

main().catch((err: Error) => {
  process.stderr.write(`coffer: failed to start: ${err.message}\n`);
  process.exit(1);
});
