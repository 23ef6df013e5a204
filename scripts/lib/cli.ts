/**
 * How every operator script reads its command line: only the options it declares (a misspelled one is
 * refused, naming the valid ones) and --help.
 */
import { parseArgs } from 'node:util';
import { fail } from './exec.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
}

export interface CliSpec<O extends Record<string, OptionSpec>> {
  usage: string;
  options: O;
  /** Words after the options (service names for logs); refused unless allowed. */
  positionals?: boolean;
}

type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]['multiple'] extends true
    ? O[K]['type'] extends 'boolean'
      ? boolean[]
      : string[]
    : O[K]['type'] extends 'boolean'
      ? boolean
      : string;
};

export interface Cli<O extends Record<string, OptionSpec>> {
  values: Values<O>;
  positionals: string[];
}

/** Parses `args` against the spec; exits with a one-line message on anything it does not know. */
export function parseCli<O extends Record<string, OptionSpec>>(
  spec: CliSpec<O>,
  args: string[] = process.argv.slice(2),
): Cli<O> {
  const valid = Object.keys(spec.options)
    .map((o) => `--${o}`)
    .concat('--help');
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: spec.positionals ?? false,
    });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '');
    fail(`${message}; valid options: ${valid.join(', ')}`);
  }
  if (parsed.values.help) {
    console.log(spec.usage);
    process.exit(0);
  }
  return { values: parsed.values as Values<O>, positionals: parsed.positionals };
}

/** The deployment options most scripts take. */
/** Settings of the gateway itself, which only `up` changes (every other command keeps what it saved). */
export const GATEWAY_OPTIONS = {
  sigv2: { type: 'string' },
  'bucket-defaults': { type: 'string' },
  preset: { type: 'string' },
  'archive-buckets': { type: 'string' },
  'retention-days': { type: 'string' },
  'retention-mode': { type: 'string' },
  'with-monitoring': { type: 'boolean' },
  'without-monitoring': { type: 'boolean' },
  'monitoring-port': { type: 'string' },
  'blob-store': { type: 'string' },
  'blob-store-region': { type: 'string' },
  'blob-store-credentials': { type: 'string' },
  gateways: { type: 'string' },
  'database-url-file': { type: 'string' },
  'webhooks-file': { type: 'string' },
  'without-webhooks': { type: 'boolean' },
} as const satisfies Record<string, OptionSpec>;

export const DEPLOY_OPTIONS = {
  project: { type: 'string' },
  domain: { type: 'string' },
  'https-port': { type: 'string' },
  'http-port': { type: 'string' },
} as const satisfies Record<string, OptionSpec>;
