/** scripts/status: the services and their health, the endpoint, the certificate, and the data's disk use. */
import path from 'node:path';
import { $ } from 'zx';
import {
  compose,
  composeExec,
  composeFile,
  deployOptions,
  endpointOf,
  requireDocker,
  requireRunning,
} from './lib/deploy.js';
import { ROOT } from './lib/images.js';
import { psql } from './lib/psql.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { SECRET_FILES } from '../stacks/topology.js';

const { values: argv } = parseCli({
  usage: `usage: npm run status

Shows each service of the deployment with its state and health, the endpoint, when the server
certificate expires, how full the disks under the object data and Postgres are, and when the
collector and lifecycle last ran and what they did.`,
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
  const d = await composeExec(file, service, ['df', '-Pk', dir]);
  const [, size, used, , percent] = d.stdout.trim().split('\n').pop()?.split(/\s+/) ?? [];
  if (d.exitCode !== 0 || !size) return 'unknown (the container does not answer)';
  const gib = (k: string) => `${(Number(k) / 1024 / 1024).toFixed(1)} GiB`;
  return `${gib(used!)} of ${gib(size)} used (${percent})`;
}
interface Run {
  job: string;
  finished_at: string;
  outcome: 'ok' | 'failed';
  report: Record<string, number> | null;
  error: string | null;
  last_ok: string | null;
}
const runs = await psql(
  file,
  `SELECT coalesce(json_agg(r), '[]') FROM (
     SELECT DISTINCT ON (job) job, finished_at, outcome, report, error,
       (SELECT max(finished_at) FROM job_runs o WHERE o.job = j.job AND o.outcome = 'ok') AS last_ok
     FROM job_runs j ORDER BY job, finished_at DESC, id DESC) r`,
  '-At',
);
const minutesAgo = (iso: string) => Math.round((Date.now() - Date.parse(iso)) / 60_000);
const at = (when: string) => {
  const iso = new Date(when).toISOString();
  return `${iso.slice(0, 16).replace('T', ' ')} UTC (${minutesAgo(iso)} min ago)`;
};
/** One background job's last run, as its line in the status. */
function lastRun(job: string): string {
  if (runs.exitCode !== 0)
    return `unknown (Postgres did not answer: ${runs.stderr.trim().split('\n').pop()})`;
  const r = (JSON.parse(runs.stdout.trim() || '[]') as Run[]).find((x) => x.job === job);
  if (!r) return 'has not run yet';
  if (r.outcome === 'failed')
    return `FAILED at ${at(r.finished_at)}: ${r.error}; ${r.last_ok ? `last good run ${at(r.last_ok)}` : 'no run has succeeded'}`;
  const did = Object.entries(r.report ?? {})
    .filter(([, n]) => n)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `ran ${at(r.finished_at)}: ${did || 'nothing to do'}`;
}
console.log(`
endpoint:     ${endpointOf(o)}
certificate:  ${
  expiry.exitCode === 0
    ? `expires ${until.toISOString().slice(0, 10)} (${days} days${days < 30 ? '; renew it: npm run setup-credentials -- --renew-server-cert' : ''})`
    : `cannot be read (${SECRET_FILES.server_crt})`
}
object data:  ${await disk('gateway', '/var/lib/coffer')}
postgres:     ${o.externalPostgres ? 'external (secrets/external_database_url.txt)' : await disk('postgres', '/var/lib/postgresql/data')}
collector:    ${lastRun('collector')}
lifecycle:    ${lastRun('lifecycle')}`);
process.exit(r.exitCode ?? 0);
