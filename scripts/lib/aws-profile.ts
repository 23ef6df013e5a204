/**
 * An aws CLI (and SDK) profile for the deployment: endpoint, CA bundle and region in the user's aws
 * config, keys in the shared credentials file (0600). Only the profile's own sections are replaced.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { upsertSection } from './rclone.js';

export interface AwsProfile {
  name: string;
  endpoint: string;
  caBundle: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Where the aws CLI reads its config and credentials, as it decides it (the same variables). */
export function awsFiles(env: NodeJS.ProcessEnv = process.env): { config: string; credentials: string } {
  const home = path.join(os.homedir(), '.aws');
  return {
    config: env.AWS_CONFIG_FILE || path.join(home, 'config'),
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, 'credentials'),
  };
}

async function upsert(file: string, section: string, body: Record<string, string>, mode: number) {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const current = existsSync(file) ? await readFile(file, 'utf8') : '';
  await writeFile(file, upsertSection(current, section, body), { mode });
  await chmod(file, mode);
}

export async function writeAwsProfile(p: AwsProfile, files = awsFiles()): Promise<void> {
  // The config names every profile but the default "profile NAME"; the credentials file does not.
  const configSection = p.name === 'default' ? 'default' : `profile ${p.name}`;
  await upsert(
    files.config,
    configSection,
    { region: p.region, endpoint_url: p.endpoint, ca_bundle: p.caBundle },
    0o600,
  );
  await upsert(
    files.credentials,
    p.name,
    { aws_access_key_id: p.accessKeyId, aws_secret_access_key: p.secretAccessKey },
    0o600,
  );
}
