import { execFileSync } from 'node:child_process';

/** Deployment suites need a Docker engine; CI installs one, so there its absence is a failure, not a skip. */
export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    if (process.env.CI) throw new Error('Docker is required in CI but `docker info` fails');
    return false;
  }
}

process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
