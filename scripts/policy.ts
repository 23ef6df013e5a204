/**
 * scripts/policy — runs the deployment rules (policies/rules.ts) against a compose file; exits 1 with
 * a report naming each violation.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { fromCompose } from '../policies/model.js';
import { evaluate } from '../policies/rules.js';
import { fail } from './lib/exec.js';
import { composeFile, deployOptions } from './lib/deploy.js';
import { parseCli } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run policy -- [--file docker-compose.yaml] [--require-archive] [--min-retention-days N]

Checks a compose file against the same rules the Pulumi policy pack enforces (policies/rules.ts); by
default the one \`npm run up\` deploys with the saved settings (docker-compose.yaml for the defaults).
--require-archive fails a deployment that is not a compliance archive; --min-retention-days N fails an
archive whose default retention is shorter (the pack's requireArchive and minRetentionDays config).`,
  options: {
    file: { type: 'string' },
    'require-archive': { type: 'boolean' },
    'min-retention-days': { type: 'string' },
  },
});
const minDays = argv['min-retention-days'];
if (minDays !== undefined && !/^[1-9]\d{0,4}$/.test(minDays))
  fail(`--min-retention-days must be a number of days (got ${minDays})`);
const file = path.resolve(argv.file ?? (await composeFile(deployOptions({}))).file);
let doc: Record<string, unknown>;
try {
  doc = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
} catch (e) {
  fail(`cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
}
const reports = evaluate(fromCompose(doc), {
  requireArchive: Boolean(argv['require-archive']),
  ...(minDays === undefined ? {} : { minRetentionDays: Number(minDays) }),
});
const failed = reports.filter((r) => r.violations.length);
for (const r of reports) {
  console.log(`${r.violations.length ? 'FAIL' : 'ok  '} ${r.rule}`);
  for (const v of r.violations) console.log(`     - ${v}`);
}
if (failed.length) {
  console.error(
    `\n${path.relative(process.cwd(), file) || file}: ${failed.length} of ${reports.length} rules violated`,
  );
  process.exit(1);
}
console.log(`\n${path.relative(process.cwd(), file) || file}: all ${reports.length} rules pass`);
