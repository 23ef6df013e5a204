/** scripts/status: the services and their health, the endpoint, the certificate, and the data's disk use. */
import path from 'node:path';
import { $ } from 'zx';
import {
  compose,
  composeFile,
  deployOptions,
  endpointOf,
  requireDocker,
  requireRunning,
} from './lib/deploy.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { SECRET_FILES } from '../stacks/topology.js';

const { values: argv } = parseCli({
  usage: `usage: npm run status

Shows each service of the deployment with its state and health, the endpoint, when the server
certificate expires, and how full the disks under the object data and Postgres are.`,
  options: { ...DEPLOY_OPTIONS },
});
await requireDocker();
const o = deployOptions(argv);
await requireRunning(o.project);
const file = await composeFile(o);
const r = await compose(file, ['ps'], { quiet: false });
const quiet = $({ quiet: true, nothrow: true, cwd: ROOT });
const expiry = await quiet`openssl x509 -enddate -noout -in ${path.join(ROOT, SECRET_FILES.server_crt)}`;
const until = new Date(expiry.stdout.trim().replace(/^notAfter=/, ''));
const days = Math.floor((until.getTime() - Date.now()) / 86_400_000);
/** `df` inside a service's container, for the directory its data lives in. */
async function disk(service: string, dir: string): Promise<string> {
  const d = await compose(file, ['exec', '-T', service, 'df', '-Pk', dir]);
  const [, size, used, , percent] = d.stdout.trim().split('\n').pop()?.split(/\s+/) ?? [];
  if (d.exitCode !== 0 || !size) return 'unknown (the container does not answer)';
  const gib = (k: string) => `${(Number(k) / 1024 / 1024).toFixed(1)} GiB`;
  return `${gib(used!)} of ${gib(size)} used (${percent})`;
}
console.log(`
endpoint:     ${endpointOf(o)}
certificate:  ${
  expiry.exitCode === 0
    ? `expires ${until.toISOString().slice(0, 10)} (${days} days${days < 30 ? '; renew it: npm run setup-credentials -- --renew-server-cert' : ''})`
    : `cannot be read (${SECRET_FILES.server_crt})`
}
object data:  ${await disk('gateway', '/var/lib/coffer')}
postgres:     ${await disk('postgres', '/var/lib/postgresql/data')}`);
process.exit(r.exitCode ?? 0);
