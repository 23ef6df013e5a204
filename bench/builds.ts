/**
 * `npm run bench:builds -- --against ../base/service/dist/main.js`: this checkout's gateway build against
 * another one (a worktree of an earlier commit, after `npm ci && npm run build` there), both on one
 * embedded Postgres and data directory, the same large transfers alternating between them round by round.
 * Prints every sample and the medians: a change's effect measured in one run, on one machine's state.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../scripts/lib/embedded-postgres.js';
import { freePort } from '../scripts/lib/free-port.js';
import { parseCli } from '../scripts/lib/cli.js';
import { fail } from '../scripts/lib/exec.js';
import { makeClient, type Target } from './client.js';
import { loopSplit } from './cpu.js';
import { bigBody, bigGet, bigPutChunked, bigPutSigned, type BigBody, type Rate } from './load.js';
import { startCoffer } from './targets.js';
import { median } from './timing.js';
import { tuneHeap } from '../service/src/heap-tuning.js';

const BIG = 256 * 1024 * 1024;
const OPS = {
  put: bigPutSigned,
  chunked: bigPutChunked,
  get: (client: ReturnType<typeof makeClient>, t: Target, _body: BigBody) => bigGet(client, t, BIG),
} as const;
type Op = keyof typeof OPS;

interface Sample extends Rate {
  /** CPU seconds per GB on the gateway's event loops, and on its other threads */
  loop: number;
  others: number;
}

const cli = parseCli({
  usage: [
    'npm run bench:builds -- --against PATH [--ops put,chunked,get] [--rounds N] [--workers N]',
    '  --against  the other build: its service/dist/main.js',
    '  --ops      which 256 MiB transfers, in order (default put,chunked,get)',
    '  --rounds   counted rounds after one uncounted (default 4)',
    '  --workers  GATEWAY_WORKERS for both gateways (default: theirs)',
  ].join('\n'),
  options: {
    against: { type: 'string' },
    ops: { type: 'string' },
    rounds: { type: 'string' },
    workers: { type: 'string' },
  },
});
const against = cli.values.against;
if (!against) fail('--against PATH is required: the other build, its service/dist/main.js');
if (!existsSync(against)) fail(`--against: ${against} does not exist`);
const ops = (cli.values.ops ?? 'put,chunked,get').split(',') as Op[];
for (const op of ops) if (!(op in OPS)) fail(`--ops: ${op} is not one of ${Object.keys(OPS).join(', ')}`);
const rounds = Number(cli.values.rounds ?? 4);
if (!Number.isInteger(rounds) || rounds < 1) fail('--rounds takes a whole number from 1');
const workers = cli.values.workers;
if (workers !== undefined && !/^[1-9]\d*$/.test(workers)) fail('--workers takes a whole number from 1');

// The load generator moves GBs of buffers too: without the gateway's heap settings its own collections
// (120 mark-compacts in one transfer run, 10 with them) slowed whichever server it was measuring.
tuneHeap();
const client = makeClient();
const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-builds-'));
const postgres = await startEmbeddedPostgres({ port: await freePort() });
const builds: Array<{ name: string; target: Target; samples: Map<Op, Sample[]> }> = [];
try {
  const shared = { dir, databaseUrl: postgres.url, postgresPid: await postgres.pid() };
  const env = workers ? { GATEWAY_WORKERS: workers } : undefined;
  for (const [name, entry] of [
    ['this', undefined],
    ['other', path.resolve(against)],
  ] as const) {
    const target = await startCoffer({ ...shared, env, entry });
    builds.push({ name, target, samples: new Map(ops.map((op) => [op, []])) });
  }
  const body = bigBody(randomBytes(BIG));
  await client.ok(builds[0]!.target, 'PUT', '/bench');
  // The object every GET reads; both gateways see it, on one database and data directory.
  await bigPutSigned(client, builds[0]!.target, body);
  const gb = BIG / 1e9;
  for (let round = 0; round <= rounds; round++) {
    // Each round reverses the order: the second of a pair measured slower on these VMs.
    const order = round % 2 === 0 ? builds : [...builds].reverse();
    for (const op of ops) {
      for (const b of order) {
        const { result, loop, others } = await loopSplit(b.target.pid!, () =>
          OPS[op](client, b.target, body),
        );
        const sample = { ...result, loop: loop / gb, others: others / gb };
        if (round > 0) b.samples.get(op)!.push(sample);
        console.log(`${round === 0 ? 'warm-up' : `round ${round}`} ${op} ${b.name}: ${line(sample)}`);
      }
    }
  }
  console.log(
    `\nmedians of ${rounds} rounds (server CPU counts Postgres too; loop and others are the gateway's)`,
  );
  for (const op of ops)
    for (const b of builds) {
      const s = b.samples.get(op)!;
      const m = (f: (x: Sample) => number) => median(s.map(f));
      console.log(
        `${op} ${b.name}: ${line({ rate: m((x) => x.rate), cpu: m((x) => x.cpu), loop: m((x) => x.loop), others: m((x) => x.others) })}`,
      );
    }
} finally {
  for (const b of builds) await b.target.stop();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}

function line(s: Sample): string {
  return `${s.rate.toFixed(0)} MB/s, server ${s.cpu.toFixed(2)} s/GB (event loop ${s.loop.toFixed(2)}, other threads ${s.others.toFixed(2)})`;
}
