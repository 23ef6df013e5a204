import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  PutBucketVersioningCommand,
  PutObjectLegalHoldCommand,
  UploadPartCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { pathStyleClient } from '../support/s3-client.js';
import { toRecord, type AuditLogRow } from '../../src/audit/audit-log.js';
import { recordHash } from '../../src/audit/chain.js';

/**
 * The audit trail as an auditor meets it: what S3 requests leave behind, the chain `audit verify` walks,
 * and what it says when a record was changed in the database or the newest ones were removed.
 */
let env: TestEnv;
let gw: RunningGateway;
let sql: pg.Client;

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** service/src/audit-cli.ts with the gateway's environment, as `npm run audit` runs it in the container. */
function auditCli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'service/src/audit-cli.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env.env },
    timeout: 60_000,
  });
}

interface Row {
  seq: string;
  principal: string | null;
  access_key: string | null;
  source: string | null;
  operation: string;
  bucket: string | null;
  key: string | null;
  version_id: string | null;
  result: string;
  bytes: string;
  request_id: string | null;
}

/** Records are written after the answer: wait until `n` are there. */
async function records(n: number): Promise<Row[]> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await sql.query<Row>('SELECT * FROM audit_log ORDER BY seq');
    if (rows.length >= n) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${n} audit records`);
}

beforeAll(async () => {
  env = await createTestEnv({ AUDIT_HEAD_INTERVAL_SECONDS: '1' });
  gw = await startGateway(env.env);
  sql = new pg.Client(env.pg.url);
  await sql.connect();
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await gw?.close();
  await env?.stop();
});

describe('audit trail', () => {
  it('records changes and refusals with who, from where, what and the outcome, and not plain reads', async () => {
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'audited' }));
    await s3.send(new PutObjectCommand({ Bucket: 'audited', Key: 'a/doc.txt', Body: 'hello audit' }));
    await s3.send(new GetObjectCommand({ Bucket: 'audited', Key: 'a/doc.txt' }));
    await s3.send(new DeleteObjectCommand({ Bucket: 'audited', Key: 'a/doc.txt' }));
    const forged = pathStyleClient(gw.endpoint, { ...env.creds[0]!, secretAccessKey: 'wrong' });
    expect((await outcome(forged.send(new GetObjectCommand({ Bucket: 'audited', Key: 'x' })))).code).toBe(
      'SignatureDoesNotMatch',
    );
    const rows = await records(4);
    expect(rows.map((r) => [r.operation, r.bucket, r.key, r.result])).toEqual([
      // Written in the same statement or transaction as the change itself.
      ['CreateBucket', 'audited', null, 'committed'],
      ['PutObject', 'audited', 'a/doc.txt', 'committed'],
      ['DeleteObject', 'audited', 'a/doc.txt', 'committed'],
      ['GetObject', 'audited', 'x', '403 SignatureDoesNotMatch'],
    ]);
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
    const put = rows[1]!;
    expect(put.principal).toBeTruthy();
    expect(put.access_key).toBe(env.creds[0]!.accessKeyId);
    expect(put.source).toBe('127.0.0.1');
    expect(Number(put.bytes)).toBe('hello audit'.length);
    expect(put.request_id).toMatch(/^[0-9A-F]{16}$/);
    // The refused request proved no identity: no principal is put to its name, only the key it claimed.
    expect([rows[3]!.principal, rows[3]!.access_key]).toEqual([null, env.creds[0]!.accessKeyId]);
  });

  it('commits no object change whose record cannot be written, and loses no record of one that committed', async () => {
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'all-or-nothing' }));
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'all-or-nothing',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'all-or-nothing', Key: 'kept', Body: 'v1' }));
    await s3.send(new PutObjectCommand({ Bucket: 'audited', Key: 'kept', Body: 'v1' }));
    const before = (await records(1)).length;
    // Records naming these keys cannot be written from now on.
    await sql.query(
      "ALTER TABLE audit_log ADD CONSTRAINT refuse_test_keys CHECK (key NOT IN ('kept', 'new')) NOT VALID",
    );
    try {
      for (const Bucket of ['audited', 'all-or-nothing']) {
        const put = await outcome(s3.send(new PutObjectCommand({ Bucket, Key: 'new', Body: 'never' })));
        expect(put.code).toBe('InternalError');
        expect((await outcome(s3.send(new GetObjectCommand({ Bucket, Key: 'new' })))).code).toBe('NoSuchKey');
        const del = await outcome(s3.send(new DeleteObjectCommand({ Bucket, Key: 'kept' })));
        expect(del.code).toBe('InternalError');
        const kept = await s3.send(new GetObjectCommand({ Bucket, Key: 'kept' }));
        expect(await kept.Body!.transformToString()).toBe('v1');
      }
    } finally {
      await sql.query('ALTER TABLE audit_log DROP CONSTRAINT refuse_test_keys');
    }
    const v2 = await s3.send(new PutObjectCommand({ Bucket: 'all-or-nothing', Key: 'kept', Body: 'v2' }));
    const rows = (await records(before + 1)).slice(before);
    expect(rows.map((r) => [r.operation, r.key, r.version_id, r.result])).toEqual([
      ['PutObject', 'kept', v2.VersionId, 'committed'],
    ]);
  });

  it('changes no bucket setting whose record cannot be written', async () => {
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'settings-kept' }));
    await sql.query(
      "ALTER TABLE audit_log ADD CONSTRAINT refuse_buckets CHECK (bucket NOT IN ('settings-kept', 'never-made')) NOT VALID",
    );
    try {
      expect((await outcome(s3.send(new CreateBucketCommand({ Bucket: 'never-made' })))).code).toBe(
        'InternalError',
      );
      expect((await outcome(s3.send(new HeadBucketCommand({ Bucket: 'never-made' })))).status).toBe(404);
      const versioning = new PutBucketVersioningCommand({
        Bucket: 'settings-kept',
        VersioningConfiguration: { Status: 'Enabled' },
      });
      expect((await outcome(s3.send(versioning))).code).toBe('InternalError');
      expect((await outcome(s3.send(new DeleteBucketCommand({ Bucket: 'settings-kept' })))).code).toBe(
        'InternalError',
      );
    } finally {
      await sql.query('ALTER TABLE audit_log DROP CONSTRAINT refuse_buckets');
    }
    expect(
      (await s3.send(new GetBucketVersioningCommand({ Bucket: 'settings-kept' }))).Status,
    ).toBeUndefined();
    await s3.send(new DeleteBucketCommand({ Bucket: 'settings-kept' }));
  });

  it('commits the record of a multipart Complete, a conditional PUT and a copy with the object', async () => {
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    const before = (await records(1)).length;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'audited', Key: 'big' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: 'audited', Key: 'big', UploadId, PartNumber: 1, Body: 'part one' }),
    );
    await sql.query("ALTER TABLE audit_log ADD CONSTRAINT refuse_big CHECK (key <> 'big') NOT VALID");
    const complete = () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'audited',
          Key: 'big',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
        }),
      );
    try {
      expect((await outcome(complete())).code).toBe('InternalError');
      expect((await outcome(s3.send(new GetObjectCommand({ Bucket: 'audited', Key: 'big' })))).code).toBe(
        'NoSuchKey',
      );
    } finally {
      await sql.query('ALTER TABLE audit_log DROP CONSTRAINT refuse_big');
    }
    await complete();
    await s3.send(new PutObjectCommand({ Bucket: 'audited', Key: 'once', Body: 'x', IfNoneMatch: '*' }));
    await s3.send(new CopyObjectCommand({ Bucket: 'audited', Key: 'copy', CopySource: 'audited/once' }));
    // The refused Complete's own record named 'big' too, so the constraint refused it as well.
    const rows = (await records(before + 5)).slice(before);
    expect(rows.map((r) => [r.operation, r.key, r.result, r.bytes])).toEqual([
      ['CreateMultipartUpload', 'big', 'committed', '0'],
      ['UploadPart', 'big', 'committed', '8'],
      ['CompleteMultipartUpload', 'big', 'committed', '8'],
      ['PutObject', 'once', 'committed', '1'],
      ['CopyObject', 'copy', 'committed', '1'],
    ]);
  });

  it('serves concurrent PUTs, DELETEs and legal-hold changes of the same keys, each with exactly one record', async () => {
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'contended', ObjectLockEnabledForBucket: true }));
    const failures: string[] = [];
    let n = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        while (n < 400) {
          const i = n++;
          const Bucket = worker % 2 ? 'contended' : 'audited';
          const Key = `hot/${i % 3}`;
          const op =
            i % 5 === 0
              ? new DeleteObjectCommand({ Bucket, Key })
              : i % 7 === 0 && Bucket === 'contended'
                ? new PutObjectLegalHoldCommand({ Bucket, Key, LegalHold: { Status: 'OFF' } })
                : new PutObjectCommand({ Bucket, Key, Body: `v${i}` });
          const { code } = await outcome(s3.send(op as PutObjectCommand));
          if (code !== 'OK' && code !== 'NoSuchKey') failures.push(`${op.constructor.name} ${code}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    const counted = async () =>
      Number((await sql.query("SELECT count(*) AS n FROM audit_log WHERE key LIKE 'hot/%'")).rows[0].n);
    for (let i = 0; i < 40 && (await counted()) < 400; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await counted()).toBe(400);
  });

  it('records management changes, refused API keys and console logins, never a password', async () => {
    const before = (await records(4)).length;
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    expect((await api('POST', '/credentials', { user_name: 'auditee' })).status).toBe(201);
    expect((await api('GET', '/credentials', undefined, { key: 'cfk_not-a-key' })).status).toBe(401);
    const login = (password: string) => api('POST', '/auth/login', { username: 'admin', password }, {});
    expect((await login('wrong-password')).status).toBe(401);
    expect((await login(env.admin.password)).status).toBe(200);
    const rows = (await records(before + 4)).slice(before);
    expect(rows.map((r) => [r.principal, r.operation, r.result])).toEqual([
      ['admin:admin', 'POST /credentials', 'committed'],
      [null, 'GET /credentials', '401 InvalidApiKey'],
      ['admin:admin', 'POST /auth/login', expect.stringMatching(/^401 /)],
      ['admin:admin', 'POST /auth/login', 'committed'],
    ]);
    const failed = await api('GET', '/audit?operation=POST%20/auth/login&result=401');
    expect(failed.status).toBe(200);
    expect((failed.body.records as Array<{ seq: number; source: string }>).map((r) => r.source)).toEqual([
      '127.0.0.1',
    ]);
    const page = await api('GET', '/audit?limit=2');
    const seqs = (page.body.records as Array<{ seq: number }>).map((r) => r.seq);
    expect(seqs).toEqual([before + 4, before + 3]);
    const next = await api('GET', `/audit?limit=2&before=${String(page.body.next_before)}`);
    expect((next.body.records as Array<{ seq: number }>).map((r) => r.seq)).toEqual([before + 2, before + 1]);
    expect((await api('GET', '/audit?since=yesterday-ish')).status).toBe(400);
    // An object an admin deletes: its record commits with the deletion.
    expect((await api('DELETE', '/buckets/audited/objects/kept')).status).toBe(200);
    const [deleted] = (await records(before + 5)).slice(before + 4);
    expect([deleted!.principal, deleted!.operation, deleted!.bucket, deleted!.key, deleted!.result]).toEqual([
      'admin:admin',
      'DELETE /buckets/:bucket/objects/*',
      'audited',
      'kept',
      'committed',
    ]);
    const { rows: text } = await sql.query<{ t: string }>(
      "SELECT string_agg(audit_log::text, ' ') AS t FROM audit_log",
    );
    expect(text[0]!.t).not.toContain(env.admin.password);
    expect(text[0]!.t).not.toContain('wrong-password');
  });

  it('issues no presigned URL whose record cannot be written, and records the one it issues with it', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const issue = () =>
      api('POST', '/presigned-urls', {
        bucket_name: 'audited',
        object_key: 'shared.txt',
        access_key: env.creds[0]!.accessKeyId,
      });
    const urls = async () =>
      (await sql.query("SELECT count(*)::int AS n FROM presigned_urls WHERE object_key = 'shared.txt'"))
        .rows[0].n;
    await sql.query(
      "ALTER TABLE audit_log ADD CONSTRAINT refuse_shared CHECK (key <> 'shared.txt') NOT VALID",
    );
    try {
      expect((await issue()).status).toBe(500);
      expect(await urls()).toBe(0);
    } finally {
      await sql.query('ALTER TABLE audit_log DROP CONSTRAINT refuse_shared');
    }
    const before = (await records(1)).length;
    const issued = await issue();
    expect(issued.status).toBe(201);
    expect(await urls()).toBe(1);
    const rows = (await records(before + 1)).slice(before);
    expect(rows.map((r) => [r.principal, r.operation, r.bucket, r.key, r.result])).toEqual([
      ['admin:admin', 'POST /presigned-urls', 'audited', 'shared.txt', 'committed'],
    ]);
    // The record never holds the URL or its signature.
    expect(JSON.stringify(rows)).not.toContain(
      new URL(String(issued.body.url)).searchParams.get('X-Amz-Signature'),
    );
  });

  it('refuses to change or delete a record, and to empty the table', async () => {
    for (const statement of [
      "UPDATE audit_log SET result = '200' WHERE seq = 4",
      'DELETE FROM audit_log WHERE seq = 4',
      'TRUNCATE audit_log',
    ])
      await expect(sql.query(statement)).rejects.toThrow(/audit records are append-only/);
  });

  it('chains every record over exactly the text the verifier recomputes: absent fields, non-ASCII, separators', async () => {
    const fields = ['principal', 'access_key', 'source', 'bucket', 'key', 'version_id', 'request_id'];
    const { rows } = await sql.query<AuditLogRow & { by_function: Buffer }>(
      `INSERT INTO audit_log (seq, at, prev_hash, hash, operation, result, bytes, ${fields.join(', ')})
       VALUES (0, now(), '\\x', '\\x', 'PutObject', 'committed', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
              (0, now(), '\\x', '\\x', 'Put|Object', '2|00', 5497558138880, 'ü|-', '', '::1', 'b', 'dir/ß ✓|x', 'v-1', 'r|1')
       RETURNING *, sha256(prev_hash || convert_to(coffer_audit_text(audit_log), 'UTF8')) AS by_function`,
    );
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.hash.equals(r.by_function)).toBe(true);
      const node = recordHash(r.prev_hash, toRecord(r));
      expect(node.equals(r.hash)).toBe(true);
    }
  });

  it('verifies the chain, then names the record someone changed behind the triggers', async () => {
    const last = (await records(400)).length;
    // The head export runs every second: wait for one that holds the newest record.
    const headFile = path.join(env.env.DATA_DIR!, 'audit-head.json');
    for (let i = 0; i < 60; i++) {
      const head = await readFile(headFile, 'utf8').catch(() => '{}');
      if ((JSON.parse(head) as { seq?: number }).seq === last) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ok = auditCli('verify');
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(`^audit chain verified: ${last} records 1\\.\\.${last}; it holds the head exported at `),
    );

    await sql.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    try {
      await sql.query("UPDATE audit_log SET key = 'a/other.txt' WHERE seq = 2");
      const changed = auditCli('verify');
      expect(changed.status).toBe(1);
      expect(changed.stderr.trim()).toBe(
        'coffer: audit chain broken at record 2: its content does not match its hash (the record was changed)',
      );
      await sql.query("UPDATE audit_log SET key = 'a/doc.txt' WHERE seq = 2");
      expect(auditCli('verify').status).toBe(0);

      // The newest records removed and the head row set back to match: only the exported head tells.
      await sql.query('DELETE FROM audit_log WHERE seq >= $1', [last - 1]);
      await sql.query('UPDATE audit_head SET seq = $1, hash = (SELECT hash FROM audit_log WHERE seq = $1)', [
        last - 2,
      ]);
      const cut = auditCli('verify');
      expect(cut.status).toBe(1);
      expect(cut.stderr.trim()).toBe(
        `coffer: audit chain broken at record ${last - 1}: the exported head names record ${last}, which the table no longer holds`,
      );
    } finally {
      await sql.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    }
    // New records after the cut do not wash the evidence out of the exported head.
    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    for (const n of [1, 2, 3])
      await s3.send(new PutObjectCommand({ Bucket: 'audited', Key: `after/${n}`, Body: 'x' }));
    await records(last + 1);
    await new Promise((r) => setTimeout(r, 1500));
    const later = auditCli('verify');
    expect(later.status).toBe(1);
    expect(later.stderr.trim()).toBe(
      `coffer: audit chain broken at record ${last}: it differs from the exported head`,
    );
  });

  it('exports records as JSON lines from a time on, and never overwrites a file', async () => {
    const out = path.join(env.dir, 'audit.jsonl');
    const first = auditCli('export', '--since', '2000-01-01T00:00:00Z', '--out', out);
    expect(first.status, first.stderr).toBe(0);
    const lines = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.operation).slice(0, 2)).toEqual(['CreateBucket', 'PutObject']);
    expect(lines[1]).toMatchObject({
      seq: 2,
      key: 'a/doc.txt',
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const again = auditCli('export', '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr.trim()).toBe(`coffer: ${out} exists; export never overwrites a file`);
    const future = auditCli('export', '--since', '2999-01-01');
    expect([future.status, future.stdout]).toEqual([0, '']);
  });
});
