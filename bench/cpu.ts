/**
 * Server CPU as the kernel counts it: user + system time of every process in the trees under the given
 * roots (a gateway and its workers, a postmaster and its backends, a container's daemons).
 */
import { readdir, readFile } from 'node:fs/promises';

export const TICKS = 100; // USER_HZ on Linux

/** The fields of a /proc stat file after the command name, or undefined once the process is gone. */
export async function statFields(file: string): Promise<string[] | undefined> {
  const stat = await readFile(file, 'utf8').catch(() => undefined);
  // The command name may hold spaces and parentheses: fields are counted from the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime, from `statFields`. */
export const cpuTicks = (fields: string[]) => Number(fields[11]) + Number(fields[12]);

interface Proc {
  ppid: number;
  ticks: number;
}

async function processes(): Promise<Map<number, Proc>> {
  const out = new Map<number, Proc>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = await statFields(`/proc/${name}/stat`);
    if (fields) out.set(Number(name), { ppid: Number(fields[1]), ticks: cpuTicks(fields) });
  }
  return out;
}

/** The processes whose parent is `pid` (a gateway's workers). */
export async function childrenOf(pid: number): Promise<number[]> {
  return [...(await processes())].filter(([, p]) => p.ppid === pid).map(([child]) => child);
}

/** CPU seconds used so far by the processes under `roots` (children that exited and were reaped count too). */
export async function cpuSeconds(roots: number[]): Promise<number> {
  const procs = await processes();
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  let ticks = 0;
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = procs.get(pid);
    if (p) ticks += p.ticks + (await reapedTicks(pid));
    stack.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS;
}

/** cutime + cstime: what a process's waited-for children used (Postgres backends that ended, say). */
async function reapedTicks(pid: number): Promise<number> {
  const fields = await statFields(`/proc/${pid}/stat`);
  return fields ? Number(fields[13]) + Number(fields[14]) : 0;
}

/**
 * Runs `work` and returns its result with the CPU seconds the server trees used meanwhile, and how long
 * the work itself took: reading /proc (and asking Docker for a container's pid) stays out of that time.
 */
export async function measured<T>(roots: () => Promise<number[]>, work: () => Promise<T>) {
  const pids = await roots();
  const before = await cpuSeconds(pids);
  const started = process.hrtime.bigint();
  const result = await work();
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = (await cpuSeconds(await roots())) - before;
  return { result, cpu, secs };
}

/** Share of the machine's CPU time that was busy (all cores, every process) while `work` ran. */
export async function machineBusy<T>(work: () => Promise<T>): Promise<{ result: T; busy: number }> {
  const read = async () => {
    const fields = (await readFile('/proc/stat', 'utf8'))
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return { idle: fields[3]! + fields[4]!, total: fields.reduce((a, b) => a + b, 0) };
  };
  const before = await read();
  const result = await work();
  const after = await read();
  return { result, busy: 1 - (after.idle - before.idle) / (after.total - before.total) };
}

/** utime + stime of each live thread of `pid`, by thread id. */
export async function threadTicks(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const fields = await statFields(`/proc/${pid}/task/${tid}/stat`);
    if (fields) out.set(Number(tid), cpuTicks(fields));
  }
  return out;
}

/**
 * CPU seconds `work` cost the gateway under `root` (its workers too), split into the event loops' threads
 * (each process's main thread) and every other thread (digests, libuv's pool, V8's GC helpers).
 */
export async function loopSplit<T>(
  root: number,
  work: () => Promise<T>,
): Promise<{ result: T; loop: number; others: number }> {
  const pids = [root, ...(await childrenOf(root))];
  const before = await Promise.all(pids.map(threadTicks));
  const result = await work();
  const after = await Promise.all(pids.map(threadTicks));
  let loop = 0;
  let others = 0;
  pids.forEach((pid, i) => {
    for (const [tid, ticks] of after[i]!) {
      const used = ticks - (before[i]!.get(tid) ?? 0);
      if (tid === pid) loop += used;
      else others += used;
    }
  });
  return { result, loop: loop / TICKS, others: others / TICKS };
}
