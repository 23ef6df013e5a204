/** scripts/status: the services and their health. */
import { argv } from 'zx';
import { compose, composeFile, deployOptions, requireDocker } from './lib/deploy.js';

if (argv.help || argv.h) {
  console.log('usage: npm run status\n\nShows each service of the deployment with its state and health.');
  process.exit(0);
}
await requireDocker();
const r = await compose(await composeFile(deployOptions(argv)), ['ps'], { quiet: false });
process.exit(r.exitCode ?? 0);
