/**
 * scripts/up — the one command: secrets (if missing) → base image → images → compose up → healthy →
 * login → rclone remote → how to connect. With --engine pulumi the same deployment goes through the
 * Pulumi program in stacks/ (stack `local` unless --stack).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  bundledPostgresVolume,
  compose,
  composeFile,
  diagnose,
  deploymentSecrets,
  deployOptions,
  endpointOf,
  requireDocker,
  saveSettings,
  savedSettings,
  existingDataVolume,
  waitHealthy,
} from './lib/deploy.js';
import { prepareBlobStore } from './lib/blob-store.js';
import { prepareExternalPostgres } from './lib/external-postgres.js';
import { fail, step } from './lib/exec.js';
import { buildImages, ROOT } from './lib/images.js';
import { awsFiles, writeAwsProfile } from './lib/aws-profile.js';
import { login } from './lib/login.js';
import { pulumiUp } from './lib/pulumi-engine.js';
import { defaultRcloneConfigPath, rcloneCommand, writeRcloneRemote } from './lib/rclone.js';
import { readCredentials } from './lib/secrets.js';
import { prepareWebhooks } from './lib/webhooks.js';
import { parseCli, DEPLOY_OPTIONS, GATEWAY_OPTIONS } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run up -- [--domain NAME] [--https-port N] [--http-port N] [--sigv2 on|off]
       [--bucket-defaults current|legacy] [--engine compose|pulumi] [--stack NAME]
       [--preset compliance-archive [--archive-buckets A,B] [--retention-days N]
        [--retention-mode COMPLIANCE|GOVERNANCE]] [--with-monitoring [--monitoring-port N]]
       [--blob-store https://HOST[:PORT]/BUCKET[/PREFIX/] [--blob-store-region R] [--blob-store-credentials FILE]]
       [--gateways N] [--database-url-file FILE] [--webhooks-file FILE | --without-webhooks]

Runs setup-credentials when secrets/ is missing, builds the images (bootstrapping the Debian base when
no registry answers), starts gateway + Postgres + nginx with docker compose, waits until all are
healthy, checks S3 over TLS, writes an rclone remote and prints how to connect. Idempotent.

--sigv2 off refuses Signature Version 2 (the links aws CLI v1, boto3 in us-east-1 and s3cmd presign by
default). --bucket-defaults legacy gives new buckets the pre-2023 defaults (ACLs honoured, public access
allowed) that older tools and Ceph RGW assume; current (the default) is AWS's: ACLs disabled, public
access blocked. Every setting given is kept in deployment.json for later commands.

--preset compliance-archive makes an archive nobody can alter or delete before its retention ends:
buckets (default: archive) with object lock and a default retention (default COMPLIANCE, 365 days),
versioning, ACLs disabled and public access blocked, owned by a user with no key; an ingest key that may
only add objects and a reader key (secrets/archive_credentials_json.txt); SigV2 off, payload
verification on, TLS 1.3 only, audit records kept at least as long as the objects. Nobody, admins
included, may delete those buckets or loosen their settings. The preset is kept in deployment.json: a
later up keeps it, may lengthen the retention or add buckets, and refuses anything weaker.

--with-monitoring adds Prometheus (Debian's package, built into coffer/prometheus) scraping every
gateway with the management API key, with alert rules for the 5xx rate, Postgres unavailable, a
gateway down, the data volume nearly full and the TLS certificate expiring; it answers on
127.0.0.1:9090 (--monitoring-port) only. Kept until --without-monitoring.

--blob-store keeps sealed blobs as objects in a bucket of a remote S3-compatible store (Ceph RGW, another
Coffer, AWS) instead of the data volume, under PREFIX (default blobs/); the store sees sealed bytes only.
--blob-store-credentials names a JSON file {"access_key_id", "secret_access_key"} for the existing bucket,
copied once into secrets/blob_store_credentials.json (never over other keys). Kept in deployment.json; a
deployment that holds data is never moved to another store.

--gateways N runs N gateway replicas (gateway, gateway-2, ...) behind nginx, which spreads requests over
them and moves on from one that is gone; they share the database, the data volume and every cache.
--database-url-file names a file holding postgres://USER:PASSWORD@HOST:5432/DATABASE of a Postgres you run
(highly available with your own tools) instead of the bundled one; copied once into
secrets/external_database_url.txt (never over another URL). Both are kept in deployment.json.

--webhooks-file names a JSON array of webhook targets the deployment declares, each {"name", "user",
"url", "auth": none|bearer|hmac, "secret", "ca_bundle"} as the management API takes them; copied once into
secrets/webhooks.json (never over other targets). Change them there: each up checks the file and
recreates the gateways when it changed. Targets declared this way can only be changed in the file.
Kept until --without-webhooks (the targets then stay, as an admin's).

--engine pulumi runs \`pulumi up\` for the stack (default: local) instead, keeping the credentials,
master key and CA of an existing secrets/ directory.`,
  options: { ...DEPLOY_OPTIONS, ...GATEWAY_OPTIONS, engine: { type: 'string' }, stack: { type: 'string' } },
});
const engine = String(argv.engine ?? 'compose');
if (engine !== 'compose' && engine !== 'pulumi') fail(`--engine must be compose or pulumi (got ${engine})`);
const o = deployOptions(argv);
// Both engines read the external Postgres's URL from secrets/.
await prepareExternalPostgres(
  ROOT,
  { externalPostgres: o.externalPostgres, wasExternal: savedSettings(ROOT).externalPostgres ?? false },
  argv['database-url-file'],
  await bundledPostgresVolume(o.project),
).catch((err: Error) => fail(err.message));
// The declared webhook targets: checked, and their digest taken, before either engine runs.
o.webhooks = await prepareWebhooks(ROOT, o.webhooks !== undefined, argv['webhooks-file']).catch(
  (err: Error) => fail(err.message),
);
if (engine === 'pulumi') {
  await pulumiUp(o, String(argv.stack ?? 'local'));
  process.exit(0);
}
const endpoint = endpointOf(o);
await requireDocker();
step('secrets');
const existingData = await existingDataVolume(o.project);
if (!existsSync(path.join(ROOT, 'secrets/postgres_password.txt')) && existingData) {
  // New secrets cannot open a database set up with the old ones, nor decrypt data sealed under an old master key.
  fail(
    `secrets/ is missing, but the volume ${existingData} holds data set up with other secrets: ` +
      'restore the previous secrets/ directory, or delete the old data with npm run down -- --purge-data',
  );
}
await prepareBlobStore(
  ROOT,
  savedSettings(ROOT).blobStore,
  o.blobStore,
  argv['blob-store-credentials'],
  existingData,
).catch((err: Error) => fail(err.message));
await deploymentSecrets(ROOT, o, existingData).catch((err: Error) => fail(err.message));
// The next plain `up` (and login, status, rclone-config) must not fall back to other names or ports.
await saveSettings(ROOT, o);
await buildImages(o);
const file = await composeFile(o);
step(
  o.externalPostgres
    ? 'starting the gateway and nginx (Postgres is external)'
    : 'starting gateway, postgres and nginx',
);
const up = await compose(file, ['up', '-d', '--remove-orphans']);
if (up.exitCode !== 0) {
  const why = await diagnose(file);
  fail(
    why
      ? `docker compose up failed: ${why}`
      : `docker compose up failed (npm run logs shows why):\n${up.stderr.trim().split('\n').slice(-8).join('\n')}`,
  );
}
step('waiting until every service is healthy');
await waitHealthy(file);
step(`checking ${endpoint} over TLS`);
const report = await login(ROOT, endpoint);
if (!report.ok) fail(`login failed: ${JSON.stringify(report.error)}`);
const rcloneConfig = await defaultRcloneConfigPath();
await writeRcloneRemote(ROOT, { name: o.project, endpoint, region: 'us-east-1' }, rcloneConfig);
const [cred] = await readCredentials(ROOT);
const aws = awsFiles();
await writeAwsProfile({
  name: o.project,
  endpoint,
  caBundle: report.rootCert,
  region: 'us-east-1',
  accessKeyId: cred!.client_id,
  secretAccessKey: cred!.client_secret,
});
const rootCert = path.relative(process.cwd(), report.rootCert) || report.rootCert;
console.log(`
Coffer is running.
  endpoint:   ${endpoint}
  root CA:    ${report.rootCert}
  credential: ${cred!.client_id} (secret in secrets/credentials_json.txt)
  console:    ${endpoint}/_coffer/console/ (user admin, password in secrets/admin_password.txt)
  management: ${endpoint}/_coffer/api/v1 (API key in secrets/management_api_key.txt)
  rclone:     remote "${o.project}" in ${rcloneConfig}
  aws CLI:    profile "${o.project}" in ${aws.config}${archiveSummary(o)}${monitoringSummary(o)}${blobStoreSummary(o)}
  backup:     ${path.join(ROOT, 'credentials.json')} holds the master key in clear: copy it offline,
              encrypted (gpg -c), and keep it apart from the data; losing the key loses every object

Try it:
  aws --profile ${o.project} s3 ls
  AWS_ACCESS_KEY_ID=${cred!.client_id} AWS_SECRET_ACCESS_KEY=${cred!.client_secret} AWS_DEFAULT_REGION=us-east-1 \\
    aws s3api list-buckets --ca-bundle ./${rootCert} --endpoint-url ${endpoint}
  ${rcloneCommand(rcloneConfig, report.rootCert, o.project, 'lsd')}

Stop with npm run down (data stays in the volumes); npm run status, npm run logs.
`);

/** Where the sealed blobs go, for the operator who moved them off the data volume. */
function blobStoreSummary(opts: typeof o): string {
  if (!opts.blobStore) return '';
  const s = opts.blobStore;
  return `
  blobs:      sealed, in ${s.endpoint}/${s.bucket}/${s.prefix} (keys in secrets/blob_store_credentials.json)`;
}

/** Where Prometheus answers, for the operator who asked for it. */
function monitoringSummary(opts: typeof o): string {
  if (!opts.monitoring) return '';
  return `
  prometheus: http://127.0.0.1:${opts.monitoringPort} (this host only): every gateway scraped, alerts on 5xx
              rate, Postgres, gateways down, disk nearly full and certificate expiry`;
}

/** What the preset made, for the operator who asked for it. */
function archiveSummary(opts: typeof o): string {
  if (!opts.preset) return '';
  const p = opts.preset;
  return `
  archive:    ${p.buckets.join(', ')}: ${p.retentionMode} retention of ${p.retentionDays} days on every new version
              ingest and reader keys in secrets/archive_credentials_json.txt`;
}
