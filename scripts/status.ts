/** scripts/status: the services and their health. */
import { compose, composeFile, deployOptions, requireDocker, requireRunning } from './lib/deploy.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: 'usage: npm run status\n\nShows each service of the deployment with its state and health.',
  options: { ...DEPLOY_OPTIONS },
});
await requireDocker();
await requireRunning();
const r = await compose(await composeFile(deployOptions(argv)), ['ps'], { quiet: false });
process.exit(r.exitCode ?? 0);
