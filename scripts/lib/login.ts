import { copyFile, chmod, readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import aws4 from 'aws4';
import { readCredentials, CA_FILES } from './secrets.js';

export interface LoginReport {
  ok: boolean;
  endpoint: string;
  rootCert: string;
  error?: { error: string; message: string; status?: number; code?: string };
}

interface Reply {
  status: number;
  body: string;
}

function get(url: URL, ca: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', ca, headers, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Checks a deployment the way a client will meet it: TLS verified against the generated root CA,
 * then an S3 ListBuckets signed with the first credential. Writes ./root.crt for clients.
 */
export async function login(root: string, endpoint: string, region = 'us-east-1'): Promise<LoginReport> {
  const rootCert = path.join(root, 'root.crt');
  await copyFile(path.join(root, CA_FILES.cert), rootCert);
  await chmod(rootCert, 0o644);
  const ca = await readFile(rootCert);
  const base = new URL(endpoint);
  const report = (error?: LoginReport['error']): LoginReport => ({ ok: !error, endpoint, rootCert, error });
  try {
    const health = await get(new URL('/health', base), ca);
    if (health.status !== 200)
      return report({
        error: 'GatewayUnhealthy',
        message: `GET /health answered ${health.status}`,
        status: health.status,
      });
  } catch (err) {
    return report({ error: 'TlsCheckFailed', message: `${endpoint}: ${(err as Error).message}` });
  }
  const [cred] = await readCredentials(root);
  if (!cred)
    return report({ error: 'NoCredential', message: 'secrets/credentials_json.txt holds no credential' });
  const signed = aws4.sign(
    {
      host: base.host,
      path: '/',
      method: 'GET',
      service: 's3',
      region,
      headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { accessKeyId: cred.client_id, secretAccessKey: cred.client_secret },
  );
  const res = await get(new URL('/', base), ca, signed.headers as Record<string, string>);
  if (res.status !== 200) {
    const code = /<Code>([^<]+)<\/Code>/.exec(res.body)?.[1];
    const message = /<Message>([^<]+)<\/Message>/.exec(res.body)?.[1] ?? res.body.slice(0, 200);
    return report({
      error: 'S3AccessFailed',
      message: `ListBuckets as ${cred.client_id}: ${message}`,
      status: res.status,
      code,
    });
  }
  return report();
}
