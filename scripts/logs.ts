/** scripts/logs: recent logs of every service (JSON lines from the gateway and nginx, or readable ones). */
import { $ } from 'zx';
import {
  compose,
  composeCommand,
  composeFile,
  deployOptions,
  requireDocker,
  requireRunning,
} from './lib/deploy.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { prettyLine } from './lib/pretty-log.js';

const { values: argv, positionals } = parseCli({
  usage: `usage: npm run logs -- [--tail N] [--follow] [--pretty] [SERVICE...]

Prints the deployment's logs: JSON lines, or with --pretty one readable line each (time, service, level
or status, message and fields).`,
  options: {
    ...DEPLOY_OPTIONS,
    tail: { type: 'string' },
    follow: { type: 'boolean' },
    pretty: { type: 'boolean' },
  },
  positionals: true,
});
await requireDocker();
const o = deployOptions(argv);
await requireRunning(o.project);
const file = await composeFile(o);
const args = [
  'logs',
  ...(argv.pretty ? ['--no-color'] : []),
  '--tail',
  String(argv.tail ?? 200),
  ...(argv.follow ? ['--follow'] : []),
  ...positionals,
];
if (!argv.pretty) {
  const r = await compose(file, args, { quiet: false });
  process.exit(r.exitCode ?? 0);
}
const [cmd, ...pre] = await composeCommand();
const p = $({
  quiet: true,
  nothrow: true,
  cwd: ROOT,
})`${cmd} ${pre} -p ${file.project} -f ${file.file} ${args}`;
for await (const line of p) console.log(prettyLine(line));
process.exit((await p).exitCode ?? 0);
