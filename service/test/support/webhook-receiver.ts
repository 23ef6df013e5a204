/**
 * A webhook receiver as a user would run one: an HTTP server that records each message, checks its
 * HMAC signature the way the README tells receivers to, and answers as the test says (ok, fail, hang).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { EventRecord } from '../../src/events/message.js';

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The S3 event record the message carries. */
  record: EventRecord;
  /** The signature matched the body (HMAC targets), checked as a receiver would. */
  verified: boolean;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** ok: 200; fail: 503; hang: never answers. */
  mode: 'ok' | 'fail' | 'hang';
  /** Requests held unanswered (mode hang). */
  readonly held: number;
  close(): Promise<void>;
  /** Resolves once `n` messages have arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<Received[]>;
}

/** Checks `t=<seconds>,v1=<hex>` against HMAC-SHA256(secret, "<t>.<body>"), as the README documents. */
export function verifySignature(header: string | undefined, secret: string, body: string): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** With `tls`, an https receiver presenting that key and certificate. */
export async function startReceiver(
  secret?: string,
  opts: { port?: number; tls?: { key: string; cert: string } } = {},
): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  const waiters: Array<() => void> = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    received: [],
    mode: 'ok',
    get held() {
      return hanging.size;
    },
    close: () =>
      new Promise((resolve) => {
        for (const res of hanging) res.socket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    waitFor(n, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${receiver.received.length} of ${n} messages arrived in ${ms} ms`)),
          ms,
        );
        const check = () => {
          if (receiver.received.length < n) return waiters.push(check);
          clearTimeout(timer);
          resolve(receiver.received);
        };
        check();
      });
    },
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (receiver.mode === 'hang') return hanging.add(res);
      if (receiver.mode === 'fail') return res.writeHead(503).end('receiver unavailable');
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = secret
        ? verifySignature(req.headers['x-coffer-signature'] as string, secret, body)
        : false;
      receiver.received.push({ headers: req.headers, body, record: JSON.parse(body).Records[0], verified });
      res.writeHead(200).end();
      for (const w of waiters.splice(0)) w();
    });
  };
  const server = opts.tls ? https.createServer(opts.tls, handle) : http.createServer(handle);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `${opts.tls ? 'https' : 'http'}://${opts.tls ? 'localhost' : '127.0.0.1'}:${receiver.port}/hook`;
  return receiver;
}
