/**
 * rclone as the transfer engine for migrate and sync: S3 remotes defined by environment variables (no
 * secret is written to a config file), one CA bundle that trusts both the public roots and Coffer's own CA,
 * and rclone's progress lines passed through as they come.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A transfer that cannot go on, in one line for whoever started it (an operator or a scheduled service). */
export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

export interface S3Remote {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
  /** A CA that signs the endpoint's certificate besides the public roots (Coffer's root.crt). */
  caFile?: string;
}

/** The public roots Debian trusts; a custom CA is added to them, never put in their place. */
const SYSTEM_ROOTS = '/etc/ssl/certs/ca-certificates.crt';

export interface Rclone {
  /** Runs rclone; `onLine` hears each line of its stderr (progress, notices) as it comes. */
  run(
    args: string[],
    onLine?: (line: string) => void,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** A scratch file for rclone's lists and reports, removed by close(). */
  scratch(name: string): string;
  close(): Promise<void>;
}

/** An rclone whose environment defines `remotes` (name → S3 remote) on top of the operator's own config. */
export async function rcloneWith(remotes: Record<string, S3Remote>): Promise<Rclone> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-rclone-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  // rclone 1.60 fails on every S3 remote while AWS_CA_BUNDLE is set.
  delete env.AWS_CA_BUNDLE;
  const cas: string[] = [];
  for (const [name, r] of Object.entries(remotes)) {
    if (!/^[a-z][a-z0-9]*$/.test(name))
      throw new Error(`remote name ${name} must be lower-case letters and digits`);
    const prefix = `RCLONE_CONFIG_${name.toUpperCase()}_`;
    Object.assign(env, {
      [`${prefix}TYPE`]: 's3',
      [`${prefix}PROVIDER`]: 'Other',
      [`${prefix}ACCESS_KEY_ID`]: r.accessKeyId,
      [`${prefix}SECRET_ACCESS_KEY`]: r.secretAccessKey,
      [`${prefix}ENDPOINT`]: r.endpoint,
      [`${prefix}REGION`]: r.region ?? 'us-east-1',
      [`${prefix}FORCE_PATH_STYLE`]: 'true',
    });
    if (r.caFile) cas.push(r.caFile);
  }
  const flags: string[] = [];
  if (cas.length) {
    const bundle = path.join(dir, 'ca-bundle.pem');
    const parts = [...(existsSync(SYSTEM_ROOTS) ? [SYSTEM_ROOTS] : []), ...cas];
    await writeFile(bundle, (await Promise.all(parts.map((p) => readFile(p, 'utf8')))).join('\n'));
    flags.push('--ca-cert', bundle);
  }
  return {
    run(args, onLine) {
      return new Promise((resolve, reject) => {
        const child = spawn('rclone', [...flags, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let partial = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          partial += d.toString();
          const lines = partial.split('\n');
          partial = lines.pop()!;
          for (const l of lines) if (l.trim()) onLine?.(l);
        });
        child.on('error', (err) =>
          reject(
            new TransferError(
              (err as NodeJS.ErrnoException).code === 'ENOENT'
                ? 'rclone is not installed (Debian: apt-get install rclone)'
                : `rclone could not run: ${err.message}`,
            ),
          ),
        );
        child.on('close', (code) => {
          if (partial.trim()) onLine?.(partial);
          resolve({ code: code ?? 1, stdout, stderr });
        });
      });
    },
    scratch: (name) => path.join(dir, name),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The last meaningful line rclone wrote, for a one-line failure. */
export function rcloneFailure(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, '').trim())
    .filter(Boolean);
  return lines.filter((l) => /ERROR|Failed|error/i.test(l)).pop() ?? lines.pop() ?? 'rclone failed';
}
