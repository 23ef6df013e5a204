/**
 * One large upload at a time on a lone gateway, and where its CPU goes: the event loop's thread (receive,
 * AES-GCM, writes) against the process's other threads (digests, libuv's pool, V8's GC helpers). Run warm,
 * and right after a phase of 4 KiB requests, whose garbage the next large upload's GC then collects.
 */
import type { makeClient, Target } from './client.js';
import { loopSplit } from './cpu.js';
import { bigPutSigned, smallOps, type BigBody } from './load.js';
import { median } from './timing.js';

type Client = ReturnType<typeof makeClient>;

export interface ThreadSplit {
  /** MB/s */
  rate: number;
  /** CPU seconds per GB on the event loop's thread, and on every other thread of the process */
  loop: number;
  others: number;
}

export interface IsolatedOptions {
  rounds: number;
  /** A 4 KiB PUT phase, then a GET phase, before each upload. */
  small?: { body: Buffer; seconds: number; concurrency: number };
}

/** Medians over `rounds` signed uploads of `body` to `t`, a gateway of one process (GATEWAY_WORKERS=1). */
export async function isolatedPut(
  client: Client,
  t: Target,
  body: BigBody,
  opts: IsolatedOptions,
): Promise<ThreadSplit> {
  const pid = t.pid!;
  const samples: ThreadSplit[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    if (opts.small) {
      const load = { ...opts.small, keys: 500 };
      await smallOps(client, t, 'PUT', load);
      await smallOps(client, t, 'GET', load);
    }
    const { result, loop, others } = await loopSplit(pid, () => bigPutSigned(client, t, body));
    const gb = body.data.length / 1e9;
    samples.push({ rate: result.rate, loop: loop / gb, others: others / gb });
  }
  return {
    rate: median(samples.map((s) => s.rate)),
    loop: median(samples.map((s) => s.loop)),
    others: median(samples.map((s) => s.others)),
  };
}
