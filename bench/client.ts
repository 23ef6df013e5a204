/**
 * The one S3 client every server in the bench is driven by: SigV4 from aws4, over a keep-alive agent, and
 * over bare connections (bench/connection.ts) for the 4 KiB load and the large GET.
 */
import http from 'node:http';
import aws4 from 'aws4';
import { Connection, type Answer } from './connection.js';

export interface Target {
  name: string;
  endpoint: URL;
  /** Several gateways of one deployment: requests go to each in turn, as DNS round robin would send them. */
  endpoints?: URL[];
  cred: { accessKeyId: string; secretAccessKey: string };
  /** Root processes whose trees make up the server, Postgres and containers included: what CPU is counted over. */
  roots(): Promise<number[]>;
  /** The main server process, for its peak RSS. */
  pid?: number;
  stop(): Promise<void>;
}

export type { Answer };

export type RequestBody = Buffer | (() => AsyncIterable<Buffer> | Iterable<Buffer>);

export function makeClient() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  let turn = 0;
  function request(
    t: Target,
    method: string,
    p: string,
    body?: RequestBody,
    extraHeaders: Record<string, string> = {},
  ): Promise<Answer> {
    const endpoint = t.endpoints ? t.endpoints[turn++ % t.endpoints.length]! : t.endpoint;
    const signed = aws4.sign(
      {
        host: endpoint.host,
        method,
        path: p,
        service: 's3',
        region: 'us-east-1',
        headers: { ...extraHeaders },
        body: Buffer.isBuffer(body) ? body : undefined,
      },
      t.cred,
    );
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: endpoint.hostname,
          port: endpoint.port,
          method,
          path: p,
          headers: signed.headers as Record<string, string>,
        },
        (res) => {
          let bytes = 0;
          const small: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            // Only small answers (errors, XML) are kept; object bodies are counted, not held.
            if (bytes <= 64 * 1024) small.push(c);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              bytes,
              headers: res.headers,
              text: Buffer.concat(small).toString('utf8'),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (Buffer.isBuffer(body)) req.end(body);
      else if (body) {
        (async () => {
          for await (const chunk of body())
            if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          req.end();
        })().catch(reject);
      } else req.end();
    });
  }
  /** Request line and signed headers of a bodiless request or one with a Buffer body. */
  function signedHead(endpoint: URL, t: Target, method: string, p: string, body?: Buffer): string {
    const signed = aws4.sign(
      { host: endpoint.host, method, path: p, service: 's3', region: 'us-east-1', body },
      t.cred,
    );
    let head = `${method} ${p} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(signed.headers as Record<string, string>)) head += `${k}: ${v}\r\n`;
    return head;
  }
  /**
   * Signed heads of the small load, by endpoint, request and body, each reused for a minute (SigV4 allows
   * 15): every server still verifies each request in full, and signing is client CPU the server does not get.
   */
  const heads = new Map<string, { head: string; at: number }>();
  const bodyIds = new WeakMap<Buffer, number>();
  let bodies = 0;
  function reusedHead(endpoint: URL, t: Target, method: string, p: string, body?: Buffer): string {
    let bodyId = 0;
    if (body) {
      bodyId = bodyIds.get(body) ?? ++bodies;
      bodyIds.set(body, bodyId);
    }
    const id = `${t.cred.accessKeyId}@${endpoint.host} ${method} ${p} ${bodyId}`;
    const now = Date.now();
    const known = heads.get(id);
    if (known && now - known.at < 60_000) return known.head;
    const head = signedHead(endpoint, t, method, p, body);
    heads.set(id, { head, at: now });
    return head;
  }
  /**
   * Small requests one at a time over keep-alive connections of their own (one per gateway of a fleet),
   * through the bare client: what the 4 KiB load is measured with.
   */
  function lane(t: Target) {
    const endpoints = t.endpoints ?? [t.endpoint];
    const connections = endpoints.map((e) => new Connection(e));
    return {
      async ok(method: 'GET' | 'PUT', p: string, body?: Buffer): Promise<Answer> {
        const i = turn++ % endpoints.length;
        return succeeded(
          t,
          method,
          p,
          await connections[i]!.send(reusedHead(endpoints[i]!, t, method, p, body), body),
        );
      },
      close: () => connections.forEach((c) => c.close()),
    };
  }
  /** A GET of a large object counted as it arrives in one reused MiB, as a downloader writing to disk reads. */
  async function download(t: Target, p: string): Promise<Answer> {
    const connection = new Connection(t.endpoint, 1024 * 1024);
    try {
      return succeeded(t, 'GET', p, await connection.send(signedHead(t.endpoint, t, 'GET', p)));
    } finally {
      connection.close();
    }
  }
  async function ok(
    t: Target,
    method: string,
    p: string,
    body?: RequestBody,
    headers?: Record<string, string>,
  ) {
    return succeeded(t, method, p, await request(t, method, p, body, headers));
  }
  return { request, ok, lane, download, close: () => agent.destroy() };
}

/** The answer, when it is a success; otherwise the error the bench reports. */
function succeeded(t: Target, method: string, p: string, r: Answer): Answer {
  if (r.status >= 300)
    throw new Error(`${t.name}: ${method} ${p} answered HTTP ${r.status} ${r.text.slice(0, 200)}`);
  return r;
}
