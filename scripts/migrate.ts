/** scripts/migrate: every bucket and object of another S3-compatible provider into this deployment, verified. */
import { readFile } from 'node:fs/promises';
import { deployOptions } from './lib/deploy.js';
import { deploymentRemote } from './lib/deployment-remote.js';
import { fail, OperatorError } from './lib/exec.js';
import { ROOT } from './lib/images.js';
import { parseCli, DEPLOY_OPTIONS } from './lib/cli.js';
import { migrate, parseBucketMap, type BucketReport } from './lib/migrate.js';
import { rcloneWith, type S3Remote } from '../service/src/transfer/rclone.js';
import { humanSize } from '../service/src/parse/human-size.js';

const { values: argv } = parseCli({
  usage: `usage: npm run migrate -- --from REMOTE:[BUCKET] [--bucket-map A:B,...] [--verify hash|download] [--verify-only]
       npm run migrate -- --from https://ENDPOINT --key-file FILE [--region R] [--ca-file PEM] ...

Copies every bucket of another S3-compatible provider (or the one named) into this deployment with its
objects' metadata and content headers, then verifies every object: by MD5 where both sides have one,
by downloading and comparing where not (--verify download compares every object's bytes). rclone is
the engine: an rclone remote from your rclone config, or an endpoint with a key file (JSON with
access_key_id and secret_access_key). Buckets keep their names unless --bucket-map renames them.
Stopped or failed part-way, run the same command again: what arrived is not copied again.
--verify-only checks an earlier migration again without copying.`,
  options: {
    ...DEPLOY_OPTIONS,
    from: { type: 'string' },
    'key-file': { type: 'string' },
    region: { type: 'string' },
    'ca-file': { type: 'string' },
    'bucket-map': { type: 'string' },
    verify: { type: 'string' },
    'verify-only': { type: 'boolean' },
  },
});
const o = deployOptions(argv);
const from = String(argv.from ?? '');
const verify = String(argv.verify ?? 'hash');
const reports = await (async () => {
  if (!from) throw new OperatorError('--from is required: an rclone remote (name:) or an https:// endpoint');
  if (verify !== 'hash' && verify !== 'download') throw new OperatorError('--verify takes hash or download');
  const endpoint = /^https?:\/\//.test(from);
  if (endpoint !== Boolean(argv['key-file']))
    throw new OperatorError(
      endpoint ? '--from an endpoint needs --key-file' : '--key-file goes with --from https://ENDPOINT',
    );
  if (!endpoint && (argv.region || argv['ca-file']))
    throw new OperatorError(
      '--region and --ca-file go with --from https://ENDPOINT; an rclone remote has its own',
    );
  if (!endpoint && !/^[\w.-]+:/.test(from))
    throw new OperatorError(`--from ${from} is neither name: nor https://`);
  const remotes: Record<string, S3Remote> = { cofferdest: await deploymentRemote(ROOT, o) };
  if (endpoint) {
    const key = JSON.parse(await readFile(String(argv['key-file']), 'utf8').catch(() => 'null')) as Record<
      string,
      string
    > | null;
    if (!key?.access_key_id || !key.secret_access_key)
      throw new OperatorError(`${argv['key-file']} must be JSON with access_key_id and secret_access_key`);
    remotes.coffersource = {
      endpoint: from,
      accessKeyId: key.access_key_id,
      secretAccessKey: key.secret_access_key,
      region: (argv.region as string | undefined) ?? key.region,
      caFile: argv['ca-file'] as string | undefined,
    };
  }
  const rclone = await rcloneWith(remotes);
  try {
    return await migrate({
      rclone,
      from: endpoint ? 'coffersource:' : from,
      to: 'cofferdest:',
      bucketMap: parseBucketMap(argv['bucket-map'] as string | undefined),
      verify: verify as 'hash' | 'download',
      verifyOnly: Boolean(argv['verify-only']),
      say: (line) => console.log(`• ${line}`),
    });
  } finally {
    await rclone.close();
  }
})().catch((err: Error) => fail(err.message));

const line = (r: BucketReport) =>
  `  ${r.source} → ${r.target}: ${r.objects} objects (${humanSize(r.bytes)}), ${r.copied} copied now; ` +
  `verified ${r.verifiedByHash} by MD5, ${r.verifiedByDownload} by download` +
  (r.failed.length ? `; ${r.failed.length} FAILED` : '');
console.log(
  `\nmigrated ${reports.length} bucket${reports.length === 1 ? '' : 's'}:\n${reports.map(line).join('\n')}`,
);
const failed = reports.flatMap((r) => r.failed.map((f) => `${r.source}/${f.key} (${f.why})`));
if (failed.length) {
  console.log(
    `\nnot verified:\n${failed
      .slice(0, 50)
      .map((f) => `  ${f}`)
      .join('\n')}`,
  );
  fail(`${failed.length} objects did not verify; run the same command again to copy them anew`);
}
