import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import * as OTPAuth from 'otpauth';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient, userNameOf } from '../support/management.js';
import { requireBinary } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts/console');
const hasChromium = requireBinary('chromium');

describe.skipIf(!hasChromium)('web console in Chromium', () => {
  let env: TestEnv;
  let gw: RunningGateway;
  let browser: Browser;
  let page: Page;
  let base: string;
  let totp: OTPAuth.TOTP;
  let createdAccessKey = '';
  const shot = (name: string, p: Page = page) =>
    p.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
  const dialogs: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    env = await createTestEnv();
    gw = await startGateway(env.env);
    // localhost, not 127.0.0.1: browsers treat it as a secure context, so the Secure session cookie is kept.
    base = `http://localhost:${gw.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await env?.stop();
  });

  it('enrolls two-step verification from the account page (otpauth URI and QR code)', async () => {
    await page.goto(`${base}/_coffer/`);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('InvalidCredentials: Login was unsuccessful');
    await shot('01-login-failed');
    await page.getByLabel('Password').fill(env.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

    await page.getByRole('link', { name: 'Account' }).click();
    expect(await page.locator('#totp-state').textContent()).toBe('off');
    await page.getByRole('button', { name: 'Set up two-step verification' }).click();
    await page.getByAltText('TOTP QR code').waitFor();
    expect(await page.locator('#totp-uri').textContent()).toMatch(/^otpauth:\/\/totp\/Coffer:admin\?/);
    const secret = (await page.locator('#totp-secret').textContent())!;
    totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await shot('02-totp-enroll');
    await page.getByLabel('Code from the app').fill(totp.generate());
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('#totp-state').textContent()).toBe('enabled');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor();
  });

  it('logs in with password and a TOTP code', async () => {
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(env.admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('Authenticator code').waitFor();
    await shot('02b-login-totp');
    // The enrollment used this step's code; codes are single-use, so log in with the next step's.
    await page.getByLabel('Authenticator code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect(await page.locator('#stat-credentials .value').textContent()).toBe('2');
    expect(await page.locator('#who').textContent()).toBe('admin');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'coffer_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/_coffer' });
    await shot('03-dashboard');
  });

  it('creates a credential and shows its secret once', async () => {
    await page.getByRole('link', { name: 'Credentials' }).click();
    await page.getByLabel('User name (optional)').fill('browser-user');
    await page.getByRole('button', { name: 'Create credential' }).click();
    await page.locator('#new-secret').waitFor();
    createdAccessKey = (await page.locator('#new-access-key').textContent())!;
    expect(createdAccessKey).toMatch(/^AKIA[A-Z2-7]{16}$/);
    expect((await page.locator('#new-secret').textContent())!.length).toBe(40);
    await expect.poll(() => page.locator(`tr[data-access-key="${createdAccessKey}"]`).count()).toBe(1);
    await shot('04-credential-created');
  });

  it('creates a bucket, uploads a file into a folder through a presigned PUT, and lists it there', async () => {
    await page.getByRole('link', { name: 'Buckets' }).click();
    await page.getByLabel('Bucket name').fill('console-bucket');
    await page.getByLabel('Owner').selectOption({ label: `browser-user (${createdAccessKey})` });
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.getByRole('link', { name: 'console-bucket' }).waitFor();
    await shot('05-buckets');

    await page.goto(`${base}/_coffer/console/#/buckets?bucket=console-bucket&prefix=reports/`);
    await page.getByText('This folder is empty.').waitFor();
    await page.locator('#upload-files').setInputFiles({
      name: 'q3 summary.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('revenue up, costs down\n'),
    });
    await page.locator('tr[data-key="reports/q3 summary.txt"]').waitFor();

    await page.getByRole('link', { name: 'console-bucket' }).click();
    await page.getByRole('link', { name: '📁 reports/' }).click();
    await page.locator('tr[data-key="reports/q3 summary.txt"]').waitFor();
    await shot('06-folder-listing');

    await page.getByRole('link', { name: 'q3 summary.txt' }).click();
    await page.locator('#object-details').waitFor();
    expect(await page.locator('#object-details').textContent()).toContain('text/plain');
    await shot('07-object-details');
  });

  it('generates a presigned URL that plain HTTP can fetch', async () => {
    await page.getByRole('link', { name: 'Presigned URLs' }).click();
    await page.getByLabel('Bucket').selectOption('console-bucket');
    await page.getByLabel('Object key').fill('reports/q3 summary.txt');
    await page.getByLabel('Expires in (seconds)').fill('600');
    await page.getByRole('button', { name: 'Generate' }).click();
    const url = (await page.locator('#presigned-url').textContent())!;
    expect(url).toMatch(/^http:\/\/localhost:\d+\/console-bucket\/reports\/q3%20summary\.txt\?X-Amz-/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('revenue up, costs down\n');
    await page.getByRole('button', { name: 'Copy URL' }).waitFor();
    // The new URL joins the list of active ones (the upload's PUT URL is already there).
    await expect.poll(() => page.locator('#presign-active tbody tr').count()).toBe(2);
    await shot('08-presigned');
  });

  it('deletes the object from the bucket browser', async () => {
    await page.goto(`${base}/_coffer/console/#/buckets?bucket=console-bucket&prefix=reports/`);
    await page
      .locator('tr[data-key="reports/q3 summary.txt"]')
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByText('This folder is empty.').waitFor();
    expect(dialogs.at(-1)).toBe('Delete reports/q3 summary.txt?');
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    expect((await api('GET', '/buckets/console-bucket')).body).toMatchObject({ object_count: 0 });
  });

  it('lists and aborts multipart uploads', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const cred = (await api('POST', '/credentials', { user_name: 'uploader' })).body;
    await api('POST', '/buckets', { name: 'big-files', owner_id: cred.id });
    const s3 = pathStyleClient(gw.endpoint, {
      accessKeyId: String(cred.access_key),
      secretAccessKey: String(cred.secret_key),
    });
    await s3.send(new CreateMultipartUploadCommand({ Bucket: 'big-files', Key: 'disk.img' }));
    await page.goto(`${base}/_coffer/console/#/uploads?bucket=big-files`);
    await page.getByRole('cell', { name: 'disk.img' }).waitFor();
    await shot('09-multipart');
    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByText('No upload in progress.').waitFor();
  });

  it('shows versions with their lock, restores an old one, and says why a locked one cannot be deleted', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const cred = (await api('POST', '/credentials', { user_name: 'archivist' })).body;
    const s3 = pathStyleClient(gw.endpoint, {
      accessKeyId: String(cred.access_key),
      secretAccessKey: String(cred.secret_key),
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'archive', ObjectLockEnabledForBucket: true }));
    const locked = await s3.send(
      new PutObjectCommand({
        Bucket: 'archive',
        Key: 'minutes.txt',
        Body: 'first draft',
        ObjectLockMode: 'COMPLIANCE',
        ObjectLockRetainUntilDate: new Date(Date.now() + 7 * 86_400_000),
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'minutes.txt', Body: 'final' }));
    await page.goto(`${base}/_coffer/console/#/buckets?bucket=archive&key=minutes.txt`);
    await page.locator('#object-versions').waitFor();
    expect(await page.locator('#bucket-settings').textContent()).toContain(
      'versioning Enabled · object lock',
    );
    const oldRow = page.locator(`#object-versions tr[data-version-id="${locked.VersionId}"]`);
    expect(await oldRow.locator('td.lock').textContent()).toMatch(/^COMPLIANCE until /);
    await shot('10-versions');
    await oldRow.getByRole('button', { name: 'Delete version' }).click();
    await expect
      .poll(() => page.locator('#toast').textContent())
      .toMatch(/AccessDenied: .*COMPLIANCE retention/);
    await oldRow.getByRole('button', { name: 'Restore' }).click();
    await expect.poll(() => page.locator('#object-versions tbody tr').count()).toBe(3);
    const current = await s3.send(new GetObjectCommand({ Bucket: 'archive', Key: 'minutes.txt' }));
    expect(await current.Body!.transformToString()).toBe('first draft');
  });

  it('creates a user with a key, grants it read on a bucket, and revokes the grant', async () => {
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', exact: true }).waitFor();
    await page.getByLabel('User name').fill('auditor');
    await page.getByRole('button', { name: 'Create user' }).click();
    const row = page.locator('tr[data-user="auditor"]');
    await row.getByRole('button', { name: 'New key' }).click();
    const accessKeyId = (await page.locator('#issued-access-key').textContent())!;
    const secretAccessKey = (await page.locator('#issued-secret').textContent())!;
    await shot('10-users');
    const auditor = pathStyleClient(gw.endpoint, { accessKeyId, secretAccessKey });
    const read = () => auditor.send(new GetObjectCommand({ Bucket: 'archive', Key: 'minutes.txt' }));
    await expect(read()).rejects.toMatchObject({ name: 'AccessDenied' });
    await page.goto(`${base}/_coffer/console/#/buckets?bucket=archive`);
    const access = page.locator('#access');
    await access.getByLabel('User').selectOption({ label: 'auditor' });
    await access.getByLabel('Access').selectOption('read');
    await access.getByRole('button', { name: 'Grant' }).click();
    await access.locator('tr[data-grant-user="auditor"]').waitFor();
    await shot('10-bucket-access');
    expect(await (await read()).Body!.transformToString()).toBe('first draft');
    await expect(
      auditor.send(new PutObjectCommand({ Bucket: 'archive', Key: 'forged.txt', Body: 'x' })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    await access.locator('tr[data-grant-user="auditor"]').getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.locator('#toast').textContent()).toBe('Grant revoked');
    await expect(read()).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('lists the audit trail and filters it by who and by outcome', async () => {
    await page.goto(`${base}/_coffer/console/#/audit`);
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    // The wrong password of the first test, and the uploader's multipart upload, are on the trail.
    await page.getByLabel('Result starts with').fill('401');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.locator('#audit-records tbody tr').count()).toBeGreaterThan(0);
    const refused = await page.locator('#audit-records tbody tr').allTextContents();
    expect(refused.every((row) => row.includes('401'))).toBe(true);
    expect(refused.some((row) => row.includes('POST /auth/login'))).toBe(true);
    await page.getByLabel('Result starts with').fill('');
    await page.getByLabel('Who').fill('uploader');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect
      .poll(() => page.locator('#audit-records tbody tr').first().textContent())
      .toContain('CreateMultipartUpload');
    await shot('12-audit');
  });

  it('shows two-step verification as enabled on the account page', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    expect(await page.locator('#totp-state').textContent()).toBe('enabled');
    await shot('10-account');
  });

  it('shows the last hour of requests, storage per bucket and over time, health, and how to connect', async () => {
    await gw.gateway.collector.runOnce();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.locator('#requests-total').waitFor();
    // Counts reach the table every few seconds; the S3 requests of the tests above are there by now.
    await expect
      .poll(
        async () => {
          await page.reload();
          const text = (await page.locator('#requests-total').textContent()) ?? '';
          return Number(/^([\d,]+) answered/.exec(text)?.[1]?.replace(/,/g, '') ?? 0);
        },
        { timeout: 20_000, interval: 1000 },
      )
      .toBeGreaterThan(5);
    expect(await page.locator('#requests svg rect.ok').count()).toBeGreaterThan(0);
    expect(await page.locator('#requests-total').textContent()).toMatch(/[1-9]\d* client errors \(4xx\)/);
    expect(await page.locator('#per-bucket tr[data-bucket="archive"]').textContent()).toMatch(/^archive\d/);
    expect(await page.locator('#storage svg path.series').count()).toBe(1);
    expect(await page.locator('#health tr[data-health="Postgres"] .badge').textContent()).toBe('ok');
    expect(await page.locator('#health tr[data-health="Collector"]').textContent()).toMatch(/ran \d+ s ago/);
    expect(await page.locator('#endpoint').textContent()).toBe(base);
    expect(await page.locator('#connect pre').first().textContent()).toBe(
      `aws --endpoint-url ${base} --region us-east-1 s3 ls`,
    );
    await shot('13-dashboard-activity');
  });

  it('adds an admin who enrolls their own TOTP and changes their password, then removes them', async () => {
    await page.getByRole('link', { name: 'Account' }).click();
    const admins = page.locator('#admins');
    await admins.getByLabel('Admin name').fill('second-admin');
    await admins.getByLabel('First password').fill('first password 42');
    await admins.getByRole('button', { name: 'Add admin' }).click();
    await admins.locator('tr[data-admin="second-admin"]').waitFor();

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const other = await context.newPage();
    const signIn = async (password: string, code?: string) => {
      await other.getByLabel('Username').fill('second-admin');
      await other.getByLabel('Password').fill(password);
      await other.getByRole('button', { name: 'Log in' }).click();
      if (code) {
        await other.getByLabel('Authenticator code').fill(code);
        await other.getByRole('button', { name: 'Verify' }).click();
      }
      await other.getByRole('heading', { name: 'Dashboard' }).waitFor();
    };
    await other.goto(`${base}/_coffer/`);
    await signIn('first password 42');
    await other.getByRole('link', { name: 'Account' }).click();
    await other.getByRole('button', { name: 'Set up two-step verification' }).click();
    const secret = (await other.locator('#totp-secret').textContent())!;
    const own = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    expect(secret).not.toBe(totp.secret.base32);
    await other.getByLabel('Code from the app').fill(own.generate());
    await other.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => other.locator('#totp-state').textContent()).toBe('enabled');
    await other.getByLabel('Current password').fill('first password 42');
    await other.getByLabel('New password', { exact: true }).fill('my own password 42');
    await other.getByLabel('Repeat new password').fill('my own password 42');
    await other.getByRole('button', { name: 'Change password' }).click();
    await expect
      .poll(() => other.locator('#toast').textContent())
      .toBe('Password changed; your other sessions have ended');
    await shot('14-account-admins', other);
    await other.getByRole('button', { name: 'Log out' }).click();
    await signIn('my own password 42', own.generate({ timestamp: Date.now() + 30_000 }));
    await context.close();

    await page.reload();
    const row = admins.locator('tr[data-admin="second-admin"]');
    expect(await row.textContent()).toContain('two-step on');
    await row.getByRole('button', { name: 'Remove' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect(dialogs.at(-1)).toBe('Remove admin second-admin? Their sessions and API keys stop working.');
  });

  it('creates a webhook target, and shows a message its receiver has not taken, with the error, until dropped', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const owner = await userNameOf(api, env.creds[0]!.accessKeyId);
    // Nothing listens on this port: every attempt fails with the connection refused.
    const closed = await freePort();
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByRole('heading', { name: 'Webhook targets' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('n8n');
    await page.getByLabel('For the buckets of').selectOption({ label: owner });
    await page.getByLabel('URL').fill(`http://127.0.0.1:${closed}/webhook/s3`);
    await page.getByLabel('Signed with').selectOption('hmac');
    await page.getByLabel(/^Secret/).fill('a-shared-secret-of-24-chars');
    await page.getByRole('button', { name: 'Create target' }).click();
    const row = page.locator('tr[data-webhook="n8n"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('arn:coffer:sqs:us-east-1:n8n:webhook');
    expect(await row.textContent()).not.toContain('a-shared-secret');

    const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'console-events' }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'console-events',
        NotificationConfiguration: {
          QueueConfigurations: [
            { QueueArn: 'arn:coffer:sqs:us-east-1:n8n:webhook', Events: ['s3:ObjectCreated:*'] },
          ],
        },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'console-events', Key: 'invoice.pdf', Body: 'x' }));
    const message = page.locator('tr[data-message]');
    await page.getByRole('link', { name: 'Pending' }).click();
    await expect
      .poll(
        async () => {
          // Clicking the filter already shown changes no hash, so the page would not fetch again: reload it.
          await page.reload();
          await page.getByRole('heading', { name: 'Messages not yet delivered' }).waitFor();
          return (await message.count()) ? message.first().textContent() : '';
        },
        // The first attempt comes within a poll (1 s); the bound is for a machine busy with other suites.
        { timeout: 60_000 },
      )
      .toMatch(/ECONNREFUSED/);
    expect(await message.first().textContent()).toContain('console-events/invoice.pdf');
    expect(await message.first().textContent()).toContain('s3:ObjectCreated:Put');
    await shot('16-events');
    await message.first().getByRole('button', { name: 'Drop' }).click();
    await page.getByText('Every message has been delivered.').waitFor();
    expect((await api('GET', '/events')).body.messages).toEqual([]);
  });

  it('is usable on a narrow screen: nothing overflows sideways', async () => {
    const narrow = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await narrow.context().addCookies(await page.context().cookies());
    for (const [name, hash, heading] of [
      ['11-narrow-dashboard', '#/dashboard', 'Dashboard'],
      ['12-narrow-buckets', '#/buckets', 'Buckets'],
      ['13-narrow-bucket', '#/buckets?bucket=big-files', 'Bucket big-files'],
      ['14-narrow-object', '#/buckets?bucket=archive&key=minutes.txt', 'Bucket archive'],
      ['15-narrow-account', '#/account', 'Account'],
      ['17-narrow-events', '#/events', 'Events'],
    ] as const) {
      await narrow.goto(`${base}/_coffer/console/${hash}`);
      await narrow.getByRole('heading', { name: heading, exact: true }).waitFor();
      const overflow = await narrow.evaluate(
        () =>
          (
            globalThis as unknown as {
              document: { documentElement: { scrollWidth: number } };
              innerWidth: number;
            }
          ).document.documentElement.scrollWidth -
          (globalThis as unknown as { innerWidth: number }).innerWidth,
      );
      expect(overflow, name).toBeLessThanOrEqual(0);
      await shot(name, narrow);
    }
    await narrow.close();
    writeFileSync(
      path.join(ARTIFACTS, 'README.txt'),
      'Screenshots of each console page, written by service/test/browser/console.test.ts\n',
    );
  });
});
