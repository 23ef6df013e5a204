/**
 * Which process holds the established TCP connections to a port, read from /proc: with GATEWAY_WORKERS the
 * kernel gives each connection to whichever worker accepts first, and a 4 KiB load's figure depends on how
 * its connections fell.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

const ESTABLISHED = '01';

/** Socket inodes of established connections whose local port is `port` (IPv4 and IPv6 tables). */
async function establishedInodes(port: number): Promise<Set<string>> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === ESTABLISHED) out.add(f[9]!);
    }
  }
  return out;
}

/** How many of the connections to `port` each of `pids` holds, in the order given. */
export async function connectionsPerProcess(pids: number[], port: number): Promise<number[]> {
  const inodes = await establishedInodes(port);
  return Promise.all(
    pids.map(async (pid) => {
      let n = 0;
      for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) n++;
      }
      return n;
    }),
  );
}
