/** scripts/rclone-config: an rclone remote for this deployment, verified with `rclone lsd` when rclone is installed. */
import path from 'node:path';
import { $ } from 'zx';
import { deployOptions, endpointOf, requireAnswering } from './lib/deploy.js';
import { has } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { defaultRcloneConfigPath, rcloneCommand, writeRcloneRemote } from './lib/rclone.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run rclone-config -- [--config PATH] [--name REMOTE] [--domain NAME] [--https-port N]

Writes the remote REMOTE (default: the project's name, "coffer": type s3, provider Other, path style, keys from secrets/)
into rclone's config file or PATH, and verifies it with rclone lsd when rclone is installed. rclone
needs the deployment's root certificate: pass --ca-cert ./root.crt (written by npm run login).`,
  options: { ...DEPLOY_OPTIONS, config: { type: 'string' }, name: { type: 'string' } },
});
const o = deployOptions(argv);
const name = String(argv.name ?? o.project);
await requireAnswering(endpointOf(o));
const configPath = path.resolve(String(argv.config ?? (await defaultRcloneConfigPath())));
await writeRcloneRemote(ROOT, { name, endpoint: endpointOf(o), region: 'us-east-1' }, configPath);
const rootCert = path.join(ROOT, 'root.crt');
console.log(`wrote remote [${name}] to ${configPath}`);
console.log(`use it with: ${rcloneCommand(configPath, rootCert, name, 'lsd')}`);
if (await has('rclone')) {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const r = await $({
    quiet: true,
    nothrow: true,
    env,
  })`rclone --config ${configPath} --ca-cert ${rootCert} lsd ${name + ':'}`;
  if (r.exitCode !== 0) {
    console.error(JSON.stringify({ error: 'RcloneCheckFailed', message: r.stderr.trim().split('\n').pop() }));
    process.exit(1);
  }
  console.log('verified: rclone lsd works');
}
