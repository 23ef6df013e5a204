import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';

/** `npm run dev` as a developer uses it: under a strict umask, killed with -9, started again. */
const ROOT = path.resolve(import.meta.dirname, '../../..');
let dataDir: string;
let port: number;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Postgres (as the postgres user when root) must reach the cluster: not inside a root-only mkdtemp.
  dataDir = await mkdtemp(path.join('/tmp', 'coffer-dev-test-'));
  port = await freePort();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 2000));
  // The embedded cluster outlives a killed dev process; stop whatever is left on this data directory.
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '0')).split('\n')[0]);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      /* already gone */
    }
  }
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts `npm run dev` under umask 077 and resolves with what it printed once it is serving. */
function startDev(): Promise<{ child: ChildProcess; output: string }> {
  const child = spawn('sh', ['-c', `umask 077 && exec "${process.execPath}" --import tsx scripts/dev.ts`], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${output}`)), 90_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('Stop with Ctrl-C')) {
        clearTimeout(timer);
        resolve({ child, output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dev exited with ${code}:\n${output}`));
    });
  });
}

describe('npm run dev', () => {
  it('starts under umask 077, creates a console admin and API key, and prints them with the console URL', async () => {
    const { child, output } = await startDev();
    expect(output).toContain(`http://127.0.0.1:${port}/_coffer/console/`);
    const password = /user admin, password (\S+)\)/.exec(output)?.[1];
    const apiKey = /Bearer (cfk_\S+)\)/.exec(output)?.[1];
    expect(password).toBeTruthy();
    expect(apiKey).toBeTruthy();
    const login = await fetch(`http://127.0.0.1:${port}/_coffer/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    const stats = await fetch(`http://127.0.0.1:${port}/_coffer/api/v1/stats`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(stats.status).toBe(200);
    child.stdout!.removeAllListeners('data');
    child.removeAllListeners('exit');
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  });

  it('starts again after kill -9 left its Postgres running, with the same admin', async () => {
    const { child, output } = await startDev();
    expect(output).toContain('Coffer is running');
    const password = /user admin, password (\S+)\)/.exec(output)?.[1];
    const login = await fetch(`http://127.0.0.1:${port}/_coffer/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    expect(login.status).toBe(200);
    child.removeAllListeners('exit');
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  });
});
