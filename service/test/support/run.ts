import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a real client binary; a non-zero exit fails with its stderr so the test output says why. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { env, cwd, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * A suite that needs a client binary skips locally when it is missing, but CI installs them all,
 * so there a missing binary is a failure, not a silent skip.
 */
export function requireBinary(cmd: string): boolean {
  if (onPath(cmd)) return true;
  if (process.env.CI) throw new Error(`${cmd} is required in CI but is not on PATH`);
  return false;
}

/**
 * A third-party client's test: needs its binary (as requireBinary), and does not run in the runtime matrix
 * (npm run test:runtimes sets COFFER_RUNTIME_MATRIX), where the client's side does not change with our
 * Node and the gateway's side of the protocol is covered by the SDK suites that do run.
 */
export function thirdPartyClient(cmd: string): boolean {
  return requireBinary(cmd) && !process.env.COFFER_RUNTIME_MATRIX;
}

/** The client environment without the machine's CA presets (rclone 1.60 fails on any S3 remote with AWS_CA_BUNDLE). */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (/^AWS_|^RCLONE_/.test(k)) delete env[k];
  return { ...env, ...extra };
}

/** An rclone remote named `remote` (s3, provider Other, path style) defined purely by environment. */
export function rcloneEnv(
  remote: string,
  endpoint: string,
  cred: { accessKeyId: string; secretAccessKey: string },
  configPath: string,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const prefix = `RCLONE_CONFIG_${remote.toUpperCase()}_`;
  return cleanEnv({
    RCLONE_CONFIG: configPath,
    [`${prefix}TYPE`]: 's3',
    [`${prefix}PROVIDER`]: 'Other',
    [`${prefix}ACCESS_KEY_ID`]: cred.accessKeyId,
    [`${prefix}SECRET_ACCESS_KEY`]: cred.secretAccessKey,
    [`${prefix}ENDPOINT`]: endpoint,
    [`${prefix}FORCE_PATH_STYLE`]: 'true',
    ...extra,
  });
}
