/**
 * The compliance report from the command line, with the gateway's own configuration (inside its
 * container): collects what the report states and writes its HTML. `npm run compliance-report` runs this
 * in the deployment's gateway container and renders the PDF on the host.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { exportedHead, lastVerification } from './audit/verification-note.js';
import { fail, withGateway } from './cli-support.js';
import type { Config } from './config.js';
import { collectComplianceData } from './report/compliance-data.js';
import { renderComplianceHtml } from './report/compliance-html.js';

const USAGE = `usage: report-cli [--since TIME] [--until TIME] [--tls-min-version V] [--out FILE]

Writes the compliance report (HTML) for the period from TIME (ISO 8601; default: 30 days ago) until
TIME (default: now) to FILE (never overwritten) or standard output. --tls-min-version states what the
TLS front accepts, which the gateway behind it cannot see.`;

function timeOf(value: string | undefined, def: Date, option: string): Date {
  if (value === undefined) return def;
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) fail(`--${option} ${value} is not a time (ISO 8601)`, 2);
  return t;
}

/** The settings the report states, in words an auditor reads. */
function settingsOf(config: Config, tls: string | undefined): Record<string, string> {
  const p = config.archive?.preset;
  return {
    Preset: p
      ? `compliance-archive: buckets ${p.buckets.join(', ')}; ${p.retentionMode} retention of ${p.retentionDays} days`
      : 'none',
    'Signature Version 2': config.signatureV2 ? 'accepted' : 'refused',
    'Payload verification': config.enforcePayloadVerification ? 'enforced' : 'not enforced',
    'New bucket defaults':
      config.bucketDefaults === 'current' ? 'ACLs disabled, public access blocked' : 'legacy',
    'TLS minimum version': tls ?? 'not stated (set by the TLS front)',
    'Encryption at rest': `AES-256-GCM per object, data keys wrapped by master key ${config.masterKey.id.toString('hex')}`,
    Region: config.region,
    'Audit retention': `${config.audit.retentionDays} days`,
    'Reads audited': config.audit.reads ? 'yes' : 'no',
  };
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        'tls-min-version': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`, 2);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const until = timeOf(values.until, new Date(), 'until');
  const since = timeOf(values.since, new Date(until.getTime() - 30 * 86_400_000), 'since');
  if (since >= until) fail('--since must be before --until', 2);
  if (values.out && existsSync(values.out))
    fail(`${values.out} exists; the report never overwrites a file`, 2);
  await withGateway(async ({ config, db, audit }) => {
    const data = await collectComplianceData(db, audit, {
      since,
      until,
      settings: settingsOf(config, values['tls-min-version']),
      presetBuckets: new Set(config.archive?.preset.buckets ?? []),
      auditRetentionDays: config.audit.retentionDays,
      auditReads: config.audit.reads,
      lastVerification: await lastVerification(config.audit.headFile),
      exportedHead: await exportedHead(config.audit.headFile),
    });
    const html = renderComplianceHtml(data);
    if (values.out) await writeFile(values.out, html, { flag: 'wx', mode: 0o644 });
    else process.stdout.write(html);
  });
}

main().catch((err: Error) => fail(err.message));
