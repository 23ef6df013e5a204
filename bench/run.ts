/**
 * `npm run bench`: Coffer against s3rver on this machine, in one run, next to the disk's own fsync'd
 * sequential-write rate. Never part of `npm test`: figures, not assertions.
 */
import { authorizationCost } from './authorization.js';
import { FOLDERS, listingAtScale, PER_FOLDER } from './listing-scale.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import aws4 from 'aws4';
import pg from 'pg';
import { startEmbeddedPostgres } from '../scripts/lib/embedded-postgres.js';
import { freePort } from '../scripts/lib/free-port.js';

const MiB = 1024 * 1024;
const ROOT = path.resolve(import.meta.dirname, '..');
const SMALL = 4096;
const CONCURRENCY = 16;
const SMALL_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BIG = 256 * MiB;
const HUGE = 2048 * MiB;

interface Target {
  name: string;
  endpoint: URL;
  cred: { accessKeyId: string; secretAccessKey: string };
  pid: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(
  t: Target,
  method: string,
  p: string,
  body?: Buffer | (() => AsyncIterable<Buffer>),
  extraHeaders: Record<string, string> = {},
  bodyLength?: number,
): Promise<{ status: number; bytes: number }> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (bodyLength !== undefined) headers['content-length'] = String(bodyLength);
  const signed = aws4.sign(
    {
      host: t.endpoint.host,
      method,
      path: p,
      service: 's3',
      region: 'us-east-1',
      headers,
      body: Buffer.isBuffer(body) ? body : undefined,
    },
    t.cred,
  );
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: t.endpoint.hostname,
        port: t.endpoint.port,
        method,
        path: p,
        headers: signed.headers as Record<string, string>,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if ((res.statusCode ?? 0) >= 300 && process.env.BENCH_DEBUG) process.stderr.write(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body) {
      (async () => {
        for await (const chunk of body())
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch(reject);
    } else req.end();
  });
}

async function expectOk(p: Promise<{ status: number; bytes: number }>, what: string) {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what} answered HTTP ${r.status}`);
  return r;
}

/** Small-object ops/s; GETs only read keys the PUT phase wrote. */
async function opsPerSecond(t: Target, op: 'PUT' | 'GET', keys: number): Promise<number> {
  const body = randomBytes(SMALL);
  let done = 0;
  let next = 0;
  const deadline = Date.now() + SMALL_SECONDS * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) {
        const key = `small/${next++ % keys}`;
        if (op === 'PUT') await expectOk(request(t, 'PUT', `/bench/${key}`, body), 'small PUT');
        else await expectOk(request(t, 'GET', `/bench/${key}`), 'small GET');
        done++;
      }
    }),
  );
  return done / ((Date.now() - started) / 1000);
}

function* slices(data: Buffer): Generator<Buffer> {
  for (let i = 0; i < data.length; i += MiB) yield data.subarray(i, i + MiB);
}

async function* repeated(block: Buffer, total: number): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += block.length)
    yield block.subarray(0, Math.min(block.length, total - sent));
}

/** Sequential 1 MiB writes of 256 MiB followed by fdatasync: what the disk gives an fsync'ing writer. */
async function diskRate(dir: string): Promise<number> {
  const file = path.join(dir, 'disk-rate.bin');
  const block = randomBytes(MiB);
  const fh = await open(file, 'w');
  const started = process.hrtime.bigint();
  for (let i = 0; i < BIG / MiB; i++) await fh.write(block);
  await fh.datasync();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  await fh.close();
  await rm(file);
  return BIG / MiB / secs;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not come up`);
}

async function startCoffer(
  dir: string,
  databaseUrl: string,
): Promise<{ target: Target; proc: ChildProcess }> {
  const port = await freePort();
  // Later gateways of the run use the same database: they must find the same master key and credential.
  const credFile = path.join(dir, 'creds.json');
  if (!existsSync(credFile)) {
    await writeFile(path.join(dir, 'master.key'), randomBytes(32).toString('hex'));
    await writeFile(
      credFile,
      JSON.stringify([{ client_id: 'AKIABENCH', client_secret: randomBytes(20).toString('hex') }]),
    );
  }
  const [entry] = JSON.parse(await readFile(credFile, 'utf8')) as Array<{
    client_id: string;
    client_secret: string;
  }>;
  const cred = { accessKeyId: entry!.client_id, secretAccessKey: entry!.client_secret };
  // BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof") profiles the gateway without touching the load generator.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'service/dist/main.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: path.join(dir, 'coffer-data'),
      MASTER_KEY_FILE: path.join(dir, 'master.key'),
      CREDENTIALS_FILE: path.join(dir, 'creds.json'),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const target = { name: 'coffer', endpoint: new URL(`http://127.0.0.1:${port}`), cred, pid: proc.pid! };
  await waitHttp(`${target.endpoint}health`);
  return { target, proc };
}

async function startS3rver(dir: string): Promise<{ target: Target; proc: ChildProcess }> {
  const port = await freePort();
  const script = `import S3rver from 's3rver'; await new S3rver({ port: ${port}, address: '127.0.0.1', directory: ${JSON.stringify(
    path.join(dir, 's3rver-data'),
  )}, silent: true }).run();`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const target = {
    name: 's3rver',
    endpoint: new URL(`http://127.0.0.1:${port}`),
    cred: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    pid: proc.pid!,
  };
  await waitHttp(target.endpoint.toString());
  return { target, proc };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bigPut(t: Target, big: Buffer, bigMd5: string): Promise<number> {
  const started = process.hrtime.bigint();
  const body = () =>
    (async function* () {
      yield* slices(big);
    })();
  await expectOk(
    request(
      t,
      'PUT',
      '/bench/big',
      body,
      { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-md5': bigMd5 },
      BIG,
    ),
    'big PUT',
  );
  return BIG / MiB / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function bigGet(t: Target): Promise<number> {
  const started = process.hrtime.bigint();
  const got = await expectOk(request(t, 'GET', '/bench/big'), 'big GET');
  if (got.bytes !== BIG) throw new Error(`${t.name} returned ${got.bytes} bytes for the big object`);
  return BIG / MiB / (Number(process.hrtime.bigint() - started) / 1e9);
}

interface Figures {
  putOps: number;
  getOps: number;
  putMBs: number;
  getMBs: number;
}

/**
 * Each measurement alternates between the two servers, ROUNDS times, and keeps the median: page-cache
 * writeback and Postgres checkpoints on a shared 2-core VM otherwise decide who "wins" a single run.
 */
async function compare(targets: Target[], big: Buffer, bigMd5: string): Promise<Figures[]> {
  const samples = targets.map(() => ({
    putOps: [] as number[],
    getOps: [] as number[],
    putMBs: [] as number[],
    getMBs: [] as number[],
  }));
  for (const t of targets) await expectOk(request(t, 'PUT', '/bench'), 'create bucket');
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, t] of targets.entries()) samples[i]!.putOps.push(await opsPerSecond(t, 'PUT', 2000));
    for (const [i, t] of targets.entries())
      samples[i]!.getOps.push(
        await opsPerSecond(
          t,
          'GET',
          Math.min(2000, Math.floor(Math.min(...samples.map((x) => x.putOps[0]!)) * SMALL_SECONDS)),
        ),
      );
    for (const [i, t] of targets.entries()) samples[i]!.putMBs.push(await bigPut(t, big, bigMd5));
    for (const [i, t] of targets.entries()) samples[i]!.getMBs.push(await bigGet(t));
  }
  return samples.map((x) => ({
    putOps: median(x.putOps),
    getOps: median(x.getOps),
    putMBs: median(x.putMBs),
    getMBs: median(x.getMBs),
  }));
}

async function hugeUploadRss(dir: string, databaseUrl: string, size: number): Promise<number> {
  const { target, proc } = await startCoffer(dir, databaseUrl);
  try {
    await expectOk(request(target, 'PUT', `/huge-${size}`), 'create bucket');
    const block = randomBytes(MiB);
    const md5 = createHash('md5');
    for (let s = 0; s < size; s += MiB) md5.update(block);
    await expectOk(
      request(
        target,
        'PUT',
        `/huge-${size}/object`,
        () => repeated(block, size),
        {
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          'content-md5': md5.digest('base64'),
        },
        size,
      ),
      'huge PUT',
    );
    return await peakRss(target.pid);
  } finally {
    proc.kill('SIGTERM');
  }
}

const LIST_KEYS = 1000;
const NONCURRENT = Number(process.env.BENCH_NONCURRENT ?? 100_000);

/**
 * ListObjectsV2 of 1,000 keys in an unversioned bucket and in a versioned one whose keys also have
 * NONCURRENT old versions (seeded in SQL, as many PUTs would leave them): the median of 20 full listings each.
 */
async function listingBesideVersions(
  t: Target,
  databaseUrl: string,
): Promise<{ plainMs: number; versionedMs: number; versionsMs: number }> {
  const body = randomBytes(SMALL);
  for (const bucket of ['list-plain', 'list-versioned']) {
    await expectOk(request(t, 'PUT', `/${bucket}`), `create ${bucket}`);
    if (bucket === 'list-versioned') {
      const conf = Buffer.from('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
      await expectOk(request(t, 'PUT', `/${bucket}?versioning`, conf), 'enable versioning');
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < LIST_KEYS) {
          const key = `k/${String(next++).padStart(5, '0')}`;
          await expectOk(request(t, 'PUT', `/${bucket}/${key}`, body), 'listing PUT');
        }
      }),
    );
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // Old versions of the same keys, older (lower seq) than the current ones, sharing their sealed data.
    await client.query(
      `INSERT INTO object_versions (bucket_id, key, size, etag, last_modified, user_metadata, checksums,
         inline_data, wrapped_key, segment_size, version_id, seq)
       SELECT o.bucket_id, o.key, o.size, o.etag, o.last_modified - interval '1 day', '{}', '{}',
         o.inline_data, o.wrapped_key, o.segment_size, md5(random()::text || g::text),
         -g
       FROM objects o JOIN buckets b ON b.id = o.bucket_id,
         generate_series(1, $1::int) g
       WHERE b.name = 'list-versioned' AND o.inline_data IS NOT NULL`,
      [Math.ceil(NONCURRENT / LIST_KEYS)],
    );
    await client.query('ANALYZE objects; ANALYZE object_versions');
  } finally {
    await client.end();
  }
  const median = async (p: string) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = process.hrtime.bigint();
      await expectOk(request(t, 'GET', p), `GET ${p}`);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return times.sort((a, b) => a - b)[10]!;
  };
  return {
    plainMs: await median('/list-plain?list-type=2'),
    versionedMs: await median('/list-versioned?list-type=2'),
    versionsMs: await median('/list-versioned?versions&max-keys=1000'),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-'));
  const pg = await startEmbeddedPostgres({ port: await freePort() });
  const procs: ChildProcess[] = [];
  try {
    console.log(
      `bench: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, node ${process.version}, temp ${dir}`,
    );
    // The disk's figure swings between runs on a VM; the median of three is what the target uses.
    const rates = [await diskRate(dir), await diskRate(dir), await diskRate(dir)].sort((a, b) => a - b);
    const disk = rates[1]!;
    const big = randomBytes(BIG);
    const bigMd5 = createHash('md5').update(big).digest('base64');

    const coffer = await startCoffer(path.join(dir), pg.url);
    procs.push(coffer.proc);
    const s3rver = await startS3rver(dir);
    procs.push(s3rver.proc);
    const [c, s] = (await compare([coffer.target, s3rver.target], big, bigMd5)) as [Figures, Figures];
    const listing = await listingBesideVersions(coffer.target, pg.url);
    const scale = await listingAtScale(
      // A bucket is created with an empty body; an object gets a few bytes.
      (p) =>
        expectOk(
          request(coffer.target, 'PUT', p, p.lastIndexOf('/') > 0 ? Buffer.from('x') : undefined),
          `PUT ${p}`,
        ),
      (p) => expectOk(request(coffer.target, 'GET', p), `GET ${p}`),
      pg.url,
    );
    coffer.proc.kill('SIGTERM');
    s3rver.proc.kill('SIGTERM');

    const authz = await authorizationCost();
    const rss256 = await hugeUploadRss(path.join(dir), pg.url, BIG);
    const rss2g = await hugeUploadRss(path.join(dir), pg.url, HUGE);

    const row = (name: string, a: string, b: string, target: string) =>
      `| ${name} | ${a} | ${b} | ${target} |`;
    const f = (n: number) => n.toFixed(0);
    console.log('');
    console.log(`medians of ${ROUNDS} alternating rounds; small ops run ${SMALL_SECONDS} s each`);
    console.log('| measure | coffer | s3rver | target |');
    console.log('|---|---|---|---|');
    console.log(
      row(
        `4 KiB PUT ops/s (c=${CONCURRENCY})`,
        f(c.putOps),
        f(s.putOps),
        `≥ s3rver: ${c.putOps >= s.putOps ? 'met' : 'MISSED'}`,
      ),
    );
    console.log(
      row(
        `4 KiB GET ops/s (c=${CONCURRENCY})`,
        f(c.getOps),
        f(s.getOps),
        `≥ s3rver: ${c.getOps >= s.getOps ? 'met' : 'MISSED'}`,
      ),
    );
    console.log(
      row(
        '256 MiB PUT MB/s',
        f(c.putMBs),
        f(s.putMBs),
        `≥ 0.8 × disk ${f(disk)} = ${f(0.8 * disk)}: ${c.putMBs >= 0.8 * disk ? 'met' : 'MISSED'}`,
      ),
    );
    console.log(row('256 MiB GET MB/s', f(c.getMBs), f(s.getMBs), '-'));
    console.log(row("disk fsync'd sequential write MB/s", f(disk), '', ''));
    console.log(row('gateway peak RSS, 256 MiB upload (MB)', f(rss256), '', '< 250'));
    console.log(
      row(
        'gateway peak RSS, 2 GiB upload (MB)',
        f(rss2g),
        '',
        `< 250 and size-independent: ${rss2g < 250 && rss2g < rss256 * 1.25 ? 'met' : 'MISSED'}`,
      ),
    );
    console.log(
      row(
        `ListObjectsV2 of ${LIST_KEYS} keys, ms (median of 20)`,
        `${listing.plainMs.toFixed(1)} unversioned / ${listing.versionedMs.toFixed(1)} beside ${NONCURRENT} old versions`,
        '',
        `versioned ≤ 1.5 × unversioned: ${listing.versionedMs <= 1.5 * listing.plainMs ? 'met' : 'MISSED'}`,
      ),
    );
    console.log(row('ListObjectVersions, first 1000 of them, ms', listing.versionsMs.toFixed(1), '', '-'));
    const ratio = (big: number, small: number) =>
      `${(big / small).toFixed(2)}: ${big <= 1.5 * small ? 'met' : 'MISSED'}`;
    console.log(
      row(
        `ListObjectsV2 page, ${FOLDERS * PER_FOLDER} keys vs ${FOLDERS}, ms (median of 21)`,
        `${scale.flatBigMs.toFixed(1)} vs ${scale.flatSmallMs.toFixed(1)}`,
        '',
        `ratio ≤ 1.5: ${ratio(scale.flatBigMs, scale.flatSmallMs)}`,
      ),
    );
    console.log(
      row(
        `same with delimiter=/ over ${FOLDERS} folders, ms`,
        `${scale.folderBigMs.toFixed(1)} vs ${scale.folderSmallMs.toFixed(1)}`,
        '',
        `ratio ≤ 1.5: ${ratio(scale.folderBigMs, scale.folderSmallMs)}`,
      ),
    );
    console.log(
      row(
        'authorization decision, µs: owner / grantee beside a 20-statement policy / anonymous refused',
        `${authz.ownerUs.toFixed(2)} / ${authz.granteeUs.toFixed(2)} / ${authz.anonymousUs.toFixed(2)}`,
        '',
        '-',
      ),
    );
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    agent.destroy();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
