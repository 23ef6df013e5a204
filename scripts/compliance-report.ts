/**
 * scripts/compliance-report: the running deployment's compliance report, collected inside the gateway
 * container (its database, its settings) and written here as HTML, and as PDF where Chromium is installed.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { topology } from '../stacks/topology.js';
import { composeExec, composeFile, deployOptions, requireDocker, requireRunning } from './lib/deploy.js';
import { fail } from './lib/exec.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { chromiumPath, renderPdf } from './lib/pdf.js';

const { values: argv } = parseCli({
  usage: `usage: npm run compliance-report -- [--since TIME] [--until TIME] [--out FILE.html] [--no-pdf]

Writes the compliance report of the running deployment: buckets with their lock mode and default
retention, object and version counts, retain-until dates and legal holds, the audit chain (verified
now) with its head and last verification, refused deletions between TIME and TIME (ISO 8601; default
the last 30 days), keys and settings in force, and stored bytes over time. FILE defaults to
compliance-report-<time>.html; a PDF beside it is rendered with Chromium when one is installed
(/usr/bin/chromium, or CHROMIUM_PATH). Neither file is ever overwritten.`,
  options: {
    ...DEPLOY_OPTIONS,
    since: { type: 'string' },
    until: { type: 'string' },
    out: { type: 'string' },
    'no-pdf': { type: 'boolean' },
  },
});
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, 'Z');
const out = argv.out ?? `compliance-report-${stamp}.html`;
if (!out.endsWith('.html')) fail(`--out must name an .html file (got ${out})`);
const pdf = out.replace(/\.html$/, '.pdf');
for (const f of [out, ...(argv['no-pdf'] ? [] : [pdf])])
  if (existsSync(f)) fail(`${f} exists; the report never overwrites a file`);
await requireDocker();
const o = deployOptions(argv);
await requireRunning(o.project);
const tls = topology(o).services.find((s) => s.name === 'nginx')!.env.TLS_MIN_VERSION!;
const args = [
  ...(argv.since ? ['--since', argv.since] : []),
  ...(argv.until ? ['--until', argv.until] : []),
  '--tls-min-version',
  tls,
];
const r = await composeExec(await composeFile(o), 'gateway', [
  'node',
  '/opt/coffer/dist/report-cli.js',
  ...args,
]);
if (r.exitCode !== 0) fail(r.stderr.trim().replace(/^coffer: /, '') || `the report failed (${r.exitCode})`);
await writeFile(out, r.stdout, { flag: 'wx', mode: 0o644 });
console.log(`report written to ${out}`);
if (argv['no-pdf']) process.exit(0);
const browser = chromiumPath();
if (!browser) {
  console.log('no Chromium installed (apt-get install chromium): the HTML report alone was written');
  process.exit(0);
}
await renderPdf(r.stdout, pdf, browser).catch((err: Error) => fail(`PDF not rendered: ${err.message}`));
console.log(`PDF written to ${pdf}`);
