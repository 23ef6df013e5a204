import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupCredentials } from '../../scripts/lib/secrets.js';
import { SECRET_FILES } from '../../stacks/topology.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'coffer-setup-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const mode = async (p: string) => (await stat(path.join(root, p))).mode & 0o777;
const opts = () => ({
  root,
  domain: 's3.example.lan',
  extraHosts: ['backup.example.lan'],
  extraIps: ['10.0.0.5'],
  force: false,
});

describe('setup-credentials', () => {
  it('writes every secret 0600 in a 0700 directory, with the CA and SANs asked for', async () => {
    const r = await setupCredentials(opts());
    expect(r.kept).toEqual([]);
    expect(await mode('secrets')).toBe(0o700);
    for (const f of [
      ...Object.values(SECRET_FILES),
      'secrets/ca.key',
      'secrets/root.crt',
      'credentials.json',
    ]) {
      expect(await mode(f), f).toBe(0o600);
    }
    const creds = JSON.parse(await readFile(path.join(root, SECRET_FILES.credentials_json), 'utf8'));
    expect(creds[0]).toMatchObject({
      client_id: expect.stringMatching(/^AKIA[0-9A-F]{16}$/),
      client_secret: expect.any(String),
    });
    const url = await readFile(path.join(root, SECRET_FILES.database_url), 'utf8');
    const password = await readFile(path.join(root, SECRET_FILES.postgres_password), 'utf8');
    expect(url).toBe(`postgres://coffer:${encodeURIComponent(password)}@postgres:5432/coffer`);
    const san = execFileSync(
      'openssl',
      ['x509', '-in', path.join(root, SECRET_FILES.server_crt), '-noout', '-ext', 'subjectAltName'],
      {
        encoding: 'utf8',
      },
    );
    for (const n of [
      'DNS:s3.example.lan',
      'DNS:*.s3.example.lan',
      'DNS:localhost',
      'DNS:backup.example.lan',
      'IP Address:127.0.0.1',
      'IP Address:10.0.0.5',
    ]) {
      expect(san).toContain(n);
    }
    execFileSync('openssl', [
      'verify',
      '-CAfile',
      path.join(root, 'secrets/root.crt'),
      path.join(root, SECRET_FILES.server_crt),
    ]);
    const ca = execFileSync(
      'openssl',
      ['x509', '-in', path.join(root, 'secrets/root.crt'), '-noout', '-ext', 'basicConstraints'],
      {
        encoding: 'utf8',
      },
    );
    expect(ca).toContain('CA:TRUE');
  });

  it('keeps existing secrets, and never replaces the master key even with --force', async () => {
    const master = await readFile(path.join(root, SECRET_FILES.master_key), 'utf8');
    const creds = await readFile(path.join(root, SECRET_FILES.credentials_json), 'utf8');
    const again = await setupCredentials(opts());
    expect(again.created).toEqual([]);
    expect(await readFile(path.join(root, SECRET_FILES.credentials_json), 'utf8')).toBe(creds);
    const forced = await setupCredentials({ ...opts(), force: true });
    expect(forced.created).toContain(SECRET_FILES.credentials_json);
    expect(forced.created).not.toContain(SECRET_FILES.master_key);
    expect(await readFile(path.join(root, SECRET_FILES.master_key), 'utf8')).toBe(master);
    expect(await readFile(path.join(root, SECRET_FILES.credentials_json), 'utf8')).not.toBe(creds);
  });
});
