import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

describe('setup-credentials never loses the master key or breaks a deployment', () => {
  let dir: string;
  const base = () => ({ root: dir, domain: 'localhost', extraHosts: [], extraIps: [], force: false });
  const read = (rel: string) => readFile(path.join(dir, rel), 'utf8');
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-safety-'));
    await setupCredentials(base());
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('with only master_key.txt missing, refuses to make a new key and leaves the backup as it was', async () => {
    const backup = await read('credentials.json');
    const key = await read(SECRET_FILES.master_key);
    await rm(path.join(dir, SECRET_FILES.master_key));
    await expect(setupCredentials(base())).rejects.toThrow(/master_key\.txt is missing.*credentials\.json/);
    expect(existsSync(path.join(dir, SECRET_FILES.master_key))).toBe(false);
    expect(await read('credentials.json')).toBe(backup);
    expect(JSON.parse(backup).master_key).toBe(key.trim());
    await writeFile(path.join(dir, SECRET_FILES.master_key), key, { mode: 0o600 });
  });

  it('refuses to make a master key when the data volume holds data, naming the file to restore', async () => {
    const key = await read(SECRET_FILES.master_key);
    await rm(path.join(dir, SECRET_FILES.master_key));
    await rm(path.join(dir, 'credentials.json'));
    await expect(setupCredentials({ ...base(), existingData: 'coffer_coffer-data' })).rejects.toThrow(
      /master_key\.txt is missing, but the volume coffer_coffer-data holds data/,
    );
    expect(existsSync(path.join(dir, SECRET_FILES.master_key))).toBe(false);
    await writeFile(path.join(dir, SECRET_FILES.master_key), key, { mode: 0o600 });
    await setupCredentials(base());
    expect(JSON.parse(await read('credentials.json')).master_key).toBe(key.trim());
  });

  it('never overwrites a backup of a different master key', async () => {
    const backup = JSON.parse(await read('credentials.json'));
    await writeFile(
      path.join(dir, 'credentials.json'),
      JSON.stringify({ ...backup, master_key: 'ab'.repeat(32) }),
    );
    await expect(setupCredentials(base())).rejects.toThrow(/different master key/);
    expect(JSON.parse(await read('credentials.json')).master_key).toBe('ab'.repeat(32));
    await writeFile(path.join(dir, 'credentials.json'), JSON.stringify(backup));
  });

  it('--force with data in place keeps the Postgres password and the CA, and rotates what is safe', async () => {
    const before = Object.fromEntries(
      await Promise.all(
        [
          SECRET_FILES.postgres_password,
          SECRET_FILES.database_url,
          'secrets/ca.key',
          'secrets/root.crt',
          SECRET_FILES.credentials_json,
          SECRET_FILES.admin_json,
          SECRET_FILES.server_crt,
        ].map(async (f) => [f, await read(f)]),
      ),
    );
    const r = await setupCredentials({ ...base(), force: true, existingData: 'coffer_postgres-data' });
    for (const kept of [
      SECRET_FILES.postgres_password,
      SECRET_FILES.database_url,
      'secrets/ca.key',
      'secrets/root.crt',
    ])
      expect(await read(kept), kept).toBe(before[kept]);
    expect(r.kept).toEqual(expect.arrayContaining([SECRET_FILES.postgres_password, 'secrets/ca.key']));
    for (const rotated of [SECRET_FILES.credentials_json, SECRET_FILES.admin_json, SECRET_FILES.server_crt])
      expect(await read(rotated), rotated).not.toBe(before[rotated]);
    execFileSync('openssl', [
      'verify',
      '-CAfile',
      path.join(dir, 'secrets/root.crt'),
      path.join(dir, SECRET_FILES.server_crt),
    ]);
  });

  it('reissues only the server certificate, from the same CA, when the domain changes', async () => {
    const ca = await read('secrets/root.crt');
    const pg = await read(SECRET_FILES.postgres_password);
    const r = await setupCredentials({ ...base(), domain: 's3.new.lan' });
    expect(r.created.sort()).toEqual([SECRET_FILES.server_crt, SECRET_FILES.server_key].sort());
    expect(await read('secrets/root.crt')).toBe(ca);
    expect(await read(SECRET_FILES.postgres_password)).toBe(pg);
    const san = execFileSync(
      'openssl',
      ['x509', '-in', path.join(dir, SECRET_FILES.server_crt), '-noout', '-ext', 'subjectAltName'],
      { encoding: 'utf8' },
    );
    expect(san).toContain('DNS:s3.new.lan');
    expect((await setupCredentials({ ...base(), domain: 's3.new.lan' })).created).toEqual([]);
  });
});
