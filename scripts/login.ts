/** scripts/login: checks the deployment over TLS with the generated CA, writes ./root.crt, verifies S3 access. */
import { createInterface } from 'node:readline/promises';
import { deployOptions, endpointOf } from './lib/deploy.js';
import { ROOT } from './lib/images.js';
import { awsFiles, writeAwsProfile } from './lib/aws-profile.js';
import { login } from './lib/login.js';
import { defaultRcloneConfigPath, rcloneCommand, writeRcloneRemote } from './lib/rclone.js';
import { readCredentials } from './lib/secrets.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run login -- [--domain NAME] [--https-port N] [--totp CODE]

Fetches nothing from outside: copies secrets/root.crt to ./root.crt, checks https://NAME over TLS
with it, signs an S3 ListBuckets with the first credential, checks the management API key, then logs
the console admin in (asking for the authenticator code when two-step verification is on, unless
--totp gives it). Then writes the aws CLI profile named after the project ("coffer" unless --project;
endpoint, CA bundle and region in the aws config, keys in its credentials file; other profiles
untouched) and the rclone remote of the same name, and prints
how to use both. On failure prints one JSON object {"error","message","status","code"} and exits 1.`,
  options: { ...DEPLOY_OPTIONS, totp: { type: 'string' } },
});
async function askTotp(): Promise<string | undefined> {
  if (argv.totp) return String(argv.totp);
  if (!process.stdin.isTTY) return undefined;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question('authenticator code for admin: ');
  } finally {
    rl.close();
  }
}

const o = deployOptions(argv);
const report = await login(ROOT, endpointOf(o), { totpCode: askTotp });
if (!report.ok) {
  console.error(JSON.stringify(report.error));
  process.exit(1);
}
if (report.console === 'totp-required') {
  console.error(
    JSON.stringify({
      error: 'TotpRequired',
      message: 'two-step verification is on: pass --totp CODE or run in a terminal',
    }),
  );
  process.exit(1);
}
console.log(
  `logged in: ${report.endpoint} answers S3 over TLS verified by ${report.rootCert}; console admin and management API key accepted`,
);
const [cred] = await readCredentials(ROOT);
const files = awsFiles();
await writeAwsProfile({
  name: o.project,
  endpoint: report.endpoint,
  caBundle: report.rootCert,
  region: 'us-east-1',
  accessKeyId: cred!.client_id,
  secretAccessKey: cred!.client_secret,
});
const rcloneConfig = await defaultRcloneConfigPath();
await writeRcloneRemote(
  ROOT,
  { name: o.project, endpoint: report.endpoint, region: 'us-east-1' },
  rcloneConfig,
);
console.log(`aws CLI profile "${o.project}" in ${files.config} (keys in ${files.credentials}), rclone remote "${o.project}" in ${rcloneConfig}:
  aws --profile ${o.project} s3 ls
  ${rcloneCommand(rcloneConfig, report.rootCert, o.project, 'lsd')}`);
