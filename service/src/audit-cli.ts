/**
 * The audit trail from the command line, with the gateway's own configuration (inside its container, or
 * beside it with the same environment): `verify` walks the chain, `export` writes JSON lines.
 * `npm run audit` runs this in the deployment's gateway container.
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { exportedHead, noteVerification } from './audit/verification-note.js';
import { commandLine, fail, withGateway } from './cli-support.js';

const USAGE = `usage: audit verify [--head FILE]
       audit export [--since TIME] [--out FILE]

verify   checks every record of the chain and the head the gateway last exported (default: the one in
         DATA_DIR, AUDIT_HEAD_FILE); names the first broken record and exits 1 if there is one
export   writes the records from TIME (ISO 8601; default: all) as JSON lines to FILE (never overwritten)
         or standard output`;

async function main(): Promise<void> {
  const { command, values } = commandLine(['head', 'since', 'out'], ['verify', 'export'], USAGE);
  if (command === 'verify' && (values.since || values.out)) fail('verify takes only --head', 2);
  if (command === 'export' && values.head) fail('export takes --since and --out', 2);
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since && Number.isNaN(since.getTime())) fail(`--since ${values.since} is not a time (ISO 8601)`, 2);
  if (values.out && existsSync(values.out)) fail(`${values.out} exists; export never overwrites a file`, 2);

  await withGateway(async ({ config, audit }) => {
    if (command === 'verify') {
      const headFile = values.head ?? config.audit.headFile;
      const exported = await exportedHead(headFile);
      const result = await audit.verify(exported);
      await noteVerification(headFile, result).catch((err: Error) =>
        process.stderr.write(`coffer: verification not noted: ${err.message}\n`),
      );
      if (!result.ok) fail(`audit chain broken at record ${result.break.seq}: ${result.break.reason}`);
      const from = result.first === undefined ? 'no records' : `records ${result.first}..${result.last}`;
      const head = exported
        ? `; it holds the head exported at ${exported.at} (record ${exported.seq})`
        : `; no exported head at ${headFile} to compare with`;
      process.stdout.write(`audit chain verified: ${result.count} ${from}${head}\n`);
    } else {
      const out = values.out ? await open(values.out, 'wx', 0o600) : undefined;
      let count = 0;
      for await (const r of audit.records({ since })) {
        const line = `${JSON.stringify({ ...r, prevHash: r.prevHash.toString('hex'), hash: r.hash.toString('hex') })}\n`;
        if (out) await out.write(line);
        else if (!process.stdout.write(line))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
        count++;
      }
      await out?.close();
      if (values.out) process.stderr.write(`coffer: ${count} records written to ${values.out}\n`);
    }
  });
}

main().catch((err: Error) => fail(err.message));
