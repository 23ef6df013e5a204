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
