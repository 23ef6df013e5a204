import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlobBackend, BlobEntry } from '../../src/blobs/backend.js';
import { BLOB_BACKENDS, createBlobBackend, type BlobBackendKind } from '../../src/blobs/backends.js';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3BackendSettings } from '../../src/blobs/s3-backend.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { signedFetch } from '../support/signed-fetch.js';

/**
 * What every BlobBackend must do for the sealing layer and the collector above it: nothing readable
 * before commit, everything readable (by a fresh instance) after it, exact range reads, idempotent
 * deletes, a listing with ages, and a crash before commit leaving only garbage the listing reports as
 * such. Each backend BLOB_BACKEND accepts runs this suite.
 */
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * The remote store the s3 backend is tested against: a real S3 server, an independent Coffer gateway with
 * its own Postgres (Ceph RGW is the deployment suite's), started once for the suite.
 */
let store: { env: TestEnv; gateway: RunningGateway } | undefined;
let buckets = 0;
afterAll(async () => {
  await store?.gateway.close();
  await store?.env.stop();
});

async function s3Settings(): Promise<S3BackendSettings> {
  // BLOB_CONTRACT_STORE='{"endpoint","accessKeyId","secretAccessKey"}' runs the suite against another store
  // (Ceph RGW from ../shared/peers/rgw, say); a fresh bucket per backend.
  const external = process.env.BLOB_CONTRACT_STORE;
  if (external) {
    const s = JSON.parse(external) as Omit<S3BackendSettings, 'bucket' | 'region'>;
    const bucket = `coffer-contract-${randomBytes(4).toString('hex')}`;
    const client = new S3Client({
      endpoint: s.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    return { ...s, bucket, region: 'us-east-1' };
  }
  if (!store) {
    const env = await createTestEnv();
    store = { env, gateway: await startGateway(env.env) };
  }
  const { env, gateway } = store;
  const bucket = `blobs-${++buckets}`;
  const created = await signedFetch(gateway.endpoint, env.creds[0]!, { method: 'PUT', path: `/${bucket}` });
  expect(created.status).toBe(200);
  return {
    endpoint: gateway.endpoint,
    bucket,
    region: 'us-east-1',
    accessKeyId: env.creds[0]!.accessKeyId,
    secretAccessKey: env.creds[0]!.secretAccessKey,
  };
}

/** A fresh backend of `kind`; `again()` opens a second instance on the same storage, as a restart would. */
async function provision(kind: BlobBackendKind, directIo?: 'off') {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `coffer-backend-${kind}-`));
  dirs.push(dataDir);
  const s3 = kind === 's3' ? await s3Settings() : undefined;
  const again = async () => {
    const b = createBlobBackend({ kind, dataDir, s3, directIo });
    await b.init();
    return b;
  };
  return { dataDir, s3, backend: await again(), again };
}

async function listAll(backend: BlobBackend): Promise<BlobEntry[]> {
  const out: BlobEntry[] = [];
  for await (const e of backend.list()) out.push(e);
  return out;
}

async function readAll(
  backend: BlobBackend,
  name: string,
  length: number,
  offset = 0,
  len = length - offset,
) {
  const src = await backend.open(name, length);
  try {
    return await src.read(offset, len);
  } finally {
    await src.close();
  }
}

async function stored(backend: BlobBackend, data: Buffer, pieces = 3): Promise<string> {
  const sink = await backend.create();
  const step = Math.ceil(data.length / pieces);
  for (let i = 0; i < data.length; i += step) await sink.write([data.subarray(i, i + step)]);
  await sink.commit();
  return sink.name;
}

// The filesystem backend a second time through the page cache only: by default it uses O_DIRECT where it can.
const VARIANTS = [
  ...BLOB_BACKENDS.map((kind) => ({ kind, directIo: undefined })),
  { kind: 'fs', directIo: 'off' },
] as const;

for (const { kind, directIo } of VARIANTS) {
  describe(`BlobBackend contract: ${kind}${directIo ? ` with BLOB_DIRECT_IO=${directIo}` : ''}`, () => {
    it('names blobs with fresh random ids and makes nothing readable before commit', async () => {
      const { backend } = await provision(kind, directIo);
      const sink = await backend.create();
      const other = await backend.create();
      expect(sink.name).toMatch(/^[0-9a-f]{32}$/);
      expect(other.name).not.toBe(sink.name);
      await sink.write([Buffer.from('sealed bytes')]);
      await expect(backend.open(sink.name, 12)).rejects.toThrow();
      const pending = (await listAll(backend)).filter((e) => e.name === sink.name);
      expect(pending).toEqual([expect.objectContaining({ pending: true })]);
      await sink.abort();
      await other.abort();
      expect(await listAll(backend)).toEqual([]);
    });

    it('keeps a committed blob for a fresh instance (a restart), byte-exact, with exact range reads', async () => {
      const { backend, again } = await provision(kind, directIo);
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const name = await stored(backend, data, 7);
      const reopened = await again();
      expect((await readAll(reopened, name, data.length)).equals(data)).toBe(true);
      for (const [off, len] of [
        [0, 1],
        [1, 100],
        [1024 * 1024 - 3, 10],
        [data.length - 1, 1],
      ] as const)
        expect(
          (await readAll(reopened, name, data.length, off, len)).equals(data.subarray(off, off + len)),
        ).toBe(true);
      // A blob whose stored length differs from what metadata says is refused, not silently short.
      await expect(reopened.open(name, data.length + 1)).rejects.toThrow();
      const listed = (await listAll(reopened)).find((e) => e.name === name);
      expect(listed).toMatchObject({ pending: false });
      expect(Math.abs(listed!.modifiedMs - Date.now())).toBeLessThan(60_000);
    });

    it('restores a blob under the name metadata knows, and never over one that exists', async () => {
      const { backend, again } = await provision(kind, directIo);
      const data = randomBytes(70_000);
      const name = randomBytes(16).toString('hex');
      const sink = await backend.create(name);
      expect(sink.name).toBe(name);
      await sink.write([data]);
      await expect(backend.open(name, data.length)).rejects.toThrow();
      await sink.commit();
      expect((await readAll(await again(), name, data.length)).equals(data)).toBe(true);
      await expect(backend.create(name)).rejects.toThrow(/already exists/);
      await expect(backend.create('../../etc/passwd')).rejects.toThrow();
      expect((await readAll(backend, name, data.length)).equals(data)).toBe(true);
    });

    it('deletes idempotently and lets the collector discard what it listed', async () => {
      const { backend } = await provision(kind, directIo);
      const a = await stored(backend, randomBytes(1000));
      const b = await stored(backend, randomBytes(1000));
      await backend.delete(a);
      await backend.delete(a);
      await expect(backend.open(a, 1000)).rejects.toThrow();
      const entry = (await listAll(backend)).find((e) => e.name === b)!;
      await backend.discard(entry);
      expect(await listAll(backend)).toEqual([]);
    });

    it('leaves after a crash between write and commit only a pending entry the collector can discard', async () => {
      const { dataDir, s3, backend, again } = await provision(kind, directIo);
      const kept = await stored(backend, randomBytes(4096));
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.resolve(import.meta.dirname, '../support/blob-writer-child.ts'),
          kind,
          dataDir,
          '2000000',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          env: { ...process.env, BLOB_S3_SETTINGS: JSON.stringify(s3 ?? {}) },
        },
      );
      const name = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const after = await again();
      await expect(after.open(name, 2_000_000)).rejects.toThrow();
      const entries = await listAll(after);
      expect(entries.find((e) => e.name === name)).toMatchObject({ pending: true });
      for (const e of entries.filter((x) => x.pending)) await after.discard(e);
      expect((await listAll(after)).map((e) => [e.name, e.pending])).toEqual([[kept, false]]);
    });
  });
}
