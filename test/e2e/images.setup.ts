/**
 * The deployment suites run side by side; the images they share are built here first, once, so that no
 * two suites build (or stage) the same image at the same time. `npm run up` in the compose suite then
 * finds them up to date, exactly as a second `up` on an operator's machine would.
 */
import { buildImages } from '../../scripts/lib/images.js';
import { dockerAvailable } from './docker.js';

export default async function setup(): Promise<void> {
  // Every image a suite deploys: Prometheus (--with-monitoring) and the scheduled sync's included.
  const job = {
    name: 'any',
    direction: 'push',
    hostDir: '/',
    target: 'any',
    afterCopy: 'keep',
    every: '1h',
  } as const;
  if (dockerAvailable()) await buildImages({ monitoring: true, syncJobs: [job] });
}
