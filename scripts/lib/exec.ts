import { $ } from 'zx';

/** zx configured for operator scripts: quiet unless asked, no shell-quoting surprises. */
export function shell(verbose = false) {
  const sh = $({ verbose, quiet: !verbose });
  return sh;
}

/** A refusal meant for the operator: its message is the one line they see (library code throws it; scripts print it). */
export class OperatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperatorError';
  }
}

/** One readable line for the operator, then exit non-zero. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`coffer: ${message}\n`);
  process.exit(code);
}

export function step(message: string): void {
  process.stdout.write(`• ${message}\n`);
}

export async function has(cmd: string): Promise<boolean> {
  const r = await $({ quiet: true, nothrow: true })`command -v ${cmd}`;
  return r.exitCode === 0;
}
