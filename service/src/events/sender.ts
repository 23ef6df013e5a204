/**
 * One webhook request: the message as JSON, POSTed with what lets the receiver trust it. HMAC targets
 * sign `<timestamp>.<body>` with SHA-256 (X-Coffer-Signature: t=<unix seconds>,v1=<hex>), so a receiver
 * can check the body and refuse an old replay; bearer targets send Authorization: Bearer <token>.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { SendableTarget } from './targets.js';

export const SIGNATURE_HEADER = 'x-coffer-signature';

/** The signature header's value for `body` sent at `time` (seconds since the epoch). */
export function signature(secret: string, time: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${time}.${body}`).digest('hex');
  return `t=${time},v1=${mac}`;
}

export interface Sent {
  ok: boolean;
  /** For a failure: one line, what went wrong. */
  error?: string;
}

/** POSTs `body` to the target; ok for any 2xx answer within `timeoutMs`. Never throws. */
export function send(
  target: SendableTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  now = Date.now(),
): Promise<Sent> {
  const url = new URL(target.url);
  const all: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'Coffer-Events/1',
    ...headers,
  };
  if (target.auth === 'bearer' && target.secret) all.authorization = `Bearer ${target.secret}`;
  if (target.auth === 'hmac' && target.secret)
    all[SIGNATURE_HEADER] = signature(target.secret, Math.floor(now / 1000), body);
  const options: https.RequestOptions = { method: 'POST', headers: all, timeout: timeoutMs };
  if (url.protocol === 'https:' && target.caBundle) options.ca = target.caBundle;
  return new Promise((resolve) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (c: Buffer) => {
        // Only the start of an error page is kept for the message.
        if (length < 512) chunks.push(c);
        length += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve({ ok: true });
        const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
        resolve({ ok: false, error: `HTTP ${status}${text ? `: ${text}` : ''}` });
      });
      res.on('error', (err) => resolve({ ok: false, error: errorLine(err) }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, error: errorLine(err) }));
    req.end(body);
  });
}

/** One line for an operator: a connection failure's message, or its code when it has none (AggregateError). */
function errorLine(err: Error): string {
  return err.message || (err as NodeJS.ErrnoException).code || String(err);
}
