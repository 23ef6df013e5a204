/**
 * `npm run up -- --engine pulumi`: the same deployment through the Pulumi program in stacks/, for
 * operators who keep their infrastructure in Pulumi state.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import {
  BLOB_STORE_SECRET_FILES,
  EXTERNAL_DATABASE_URL_FILE,
  WEBHOOK_SECRET_FILES,
} from '../../stacks/topology.js';
import path from 'node:path';
import { $ } from 'zx';
import { requireDocker, type DeployOptions } from './deploy.js';
import { fail, has, step } from './exec.js';
import { buildImages, ROOT } from './images.js';

export const PULUMI_MISSING =
  'the Pulumi CLI is not installed: get it with `curl -fsSL https://get.pulumi.com | sh` ' +
  '(see https://www.pulumi.com/docs/iac/download-install/), or deploy with --engine compose';

export async function pulumiUp(o: DeployOptions, stack: string): Promise<void> {
  if (!(await has('pulumi'))) fail(PULUMI_MISSING);
  await requireDocker();
  const quiet = $({ quiet: true, nothrow: true, cwd: ROOT });
  if ((await quiet`pulumi whoami`).exitCode !== 0)
    fail(
      'pulumi is not logged in to a backend: run `pulumi login --local` (state in ~/.pulumi) or `pulumi login`',
    );
  const running = (
    await quiet`docker ps -q --filter label=com.docker.compose.project=${o.project}`
  ).stdout.trim();
  if (running)
    fail(
      'the compose deployment is running: stop it with npm run down (its volumes stay, and the stack adopts them)',
    );

  await buildImages(o);
  step(`selecting stack ${stack}`);
  if ((await quiet`pulumi stack select --create ${stack}`).exitCode !== 0)
    fail(`pulumi could not select or create the stack ${stack}`);
  const set = async (key: string, value: string) => {
    const r = await quiet`pulumi config set --stack ${stack} ${`coffer:${key}`} ${value}`;
    if (r.exitCode !== 0) fail(`pulumi config set coffer:${key} failed: ${r.stderr.trim().split('\n')[0]}`);
  };
  await set('domain', o.domain);
  await set('httpsPort', String(o.httpsPort));
  await set('httpPort', String(o.httpPort));
  await set('extraHostNames', JSON.stringify(o.extraHostNames));
  await set('extraIps', JSON.stringify(o.extraIps));
  await set('signatureV2', String(o.signatureV2));
  await set('bucketDefaults', o.bucketDefaults);
  await set('monitoring', String(o.monitoring));
  await set('monitoringPort', String(o.monitoringPort));
  await set('syncJobs', JSON.stringify(o.syncJobs));
  await set('gateways', String(o.gateways));
  if (o.blobStore) {
    await set('blobStore', JSON.stringify(o.blobStore));
    const keys = JSON.parse(
      await readFile(path.join(ROOT, BLOB_STORE_SECRET_FILES.blob_store_credentials), 'utf8'),
    );
    for (const [key, value] of [
      ['blobStoreAccessKeyId', keys.access_key_id],
      ['blobStoreSecretAccessKey', keys.secret_access_key],
    ]) {
      const r = await quiet`pulumi config set --secret --stack ${stack} ${`coffer:${key}`} ${String(value)}`;
      if (r.exitCode !== 0) fail(`pulumi config set coffer:${key} failed: ${r.stderr.trim().split('\n')[0]}`);
    }
  }
  if (o.externalPostgres) {
    const url = (await readFile(path.join(ROOT, EXTERNAL_DATABASE_URL_FILE), 'utf8')).trim();
    const r = await quiet`pulumi config set --secret --stack ${stack} coffer:databaseUrl ${url}`;
    if (r.exitCode !== 0)
      fail(`pulumi config set coffer:databaseUrl failed: ${r.stderr.trim().split('\n')[0]}`);
  }
  if (o.webhooks) {
    const text = await readFile(path.join(ROOT, WEBHOOK_SECRET_FILES.webhooks_json), 'utf8');
    const r = await quiet`pulumi config set --secret --stack ${stack} coffer:webhooks ${text}`;
    if (r.exitCode !== 0) fail(`pulumi config set coffer:webhooks failed: ${r.stderr.trim().split('\n')[0]}`);
  } else await quiet`pulumi config rm --stack ${stack} coffer:webhooks`;
  if (o.preset) {
    await set('preset', 'compliance-archive');
    await set('archiveBuckets', JSON.stringify(o.preset.buckets));
    await set('archiveRetentionMode', o.preset.retentionMode);
    await set('archiveRetentionDays', String(o.preset.retentionDays));
  }
  // A compose deployment's secrets/ holds the master key its objects are sealed under: keep it.
  const hasSecretsDir = (await quiet`pulumi config get --stack ${stack} coffer:secretsDir`).exitCode === 0;
  if (!hasSecretsDir && existsSync(path.join(ROOT, 'secrets/master_key.txt')))
    await set('secretsDir', 'secrets');

  step('pulumi up');
  const up = await $({ cwd: ROOT, stdio: 'inherit', nothrow: true })`pulumi up --yes --stack ${stack}`;
  if (up.exitCode !== 0) fail('pulumi up failed (its output above says why)');
  const outputs = JSON.parse((await quiet`pulumi stack output --stack ${stack} --json`).stdout) as {
    endpoint: string;
    rootCaPem: string;
  };
  await writeFile(path.join(ROOT, 'root.crt'), outputs.rootCaPem);
  console.log(`
Coffer is running (Pulumi stack ${stack}).
  endpoint:    ${outputs.endpoint}
  root CA:     ./root.crt
  credentials: pulumi stack output --stack ${stack} --show-secrets credentials

Try it:
  aws s3api list-buckets --ca-bundle ./root.crt --endpoint-url ${outputs.endpoint}
`);
}
