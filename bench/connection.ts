/**
 * A bare HTTP/1.1 connection for the bench's load: one request at a time, read into one buffer it keeps.
 * The http module allocates a fresh buffer per socket read and builds a message object per answer; on a
 * 2-core machine the client's CPU is CPU the server under test does not get, so that cost is left out.
 */
import type http from 'node:http';
import net from 'node:net';

export interface Answer {
  status: number;
  bytes: number;
  headers: http.IncomingHttpHeaders;
  /** The body as text when the answer is an error (status 300 and above); empty otherwise. */
  text: string;
}

interface Pending {
  resolve(a: Answer): void;
  reject(err: Error): void;
  head: string;
  answer?: Answer;
  /** Body bytes still to come, or -1 while the body is chunked and read to its last chunk. */
  left: number;
  /** The body as read so far, kept only when chunked or an error. */
  kept: string;
}

export class Connection {
  private socket: net.Socket | undefined;
  private pending: Pending | undefined;
  private readonly into: Buffer;

  constructor(
    private readonly endpoint: URL,
    bufferSize = 64 * 1024,
  ) {
    this.into = Buffer.allocUnsafe(bufferSize);
  }

  /**
   * Sends `head` (request line and headers, without the blank line) and `body`; resolves with the answer.
   * Not for HEAD, whose answer declares a length it does not send.
   */
  send(head: string, body?: Buffer): Promise<Answer> {
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    const socket = (this.socket ??= this.connect());
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, head: '', left: 0, kept: '' };
      socket.cork();
      socket.write(`${head}\r\n`, 'latin1');
      if (body?.length) socket.write(body);
      socket.uncork();
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const socket = net.connect({
      host: this.endpoint.hostname,
      port: Number(this.endpoint.port),
      noDelay: true,
      onread: { buffer: this.into, callback: (n: number) => (this.read(n), true) },
    } as net.NetConnectOpts);
    const gone = (err: Error) => {
      if (this.socket === socket) this.socket = undefined;
      socket.destroy();
      this.settle(err);
    };
    socket.on('error', gone);
    socket.on('end', () => gone(new Error(`${this.endpoint.host} closed the connection`)));
    return socket;
  }

  private settle(result: Answer | Error): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
  }

  private read(n: number): void {
    const p = this.pending;
    if (!p) return this.close(); // bytes nobody asked for: the connection is out of step
    let body = n;
    let at = 0;
    if (!p.answer) {
      p.head += this.into.toString('latin1', 0, n);
      const end = p.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const answer = (p.answer = parseHead(p.head.slice(0, end)));
      body = p.head.length - end - 4;
      at = n - body;
      p.head = '';
      if (/chunked/i.test(String(answer.headers['transfer-encoding'] ?? ''))) p.left = -1;
      else p.left = Number(answer.headers['content-length'] ?? 0);
    }
    const answer = p.answer;
    if (p.left < 0 || answer.status >= 300) p.kept += this.into.toString('latin1', at, at + body);
    if (p.left >= 0) {
      answer.bytes += body;
      p.left -= body;
      if (p.left > 0) return;
      if (answer.status >= 300) answer.text = Buffer.from(p.kept, 'latin1').toString('utf8');
    } else {
      if (!p.kept.endsWith('0\r\n\r\n')) return;
      const decoded = dechunk(p.kept);
      answer.bytes = decoded.length;
      if (answer.status >= 300) answer.text = decoded.toString('utf8');
    }
    if (/close/i.test(String(answer.headers.connection ?? ''))) this.close();
    this.settle(answer);
  }
}

/** The status line and headers of an answer. */
function parseHead(head: string): Answer {
  const [statusLine, ...fields] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: http.IncomingHttpHeaders = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0) headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
  }
  return { status, bytes: 0, headers, text: '' };
}

/** A chunked body, whole, without its framing. */
function dechunk(text: string): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(Buffer.from(text.slice(eol + 2, eol + 2 + size), 'latin1'));
    at = eol + 2 + size + 2;
  }
}
