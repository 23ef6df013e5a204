import { existsSync } from 'node:fs';
import { copyFile, chmod, readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import aws4 from 'aws4';
import { ADMIN_USERNAME } from '../../stacks/topology.js';
import { ADMIN_FILES, CA_FILES, readCredentials } from './secrets.js';

export interface LoginError {
  error: string;
  message: string;
  status?: number;
  code?: string;
  restriction_state?: string;
}

export interface LoginReport {
  ok: boolean;
  endpoint: string;
  rootCert: string;
  /** The console admin's login: done, or waiting for a TOTP code nobody could give (non-interactive). */
  console?: 'ok' | 'totp-required';
  error?: LoginError;
}

export interface LoginOptions {
  region?: string;
  /** Asked for the admin's current TOTP code once the password is accepted and TOTP is enrolled. */
  totpCode?: () => Promise<string | undefined>;
}

interface Reply {
  status: number;
  body: string;
}

function get(
  url: URL,
  ca: Buffer,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, headers, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Checks a deployment the way a client will meet it: TLS verified against the generated root CA,
 * then an S3 ListBuckets signed with the first credential. Writes ./root.crt for clients.
 */
export async function login(root: string, endpoint: string, opts: LoginOptions = {}): Promise<LoginReport> {
  const region = opts.region ?? 'us-east-1';
  const rootCert = path.join(root, 'root.crt');
  const report = (error?: LoginError, consoleState?: LoginReport['console']): LoginReport => ({
    ok: !error,
    endpoint,
    rootCert,
    console: consoleState,
    error,
  });
  if (!existsSync(path.join(root, CA_FILES.cert)))
    return report({
      error: 'SecretsMissing',
      message: `${CA_FILES.cert} is missing: this deployment was never set up here; run npm run up (or npm run setup-credentials)`,
    });
  await copyFile(path.join(root, CA_FILES.cert), rootCert);
  await chmod(rootCert, 0o644);
  const ca = await readFile(rootCert);
  const base = new URL(endpoint);
  try {
    const health = await get(new URL('/health', base), ca);
    if (health.status !== 200)
      return report({
        error: 'GatewayUnhealthy',
        message: `GET /health answered ${health.status}`,
        status: health.status,
      });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED')
      return report({
        error: 'DeploymentDown',
        message: `nothing answers at ${endpoint}: the deployment is not running; start it with npm run up`,
        code,
      });
    return report({ error: 'TlsCheckFailed', message: `${endpoint}: ${(err as Error).message}`, code });
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
  return consoleLogin(root, base, ca, opts, report);
}

/**
 * Logs the first admin in to the management API as the console does: password, then a TOTP code
 * when enrolled. Also checks the management API key setup-credentials wrote.
 */
async function consoleLogin(
  root: string,
  base: URL,
  ca: Buffer,
  opts: LoginOptions,
  report: (error?: LoginError, consoleState?: LoginReport['console']) => LoginReport,
): Promise<LoginReport> {
  const read = async (rel: string) => (await readFile(path.join(root, rel), 'utf8').catch(() => '')).trim();
  const password = await read(ADMIN_FILES.password);
  const apiKey = await read(ADMIN_FILES.apiKey);
  if (!password || !apiKey)
    return report({
      error: 'NoAdmin',
      message: `${ADMIN_FILES.password} or ${ADMIN_FILES.apiKey} is missing; run setup-credentials`,
    });
  const stats = await get(new URL('/_coffer/api/v1/stats', base), ca, { authorization: `Bearer ${apiKey}` });
  if (stats.status !== 200) return report(apiError(stats, 'ManagementApiFailed'));
  const attempt = (totp_code?: string) =>
    get(
      new URL('/_coffer/api/v1/auth/login', base),
      ca,
      { 'content-type': 'application/json' },
      'POST',
      JSON.stringify({ username: ADMIN_USERNAME, password, ...(totp_code ? { totp_code } : {}) }),
    );
  let res = await attempt();
  if (res.status === 401 && apiError(res, '').error === 'TotpRequired') {
    const code = await opts.totpCode?.();
    if (!code) return report(undefined, 'totp-required');
    res = await attempt(code.trim());
  }
  if (res.status !== 200) return report(apiError(res, 'ConsoleLoginFailed'));
  return report(undefined, 'ok');
}

function apiError(res: Reply, fallback: string): LoginError {
  try {
    const body = JSON.parse(res.body) as LoginError;
    return { ...body, status: res.status };
  } catch {
    return { error: fallback, message: res.body.slice(0, 200), status: res.status };
  }
}
