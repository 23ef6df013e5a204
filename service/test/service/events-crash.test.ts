import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { createTestEnv, startGatewayProcess, type TestEnv } from '../support/gateway.js';
import { createHmacWebhook, managementClient } from '../support/management.js';
import { pathStyleClient } from '../support/s3-client.js';
import { sql } from '../support/sql.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const SECRET = randomBytes(24).toString('base64url');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let env: TestEnv;
let receiver: Receiver;

beforeAll(async () => {
  env = await createTestEnv({
    EVENT_POLL_MS: '100',
    EVENT_RETRY_BASE_MS: '100',
    EVENT_RETRY_MAX_SECONDS: '1',
  });
  receiver = await startReceiver(SECRET);
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

describe('event delivery across crashes and gateways', () => {
  it('delivers, after a restart, a change whose message was in flight when the gateway was killed', async () => {
    const port = await freePort();
    let gw = await startGatewayProcess(env.env, port);
    try {
      const call = managementClient(gw.endpoint, { key: env.admin.apiKey });
      const arn = await createHmacWebhook(call, {
        name: 'hook',
        accessKey: env.creds[0]!.accessKeyId,
        url: receiver.url,
        secret: SECRET,
      });
      const s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
      await s3.send(new CreateBucketCommand({ Bucket: 'crash-events' }));
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'crash-events',
          NotificationConfiguration: {
            QueueConfigurations: [{ QueueArn: arn, Events: ['s3:ObjectCreated:*'] }],
          },
        }),
      );
      receiver.mode = 'hang';
      await s3.send(new PutObjectCommand({ Bucket: 'crash-events', Key: 'in-flight', Body: 'x' }));
      for (let i = 0; i < 100 && receiver.held === 0; i++) await sleep(50);
      expect(receiver.held).toBe(1);
      await gw.stop();
      const waiting = await sql(env.pg.url, 'SELECT key, state FROM event_deliveries');
      expect(waiting).toEqual([{ key: 'in-flight', state: 'pending' }]);
      receiver.mode = 'ok';
      gw = await startGatewayProcess(env.env, port);
      const [m] = await receiver.waitFor(1);
      expect(m!.verified).toBe(true);
      expect(m!.record).toMatchObject({
        eventName: 'ObjectCreated:Put',
        s3: { object: { key: 'in-flight' } },
      });
      await sleep(500);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await gw.stop();
    }
  });

  it('sends each message once with two gateways on one database', async () => {
    receiver.received.length = 0;
    const gateways = [
      await startGatewayProcess(env.env, await freePort()),
      await startGatewayProcess(env.env, await freePort()),
    ];
    try {
      const clients = gateways.map((g) => pathStyleClient(g.endpoint, env.creds[0]!));
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          clients[i % 2]!.send(
            new PutObjectCommand({ Bucket: 'crash-events', Key: `both/${i}`, Body: `${i}` }),
          ),
        ),
      );
      await receiver.waitFor(40);
      await sleep(1000);
      const keys = receiver.received.map((m) => m.record.s3.object.key);
      expect(keys).toHaveLength(40);
      expect(new Set(keys).size).toBe(40);
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  });
});
