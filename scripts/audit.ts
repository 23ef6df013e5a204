/**
 * scripts/audit: the running deployment's audit trail. `verify` checks the chain inside the gateway
 * container (with its database and exported head); `export` writes JSON lines to a file on this host.
 */
import { open } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { composeExec, composeFile, deployOptions, requireDocker, requireRunning } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv, positionals } = parseCli({
  usage: `usage: npm run audit -- verify
       npm run audit -- export [--since TIME] [--out FILE]

verify   checks every record of the audit chain and the head the gateway exported outside the database;
         names the first broken record and exits 1 if there is one
export   the records from TIME (ISO 8601, e.g. 2026-11-01; default: all) as JSON lines, into FILE (never
         overwritten) or to standard output`,
  options: { ...DEPLOY_OPTIONS, since: { type: 'string' }, out: { type: 'string' } },
  positionals: true,
});
const [command, ...rest] = positionals;
if ((command !== 'verify' && command !== 'export') || rest.length)
  fail('say verify or export (npm run audit -- --help)');
if (command === 'verify' && (argv.since || argv.out)) fail('verify takes no --since or --out');
if (argv.out && existsSync(argv.out)) fail(`${argv.out} exists; export never overwrites a file`);
await requireDocker();
const o = deployOptions(argv);
await requireRunning(o.project);
const file = await composeFile(o);
const args = [command, ...(argv.since ? ['--since', argv.since] : [])];
const cli = ['node', '/opt/coffer/dist/audit-cli.js', ...args];
if (!argv.out) {
  const r = await composeExec(file, 'gateway', cli, { quiet: false });
  process.exit(r.exitCode ?? 1);
}
const r = await composeExec(file, 'gateway', cli);
if (r.exitCode !== 0) fail(r.stderr.trim().replace(/^coffer: /, '') || `export failed (${r.exitCode})`);
const out = await open(argv.out, 'wx', 0o600);
await out.write(r.stdout);
await out.close();
console.log(`${r.stdout.split('\n').filter(Boolean).length} records written to ${argv.out}`);
