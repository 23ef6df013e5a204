/**
 * The bench's floor: the least any server must do for the bench's requests on this machine, and nothing
 * more. No authentication, encryption, digests or S3 semantics: small objects are one row in Postgres
 * (one durable INSERT, one prepared primary-key SELECT), large bodies are written to a file and fdatasync'd,
 * and read back from it, by Coffer's own filesystem blob backend (so with the same direct I/O). Run as its
 * own process so its CPU is counted as a server's.
 */
import http from 'node:http';
import pg from 'pg';
import { FsBackend } from '../service/src/blobs/fs-backend.js';

const [dir, databaseUrl, port] = process.argv.slice(2);
if (!dir || !databaseUrl || !port) throw new Error('usage: floor-server DIR DATABASE_URL PORT');

const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
await pool.query('CREATE TABLE IF NOT EXISTS floor_objects (key text PRIMARY KEY, data bytea NOT NULL)');

const blobs = new FsBackend(dir);
await blobs.init();
/** Which blob holds each large key, and its length: the floor keeps no other metadata. */
const files = new Map<string, { name: string; size: number }>();
const MiB = 1024 * 1024;

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function writeFileDurably(req: http.IncomingMessage, key: string): Promise<void> {
  const sink = await blobs.create();
  try {
    // Batched as Coffer batches its sealed output: one write per MiB, not one per socket read.
    let batch: Buffer[] = [];
    let size = 0;
    let total = 0;
    for await (const c of req) {
      batch.push(c as Buffer);
      size += (c as Buffer).length;
      total += (c as Buffer).length;
      if (size < MiB) continue;
      await sink.write(batch);
      [batch, size] = [[], 0];
    }
    if (batch.length) await sink.write(batch);
    await sink.commit();
    const old = files.get(key);
    files.set(key, { name: sink.name, size: total });
    if (old) await blobs.delete(old.name);
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

async function readFile(res: http.ServerResponse, key: string): Promise<void> {
  const file = files.get(key);
  if (!file) return void ((res.statusCode = 404), res.end());
  const src = await blobs.open(file.name, file.size);
  res.setHeader('content-length', file.size);
  try {
    const into = Buffer.allocUnsafe(MiB);
    for (let at = 0; at < file.size; at += MiB) {
      const chunk = await src.read(at, Math.min(MiB, file.size - at), into);
      // The source reuses its buffer at the next read: that waits until the socket has taken these bytes.
      await new Promise<void>((resolve, reject) =>
        res.write(chunk, (err) => (err ? reject(err) : resolve())),
      );
    }
  } finally {
    await src.close();
  }
  res.end();
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
  if (req.method === 'GET') return readFile(res, key);
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
