import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { requireBinary } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts/console');
const hasChromium = requireBinary('chromium');
const MiB = 1024 * 1024;

// The bucket browser as a person uses it: a bucket too big for one page, many files at once, a file
// large enough to go in parts, folders, bulk actions, and cancelling an upload half-way.
describe.skipIf(!hasChromium)('bucket browser in Chromium', () => {
  let env: TestEnv;
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  let base: string;
  let s3: S3Client;
  let api: ReturnType<typeof managementClient>;
  const dir = mkdtempSync(path.join(tmpdir(), 'coffer-browser-'));
  const dialogs: string[] = [];
  // A full-page picture of 1,100 rows takes seconds: those pages are shot as the window shows them.
  const shot = (name: string, fullPage = true) =>
    page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
  // A hash change renders asynchronously: wait for the new page, or a file chooser of the old one is used.
  const open = async (bucket: string, folder = '') => {
    await page.goto(
      `${base}/_coffer/console/#/buckets?bucket=${bucket}&prefix=${encodeURIComponent(folder)}`,
    );
    // The bucket's heading and the folder's upload label are both in the new render, not in the old one.
    await page.getByRole('heading', { name: `Bucket ${bucket}`, exact: true }).waitFor();
    await page.getByText(`Upload files into /${folder}`, { exact: true }).waitFor();
  };
  const body = async (bucket: string, key: string) =>
    Buffer.from(
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray(),
    );

  beforeAll(async () => {
    env = await createTestEnv();
    gw = await startGateway(env.env);
    base = `http://localhost:${gw.port}`;
    api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const cred = (await api('POST', '/credentials', { user_name: 'browser-owner' })).body;
    s3 = pathStyleClient(gw.endpoint, {
      accessKeyId: String(cred.access_key),
      secretAccessKey: String(cred.secret_key),
    });
    await api('POST', '/buckets', { name: 'many', owner_id: cred.id });
    await api('POST', '/buckets', { name: 'inbox', owner_id: cred.id });
    // 1,100 keys, more than one page; item-0537 is the largest.
    const keys = Array.from({ length: 1100 }, (_, i) => `item-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(
        keys.slice(i, i + 50).map((Key, j) =>
          s3.send(
            new PutObjectCommand({
              Bucket: 'many',
              Key,
              Body: Key === 'item-0537' ? 'x'.repeat(5000) : 'y'.repeat(1 + ((i + j) % 97)),
            }),
          ),
        ),
      );
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless=new'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.goto(`${base}/_coffer/`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(env.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await env?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // The page renders after its API calls: wait for it as a person would, not for a fixed second.
  const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 20_000 });
  const rows = () => page.locator('#objects tbody tr');
  const firstKey = () => rows().first().getAttribute('data-key');

  it('reaches every object of a 1,100-object bucket, searches by prefix and sorts by size and name', async () => {
    await open('many');
    await poll(() => rows().count()).toBe(1000);
    expect(await page.locator('#listing-count').textContent()).toBe(
      '1,000 objects loaded; there are more in this folder.',
    );
    await page.locator('#load-more').click();
    await poll(() => rows().count()).toBe(1100);
    expect(await page.locator('#listing-count').textContent()).toBe('1,100 objects.');
    expect(await page.locator('#load-more').isHidden()).toBe(true);
    await shot('20-bucket-1100', false);

    // CSS, not roles, for the headers: naming 2,200 row buttons on every lookup is what would take time.
    const header = (label: string) => page.locator(`#objects thead button[data-label="${label}"]`);
    await header('Size').click();
    expect(await header('Size').textContent()).toBe('Size ▲');
    await header('Size').click();
    expect(await header('Size').textContent()).toBe('Size ▼');
    expect(await firstKey()).toBe('item-0537');
    await header('Name').click();
    expect(await header('Name').textContent()).toBe('Name ▲');
    await header('Name').click();
    expect(await firstKey()).toBe('item-1099');

    await page.getByLabel('Name starts with').fill('item-10');
    await page.locator('form[role=search] button').click();
    await poll(() => rows().count()).toBe(100);
    expect(await page.locator('#listing-count').textContent()).toBe('100 objects starting with "item-10".');
    expect(await firstKey()).toBe('item-1000');
    await shot('21-bucket-search');
  });

  it('uploads several files at once, one of them in parts, with progress per file and overall', async () => {
    const big = path.join(dir, 'disk image.bin');
    const bigBytes = Buffer.alloc(40 * MiB);
    for (let i = 0; i < bigBytes.length; i += 4096) bigBytes.writeUInt32BE(i, i);
    writeFileSync(big, bigBytes);
    await open('inbox');
    writeFileSync(path.join(dir, 'notes.txt'), 'meeting at ten\n');
    writeFileSync(path.join(dir, 'photo.jpg'), Buffer.alloc(300_000, 7));
    await page
      .locator('#upload-files')
      .setInputFiles([path.join(dir, 'notes.txt'), path.join(dir, 'photo.jpg'), big]);
    await expect
      .poll(() => page.locator('#transfers li[data-state="done"]').count(), { timeout: 60_000 })
      .toBe(3);
    expect(await page.locator('#transfers li[data-key="disk image.bin"] .transfer-state').textContent()).toBe(
      'Uploaded in 3 parts',
    );
    const overall = page.locator('#transfers-overall');
    expect(await overall.evaluate((p: { value: number; max: number }) => [p.value, p.max])).toEqual([
      40 * MiB + 15 + 300_000,
      40 * MiB + 15 + 300_000,
    ]);
    expect(await page.locator('#transfers-summary').textContent()).toBe(
      '3 of 3 files · 40.3 MiB of 40.3 MiB',
    );
    await shot('22-uploads');
    await page.locator('tr[data-key="disk image.bin"]').waitFor();
    const stored = await body('inbox', 'disk image.bin');
    expect(createHash('sha256').update(stored).digest('hex')).toBe(
      createHash('sha256').update(readFileSync(big)).digest('hex'),
    );
    expect((await api('GET', '/buckets/inbox/objects/disk%20image.bin')).body).toMatchObject({
      is_multipart: true,
      part_count: 3,
      content_type: 'application/octet-stream',
    });
    expect((await s3.send(new GetObjectCommand({ Bucket: 'inbox', Key: 'photo.jpg' }))).ContentType).toBe(
      'image/jpeg',
    );
    await page.getByRole('button', { name: 'Clear finished' }).click();
    expect(await page.locator('#transfers').isHidden()).toBe(true);
  });

  it('cancels an upload half-way and leaves no upload or object behind', async () => {
    const big = path.join(dir, 'slow.bin');
    writeFileSync(big, Buffer.alloc(48 * MiB, 1));
    // Slow the browser's uploads to 4 MiB/s so there is time to cancel.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 4 * MiB,
    });
    try {
      await open('inbox');
      await page.locator('#upload-folder').waitFor({ state: 'attached' });
      await page.locator('#upload-files').setInputFiles(big);
      const item = page.locator('#transfers li[data-key="slow.bin"]');
      await poll(() => item.locator('progress').evaluate((p: { value: number }) => p.value)).toBeGreaterThan(
        0,
      );
      await item.getByRole('button', { name: 'Cancel' }).click();
      await poll(() => item.getAttribute('data-state')).toBe('cancelled');
    } finally {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
    }
    await poll(async () => (await api('GET', '/buckets/inbox/uploads')).body.uploads).toEqual([]);
    expect((await api('GET', '/buckets/inbox/objects/slow.bin')).status).toBe(404);
    await page.getByRole('button', { name: 'Clear finished' }).click();
  });

  it('creates a folder, takes dropped files into it, downloads a selection and deletes it in bulk', async () => {
    await open('inbox');
    await page.getByLabel('New folder').fill('scans');
    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByText('Upload files into /scans/', { exact: true }).waitFor();
    await page.getByText('This folder is empty.').waitFor();

    // A drop as the browser delivers one: a DataTransfer holding files.
    // (Written as page source: this file is type-checked for Node, which has no DataTransfer.)
    const transfer = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['page one'], 'a.txt', { type: 'text/plain' }));
      dt.items.add(new File(['page two'], 'b.txt', { type: 'text/plain' }));
      return dt;
    })()`);
    await page.locator('#dropzone').dispatchEvent('drop', { dataTransfer: transfer });
    await page.locator('tr[data-key="scans/b.txt"]').waitFor();
    expect((await body('inbox', 'scans/a.txt')).toString()).toBe('page one');

    await page.getByLabel('Select a.txt').check();
    await page.getByLabel('Select b.txt').check();
    expect(await page.locator('#selected-count').textContent()).toBe('2 selected');
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    await page.getByRole('button', { name: 'Download selected' }).click();
    await poll(() => downloads.sort()).toEqual(['a.txt', 'b.txt']);
    await shot('23-folder-selection');

    // The folder itself, selected from its parent, deletes everything under it.
    await open('inbox');
    await page.locator('tr[data-prefix="scans/"]').waitFor();
    await page.getByLabel('Select scans/').check();
    await page.getByRole('button', { name: 'Delete selected' }).click();
    await poll(() => page.locator('#toast').textContent()).toBe('Deleted 3 objects');
    expect(dialogs.at(-1)).toBe('Delete 3 objects? This cannot be undone.');
    const left = await api('GET', '/buckets/inbox/objects?prefix=scans/');
    expect(left.body.objects).toEqual([]);
  });
});
