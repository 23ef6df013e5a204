import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { run } from './run.js';

export interface TlsProxy {
  port: number;
  caFile: string;
  close(): Promise<void>;
}

/** A key and a self-signed certificate for `san` (`DNS:localhost,...`), good for a day: their file names in `dir`. */
export async function selfSignedCertificate(
  dir: string,
  san: string,
): Promise<{ key: string; cert: string }> {
  const key = path.join(dir, `tls-${randomBytes(4).toString('hex')}.key`);
  const cert = key.replace(/\.key$/, '.crt');
  await run(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
      '-subj',
      '/CN=localhost',
      '-addext',
      `subjectAltName=${san}`,
    ]),
    process.env,
  );
  return { key, cert };
}

/**
 * A TLS terminator in front of the gateway, as nginx will be: bytes pass through untouched, so the
 * Host and path the client signed reach the gateway unchanged.
 */
export async function startTlsProxy(dir: string, targetPort: number): Promise<TlsProxy> {
  const { key, cert } = await selfSignedCertificate(dir, 'DNS:localhost,IP:127.0.0.1');
  const server = tls.createServer({ key: await readFile(key), cert: await readFile(cert) }, (client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    caFile: cert,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
