/** scripts/logs: recent logs of every service (JSON lines from the gateway and nginx). */
import { compose, composeFile, deployOptions, requireDocker, requireRunning } from './lib/deploy.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv, positionals } = parseCli({
  usage: "usage: npm run logs -- [--tail N] [--follow] [SERVICE...]\n\nPrints the deployment's logs.",
  options: { ...DEPLOY_OPTIONS, tail: { type: 'string' }, follow: { type: 'boolean' } },
  positionals: true,
});
await requireDocker();
await requireRunning();
const args = [
  'logs',
  '--tail',
  String(argv.tail ?? 200),
  ...(argv.follow ? ['--follow'] : []),
  ...positionals,
];
const r = await compose(await composeFile(deployOptions(argv)), args, { quiet: false });
process.exit(r.exitCode ?? 0);
