import aws4 from 'aws4';
import { connect } from 'node:net';
import type { TestCredential } from './gateway.js';

/** A raw HTTP/1.1 conversation: what the server sent, and whether and when it closed the connection. */
export function rawConversation(port: number) {
  const socket = connect(port, '127.0.0.1');
  const started = Date.now();
  let received = '';
  const closed = new Promise<{ received: string; afterMs: number }>((resolve) => {
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('close', () => resolve({ received, afterMs: Date.now() - started }));
    socket.on('error', () => undefined);
  });
  return {
    socket,
    closed,
    received: () => received,
    write: (text: string | Buffer) => socket.write(text),
    waitFor: async (pattern: RegExp, ms = 5000) => {
      const until = Date.now() + ms;
      while (!pattern.test(received) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      return received;
    },
  };
}

/**
 * The request line and headers of a SigV4-signed request (aws4), for writing to a raw socket: the body
 * (signed by its SHA-256) is then sent as the test likes, slowly, partly or not at all.
 */
export function signedRequestHead(
  endpoint: string,
  cred: TestCredential,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body: string | Buffer = '',
): string {
  const url = new URL(endpoint);
  const signed = aws4.sign(
    { host: url.host, method, path, service: 's3', region: 'us-east-1', headers, body },
    cred,
  );
  const lines = Object.entries(signed.headers as Record<string, string>).map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}
