/**
 * `npm run bench`: Coffer against Ceph RGW (../shared/peers/rgw, skipped with a note when absent) and
 * s3rver on this machine, in one run, driven by the same client, next to what the machine's CPU and disk
 * give on their own. Never part of `npm test`: figures, not assertions.
 *
 * BENCH_ONLY=transfer,isolated,remote,workers,gateways,listing,events,versioned,rss,authz runs a subset; BENCH_TARGETS=coffer,rgw,s3rver,floor picks the servers (floor: bench/floor-server.ts).
 */
import { authorizationCost } from './authorization.js';
import { benchWebhooks, eventCost } from './events.js';
import { isolatedPut, type ThreadSplit } from './isolated.js';
import { makeClient, type Target } from './client.js';
import { FOLDERS, listingAtScale, PER_FOLDER } from './listing-scale.js';
import { bigBody, bigGet, bigPutChunked, bigPutSigned, multipart, smallOps, type Rate } from './load.js';
import { connectionsPerProcess } from './connections.js';
import { childrenOf, machineBusy } from './cpu.js';
import { cryptoRates, diskRate } from './machine.js';
import { alternatingMedianMs, median } from './timing.js';
import {
  startCoffer,
  startCofferFleet,
  startCofferOver,
  startFloor,
  startRgw,
  startS3rver,
} from './targets.js';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../scripts/lib/embedded-postgres.js';
import { freePort } from '../scripts/lib/free-port.js';
import { tuneHeap } from '../service/src/heap-tuning.js';

const MiB = 1024 * 1024;
const SMALL = 4096;
const CONCURRENCY = 16;
const SMALL_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Rounds run first and not counted: a server's first 256 MiB pays one-time costs (JIT, memory first touched). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const BIG = 256 * MiB;
const HUGE = 2048 * MiB;
const MULTIPART = { total: 1024 * MiB, partSize: 8 * MiB, parallel: 4 };
const ONLY = new Set(
  (
    process.env.BENCH_ONLY ?? 'transfer,isolated,remote,workers,gateways,listing,events,versioned,rss,authz'
  ).split(','),
);
const TARGETS = new Set((process.env.BENCH_TARGETS ?? 'coffer,rgw,s3rver,floor').split(','));

// The load generator moves GBs of buffers too: without the gateway's heap settings its own collections
// (120 mark-compacts in one transfer run, 10 with them) slowed whichever server it was measuring.
tuneHeap();
const client = makeClient();
const run = promisify(execFile);

/** The highest peak RSS of the gateway's processes: with GATEWAY_WORKERS, the busiest worker's. */
async function peakRss(pid: number): Promise<number> {
  let peak = 0;
  for (const p of [pid, ...(await childrenOf(pid))]) {
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
  }
  return peak;
}

const MEASURES = ['putOps', 'getOps', 'putSigned', 'putChunked', 'get', 'multipart'] as const;
type Measure = (typeof MEASURES)[number];
/** A figure per measure, or why the server could not do it. */
type Figures = Record<Measure, Rate | string>;

/** The median by rate, keeping that sample's CPU and latencies with it. */
function medianRate(samples: Array<Rate | string>): Rate | string {
  const ok = samples.filter((s): s is Rate => typeof s !== 'string').sort((a, b) => a.rate - b.rate);
  return ok.length ? ok[Math.floor(ok.length / 2)]! : (samples[0] as string);
}

/**
 * Each measurement alternates between the servers, ROUNDS times after WARMUP uncounted ones, and keeps
 * the median: page-cache writeback and Postgres checkpoints on a shared 2-core VM otherwise decide who
 * "wins" a single run.
 */
async function compare(targets: Target[], big: Buffer): Promise<Figures[]> {
  const samples = targets.map(() => Object.fromEntries(MEASURES.map((m) => [m, [] as Array<Rate | string>])));
  const body = bigBody(big);
  const small = randomBytes(SMALL);
  for (const t of targets) await client.ok(t, 'PUT', '/bench');
  const attempt = async (i: number, m: Measure, work: () => Promise<Rate>) => {
    await settle();
    try {
      samples[i]![m]!.push(await work());
    } catch (err) {
      samples[i]![m]!.push(`failed: ${(err as Error).message.slice(0, 80)}`);
    }
  };
  const smallOpts = { body: small, seconds: SMALL_SECONDS, concurrency: CONCURRENCY };
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const [i, t] of targets.entries())
      await attempt(i, 'putOps', () => smallOps(client, t, 'PUT', { ...smallOpts, keys: 2000 }));
    for (const [i, t] of targets.entries())
      // Only keys every server has by now: the first round's slowest PUT phase decides how many.
      await attempt(i, 'getOps', () =>
        smallOps(client, t, 'GET', { ...smallOpts, keys: readableKeys(samples) }),
      );
    for (const [i, t] of targets.entries())
      await attempt(i, 'putSigned', () => bigPutSigned(client, t, body));
    for (const [i, t] of targets.entries())
      await attempt(i, 'putChunked', () => bigPutChunked(client, t, body));
    for (const [i, t] of targets.entries()) await attempt(i, 'get', () => bigGet(client, t, BIG));
    for (const [i, t] of targets.entries())
      await attempt(i, 'multipart', () => multipart(client, t, big, MULTIPART));
  }
  return samples.map(
    (s) => Object.fromEntries(MEASURES.map((m) => [m, medianRate(s[m]!.slice(WARMUP))])) as Figures,
  );
}

/**
 * Writes back what the page cache holds dirty before the next measurement starts: a server that does not
 * fsync (s3rver) otherwise leaves its writes to the kernel's flusher, which runs in the next server's time.
 */
async function settle(): Promise<void> {
  await run('sync', []);
}

function readableKeys(samples: Array<Record<string, Array<Rate | string>>>): number {
  const firsts = samples.map((s) => s.putOps![0]).map((r) => (typeof r === 'string' ? 0 : r!.rate));
  return Math.max(1, Math.min(2000, Math.floor(Math.min(...firsts) * SMALL_SECONDS)));
}

interface Coffers {
  dir: string;
  databaseUrl: string;
  postgresPid: number;
}

/** Coffer on a database and data directory of its own, for a gateway whose blobs live elsewhere. */
async function ownDatabase(c: Coffers, name: string): Promise<Coffers> {
  const db = new pg.Client({ connectionString: c.databaseUrl });
  await db.connect();
  await db.query(`CREATE DATABASE ${name}`);
  await db.end();
  const url = new URL(c.databaseUrl);
  url.pathname = `/${name}`;
  const dir = path.join(c.dir, name);
  await mkdir(dir);
  return { ...c, dir, databaseUrl: url.toString() };
}

/** Peak RSS of a fresh gateway through one upload of `size` bytes streamed from a repeated 1 MiB block. */
async function hugeUploadRss(c: Coffers, size: number): Promise<number> {
  const target = await startCoffer(c);
  try {
    await client.ok(target, 'PUT', `/huge-${size}`);
    const block = randomBytes(MiB);
    const md5 = createHash('md5');
    for (let s = 0; s < size; s += MiB) md5.update(block);
    await client.ok(
      target,
      'PUT',
      `/huge-${size}/object`,
      function* () {
        for (let sent = 0; sent < size; sent += MiB) yield block;
      },
      {
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'content-md5': md5.digest('base64'),
        'content-length': String(size),
      },
    );
    return await peakRss(target.pid!);
  } finally {
    await target.stop();
  }
}

const LIST_KEYS = 1000;
const NONCURRENT = Number(process.env.BENCH_NONCURRENT ?? 100_000);

/**
 * ListObjectsV2 of 1,000 keys in an unversioned bucket and in a versioned one whose keys also have
 * NONCURRENT old versions (seeded in SQL, as many PUTs would leave them): the median of 20 full listings
 * each, taken in turns.
 */
async function listingBesideVersions(
  t: Target,
  databaseUrl: string,
): Promise<{ plainMs: number; versionedMs: number; versionsMs: number }> {
  const body = randomBytes(SMALL);
  for (const bucket of ['list-plain', 'list-versioned']) {
    await client.ok(t, 'PUT', `/${bucket}`);
    if (bucket === 'list-versioned') {
      const conf = Buffer.from('<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>');
      await client.ok(t, 'PUT', `/${bucket}?versioning`, conf);
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < LIST_KEYS) {
          const key = `k/${String(next++).padStart(5, '0')}`;
          await client.ok(t, 'PUT', `/${bucket}/${key}`, body);
        }
      }),
    );
  }
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    // Old versions of the same keys, older (lower seq) than the current ones, sharing their sealed data.
    await db.query(
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
    await db.query('ANALYZE objects; ANALYZE object_versions');
  } finally {
    await db.end();
  }
  // In turns, as the ratio between the first two is a target.
  const [plainMs, versionedMs, versionsMs] = await alternatingMedianMs(
    20,
    ['/list-plain?list-type=2', '/list-versioned?list-type=2', '/list-versioned?versions&max-keys=1000'].map(
      (p) => () => client.ok(t, 'GET', p),
    ),
  );
  return { plainMs: plainMs!, versionedMs: versionedMs!, versionsMs: versionsMs! };
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);

function cell(r: Rate | string | undefined, unit: 'ops' | 'MB'): string {
  if (r === undefined) return '';
  if (typeof r === 'string') return r;
  const lat = r.p50 !== undefined ? ` (p50 ${f1(r.p50)} / p99 ${f1(r.p99!)} ms)` : '';
  return unit === 'ops' ? `${f0(r.rate)}${lat}` : f0(r.rate);
}

function cpuCell(r: Rate | string | undefined, unit: 'ms/op' | 's/GB'): string {
  return r === undefined || typeof r === 'string' ? '' : `${f2(r.cpu)} ${unit}`;
}

const rateOf = (r: Rate | string | undefined) => (r === undefined || typeof r === 'string' ? NaN : r.rate);
const cpuOf = (r: Rate | string | undefined) => (r === undefined || typeof r === 'string' ? NaN : r.cpu);
const verdict = (met: boolean, known = true) => (known ? (met ? 'met' : 'MISSED') : 'not measured');

/** `ratio ≥ want × peer`, or a note when the peer did not run. */
function vsPeer(mine: number, peer: number, want: number, peerName: string): string {
  if (!Number.isFinite(peer)) return `≥ ${want} × ${peerName}: not measured`;
  return `≥ ${want} × ${peerName}: ${f2(mine / peer)} ${verdict(mine >= want * peer)}`;
}

/**
 * What the targets are up against: the floor server's CPU for the same requests, and that plus the
 * cryptography Coffer must do at this machine's one-core rates (MD5 + SHA-256 + AES-GCM for a signed PUT,
 * AES-GCM for a GET). A target below that sum cannot be met on this machine by any server that encrypts.
 */
function floorRows(
  fl: Figures,
  crypto: { md5: number; sha256: number; aesGcm: number },
  row: (...cells: string[]) => void,
): void {
  const perGb = (mbps: number) => 1000 / mbps;
  const putCrypto = perGb(crypto.md5) + perGb(crypto.sha256) + perGb(crypto.aesGcm);
  const getCrypto = perGb(crypto.aesGcm);
  const [putOps, getOps, put, get] = [fl.putOps, fl.getOps, fl.putSigned, fl.get].map(cpuOf);
  const [putOpsRate, getOpsRate, putRate, getRate] = [fl.putOps, fl.getOps, fl.putSigned, fl.get].map(rateOf);
  row(
    "floor: bare server, same requests (no auth, crypto or S3; one Postgres row per small object, a fsync'd file per large one, through Coffer's own fs blob backend)",
    `4 KiB PUT ${f0(putOpsRate!)} ops/s at ${f2(putOps!)} ms/op, GET ${f0(getOpsRate!)} ops/s at ${f2(getOps!)} ms/op; ` +
      `256 MiB PUT ${f0(putRate!)} MB/s at ${f2(put!)} s/GB, GET ${f0(getRate!)} MB/s at ${f2(get!)} s/GB`,
    '',
    '',
    '-',
  );
  row(
    "floor + cryptography at this machine's one-core rates: signed PUT / GET, s/GB",
    `${f2(put! + putCrypto)} / ${f2(get! + getCrypto)} (crypto alone ${f2(putCrypto)} / ${f2(getCrypto)})`,
    '',
    '',
    `targets 4 / 1.6 s/GB: ${put! + putCrypto <= 4 ? 'reachable' : 'below this floor'} / ${get! + getCrypto <= 1.6 ? 'reachable' : 'below this floor'}`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-bench-'));
  const postgres = await startEmbeddedPostgres({ port: await freePort() });
  // The floor's own cluster: Postgres work Coffer's writes leave behind (autovacuum, checkpoints) runs in
  // whichever server's measurement it falls into, and a shared cluster charged it to the floor.
  let floorPostgres: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  const targets: Target[] = [];
  const lines: string[] = [];
  const row = (...cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  try {
    const coffers: Coffers = { dir, databaseUrl: postgres.url, postgresPid: await postgres.pid() };
    console.log(
      `bench: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 1024 ** 3)} GiB, node ${process.version}, temp ${dir}`,
    );
    const crypto = cryptoRates();
    // The disk's figure swings between runs on a VM; the median of three is the one reported.
    const disk = median([await diskRate(dir, BIG), await diskRate(dir, BIG), await diskRate(dir, BIG)]);
    row('measure', 'coffer', 'ceph rgw', 's3rver', 'target');
    row('---', '---', '---', '---', '---');

    if (ONLY.has('transfer')) {
      const notes: string[] = [];
      // Each server joins `targets` as soon as it runs, so a later one failing to start still stops it.
      if (TARGETS.has('coffer')) targets.push(await startCoffer(coffers));
      if (TARGETS.has('rgw')) {
        const rgw = await startRgw();
        if (typeof rgw === 'string') notes.push(`ceph rgw ${rgw}`);
        else targets.push(rgw);
      }
      if (TARGETS.has('s3rver')) targets.push(await startS3rver(dir));
      if (TARGETS.has('floor')) {
        floorPostgres = await startEmbeddedPostgres({ port: await freePort() });
        targets.push(
          await startFloor({ dir, databaseUrl: floorPostgres.url, postgresPid: await floorPostgres.pid() }),
        );
      }
      const figures = await compare(targets, randomBytes(BIG));
      const of = (name: string) => {
        const i = targets.findIndex((t) => t.name === name);
        return i < 0 ? undefined : figures[i];
      };
      const [c, r, s, fl] = [of('coffer'), of('rgw'), of('s3rver'), of('floor')];
      lines.unshift(
        `medians of ${ROUNDS} alternating rounds after ${WARMUP} uncounted; small ops run ${SMALL_SECONDS} s each at concurrency ${CONCURRENCY}; ` +
          `server CPU counts every process of the server (Postgres, Ceph daemons)`,
        ...notes,
        '',
      );
      const servers = [c, r, s];
      /** One row: a figure of `m` per server, formatted by `show`, and the target's verdict. */
      const line = (
        label: string,
        m: Measure,
        show: (x: Rate | string | undefined) => string,
        target: string,
      ) => row(label, ...servers.map((x) => show(x?.[m])), target);
      const rate = (unit: 'ops' | 'MB') => (x: Rate | string | undefined) => cell(x, unit);
      const cpu = (unit: 'ms/op' | 's/GB') => (x: Rate | string | undefined) => cpuCell(x, unit);
      const atMost = (m: Measure, limit: number, unit: string) =>
        `≤ ${limit} ${unit}: ${verdict(cpuOf(c?.[m]) <= limit, c !== undefined)}`;
      const vsRgw = (m: Measure, want: number) => vsPeer(rateOf(c?.[m]), rateOf(r?.[m]), want, 'rgw');
      line('4 KiB PUT ops/s', 'putOps', rate('ops'), vsRgw('putOps', 2));
      line('4 KiB GET ops/s', 'getOps', rate('ops'), vsRgw('getOps', 2));
      line('server CPU, 4 KiB PUT', 'putOps', cpu('ms/op'), '-');
      line('server CPU, 4 KiB GET', 'getOps', cpu('ms/op'), atMost('getOps', 0.4, 'ms/op'));
      line('256 MiB PUT MB/s, SHA-256-signed', 'putSigned', rate('MB'), vsRgw('putSigned', 1.2));
      line(
        '256 MiB PUT MB/s, aws-chunked + CRC32 trailer',
        'putChunked',
        rate('MB'),
        vsRgw('putChunked', 1.2),
      );
      line('256 MiB GET MB/s', 'get', rate('MB'), vsRgw('get', 1.2));
      line('1 GiB multipart MB/s, 4 × 8 MiB parts in parallel', 'multipart', rate('MB'), '-');
      line('server CPU, 256 MiB PUT signed', 'putSigned', cpu('s/GB'), atMost('putSigned', 4, 's/GB'));
      line('server CPU, 256 MiB PUT aws-chunked', 'putChunked', cpu('s/GB'), '-');
      line('server CPU, 256 MiB GET', 'get', cpu('s/GB'), atMost('get', 1.6, 's/GB'));
      line('server CPU, 1 GiB multipart', 'multipart', cpu('s/GB'), '-');
      if (fl) floorRows(fl, crypto, row);
      for (const t of targets.splice(0)) await t.stop();
    }

    if (ONLY.has('isolated')) {
      // Nothing else runs: what one upload costs a lone gateway, warm and right after 4 KiB requests.
      const t = await startCoffer({ ...coffers, env: { GATEWAY_WORKERS: '1' } });
      targets.push(t);
      await client.request(t, 'PUT', '/bench');
      const body = bigBody(randomBytes(BIG));
      for (let i = 0; i < WARMUP; i++) await bigPutSigned(client, t, body);
      const split = (s: ThreadSplit) =>
        `${f0(s.rate)} MB/s; ${f2(s.loop + s.others)} s/GB = ${f2(s.loop)} event loop + ${f2(s.others)} other threads`;
      const warm = await isolatedPut(client, t, body, { rounds: ROUNDS });
      const small = { body: randomBytes(SMALL), seconds: SMALL_SECONDS, concurrency: CONCURRENCY };
      const after = await isolatedPut(client, t, body, { rounds: ROUNDS, small });
      row(
        '256 MiB PUT, SHA-256-signed, alone on one gateway process (no Postgres CPU counted)',
        split(warm),
        '',
        '',
        '-',
      );
      row(
        `same, each right after ${SMALL_SECONDS} s of 4 KiB PUTs and ${SMALL_SECONDS} s of GETs`,
        split(after),
        '',
        '',
        '-',
      );
      await t.stop();
      targets.splice(targets.indexOf(t), 1);
    }

    if (ONLY.has('remote')) {
      // Blobs on the data volume against blobs in Ceph RGW (BLOB_BACKEND=s3), and RGW serving the client itself.
      const rgw = await startRgw();
      if (typeof rgw === 'string') row('blobs in Ceph RGW (BLOB_BACKEND=s3)', `ceph rgw ${rgw}`, '', '', '-');
      else {
        targets.push(rgw);
        await client.ok(rgw, 'PUT', '/coffer-blobs');
        const over = await startCofferOver(await ownDatabase(coffers, 'coffer_over_rgw'), rgw);
        targets.push(over);
        const local = await startCoffer(coffers);
        targets.push(local);
        const [onDisk, remote, alone] = await compare([local, over, rgw], randomBytes(BIG));
        const vsDisk = (m: Measure) =>
          `${f2(rateOf(remote![m]) / rateOf(onDisk![m]))} × blobs on the data volume`;
        // The coffer column is Coffer keeping its blobs in RGW, the ceph rgw column RGW serving the client itself.
        const label = 'blobs in Ceph RGW (BLOB_BACKEND=s3), beside RGW alone:';
        for (const [m, what, unit] of [
          ['putOps', '4 KiB PUT ops/s', 'ops'],
          ['getOps', '4 KiB GET ops/s', 'ops'],
          ['putSigned', '256 MiB PUT MB/s, SHA-256-signed', 'MB'],
          ['get', '256 MiB GET MB/s', 'MB'],
          ['multipart', '1 GiB multipart MB/s, 4 × 8 MiB parts in parallel', 'MB'],
        ] as const)
          row(`${label} ${what}`, cell(remote![m], unit), cell(alone![m], unit), '', vsDisk(m));
        row(
          `${label} server CPU (Coffer, Postgres and Ceph), 256 MiB PUT / GET`,
          `${cpuCell(remote!.putSigned, 's/GB')} / ${cpuCell(remote!.get, 's/GB')}`,
          `${cpuCell(alone!.putSigned, 's/GB')} / ${cpuCell(alone!.get, 's/GB')}`,
          '',
          '-',
        );
        for (const t of targets.splice(0)) await t.stop();
      }
    }

    if (ONLY.has('gateways')) {
      // One gateway against two on the same database (one worker each), the client spreading requests over them.
      const samples: Record<'1' | '2', Record<'PUT' | 'GET', Rate[]>> = {
        '1': { PUT: [], GET: [] },
        '2': { PUT: [], GET: [] },
      };
      const small = randomBytes(SMALL);
      for (let round = 0; round < ROUNDS; round++) {
        for (const count of ['1', '2'] as const) {
          const t = await startCofferFleet({ ...coffers, env: { GATEWAY_WORKERS: '1' } }, Number(count));
          targets.push(t);
          await client.request(t, 'PUT', '/bench');
          const load = { body: small, keys: 500, seconds: SMALL_SECONDS, concurrency: CONCURRENCY };
          samples[count].PUT.push(await smallOps(client, t, 'PUT', load));
          // A fresh gateway's first seconds are JIT warm-up.
          await smallOps(client, t, 'GET', load);
          samples[count].GET.push(await smallOps(client, t, 'GET', load));
          for (const x of targets.splice(0)) await x.stop();
        }
      }
      for (const op of ['PUT', 'GET'] as const) {
        const [one, two] = [medianRate(samples['1'][op]) as Rate, medianRate(samples['2'][op]) as Rate];
        row(`4 KiB ${op} ops/s, one gateway (GATEWAY_WORKERS=1)`, cell(one, 'ops'), '', '', '-');
        row(
          `4 KiB ${op} ops/s, two gateways on one database`,
          cell(two, 'ops'),
          '',
          '',
          `${f2(two.rate / one.rate)} × one gateway (2 cores: client, Postgres and gateways share them)`,
        );
      }
    }

    if (ONLY.has('listing')) {
      const coffer = await startCoffer(coffers);
      targets.push(coffer);
      const listing = await listingBesideVersions(coffer, postgres.url);
      const scale = await listingAtScale(
        // A bucket is created with an empty body; an object gets a few bytes.
        (p) => client.ok(coffer, 'PUT', p, p.lastIndexOf('/') > 0 ? Buffer.from('x') : undefined),
        (p) => client.ok(coffer, 'GET', p),
        postgres.url,
      );
      for (const t of targets.splice(0)) await t.stop();
      row(
        `ListObjectsV2 of ${LIST_KEYS} keys, ms (median of 20)`,
        `${f1(listing.plainMs)} unversioned / ${f1(listing.versionedMs)} beside ${NONCURRENT} old versions`,
        '',
        '',
        `versioned ≤ 1.5 × unversioned: ${verdict(listing.versionedMs <= 1.5 * listing.plainMs)}`,
      );
      row('ListObjectVersions, first 1000 of them, ms', f1(listing.versionsMs), '', '', '-');
      const ratio = (big: number, small: number) =>
        `ratio ≤ 1.5: ${f2(big / small)} ${verdict(big <= 1.5 * small)}`;
      row(
        `ListObjectsV2 page, ${FOLDERS * PER_FOLDER} keys vs ${FOLDERS}, ms (median of 21)`,
        `${f1(scale.flatBigMs)} vs ${f1(scale.flatSmallMs)}`,
        '',
        '',
        ratio(scale.flatBigMs, scale.flatSmallMs),
      );
      row(
        `same with delimiter=/ over ${FOLDERS} folders, ms`,
        `${f1(scale.folderBigMs)} vs ${f1(scale.folderSmallMs)}`,
        '',
        '',
        ratio(scale.folderBigMs, scale.folderSmallMs),
      );
    }

    if (ONLY.has('workers')) {
      // The same 4 KiB GET load against one worker and against GATEWAY_WORKERS=2, both gateways up for the
      // whole row and measured in turns, the order reversed every round: restarted each round, the two were
      // measured half a minute apart, and a slow phase of the VM could fall on one of them only.
      const samples: Record<'1' | '2', Rate[]> = { '1': [], '2': [] };
      const busyShare: Record<'1' | '2', number[]> = { '1': [], '2': [] };
      /** The bench's own CPU per request: the same requests either way, on the same two cores. */
      const clientMs: Record<'1' | '2', number[]> = { '1': [], '2': [] };
      /** How the connections fell on the two workers, each round. */
      const splits: string[] = [];
      const small = randomBytes(SMALL);
      const keys = 500;
      const gateways = {
        '1': await startCoffer({ ...coffers, env: { GATEWAY_WORKERS: '1' } }),
        '2': await startCoffer({ ...coffers, env: { GATEWAY_WORKERS: '2' } }),
      };
      targets.push(gateways['1'], gateways['2']);
      await client.request(gateways['1'], 'PUT', '/bench');
      for (let i = 0; i < keys; i++) await client.ok(gateways['1'], 'PUT', `/bench/small/${i}`, small);
      const load = { body: small, keys, seconds: SMALL_SECONDS, concurrency: CONCURRENCY };
      // A fresh gateway's first seconds are JIT warm-up, and each worker warms up on its own share of the
      // load: every worker gets as many warm-up requests as the single one did.
      for (const workers of ['1', '2', '2'] as const) await smallOps(client, gateways[workers], 'GET', load);
      for (let round = 0; round < 2 * ROUNDS; round++) {
        for (const workers of round % 2 === 0 ? (['1', '2'] as const) : (['2', '1'] as const)) {
          const t = gateways[workers];
          // Every measurement opens its own connections, so each round draws its own split.
          const clientBefore = process.cpuUsage();
          const measuring = machineBusy(() => smallOps(client, t, 'GET', load));
          if (workers === '2') {
            // Read once every lane has connected: one connection per lane, and the client's keep-alive ones.
            await new Promise((r) => setTimeout(r, 1000));
            const held = await connectionsPerProcess(await childrenOf(t.pid!), Number(t.endpoint.port));
            splits.push(held.join('/'));
          }
          const { result, busy } = await measuring;
          const used = process.cpuUsage(clientBefore);
          samples[workers].push(result);
          busyShare[workers].push(busy);
          clientMs[workers].push((used.user + used.system) / 1000 / (result.rate * SMALL_SECONDS));
        }
      }
      for (const s of targets.splice(0)) await s.stop();
      const [one, two] = [medianRate(samples['1']) as Rate, medianRate(samples['2']) as Rate];
      // Server CPU per request is the gateway's and Postgres's; the client's is the bench's own.
      const busy = (w: '1' | '2', r: Rate) =>
        `, machine ${f0(100 * median(busyShare[w]))}% busy, CPU ms/op server ${f2(r.cpu)} client ${f3(median(clientMs[w]))}`;
      row('4 KiB GET ops/s, GATEWAY_WORKERS=1', cell(one, 'ops') + busy('1', one), '', '', '-');
      row(
        '4 KiB GET ops/s, GATEWAY_WORKERS=2',
        `${cell(two, 'ops')}${busy('2', two)}; connections per worker by round ${splits.join(', ')}`,
        '',
        '',
        `≥ 1.4 × one worker: ${f2(two.rate / one.rate)} ${verdict(two.rate >= 1.4 * one.rate)}`,
      );
    }

    if (ONLY.has('events')) {
      // A database of its own: the gateway declares its webhook target for the run's one user at start.
      const own = await ownDatabase(coffers, 'events');
      const hooks = await benchWebhooks(own.dir, 'AKIABENCH');
      try {
        const coffer = await startCoffer({ ...own, env: hooks.env });
        targets.push(coffer);
        const load = {
          body: randomBytes(SMALL),
          keys: 1000,
          seconds: SMALL_SECONDS,
          concurrency: CONCURRENCY,
        };
        const cost = await eventCost(client, coffer, own.databaseUrl, hooks.count, load, ROUNDS);
        const change = ((cost.notified - cost.plain) / cost.plain) * 100;
        row(
          '4 KiB PUT ops/s, plain bucket / with a rule sending every PUT to a webhook',
          `${f0(cost.plain)} / ${f0(cost.notified)} (${change >= 0 ? '+' : ''}${f0(change)} %); all sent ${f2(cost.drainSeconds)} s after the last PUT (${cost.received} messages)`,
          '',
          '',
          '-',
        );
      } finally {
        for (const t of targets.splice(0)) await t.stop();
        await hooks.close();
      }
    }

    if (ONLY.has('versioned')) {
      // What compliance archives write to: 4 KiB PUTs to a versioned bucket beside a plain one, alternating.
      const coffer = await startCoffer(coffers);
      targets.push(coffer);
      try {
        const versioning = '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>';
        await client.ok(coffer, 'PUT', '/versioned');
        await client.ok(coffer, 'PUT', '/versioned?versioning', Buffer.from(versioning));
        await client.request(coffer, 'PUT', '/bench');
        const load = {
          body: randomBytes(SMALL),
          keys: 2000,
          seconds: SMALL_SECONDS,
          concurrency: CONCURRENCY,
        };
        const samples: Record<'bench' | 'versioned', Rate[]> = { bench: [], versioned: [] };
        for (let round = 0; round < WARMUP + ROUNDS; round++)
          for (const bucket of ['bench', 'versioned'] as const) {
            const rate = await smallOps(client, coffer, 'PUT', { ...load, bucket });
            if (round >= WARMUP) samples[bucket].push(rate);
          }
        const [plain, versioned] = [medianRate(samples.bench) as Rate, medianRate(samples.versioned) as Rate];
        row(
          '4 KiB PUT ops/s, plain bucket / versioned bucket (every PUT keeps the version it replaces)',
          `${cell(plain, 'ops')} / ${cell(versioned, 'ops')}; server CPU ${f2(plain.cpu)} / ${f2(versioned.cpu)} ms/op`,
          '',
          '',
          '-',
        );
      } finally {
        for (const t of targets.splice(0)) await t.stop();
      }
    }

    if (ONLY.has('authz')) {
      const authz = await authorizationCost();
      row(
        'authorization decision, µs: owner / grantee beside a 20-statement policy / anonymous refused',
        `${f2(authz.ownerUs)} / ${f2(authz.granteeUs)} / ${f2(authz.anonymousUs)}`,
        '',
        '',
        '-',
      );
    }

    if (ONLY.has('rss')) {
      const rss256 = await hugeUploadRss(coffers, BIG);
      const rss2g = await hugeUploadRss(coffers, HUGE);
      row('gateway peak RSS, 256 MiB upload (MB)', f0(rss256), '', '', '< 250');
      row(
        'gateway peak RSS, 2 GiB upload (MB)',
        f0(rss2g),
        '',
        '',
        `< 250 and size-independent: ${verdict(rss2g < 250 && rss2g < rss256 * 1.25)}`,
      );
    }

    row(
      'one core: MD5 / SHA-256 / AES-256-GCM MB/s',
      `${f0(crypto.md5)} / ${f0(crypto.sha256)} / ${f0(crypto.aesGcm)}`,
      '',
      '',
      '',
    );
    row("disk fsync'd sequential write MB/s (median of 3)", f0(disk), '', '', '');
    console.log('');
    console.log(lines.join('\n'));
  } finally {
    for (const t of targets) await t.stop().catch(() => undefined);
    client.close();
    await floorPostgres?.stop();
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
