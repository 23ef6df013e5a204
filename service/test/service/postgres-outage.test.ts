import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { errorCode, signedFetch } from '../support/signed-fetch.js';

/** A real Postgres that the test stops and freezes under a running gateway. */
let env: TestEnv;
let gw: RunningGateway;
/** The gateway's log lines (JSON). */
const logged: string[] = [];

beforeAll(async () => {
  env = await createTestEnv({
    DB_CONNECT_TIMEOUT_SECONDS: '2',
    DB_ACQUIRE_TIMEOUT_SECONDS: '2',
    DB_STATEMENT_TIMEOUT_SECONDS: '2',
    // The event worker tries ten times a second: several times in any outage below.
    EVENT_POLL_MS: '100',
  });
  gw = await startGateway({ ...env.env, LOG_LEVEL: 'info' }, { write: (line) => void logged.push(line) });
  expect((await signedFetch(gw.endpoint, env.creds[0]!, { method: 'PUT', path: '/outage' })).status).toBe(
    200,
  );
  const put = await signedFetch(gw.endpoint, env.creds[0]!, {
    method: 'PUT',
    path: '/outage/k',
    body: 'kept',
  });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await gw?.close();
  await env?.stop();
});

/** A request that must answer within `ms`: a hang fails the test instead of stalling it. */
async function timed<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await work(AbortSignal.timeout(ms));
  return { value, ms: Date.now() - started };
}

async function signedGet(signal: AbortSignal) {
  return Promise.race([
    signedFetch(gw.endpoint, env.creds[0]!, { path: '/outage/k' }),
    new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => reject(new Error('request hung'))),
    ),
  ]);
}

function processTree(root: number): number[] {
  const children = execFileSync('pgrep', ['-P', String(root)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter(Boolean);
  return [root, ...children.map(Number)];
}

describe('Postgres outages', () => {
  it('answers 503 ServiceUnavailable with Retry-After while Postgres is stopped, and recovers without a restart', async () => {
    await env.pg.shutDown();
    try {
      const { value: res, ms } = await timed(10_000, signedGet);
      expect(res.status).toBe(503);
      expect(errorCode(res.text)).toBe('ServiceUnavailable');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(ms).toBeLessThan(8_000);
      const ready = await timed(10_000, (signal) => fetch(`${gw.endpoint}/ready`, { signal }));
      expect(ready.value.status).toBe(503);
    } finally {
      await env.pg.start();
    }
    const again = await timed(15_000, signedGet);
    expect(again.value.status).toBe(200);
    expect(again.value.text).toBe('kept');
    expect((await fetch(`${gw.endpoint}/ready`)).status).toBe(200);
    // The event worker tried every second meanwhile: it said so once, and says when it works again.
    await expect
      .poll(() => logged.filter((l) => l.includes('event delivery works again')).length, { timeout: 10_000 })
      .toBe(1);
    expect(logged.filter((l) => l.includes('event delivery stopped')).length).toBe(1);
  });

  it('answers 503 within seconds while Postgres is frozen (SIGSTOP), and recovers when it thaws', async () => {
    const pids = processTree(await env.pg.pid());
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    try {
      const { value: res, ms } = await timed(15_000, signedGet);
      expect(res.status).toBe(503);
      expect(errorCode(res.text)).toBe('ServiceUnavailable');
      expect(ms).toBeLessThan(8_000);
      const write = await timed(15_000, (signal) =>
        Promise.race([
          signedFetch(gw.endpoint, env.creds[0]!, { method: 'PUT', path: '/outage/new', body: 'x' }),
          new Promise<never>((_, reject) =>
            signal.addEventListener('abort', () => reject(new Error('hung'))),
          ),
        ]),
      );
      expect(write.value.status).toBe(503);
      const ready = await timed(15_000, (signal) => fetch(`${gw.endpoint}/ready`, { signal }));
      expect(ready.value.status).toBe(503);
      expect(ready.ms).toBeLessThan(8_000);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await timed(15_000, signedGet)).value.status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });
});
