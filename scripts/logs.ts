/** scripts/logs: recent logs of every service (JSON lines from the gateway and nginx). */
import { argv } from 'zx';
import { compose, composeFile, deployOptions, requireDocker } from './lib/deploy.js';

if (argv.help || argv.h) {
  console.log("usage: npm run logs -- [--tail N] [--follow] [SERVICE...]\n\nPrints the deployment's logs.");
  process.exit(0);
}
await requireDocker();
const args = [
  'logs',
  '--tail',
  String(argv.tail ?? 200),
  ...(argv.follow ? ['--follow'] : []),
  ...argv._.map(String),
];
const r = await compose(await composeFile(deployOptions(argv)), args, { quiet: false });
process.exit(r.exitCode ?? 0);
