import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { createTestEnv, startGateway, type TestEnv } from '../support/gateway.js';
import { signedFetch } from '../support/signed-fetch.js';
import { sql } from '../support/sql.js';

const MAIN = path.resolve(import.meta.dirname, '../../dist/main.js');
let env: TestEnv;
let port: number;
let endpoint: string;
let child: ChildProcess | undefined;

async function startChild(): Promise<void> {
  child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env.env, PORT: String(port), GATEWAY_WORKERS: '1' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${endpoint}/health`)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not become healthy');
}

function killChild(): Promise<void> {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What a key may hold after a crash: its last acknowledged state, or the one in flight when the process died. */
interface KeyState {
  acked: string | null;
  pending?: string | null;
}

beforeAll(async () => {
  env = await createTestEnv();
  port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  await startChild();
  const res = await signedFetch(endpoint, env.creds[0]!, { method: 'PUT', path: '/crash' });
  expect(res.status).toBe(200);
  expect((await signedFetch(endpoint, env.creds[0]!, { method: 'PUT', path: '/crashv' })).status).toBe(200);
  const versioning = await signedFetch(endpoint, env.creds[0]!, {
    method: 'PUT',
    path: '/crashv?versioning',
    body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
  });
  expect(versioning.status).toBe(200);
});

/**
 * Rounds of concurrent PUT / overwrite / DELETE on `bucket`, each ended by kill -9 and a restart, then
 * every key checked: its last acknowledged state or the one in flight, never anything torn. In a
 * versioned bucket every acknowledged version must also still read back byte-exact by its id.
 */
async function crashRounds(bucket: string, versions?: Map<string, string>): Promise<void> {
  const keys = Array.from({ length: 48 }, (_, i) => `k/${i}`);
  const state = new Map<string, KeyState>(keys.map((k) => [k, { acked: null }]));
  let acknowledged = 0;

  for (let round = 0; round < 4; round++) {
    let stop = false;
    const worker = async (mine: string[]) => {
      while (!stop) {
        const key = mine[randomInt(mine.length)]!;
        const s = state.get(key)!;
        const del = s.acked !== null && randomInt(4) === 0;
        const body = del
          ? undefined
          : randomBytes(randomInt(3) === 0 ? randomInt(150_000, 1_200_000) : randomInt(0, 4096));
        s.pending = body ? digest(body) : null;
        try {
          const res = await signedFetch(endpoint, env.creds[0]!, {
            method: del ? 'DELETE' : 'PUT',
            path: `/${bucket}/${key}`,
            body,
          });
          if (res.status === 200 || res.status === 204) {
            s.acked = s.pending;
            acknowledged++;
            const versionId = res.headers.get('x-amz-version-id');
            if (versions && body && versionId) versions.set(`${key}?versionId=${versionId}`, digest(body));
          }
          delete s.pending;
        } catch {
          return; // the gateway died mid-request: leave `pending` as the only other legal outcome
        }
      }
    };
    const workers = Array.from({ length: 12 }, (_, w) => worker(keys.filter((_, i) => i % 12 === w)));
    await new Promise((r) => setTimeout(r, randomInt(400, 1600)));
    await killChild();
    stop = true;
    await Promise.all(workers);
    await startChild();

    for (const key of keys) {
      const s = state.get(key)!;
      const got = await signedFetch(endpoint, env.creds[0]!, { path: `/${bucket}/${key}` });
      const now = got.status === 404 ? null : got.status === 200 ? digest(got.bytes) : `HTTP ${got.status}`;
      const allowed = [s.acked, ...('pending' in s ? [s.pending] : [])];
      expect(allowed, `${key} after round ${round}`).toContain(now);
      s.acked = now;
      delete s.pending;
    }
    for (const [version, want] of versions ?? []) {
      const got = await signedFetch(endpoint, env.creds[0]!, { path: `/${bucket}/${version}` });
      expect(
        got.status === 200 ? digest(got.bytes) : `HTTP ${got.status}`,
        `${version} after round ${round}`,
      ).toBe(want);
    }
  }
  expect(acknowledged).toBeGreaterThan(50);
}

/** With the gateway stopped, an in-process one runs the collector with no grace: nothing unreferenced may remain. */
async function expectNoOrphans(): Promise<void> {
  await killChild();
  const gw = await startGateway({ ...env.env, PORT: '0' });
  try {
    await gw.gateway.collector.runOnce(0);
    const dataDir = env.env.DATA_DIR!;
    expect(await readdir(path.join(dataDir, 'tmp'))).toEqual([]);
    const files: string[] = [];
    for (const d of await readdir(path.join(dataDir, 'blobs')))
      files.push(...(await readdir(path.join(dataDir, 'blobs', d))));
    // Checked with SQL of its own, not the store's referencedBlobs (the function the collector relies on).
    const rows = await sql<{ blob_id: string }>(
      env.pg.url,
      `SELECT blob_id FROM objects WHERE blob_id IS NOT NULL
       UNION ALL SELECT part->>'blobId' FROM objects CROSS JOIN LATERAL jsonb_array_elements(layout) AS part
       UNION ALL SELECT blob_id FROM object_versions WHERE blob_id IS NOT NULL
       UNION ALL SELECT part->>'blobId' FROM object_versions CROSS JOIN LATERAL jsonb_array_elements(layout) AS part
       UNION ALL SELECT blob_id FROM parts`,
    );
    const referenced = new Set(rows.map((r) => r.blob_id));
    expect(
      files.filter((f) => !referenced.has(f)),
      'blob files no row references',
    ).toEqual([]);
    expect(
      [...referenced].filter((b) => !files.includes(b)),
      'rows whose blob file is missing',
    ).toEqual([]);
    expect(await sql(env.pg.url, 'SELECT blob_id FROM blob_trash')).toEqual([]);
  } finally {
    await gw.close();
    await startChild();
  }
}

afterAll(async () => {
  await killChild();
  await env?.stop();
});

describe('kill -9 during concurrent PUT / overwrite / DELETE', () => {
  it('keeps every acknowledged write, never shows a torn object, and leaves no orphan after GC', async () => {
    await crashRounds('crash');
    await expectNoOrphans();
  });

  it('keeps every acknowledged version in a versioned bucket, none torn, and leaves no orphan after GC', async () => {
    const versions = new Map<string, string>();
    await crashRounds('crashv', versions);
    expect(versions.size).toBeGreaterThan(20);
    await expectNoOrphans();
  });

  it('kill -9 during CompleteMultipartUpload leaves either the upload or the whole object, never a torn one', async () => {
    const MiB = 1024 * 1024;
    for (let round = 0; round < 6; round++) {
      const key = `mp/${round}`;
      const created = await signedFetch(endpoint, env.creds[0]!, {
        method: 'POST',
        path: `/crash/${key}?uploads=`,
      });
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)![1]!;
      const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1000)];
      const etags: string[] = [];
      for (const [i, body] of parts.entries()) {
        const res = await signedFetch(endpoint, env.creds[0]!, {
          method: 'PUT',
          path: `/crash/${key}?partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`,
          body,
        });
        expect(res.status).toBe(200);
        etags.push(res.headers.get('etag')!);
      }
      const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const completing = signedFetch(endpoint, env.creds[0]!, {
        method: 'POST',
        path: `/crash/${key}?uploadId=${encodeURIComponent(uploadId)}`,
        body: xml,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, randomInt(0, 25)));
      await killChild();
      await completing;
      await startChild();
      const got = await signedFetch(endpoint, env.creds[0]!, { path: `/crash/${key}` });
      const listed = await signedFetch(endpoint, env.creds[0]!, {
        path: `/crash/${key}?uploadId=${encodeURIComponent(uploadId)}`,
      });
      if (got.status === 200) {
        expect(digest(got.bytes)).toBe(digest(Buffer.concat(parts)));
        expect(listed.status).toBe(404);
      } else {
        expect(got.status).toBe(404);
        expect(listed.status).toBe(200);
        expect(listed.text.match(/<PartNumber>/g)?.length).toBe(3);
      }
    }
  });
});
