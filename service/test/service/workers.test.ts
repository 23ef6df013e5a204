import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { MALLOC_TUNING } from '../../src/malloc-tuning.js';
import { createTestEnv, type TestEnv } from '../support/gateway.js';
import { signedFetch } from '../support/signed-fetch.js';

/**
 * GATEWAY_WORKERS: the built gateway as the image runs it, with two worker processes on one port. Which
 * process answered is read from the request logs (each line carries its pid).
 */
const MAIN = path.resolve(import.meta.dirname, '../../dist/main.js');
let env: TestEnv;
let endpoint: string;
let primary: ChildProcess;
const answeredBy = new Set<number>();
let stderr = '';

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = async () =>
  (await fetch(`${endpoint}/health`).catch(() => undefined))?.ok ? true : undefined;

function start(extra: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env.env, LOG_LEVEL: 'info', GATEWAY_WORKERS: '2', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as { pid?: number; bucket?: string };
      if (entry.bucket === 'spread' && entry.pid) answeredBy.add(entry.pid);
    } catch {
      /* not a log line */
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return child;
}

/** A request on a connection of its own: the primary hands each new connection to the next worker. */
const put = (key: string) =>
  signedFetch(endpoint, env.creds[0]!, {
    method: 'PUT',
    path: `/spread/${key}`,
    body: key,
    headers: { connection: 'close' },
  });

beforeAll(async () => {
  env = await createTestEnv();
  endpoint = `http://127.0.0.1:${await freePort()}`;
  primary = start({ PORT: new URL(endpoint).port });
  await until('the gateway to answer', healthy).catch((err: Error) => {
    throw new Error(`${err.message}: ${stderr}`);
  });
  expect((await signedFetch(endpoint, env.creds[0]!, { method: 'PUT', path: '/spread' })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  if (primary.exitCode === null) primary.kill('SIGKILL');
  await env?.stop();
});

describe('several gateway processes on one port', () => {
  it('serves from every worker, and replaces one killed with kill -9 while the other goes on serving', async () => {
    const workers = await until('two workers', () => {
      const pids = childrenOf(primary.pid!);
      return pids.length === 2 ? pids : undefined;
    });
    // Connections at once, as many clients make them: the kernel gives them to whichever worker accepts.
    // A worker still starting takes none yet (seen on a loaded CI machine): batches until both answered.
    await until('both workers to serve', async () => {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => put(`k${i}`)));
      expect(statuses.map((r) => r.status)).toEqual(Array(20).fill(200));
      return workers.every((pid) => answeredBy.has(pid)) ? true : undefined;
    });
    expect([...answeredBy].sort()).toEqual([...workers].sort());

    process.kill(workers[0]!, 'SIGKILL');
    // A connection the dying worker took is reset (a client retries it); once it is gone, nothing is lost.
    await until('the killed worker to be gone', () =>
      childrenOf(primary.pid!).includes(workers[0]!) ? undefined : true,
    );
    for (let i = 0; i < 10; i++) expect((await put(`during${i}`)).status).toBe(200);
    const replaced = await until('a replacement worker', () => {
      const pids = childrenOf(primary.pid!);
      return pids.length === 2 && !pids.includes(workers[0]!) ? pids : undefined;
    });
    expect(replaced).toContain(workers[1]);
    expect(stderr).toMatch(/worker 0 \(pid \d+\) ended with signal SIGKILL; starting another/);
    answeredBy.clear();
    await until('the replacement to serve', async () => {
      await Promise.all(Array.from({ length: 8 }, () => put('after')));
      return answeredBy.has(replaced.find((p) => p !== workers[1])!) ? true : undefined;
    });
    const got = await signedFetch(endpoint, env.creds[0]!, { path: '/spread/k7' });
    expect(got.text).toBe('k7');
  });

  it("counts every worker's requests in one /metrics scrape, whichever worker answers it", async () => {
    const scrape = async () => {
      const res = await fetch(`${endpoint}/_coffer/api/v1/metrics`, {
        headers: { authorization: `Bearer ${env.admin.apiKey}`, connection: 'close' },
      });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const m = /^coffer_s3_requests_total\{operation="PutObject",status="200"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await scrape();
    answeredBy.clear();
    let sent = 0;
    await until('both workers to serve', async () => {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, i) => put(`m${sent + i}`)));
      for (const r of batch) expect(r.status).toBe(200);
      sent += batch.length;
      return answeredBy.size === 2 ? true : undefined;
    });
    // Both processes answered PUTs; each scrape, whichever worker takes it, counts all of them.
    for (let i = 0; i < 4; i++) expect((await scrape()) - before).toBe(sent);
  });

  it('starts its workers with glibc malloc keeping freed memory for reuse (GLIBC_TUNABLES)', () => {
    const workers = childrenOf(primary.pid!);
    expect(workers).toHaveLength(2);
    for (const pid of workers) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      // glibc 2.36 cuts the variable short in place as it reads it: /proc then shows its first tunable only.
      const tuned = environ.find((v) => v.startsWith('GLIBC_TUNABLES='));
      expect(tuned).toMatch(/^GLIBC_TUNABLES=glibc\.malloc\.trim_threshold=\d+/);
      expect(MALLOC_TUNING.startsWith(tuned!.slice('GLIBC_TUNABLES='.length)), tuned).toBe(true);
    }
  });

  it('stops every worker and exits 0 on SIGTERM', async () => {
    const workers = childrenOf(primary.pid!);
    const exited = new Promise<number | null>((resolve) => primary.once('exit', resolve));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });

  it("gives up, with the worker's own reason and exit code, when a worker cannot start", async () => {
    stderr = '';
    // Nothing listens where the database should be: every worker fails as it starts.
    const nowhere = path.join(env.dir, 'nowhere_url.txt');
    writeFileSync(nowhere, `postgres://coffer:x@127.0.0.1:${await freePort()}/coffer`);
    const broken = start({
      PORT: String(await freePort()),
      DATABASE_URL_FILE: nowhere,
      DB_CONNECT_TIMEOUT_SECONDS: '1',
    });
    const code = await new Promise<number | null>((resolve) => broken.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/coffer: failed to start: /);
    expect(stderr).not.toMatch(/trying again/);
  }, 60_000);

  it('stops its workers when the primary is killed with kill -9, freeing the port', async () => {
    const port = String(await freePort());
    endpoint = `http://127.0.0.1:${port}`;
    const crashing = start({ PORT: port });
    await until('the gateway to answer', healthy);
    const workers = await until('two workers', () => {
      const pids = childrenOf(crashing.pid!);
      return pids.length === 2 ? pids : undefined;
    });
    crashing.kill('SIGKILL');
    await until('the workers to stop', () =>
      workers.every((pid) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      })
        ? true
        : undefined,
    );
    // Nothing holds the port any more: a new gateway can take it.
    const again = start({ PORT: port });
    try {
      await until('a new gateway on the same port', healthy);
    } finally {
      const exited = new Promise((resolve) => again.once('exit', resolve));
      again.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
