import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { requireBinary } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';

const hasChromium = requireBinary('chromium');

/** An HTML form on another origin posts a file straight to a bucket (POST Object), as a web app's upload page does. */
describe.skipIf(!hasChromium)('browser form upload in Chromium', () => {
  let env: TestEnv;
  let gw: RunningGateway;
  let s3: S3Client;
  let browser: Browser;
  let app: http.Server;
  let appOrigin = '';
  let page = '';

  beforeAll(async () => {
    env = await createTestEnv();
    gw = await startGateway(env.env);
    s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
    await s3.send(new CreateBucketCommand({ Bucket: 'inbox' }));
    // The web app: one page with the signed form, and the page the upload redirects to.
    app = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(req.url?.startsWith('/done') ? '<h1>Thank you</h1>' : page);
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless=new'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => app?.close(r));
    await gw?.close();
    await env?.stop();
  });

  it('uploads the chosen file and lands on success_action_redirect with its key and ETag', async () => {
    const post = await createPresignedPost(s3, {
      Bucket: 'inbox',
      Key: 'scans/${filename}',
      Conditions: [
        ['content-length-range', 1, 1024 * 1024],
        ['starts-with', '$key', 'scans/'],
      ],
      Fields: { success_action_redirect: `${appOrigin}/done` },
      Expires: 300,
    });
    const inputs = Object.entries(post.fields)
      .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`)
      .join('');
    page = `<form method="post" action="${post.url}" enctype="multipart/form-data">${inputs}
      <input type="file" name="file" aria-label="Scan"><button>Upload</button></form>`;
    const tab = await browser.newPage();
    await tab.goto(appOrigin);
    await tab.getByLabel('Scan').setInputFiles({
      name: 'invoice 7.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4 scanned'),
    });
    await Promise.all([tab.waitForURL(/\/done\?/), tab.getByRole('button', { name: 'Upload' }).click()]);
    const landed = new URL(tab.url());
    expect(landed.searchParams.get('bucket')).toBe('inbox');
    expect(landed.searchParams.get('key')).toBe('scans/invoice 7.pdf');
    expect(landed.searchParams.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await tab.getByRole('heading').textContent()).toBe('Thank you');
    const got = await s3.send(new GetObjectCommand({ Bucket: 'inbox', Key: 'scans/invoice 7.pdf' }));
    expect(await got.Body!.transformToString()).toBe('%PDF-1.4 scanned');
  });
});
