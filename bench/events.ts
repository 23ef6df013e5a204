/**
 * What bucket events cost small writes, and how soon their messages arrive: 4 KiB PUTs into a bucket
 * without and with a notification rule (alternating, medians), a local webhook receiver that answers 200,
 * and the time from the last PUT until the outbox is empty (every message delivered).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { makeClient, Target } from './client.js';
import { smallOps, type Rate } from './load.js';
import { median } from './timing.js';

type Client = ReturnType<typeof makeClient>;

export interface EventCost {
  plain: number;
  notified: number;
  /** Seconds from the last PUT until no event or message was left, per notified round. */
  drainSeconds: number;
  /** Messages the receiver took, all rounds. */
  received: number;
}

/** The receiver: counts what arrives, answers 200. */
async function receiver(): Promise<{ url: string; count: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    count: () => n,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The webhooks file a gateway of this run declares its target from (WEBHOOKS_FILE). */
export async function benchWebhooks(
  dir: string,
  user: string,
): Promise<{ env: Record<string, string>; close(): Promise<void>; count(): number }> {
  const r = await receiver();
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'webhooks.json');
  await writeFile(
    file,
    JSON.stringify([
      { name: 'bench', user, url: r.url, auth: 'hmac', secret: 'bench-hmac-secret-0123456789' },
    ]),
  );
  return { env: { WEBHOOKS_FILE: file }, close: r.close, count: r.count };
}

const RULE = `<NotificationConfiguration><QueueConfiguration><Id>bench</Id>
  <Queue>arn:coffer:sqs:us-east-1:bench:webhook</Queue><Event>s3:ObjectCreated:*</Event>
</QueueConfiguration></NotificationConfiguration>`;

export async function eventCost(
  client: Client,
  t: Target,
  databaseUrl: string,
  count: () => number,
  load: { body: Buffer; keys: number; seconds: number; concurrency: number },
  rounds: number,
): Promise<EventCost> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const samples: Record<'plain' | 'notified', Rate[]> = { plain: [], notified: [] };
  const drains: number[] = [];
  try {
    await client.ok(t, 'PUT', '/bench');
    for (let i = 0; i < rounds; i++) {
      await client.ok(t, 'PUT', '/bench?notification', Buffer.from('<NotificationConfiguration/>'));
      samples.plain.push(await smallOps(client, t, 'PUT', load));
      await client.ok(t, 'PUT', '/bench?notification', Buffer.from(RULE));
      samples.notified.push(await smallOps(client, t, 'PUT', load));
      const done = Date.now();
      for (;;) {
        const { rows } = await db.query(
          'SELECT (SELECT count(*) FROM bucket_events) + (SELECT count(*) FROM event_deliveries) AS n',
        );
        if (Number(rows[0].n) === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      drains.push((Date.now() - done) / 1000);
    }
  } finally {
    await db.end();
  }
  return {
    plain: median(samples.plain.map((s) => s.rate)),
    notified: median(samples.notified.map((s) => s.rate)),
    drainSeconds: median(drains),
    received: count(),
  };
}
