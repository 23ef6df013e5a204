/**
 * The bench's floor: the least any server must do for the bench's requests on this machine, and nothing
 * more. No authentication, encryption, digests or S3 semantics: small objects are one row in Postgres
 * (one durable INSERT, one prepared primary-key SELECT), large bodies are written to a file and fdatasync'd,
 * and read back from it. Run as its own process so its CPU is counted as a server's.
 */
import { createReadStream } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';

const [dir, databaseUrl, port] = process.argv.slice(2);
if (!dir || !databaseUrl || !port) throw new Error('usage: floor-server DIR DATABASE_URL PORT');

const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
await pool.query('CREATE TABLE IF NOT EXISTS floor_objects (key text PRIMARY KEY, data bytea NOT NULL)');

/** Keys become file names: only the characters the bench uses. */
const fileOf = (key: string) => path.join(dir, key.replace(/[^A-Za-z0-9_-]/g, '_'));

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function writeFileDurably(req: http.IncomingMessage, key: string): Promise<void> {
  const tmp = `${fileOf(key)}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    // Batched as Coffer batches its sealed output: one writev per MiB, not one write per socket read.
    let batch: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      batch.push(c as Buffer);
      size += (c as Buffer).length;
      if (size < 1024 * 1024) continue;
      await fh.writev(batch);
      [batch, size] = [[], 0];
    }
    if (batch.length) await fh.writev(batch);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, fileOf(key));
}

async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://floor');
  const key = url.pathname.slice(1);
  const q = url.searchParams;
  if (key === '') return void res.end();
  if (req.method === 'PUT' && !key.includes('/')) return void (await readBody(req), res.end());
  if (req.method === 'POST' && q.has('uploads'))
    return void res.end(
      '<InitiateMultipartUploadResult><UploadId>floor</UploadId></InitiateMultipartUploadResult>',
    );
  if (req.method === 'POST' && q.has('uploadId'))
    return void (await readBody(req), res.end('<CompleteMultipartUploadResult/>'));
  if (req.method === 'PUT' && key.includes('/small/')) {
    await pool.query({
      name: 'put',
      text: 'INSERT INTO floor_objects VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data',
      values: [key, await readBody(req)],
    });
    return void res.end();
  }
  if (req.method === 'PUT') {
    await writeFileDurably(req, q.has('partNumber') ? `${key}-${q.get('partNumber')}` : key);
    res.setHeader('etag', '"floor"');
    return void res.end();
  }
  if (req.method === 'GET' && key.includes('/small/')) {
    const { rows } = await pool.query<{ data: Buffer }>({
      name: 'get',
      text: 'SELECT data FROM floor_objects WHERE key = $1',
      values: [key],
    });
    if (!rows[0]) return void ((res.statusCode = 404), res.end());
    return void res.end(rows[0].data);
  }
  if (req.method === 'GET')
    return pipeline(createReadStream(fileOf(key), { highWaterMark: 1024 * 1024 }), res);
  res.statusCode = 405;
  res.end();
}

http
  .createServer((req, res) => {
    serve(req, res).catch((err: Error) => {
      res.statusCode = 500;
      res.end(err.message);
    });
  })
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
