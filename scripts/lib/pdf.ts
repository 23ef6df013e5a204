/**
 * HTML to PDF through a Chromium already on the machine (Debian's), driven by playwright-core: nothing is
 * downloaded, and without a browser the caller keeps the HTML alone.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Where Debian (and most distributions) install Chromium; CHROMIUM_PATH names another. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

/** Prints `html` to an A4 landscape PDF at `out` (created, never overwritten). */
export async function renderPdf(html: string, out: string, executablePath: string): Promise<void> {
  if (existsSync(out)) throw new Error(`${out} exists; the report never overwrites a file`);
  const browser = await chromium.launch({ executablePath, args: ARGS });
  try {
    const page = await browser.newPage();
    // The page is self-contained: no request may leave it while it renders.
    await page.route('**/*', (route) => route.abort());
    await page.setContent(html, { waitUntil: 'load' });
    await page.pdf({ path: out, format: 'A4', landscape: true, printBackground: true });
  } finally {
    await browser.close();
  }
}
