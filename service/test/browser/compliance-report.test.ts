import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPdf } from '../../../scripts/lib/pdf.js';
import {
  createTestEnv,
  makeArchive,
  startGateway,
  type RunningGateway,
  type TestCredential,
  type TestEnv,
} from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { outcome } from '../support/outcome.js';
import { requireBinary } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';

/**
 * The compliance report as an auditor reads it: rendered in Chromium from what the gateway really
 * holds (objects ingested through S3, deletions refused), and honest when the audit chain was tampered with.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = requireBinary('chromium');
const ROOT = path.resolve(import.meta.dirname, '../../..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts/reports');

let env: TestEnv;
let gw: RunningGateway;
let sql: pg.Client;
let browser: Browser;
let page: Page;
let ingest: TestCredential;
let reader: TestCredential;

function cli(file: string, ...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', `service/src/${file}`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env.env },
    timeout: 60_000,
  });
}

async function report(): Promise<string> {
  const r = cli('report-cli.ts', '--tls-min-version', '1.3', '--since', '2000-01-01T00:00:00Z');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

const text = (selector: string) => page.locator(selector).innerText();
/** The cells of the table row whose first cell starts with `first`. */
async function row(table: string, first: string): Promise<string[]> {
  const rows = await page.locator(`#${table} tbody tr`).all();
  for (const r of rows) {
    const cells = await r.locator('td').allInnerTexts();
    if (cells[0]?.startsWith(first)) return cells;
  }
  throw new Error(`no row ${first} in #${table}`);
}

describe.skipIf(!hasChromium)('npm run compliance-report', () => {
  let s3: (c: { accessKeyId: string; secretAccessKey: string }) => S3Client;

  beforeAll(async () => {
    env = await createTestEnv();
    ({ ingest, reader } = await makeArchive(
      env,
      { ingest: 'AKIAREPORTINGEST001', reader: 'AKIAREPORTREADER001' },
      { ARCHIVE_BUCKETS: 'records', ARCHIVE_RETENTION_DAYS: '30' },
    ));
    gw = await startGateway(env.env);
    s3 = (c) => pathStyleClient(gw.endpoint, c);
    sql = new pg.Client(env.pg.url);
    await sql.connect();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
    page = await browser.newPage();

    for (const [key, size] of [
      ['2026/a.pdf', 1000],
      ['2026/b.pdf', 2000],
      ['2026/c.pdf', 3000],
    ] as const)
      await s3(ingest).send(new PutObjectCommand({ Bucket: 'records', Key: key, Body: randomBytes(size) }));
    // Another user's bucket with a legal hold: the report covers every bucket, archive or not.
    const owner = s3(env.creds[0]!);
    await owner.send(new CreateBucketCommand({ Bucket: 'scratch', ObjectLockEnabledForBucket: true }));
    await owner.send(
      new PutObjectCommand({
        Bucket: 'scratch',
        Key: 'held',
        Body: 'x'.repeat(500),
        ObjectLockLegalHoldStatus: 'ON',
      }),
    );
    // Three refused deletions: two through S3, one through the management API.
    expect(
      await outcome(s3(reader).send(new DeleteObjectCommand({ Bucket: 'records', Key: '2026/a.pdf' }))),
    ).toMatchObject({ code: 'AccessDenied' });
    expect(
      await outcome(s3(ingest).send(new DeleteObjectCommand({ Bucket: 'records', Key: '2026/b.pdf' }))),
    ).toMatchObject({ code: 'AccessDenied' });
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    expect((await api('DELETE', '/buckets/records')).status).toBe(403);
    expect(cli('audit-cli.ts', 'verify').status).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sql?.end();
    await gw?.close();
    await env?.stop();
  });

  it('shows the buckets, their locks, what they hold and until when', async () => {
    await page.setContent(await report());
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'compliance-report.png'), fullPage: true });
    expect(await text('#verdict')).toMatch(/^The audit chain is intact: \d+ records verified/);
    const retainUntil = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const records = await row('buckets', 'records');
    expect(records).toEqual([
      'records archive',
      'archive-owner',
      'COMPLIANCE, 30 days',
      'Enabled',
      '3',
      '3',
      '0',
      '5.86 KiB',
      '3',
      expect.stringMatching(new RegExp(`^${retainUntil}|^${retainUntil.slice(0, 8)}`)),
      expect.any(String),
      '0',
      'ACLs disabled; public access blocked; settings frozen by the preset',
    ]);
    const scratch = await row('buckets', 'scratch');
    expect(scratch.slice(2, 8)).toEqual(['enabled, no default', 'Enabled', '1', '1', '0', '500 B']);
    expect(scratch[11]).toBe('1');
    expect(await text('#summary')).toMatch(/1 archive bucket\(s\) of 2;\s+4 stored versions/);
  });

  it('lists the refused deletions with who asked, and states the settings and keys in force', async () => {
    expect(await text('#summary')).toMatch(/3 refused deletion\(s\) in the period/);
    const refusals = await page.locator('#refusals tbody tr').allInnerTexts();
    expect(refusals).toHaveLength(3);
    expect(refusals.join('\n')).toMatch(
      /DeleteObject\t+records\t+2026\/a\.pdf\t+\t*archive-reader\t+AKIAREPORTREADER001/,
    );
    expect(refusals.join('\n')).toMatch(/DELETE \/buckets\/:bucket\t+records/);
    expect(await row('settings', 'Signature Version 2')).toEqual(['Signature Version 2', 'refused']);
    expect(await row('settings', 'TLS minimum version')).toEqual(['TLS minimum version', '1.3']);
    expect((await row('settings', 'Preset'))[1]).toBe(
      'compliance-archive: buckets records; COMPLIANCE retention of 30 days',
    );
    expect(await row('keys', 'AKIAREPORTINGEST001')).toEqual([
      'AKIAREPORTINGEST001',
      'archive-ingest',
      'active',
      expect.any(String),
    ]);
    expect(await text('#audit')).toMatch(
      /Last verification before this report\s+\d{4}-\d\d-\d\d .*intact, \d+ records/,
    );
    // No secret reaches the page.
    expect(await page.content()).not.toContain(ingest.secretAccessKey);
  });

  it('charts the stored bytes, and prints as a PDF', async () => {
    expect(await page.locator('#stored-bytes').getAttribute('aria-label')).toBe(
      'Stored bytes over time, up to 6.35 KiB',
    );
    const pdf = path.join(env.dir, 'report.pdf');
    await renderPdf(await page.content(), pdf, CHROMIUM);
    expect((await readFile(pdf)).subarray(0, 5).toString()).toBe('%PDF-');
    await expect(renderPdf('<p>again</p>', pdf, CHROMIUM)).rejects.toThrow(
      /exists; the report never overwrites/,
    );
  });

  it('says the chain is broken, and where, when a record was changed', async () => {
    await sql.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    try {
      await sql.query("UPDATE audit_log SET result = '200' WHERE seq = 2");
      await page.setContent(await report());
      expect(await text('#verdict')).toBe(
        'The audit chain is BROKEN at record 2: its content does not match its hash (the record was changed).',
      );
    } finally {
      await sql.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    }
  });
});
