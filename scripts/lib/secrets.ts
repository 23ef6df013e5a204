import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { $ } from 'zx';
import {
  ADMIN_USERNAME,
  ARCHIVE_SECRET_FILES,
  SECRET_FILES,
  serverCertNames,
} from '../../stacks/topology.js';
import { apiKeyDigest, newApiKey } from '../../service/src/crypto/api-keys.js';
import { hashPassword } from '../../service/src/management/password.js';
import { fail, OperatorError, step } from './exec.js';

export interface SetupOptions {
  root: string;
  domain: string;
  extraHosts: string[];
  extraIps: string[];
  force: boolean;
  /**
   * Where this deployment's data already lives (a Docker volume name), if it does. Secrets that data
   * depends on are then never generated anew: the master key, the Postgres password, the root CA.
   */
  existingData?: string;
  /** A new server certificate from the existing root CA (for new names, or before the old one expires). */
  renewServerCert?: boolean;
  /** The compliance-archive preset is on: its ingest and reader keys are needed too. */
  archive?: boolean;
}

export interface SetupResult {
  created: string[];
  kept: string[];
}

export const CA_FILES = { key: 'secrets/ca.key', cert: 'secrets/root.crt' } as const;

/** Host-only plaintext for the operator; the gateway receives only their digests (admin_json). */
export const ADMIN_FILES = {
  password: 'secrets/admin_password.txt',
  apiKey: 'secrets/management_api_key.txt',
} as const;

export interface S3CredentialEntry {
  client_id: string;
  client_secret: string;
  user_name?: string;
}

export async function readCredentials(root: string): Promise<S3CredentialEntry[]> {
  const file = path.join(root, SECRET_FILES.credentials_json);
  if (!existsSync(file))
    fail(`${SECRET_FILES.credentials_json} is missing; run scripts/setup-credentials first`);
  return JSON.parse(await readFile(file, 'utf8')) as S3CredentialEntry[];
}

const token = (bytes: number) => randomBytes(bytes).toString('base64url');

/**
 * Writes every secret a deployment needs, 0600 in a 0700 directory. Existing files are kept unless
 * --force, and the master key is never replaced here at all: it is the only key to the stored data.
 */
export async function setupCredentials(o: SetupOptions): Promise<SetupResult> {
  const dir = path.join(o.root, 'secrets');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const result: SetupResult = { created: [], kept: [] };
  const abs = (rel: string) => path.join(o.root, rel);
  const backup = await readBackup(path.join(o.root, 'credentials.json'));
  const write = async (rel: string, content: string) => {
    await writeFile(abs(rel), content, { mode: 0o600 });
    await chmod(abs(rel), 0o600);
    result.created.push(rel);
  };
  const want = (rel: string) => {
    if (!existsSync(abs(rel)) || o.force) return true;
    result.kept.push(rel);
    return false;
  };

  if (existsSync(abs(SECRET_FILES.master_key))) result.kept.push(SECRET_FILES.master_key);
  else if (backup?.master_key)
    throw new OperatorError(
      `${SECRET_FILES.master_key} is missing, but credentials.json holds the master key it backs up; nothing was changed. ` +
        `Restore it: jq -r .master_key credentials.json > ${SECRET_FILES.master_key} && chmod 600 ${SECRET_FILES.master_key}`,
    );
  else if (o.existingData)
    throw new OperatorError(
      `${SECRET_FILES.master_key} is missing, but the volume ${o.existingData} holds data sealed under it; nothing was changed. ` +
        `Restore ${SECRET_FILES.master_key} from your backup (the master_key of your copy of credentials.json)`,
    );
  else await write(SECRET_FILES.master_key, randomBytes(32).toString('hex') + '\n');
  // With data in place, --force regenerates only what can change without breaking it.
  const keepForData = (rel: string) => {
    if (!o.force || !o.existingData || !existsSync(abs(rel))) return false;
    result.kept.push(rel);
    return true;
  };

  const pgUserFile = SECRET_FILES.postgres_user;
  if (want(pgUserFile)) await write(pgUserFile, 'coffer');
  if (!keepForData(SECRET_FILES.postgres_password) && want(SECRET_FILES.postgres_password))
    await write(SECRET_FILES.postgres_password, token(24));
  if (
    (!keepForData(SECRET_FILES.database_url) && want(SECRET_FILES.database_url)) ||
    result.created.includes(SECRET_FILES.postgres_password)
  ) {
    const user = (await readFile(abs(pgUserFile), 'utf8')).trim();
    const password = (await readFile(abs(SECRET_FILES.postgres_password), 'utf8')).trim();
    if (!result.created.includes(SECRET_FILES.database_url)) {
      result.kept = result.kept.filter((k) => k !== SECRET_FILES.database_url);
      await write(
        SECRET_FILES.database_url,
        `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@postgres:5432/coffer`,
      );
    }
  }
  if (want(SECRET_FILES.credentials_json)) {
    const creds: S3CredentialEntry[] = [
      {
        client_id: 'AKIA' + randomBytes(8).toString('hex').toUpperCase(),
        client_secret: token(30),
        user_name: 'admin',
      },
    ];
    await write(SECRET_FILES.credentials_json, JSON.stringify(creds, null, 2) + '\n');
  }
  const archiveFile = ARCHIVE_SECRET_FILES.archive_credentials_json;
  // Written once, never by --force: rotating an archive's keys is done in the console, not by replacement.
  if (o.archive && !existsSync(abs(archiveFile))) {
    const key = (role: string) => ({
      client_id: `AKIA${role}${randomBytes(6).toString('hex').toUpperCase()}`,
      client_secret: token(30),
    });
    await write(
      archiveFile,
      JSON.stringify({ ingest: key('INGEST'), reader: key('READER') }, null, 2) + '\n',
    );
  } else if (o.archive) result.kept.push(archiveFile);
  if (
    want(SECRET_FILES.admin_json) ||
    !existsSync(abs(ADMIN_FILES.password)) ||
    !existsSync(abs(ADMIN_FILES.apiKey))
  ) {
    const password = token(18);
    const apiKey = newApiKey();
    await write(ADMIN_FILES.password, password + '\n');
    await write(ADMIN_FILES.apiKey, apiKey + '\n');
    await write(
      SECRET_FILES.admin_json,
      JSON.stringify({
        username: ADMIN_USERNAME,
        password_hash: await hashPassword(password),
        api_key_sha256: apiKeyDigest(apiKey),
      }) + '\n',
    );
    result.kept = result.kept.filter((k) => k !== SECRET_FILES.admin_json);
  }
  if ((!keepForData(CA_FILES.key) && want(CA_FILES.key)) || !existsSync(abs(CA_FILES.cert))) {
    step('generating a root CA');
    await ecKey(abs(CA_FILES.key));
    await openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      abs(CA_FILES.key),
      '-sha256',
      '-days',
      '3650',
      '-subj',
      '/CN=Coffer Root CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      abs(CA_FILES.cert),
    ]);
    await chmod(abs(CA_FILES.key), 0o600);
    await chmod(abs(CA_FILES.cert), 0o600);
    result.created.push(CA_FILES.key, CA_FILES.cert);
  }
  const caRenewed = result.created.includes(CA_FILES.cert);
  const wantedNames = serverCertNames(o.domain, o.extraHosts, o.extraIps);
  const namesChanged =
    existsSync(abs(SECRET_FILES.server_crt)) &&
    !(await certCoversNames(abs(SECRET_FILES.server_crt), wantedNames));
  if (
    o.renewServerCert ||
    namesChanged ||
    caRenewed ||
    want(SECRET_FILES.server_key) ||
    !existsSync(abs(SECRET_FILES.server_crt))
  ) {
    result.kept = result.kept.filter((k) => k !== SECRET_FILES.server_key);
    step(`issuing the server certificate for ${o.domain}, *.${o.domain}`);
    const { dnsNames, ipAddresses } = wantedNames;
    const san = [...dnsNames.map((n) => `DNS:${n}`), ...ipAddresses.map((i) => `IP:${i}`)].join(',');
    const ext = path.join(dir, 'server.ext');
    await writeFile(
      ext,
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
      { mode: 0o600 },
    );
    const csr = path.join(dir, 'server.csr');
    await ecKey(abs(SECRET_FILES.server_key));
    await openssl([
      'req',
      '-new',
      '-key',
      abs(SECRET_FILES.server_key),
      '-subj',
      `/CN=${o.domain}`,
      '-out',
      csr,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      abs(CA_FILES.cert),
      '-CAkey',
      abs(CA_FILES.key),
      '-CAcreateserial',
      '-days',
      '825',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      abs(SECRET_FILES.server_crt),
    ]);
    await rm(csr, { force: true });
    await rm(ext, { force: true });
    await rm(path.join(dir, 'root.srl'), { force: true });
    for (const f of [SECRET_FILES.server_key, SECRET_FILES.server_crt]) {
      await chmod(abs(f), 0o600);
      result.created.push(f);
    }
  }
  const creds = await readCredentials(o.root);
  const masterKey = (await readFile(abs(SECRET_FILES.master_key), 'utf8')).trim();
  if (backup?.master_key && backup.master_key !== masterKey)
    throw new OperatorError(
      `credentials.json backs up a different master key than ${SECRET_FILES.master_key}; it was left as it is. ` +
        'Find out which key your data was sealed under before going on: losing it loses every object',
    );
  await writeFile(
    path.join(o.root, 'credentials.json'),
    JSON.stringify(
      {
        note: 'Human-readable backup of Coffer secrets; Docker does not read this file. Keep it encrypted (gpg -c credentials.json).',
        s3_credentials: creds,
        ...(existsSync(abs(archiveFile))
          ? { archive_credentials: JSON.parse(await readFile(abs(archiveFile), 'utf8')) as unknown }
          : {}),
        console: {
          username: ADMIN_USERNAME,
          password: (await readFile(abs(ADMIN_FILES.password), 'utf8')).trim(),
          management_api_key: (await readFile(abs(ADMIN_FILES.apiKey), 'utf8')).trim(),
        },
        master_key: masterKey,
        warning: 'Losing the master key loses every stored object.',
      },
      null,
      2,
    ) + '\n',
    { mode: 0o600 },
  );
  await chmod(path.join(o.root, 'credentials.json'), 0o600);
  return result;
}

/** The backup setup-credentials wrote last time, if any (only its master key is read back). */
async function readBackup(file: string): Promise<{ master_key?: string } | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as { master_key?: string };
  } catch {
    throw new OperatorError(
      `${file} is not valid JSON; it was left as it is (fix or move it, then run again)`,
    );
  }
}

/** True when the certificate already names every one of these hosts and addresses. */
async function certCoversNames(
  file: string,
  wanted: { dnsNames: string[]; ipAddresses: string[] },
): Promise<boolean> {
  const r = await $({ quiet: true, nothrow: true })`openssl x509 -in ${file} -noout -ext subjectAltName`;
  if (r.exitCode !== 0) return false;
  const have = new Set(
    r.stdout
      .split('\n')
      .slice(1)
      .join(',')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const want = [
    ...wanted.dnsNames.map((n) => `DNS:${n}`),
    ...wanted.ipAddresses.map((i) => `IP Address:${i}`),
  ];
  return want.every((w) => have.has(w));
}

/** A P-256 private key: what both the root CA and the server certificate use. */
function ecKey(file: string): Promise<void> {
  return openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

async function openssl(args: string[]): Promise<void> {
  const r = await $({ quiet: true, nothrow: true })`openssl ${args}`;
  if (r.exitCode !== 0) fail(`openssl ${args[0]} failed: ${r.stderr.trim().split('\n')[0]}`);
}
