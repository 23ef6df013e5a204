import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { readCredentials } from './secrets.js';

export interface RcloneRemote {
  name: string;
  endpoint: string;
  region: string;
}

/** rclone 1.60 fails on every S3 remote while AWS_CA_BUNDLE is set, so the generated command unsets it. */
export function rcloneCommand(configPath: string, rootCert: string, remote: string, args: string): string {
  return `env -u AWS_CA_BUNDLE rclone --config ${configPath} --ca-cert ${rootCert} ${args} ${remote}:`;
}

export async function defaultRcloneConfigPath(): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`rclone config file`;
  const line = r.stdout.trim().split('\n').pop();
  if (r.exitCode === 0 && line && line.startsWith('/')) return line;
  return path.join(os.homedir(), '.config', 'rclone', 'rclone.conf');
}

/** Replaces (or appends) one [section] of an rclone INI file, leaving every other remote as it was. */
export function upsertSection(ini: string, name: string, body: Record<string, string>): string {
  const lines = ini.split('\n');
  const out: string[] = [];
  let skipping = false;
  for (const line of lines) {
    const header = /^\s*\[(.+)]\s*$/.exec(line);
    if (header) skipping = header[1] === name;
    if (!skipping) out.push(line);
  }
  while (out.length && out[out.length - 1]!.trim() === '') out.pop();
  const section = [`[${name}]`, ...Object.entries(body).map(([k, v]) => `${k} = ${v}`)];
  return [...out, ...(out.length ? [''] : []), ...section, ''].join('\n');
}

export async function writeRcloneRemote(
  root: string,
  remote: RcloneRemote,
  configPath: string,
): Promise<void> {
  const [cred] = await readCredentials(root);
  if (!cred) throw new Error('secrets/credentials_json.txt holds no credential');
  await mkdir(path.dirname(configPath), { recursive: true });
  const current = existsSync(configPath) ? await readFile(configPath, 'utf8') : '';
  const next = upsertSection(current, remote.name, {
    type: 's3',
    provider: 'Other',
    access_key_id: cred.client_id,
    secret_access_key: cred.client_secret,
    endpoint: remote.endpoint,
    region: remote.region,
    force_path_style: 'true',
  });
  await writeFile(configPath, next, { mode: 0o600 });
  await chmod(configPath, 0o600);
}
