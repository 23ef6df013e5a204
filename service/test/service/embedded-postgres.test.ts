import { rm } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../scripts/lib/embedded-postgres.js';
import { freePort } from '../../../scripts/lib/free-port.js';

/** The dev cluster the gateway runs beside (npm run dev, the tests, the bench). */
let cluster: RunningPostgres;

beforeAll(async () => {
  cluster = await startEmbeddedPostgres({ port: await freePort() });
});
afterAll(() => cluster?.stop());

async function serverAddress(connectionString: string): Promise<string | null> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<{ a: string | null }>('SELECT inet_server_addr()::text AS a')).rows[0]!.a;
  } finally {
    await client.end();
  }
}

it('is reached through its unix socket, and still over TCP by host and port', async () => {
  const url = new URL(cluster.url);
  expect(url.searchParams.get('host')).toBe(cluster.dataDir);
  // inet_server_addr() is NULL on a unix-socket connection.
  expect(await serverAddress(cluster.url)).toBeNull();
  url.search = '';
  expect(await serverAddress(url.toString())).toBe('127.0.0.1/32');
});

it('is reached over TCP when its directory could not name a socket (a space in the path)', async () => {
  const dataDir = `/tmp/coffer pg ${process.pid}`;
  const spaced = await startEmbeddedPostgres({ port: await freePort(), dataDir });
  try {
    expect(new URL(spaced.url).searchParams.has('host')).toBe(false);
    expect(await serverAddress(spaced.url)).toBe('127.0.0.1/32');
  } finally {
    await spaced.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
