/** The one S3 client every server in the bench is driven by: SigV4 from aws4 over a keep-alive agent. */
import http from 'node:http';
import aws4 from 'aws4';

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

export interface Answer {
  status: number;
  bytes: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

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
  async function ok(
    t: Target,
    method: string,
    p: string,
    body?: RequestBody,
    headers?: Record<string, string>,
  ) {
    const r = await request(t, method, p, body, headers);
    if (r.status >= 300)
      throw new Error(`${t.name}: ${method} ${p} answered HTTP ${r.status} ${r.text.slice(0, 200)}`);
    return r;
  }
  return { request, ok, close: () => agent.destroy() };
}
