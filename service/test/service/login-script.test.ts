import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login } from '../../../scripts/lib/login.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { managementClient } from '../support/management.js';
import { startTlsProxy, type TlsProxy } from '../support/tls-proxy.js';

/** scripts/lib/login.ts against a real gateway behind TLS, with a secrets/ directory as setup-credentials leaves it. */
describe('npm run login', () => {
  let env: TestEnv;
  let gw: RunningGateway;
  let proxy: TlsProxy;
  let root: string;
  let endpoint: string;

  beforeAll(async () => {
    env = await createTestEnv();
    gw = await startGateway(env.env);
    proxy = await startTlsProxy(env.dir, gw.port);
    endpoint = `https://localhost:${proxy.port}`;
    root = await mkdtemp(path.join(os.tmpdir(), 'coffer-login-'));
    await mkdir(path.join(root, 'secrets'));
    const secret = (name: string, content: string) => writeFile(path.join(root, 'secrets', name), content);
    await copyFile(proxy.caFile, path.join(root, 'secrets/root.crt'));
    await secret(
      'credentials_json.txt',
      JSON.stringify([
        { client_id: env.creds[0]!.accessKeyId, client_secret: env.creds[0]!.secretAccessKey },
      ]),
    );
    await secret('admin_password.txt', env.admin.password + '\n');
    await secret('management_api_key.txt', env.admin.apiKey + '\n');
  });
  afterAll(async () => {
    await proxy?.close();
    await gw?.close();
    await env?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('checks TLS, S3, the management API key and the console login', async () => {
    expect(await login(root, endpoint)).toMatchObject({
      ok: true,
      console: 'ok',
      rootCert: path.join(root, 'root.crt'),
    });
  });

  it('asks for the TOTP code once two-step verification is enrolled, and reports a wrong one', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const enrolled = await api('POST', '/auth/totp/enroll');
    const totp = new OTPAuth.TOTP({
      secret: OTPAuth.Secret.fromBase32(String(enrolled.body.secret)),
      digits: 6,
      period: 30,
    });
    expect((await api('POST', '/auth/totp/confirm', { code: totp.generate() })).status).toBe(200);

    expect(await login(root, endpoint)).toMatchObject({ ok: true, console: 'totp-required' });
    const asked: string[] = [];
    const ok = await login(root, endpoint, {
      totpCode: async () => {
        asked.push('code');
        return totp.generate({ timestamp: Date.now() + 30_000 });
      },
    });
    expect(asked).toEqual(['code']);
    expect(ok).toMatchObject({ ok: true, console: 'ok' });
    const wrong = await login(root, endpoint, {
      totpCode: async () => ('000000' === totp.generate() ? '111111' : '000000'),
    });
    expect(wrong).toMatchObject({
      ok: false,
      error: { error: 'InvalidCredentials', message: 'Login was unsuccessful', status: 401 },
    });
  });

  it('reports a revoked management API key as a structured error', async () => {
    await writeFile(path.join(root, 'secrets/management_api_key.txt'), 'cfk_revoked\n');
    expect(await login(root, endpoint)).toMatchObject({
      ok: false,
      error: { error: 'InvalidApiKey', status: 401 },
    });
  });
});
