import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCredentials, setupCredentials } from '../../scripts/lib/secrets.js';
import { parseArchiveKeys, type ArchiveKeys } from '../../service/src/auth/credentials.js';
import type { Auth } from '../../service/test/support/management.js';
import { outcome } from '../../service/test/support/outcome.js';
import { cleanEnv, rcloneEnv, requireBinary, run } from '../../service/test/support/run.js';
import { pathStyleClient } from '../../service/test/support/s3-client.js';
import type { ArchivePreset } from '../../service/src/parse/archive-preset.js';
import { dockerAvailable } from './docker.js';
import {
  createVolumes,
  httpsJson,
  removeVolumes,
  restartEach,
  startDeployment,
  stopDeployment,
  volumeNames,
  type Deployment,
} from './deployment.js';

/**
 * The compliance-archive preset deployed as an operator deploys it (the real images, through nginx TLS),
 * ingested into by real tools, then attacked through every path that could remove or replace data: each
 * refusal must hold across restarts and stand in the audit trail, which must detect tampering.
 */
const enabled = dockerAvailable();
const PRESET: ArchivePreset = { buckets: ['records'], retentionMode: 'COMPLIANCE', retentionDays: 30 };
let root: string;
let deployment: Deployment;
let volumes: Record<string, string>;
let keys: ArchiveKeys;
let admin: { accessKeyId: string; secretAccessKey: string };
let ca: Buffer;
/** What ingest wrote: key → version id. */
const stored = new Map<string, string>();

const s3 = (cred: { accessKeyId: string; secretAccessKey: string }): S3Client =>
  pathStyleClient(deployment.endpoint, cred, {
    requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
  });

function exec(service: string, ...cmd: string[]) {
  return spawnSync('docker', ['exec', deployment.containers.get(service)!.getId(), ...cmd], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** psql as the database's owner, inside the Postgres container: what an insider with the database could do. */
function psql(query: string): string {
  const r = exec(
    'postgres',
    'sh',
    '-c',
    'PGPASSWORD="$(cat /run/secrets/postgres_password)" exec psql -h 127.0.0.1 -U coffer -d coffer -At -F "	" -c "$0"',
    query,
  );
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

const auditCli = (...args: string[]) => exec('gateway', 'node', '/opt/coffer/dist/audit-cli.js', ...args);

const fetchTls = (url: string, init: RequestInit & { auth?: Auth } = {}) => httpsJson(url, ca, init);

const managementUrl = (p: string) => `${deployment.endpoint}/_coffer/api/v1${p}`;

describe.runIf(enabled)('a compliance archive deployed with the preset (Testcontainers, nginx TLS)', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'coffer-archive-'));
    await setupCredentials({
      root,
      domain: 'localhost',
      extraHosts: [],
      extraIps: [],
      force: false,
      archive: true,
    });
    keys = parseArchiveKeys(await readFile(path.join(root, 'secrets/archive_credentials_json.txt'), 'utf8'));
    const [c] = await readCredentials(root);
    admin = { accessKeyId: c!.client_id, secretAccessKey: c!.client_secret };
    ca = await readFile(path.join(root, 'secrets/root.crt'));
    volumes = volumeNames(`coffer-archive-${randomBytes(3).toString('hex')}`);
    createVolumes(volumes);
    deployment = await startDeployment(root, volumes, { preset: PRESET });
  }, 900_000);

  afterAll(async () => {
    if (deployment) await stopDeployment(deployment);
    if (volumes) removeVolumes(volumes);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('speaks TLS 1.3 only and refuses Signature Version 2', async () => {
    const handshake = (flag: string) =>
      spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${deployment.httpsPort}`, flag], {
        input: '',
        encoding: 'utf8',
        timeout: 20_000,
      });
    expect(handshake('-tls1_3').status).toBe(0);
    expect(handshake('-tls1_2').status).not.toBe(0);
    const v2 = await fetchTls(`${deployment.endpoint}/records/anything`, {
      headers: {
        authorization: `AWS ${keys.reader.accessKeyId}:c2lnbmF0dXJl`,
        date: new Date().toUTCString(),
      },
    });
    expect(v2.status).toBeGreaterThanOrEqual(400);
    expect(v2.status).toBeLessThan(500);
  });

  it.runIf(requireBinary('aws'))(
    'takes objects from the aws CLI with the ingest key, multipart included',
    async () => {
      const file = path.join(root, 'statement.bin');
      await writeFile(file, randomBytes(12 * 1024 * 1024));
      const env = cleanEnv({
        AWS_ACCESS_KEY_ID: keys.ingest.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.ingest.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: path.join(root, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: path.join(root, 'no-aws-credentials'),
      });
      const target = [
        '--endpoint-url',
        deployment.endpoint,
        '--ca-bundle',
        path.join(root, 'secrets/root.crt'),
      ];
      await run('aws', [...target, 's3', 'cp', file, 's3://records/cli/statement.bin'], env, root);
    },
  );

  it.runIf(requireBinary('rclone'))(
    'takes a tree from rclone with the ingest key, which may not even look',
    async () => {
      const src = path.join(root, 'rclone-src');
      await mkdir(path.join(src, 'ledger'), { recursive: true });
      await writeFile(path.join(src, 'ledger/2026-11.csv'), 'date,amount\n2026-11-01,10\n');
      await writeFile(path.join(src, 'ledger/2026-12.csv'), 'date,amount\n2026-12-01,20\n');
      const env = rcloneEnv('archive', deployment.endpoint, keys.ingest, path.join(root, 'rclone.conf'));
      // The ingest key can neither list nor read: rclone is told not to check what is already there.
      await run(
        'rclone',
        [
          'copy',
          '--ca-cert',
          path.join(root, 'secrets/root.crt'),
          '--no-check-dest',
          '--s3-no-check-bucket',
          '--s3-no-head',
          src,
          'archive:records/rclone',
        ],
        env,
        root,
      );
    },
  );

  it('keeps every ingested version under COMPLIANCE retention, readable by the reader key', async () => {
    const reader = s3(keys.reader);
    const versions = await reader.send(new ListObjectVersionsCommand({ Bucket: 'records' }));
    for (const v of versions.Versions ?? []) stored.set(v.Key!, v.VersionId!);
    const expected = [
      ...(requireBinary('aws') ? ['cli/statement.bin'] : []),
      ...(requireBinary('rclone') ? ['rclone/ledger/2026-11.csv', 'rclone/ledger/2026-12.csv'] : []),
    ];
    expect([...stored.keys()].sort()).toEqual(expect.arrayContaining(expected));
    if (stored.size === 0) {
      // Without either tool the SDK ingests, so the attacks below still have data to aim at.
      const put = await s3(keys.ingest).send(
        new PutObjectCommand({ Bucket: 'records', Key: 'sdk.txt', Body: 'x' }),
      );
      stored.set('sdk.txt', put.VersionId!);
    }
    const [key, versionId] = [...stored][0]!;
    const got = await reader.send(
      new GetObjectCommand({ Bucket: 'records', Key: key, VersionId: versionId }),
    );
    expect(got.ObjectLockMode).toBe('COMPLIANCE');
    expect(got.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('refuses every S3 delete or overwrite, whichever key asks', async () => {
    const [key, versionId] = [...stored][0]!;
    for (const cred of [keys.ingest, keys.reader, admin]) {
      const c = s3(cred);
      const attempts = [
        new DeleteObjectCommand({ Bucket: 'records', Key: key }),
        new DeleteObjectCommand({ Bucket: 'records', Key: key, VersionId: versionId }),
        new DeleteObjectsCommand({
          Bucket: 'records',
          Delete: { Objects: [{ Key: key, VersionId: versionId }] },
        }),
        new PutObjectCommand({ Bucket: 'records', Key: key, Body: 'replaced' }),
        new PutObjectRetentionCommand({
          Bucket: 'records',
          Key: key,
          VersionId: versionId,
          Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 86_400_000) },
        }),
        new PutBucketLifecycleConfigurationCommand({
          Bucket: 'records',
          LifecycleConfiguration: {
            Rules: [{ ID: 'purge', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }],
          },
        }),
        new PutBucketVersioningCommand({
          Bucket: 'records',
          VersioningConfiguration: { Status: 'Suspended' },
        }),
        new DeleteBucketCommand({ Bucket: 'records' }),
      ];
      for (const command of attempts) {
        const r = await outcome(c.send(command as never));
        expect(r, `${cred === admin ? 'admin' : cred.accessKeyId} ${command.constructor.name}`).toMatchObject(
          {
            code: 'AccessDenied',
            status: 403,
          },
        );
      }
      c.destroy();
    }
  });

  it('refuses deletion through the management API and the console session', async () => {
    const [key, versionId] = [...stored][0]!;
    const apiKey = (await readFile(path.join(root, 'secrets/management_api_key.txt'), 'utf8')).trim();
    const password = (await readFile(path.join(root, 'secrets/admin_password.txt'), 'utf8')).trim();
    const login = await fetchTls(managementUrl('/auth/login'), {
      method: 'POST',
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    const session = { cookie: login.cookie!, csrf: String(login.body.csrf_token) };
    for (const auth of [{ key: apiKey }, session]) {
      const paths: Array<[string, string, unknown?]> = [
        ['DELETE', `/buckets/records/versions/${key}?version_id=${versionId}`],
        ['DELETE', `/buckets/records/objects/${key}`],
        ['POST', '/buckets/records/delete', { keys: [key] }],
        ['DELETE', '/buckets/records'],
      ];
      for (const [method, p, body] of paths) {
        const r = await fetchTls(managementUrl(p), {
          method,
          auth,
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        expect(r.status, `${auth === session ? 'console' : 'API key'} ${method} ${p}`).toBe(403);
      }
    }
  });

  it('still holds every version, and still refuses, after a restart of every container', async () => {
    await restartEach(deployment);
    const reader = s3(keys.reader);
    let versions;
    for (let i = 0; i < 60; i++) {
      versions = await reader
        .send(new ListObjectVersionsCommand({ Bucket: 'records' }))
        .catch(() => undefined);
      if (versions) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(new Map((versions!.Versions ?? []).map((v) => [v.Key!, v.VersionId!]))).toEqual(stored);
    expect(versions!.DeleteMarkers ?? []).toEqual([]);
    const [key, versionId] = [...stored][0]!;
    expect(
      await outcome(
        s3(keys.ingest).send(new DeleteObjectCommand({ Bucket: 'records', Key: key, VersionId: versionId })),
      ),
    ).toMatchObject({ code: 'AccessDenied' });
    reader.destroy();
  });

  it('has each refusal in the audit trail, with the key or admin that asked', async () => {
    const refusals = psql(
      `SELECT coalesce(access_key, principal), operation FROM audit_log WHERE bucket = 'records' AND result LIKE '403%'`,
    )
      .split('\n')
      .map((l) => l.split('\t').join(' '));
    for (const who of [keys.ingest.accessKeyId, keys.reader.accessKeyId, admin.accessKeyId])
      for (const op of [
        'DeleteObject',
        'DeleteObjects',
        'PutObject',
        'PutObjectRetention',
        'PutBucketLifecycleConfiguration',
        'PutBucketVersioning',
        'DeleteBucket',
      ])
        expect(refusals, `${who} ${op}`).toContain(`${who} ${op}`);
    for (const op of [
      'DELETE /buckets/:bucket/versions/*',
      'DELETE /buckets/:bucket/objects/*',
      'POST /buckets/:bucket/delete',
      'DELETE /buckets/:bucket',
    ])
      expect(
        refusals.filter((r) => r === `admin:admin ${op}`),
        op,
      ).toHaveLength(2);
  });

  it('verifies the audit chain, and names the record changed with psql or the records deleted', async () => {
    const ok = auditCli('verify');
    expect(ok.stdout, ok.stderr).toMatch(
      /^audit chain verified: \d+ records 1\.\.\d+; it holds the head exported at/,
    );
    const seq = Number(psql(`SELECT min(seq) FROM audit_log WHERE result LIKE '403%'`));
    psql('ALTER TABLE audit_log DISABLE TRIGGER USER');
    psql(`UPDATE audit_log SET result = '200' WHERE seq = ${seq}`);
    const changed = auditCli('verify');
    expect(changed.status).toBe(1);
    expect(changed.stderr.trim()).toBe(
      `coffer: audit chain broken at record ${seq}: its content does not match its hash (the record was changed)`,
    );
    psql(`UPDATE audit_log SET result = '403 AccessDenied' WHERE seq = ${seq}`);
    expect(auditCli('verify').status).toBe(0);
    // The head the gateway exported outside the database (at its last shutdown, and every minute since).
    const head = exec('gateway', 'cat', '/var/lib/coffer/audit-head.json');
    const exported = Number((JSON.parse(head.stdout) as { seq: number }).seq);
    psql(`DELETE FROM audit_log WHERE seq > ${exported - 3}`);
    psql(
      `UPDATE audit_head SET seq = ${exported - 3}, hash = (SELECT hash FROM audit_log WHERE seq = ${exported - 3})`,
    );
    psql('ALTER TABLE audit_log ENABLE TRIGGER USER');
    const cut = auditCli('verify');
    expect(cut.status).toBe(1);
    expect(cut.stderr.trim()).toBe(
      `coffer: audit chain broken at record ${exported - 2}: the exported head names record ${exported}, which the table no longer holds`,
    );
  });

  it.runIf(requireBinary('chromium'))(
    'writes a report that shows what the test stored and refused',
    async () => {
      const r = exec('gateway', 'node', '/opt/coffer/dist/report-cli.js', '--tls-min-version', '1.3');
      expect(r.status, r.stderr).toBe(0);
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--headless=new'],
      });
      try {
        const page = await browser.newPage();
        await page.setContent(r.stdout);
        const row = (await page.locator('#buckets tbody tr').first().locator('td').allInnerTexts()).slice(
          0,
          9,
        );
        expect(row).toEqual([
          'records archive',
          'archive-owner',
          'COMPLIANCE, 30 days',
          'Enabled',
          String(stored.size),
          String(stored.size),
          '0',
          expect.any(String),
          String(stored.size),
        ]);
        // The records cut above break the chain, and the report says so rather than hiding it.
        expect(await page.locator('#verdict').innerText()).toMatch(
          /^The audit chain is BROKEN at record \d+/,
        );
        expect(await page.locator('#summary').innerText()).toMatch(
          /[1-9]\d* refused deletion\(s\) in the period/,
        );
        expect(await page.locator('#settings').innerText()).toContain('TLS minimum version\t1.3');
      } finally {
        await browser.close();
      }
    },
  );
});
