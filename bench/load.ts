/** The workloads, each measured as a rate plus the server CPU it cost. */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { makeClient, Target } from './client.js';
import { measured } from './cpu.js';

const MiB = 1024 * 1024;
type Client = ReturnType<typeof makeClient>;

export interface Rate {
  /** ops/s or MB/s */
  rate: number;
  /** CPU seconds per op, or per GB */
  cpu: number;
  p50?: number;
  p99?: number;
}

const pct = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

/** Small-object ops/s at `concurrency`; GETs only read keys a PUT phase wrote. */
export async function smallOps(
  client: Client,
  t: Target,
  op: 'PUT' | 'GET',
  opts: { body: Buffer; keys: number; seconds: number; concurrency: number; bucket?: string },
): Promise<Rate> {
  const latencies: number[] = [];
  let next = 0;
  const { secs, cpu } = await measured(t.roots, async () => {
    const deadline = Date.now() + opts.seconds * 1000;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        const lane = client.lane(t);
        try {
          while (Date.now() < deadline) {
            const key = `/${opts.bucket ?? 'bench'}/small/${next++ % opts.keys}`;
            const t0 = process.hrtime.bigint();
            await lane.ok(op, key, op === 'PUT' ? opts.body : undefined);
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          }
        } finally {
          lane.close();
        }
      }),
    );
  });
  latencies.sort((a, b) => a - b);
  return {
    rate: latencies.length / secs,
    cpu: (cpu * 1000) / latencies.length,
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
  };
}

/** The body and what each way of sending it declares, computed once so the client costs nothing per run. */
export interface BigBody {
  data: Buffer;
  sha256: string;
  crc32: string;
}

export function bigBody(data: Buffer): BigBody {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data));
  return { data, sha256: createHash('sha256').update(data).digest('hex'), crc32: crc.toString('base64') };
}

function* slices(data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function throughput(t: Target, bytes: number, work: () => Promise<unknown>): Promise<Rate> {
  const { cpu, secs } = await measured(t.roots, work);
  return { rate: bytes / MiB / secs, cpu: cpu / (bytes / 1e9) };
}

/** A PUT whose SigV4 signature covers the body's SHA-256, as aws CLI v1 and most tools send. */
export function bigPutSigned(client: Client, t: Target, body: BigBody): Promise<Rate> {
  return throughput(t, body.data.length, () =>
    client.ok(t, 'PUT', '/bench/big', () => slices(body.data, MiB), {
      'x-amz-content-sha256': body.sha256,
      'content-length': String(body.data.length),
    }),
  );
}

/** aws-chunked with an unsigned payload and a CRC32 trailer: what the AWS SDKs send by default. */
export function bigPutChunked(client: Client, t: Target, body: BigBody): Promise<Rate> {
  const CHUNK = 64 * 1024;
  const trailer = Buffer.from(`0\r\nx-amz-checksum-crc32:${body.crc32}\r\n\r\n`);
  let encoded = trailer.length;
  for (let i = 0; i < body.data.length; i += CHUNK) {
    const n = Math.min(CHUNK, body.data.length - i);
    encoded += n.toString(16).length + 4 + n;
  }
  async function* frames(): AsyncGenerator<Buffer> {
    for (const c of slices(body.data, CHUNK))
      yield Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, CRLF]);
    yield trailer;
  }
  return throughput(t, body.data.length, () =>
    client.ok(t, 'PUT', '/bench/big-chunked', frames, {
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(body.data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'content-length': String(encoded),
    }),
  );
}
const CRLF = Buffer.from('\r\n');

export function bigGet(client: Client, t: Target, bytes: number): Promise<Rate> {
  return throughput(t, bytes, async () => {
    const got = await client.download(t, '/bench/big');
    if (got.bytes !== bytes) throw new Error(`${t.name} returned ${got.bytes} bytes for the big object`);
  });
}

/** A multipart upload of `total` bytes in `partSize` parts, `parallel` at a time, each part SHA-256-signed. */
export async function multipart(
  client: Client,
  t: Target,
  source: Buffer,
  opts: { total: number; partSize: number; parallel: number },
): Promise<Rate> {
  const parts = Array.from({ length: Math.floor(source.length / opts.partSize) }, (_, i) => {
    const data = source.subarray(i * opts.partSize, (i + 1) * opts.partSize);
    return { data, sha256: createHash('sha256').update(data).digest('hex') };
  });
  return throughput(t, opts.total, async () => {
    const created = await client.ok(t, 'POST', '/bench/multipart?uploads');
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.text)?.[1];
    if (!uploadId) throw new Error(`${t.name}: no UploadId in ${created.text}`);
    const count = opts.total / opts.partSize;
    const etags: string[] = [];
    let next = 1;
    await Promise.all(
      Array.from({ length: opts.parallel }, async () => {
        while (next <= count) {
          const n = next++;
          const part = parts[(n - 1) % parts.length]!;
          const r = await client.ok(
            t,
            'PUT',
            `/bench/multipart?partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`,
            part.data,
            {
              'x-amz-content-sha256': part.sha256,
            },
          );
          etags[n - 1] = String(r.headers.etag);
        }
      }),
    );
    const xml = `<CompleteMultipartUpload>${etags
      .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`;
    const done = await client.ok(
      t,
      'POST',
      `/bench/multipart?uploadId=${encodeURIComponent(uploadId)}`,
      Buffer.from(xml),
    );
    if (!done.text.includes('CompleteMultipartUploadResult'))
      throw new Error(`${t.name}: CompleteMultipartUpload failed: ${done.text.slice(0, 200)}`);
  });
}
