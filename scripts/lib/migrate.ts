/**
 * Migration from another S3-compatible provider into Coffer, with rclone as the engine: every bucket (or
 * the mapped ones) is copied with its metadata, skipping what already arrived (so a rerun resumes), then
 * every source object is verified against its copy: by MD5 where both sides have one, by download where not.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { OperatorError } from './exec.js';
import { rcloneFailure, type Rclone } from '../../service/src/transfer/rclone.js';

export interface MigrateOptions {
  rclone: Rclone;
  /** `remote:` (every bucket) or `remote:bucket`, as rclone names them. */
  from: string;
  /** The destination remote, `name:`. */
  to: string;
  /** Source bucket → destination bucket; unmapped buckets keep their names. */
  bucketMap: Record<string, string>;
  /** `download` compares every object's bytes; `hash` downloads only what has no MD5 on both sides. */
  verify: 'hash' | 'download';
  /** Only verify what an earlier run copied. */
  verifyOnly?: boolean;
  say(line: string): void;
}

export interface BucketReport {
  source: string;
  target: string;
  objects: number;
  bytes: number;
  /** Objects this run transferred (the rest were there already). */
  copied: number;
  verifiedByHash: number;
  verifiedByDownload: number;
  /** Source keys whose copy differs, is missing or could not be read. */
  failed: Array<{ key: string; why: 'differs' | 'missing' | 'error' }>;
}

/** `a:b,c:d` → { a: 'b', c: 'd' }. */
export function parseBucketMap(spec: string | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  if (!spec) return map;
  for (const pair of spec.split(',')) {
    const m = /^([^:,\s]+):([^:,\s]+)$/.exec(pair.trim());
    if (!m)
      throw new OperatorError(`--bucket-map takes source:target pairs separated by commas (got "${pair}")`);
    if (map[m[1]!]) throw new OperatorError(`--bucket-map names ${m[1]} twice`);
    map[m[1]!] = m[2]!;
  }
  const targets = Object.values(map);
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice) throw new OperatorError(`--bucket-map sends two buckets into ${twice}`);
  return map;
}

interface Listed {
  Path: string;
  Size: number;
  Hashes?: { md5?: string; MD5?: string };
}

async function list(rclone: Rclone, target: string, what: string[]): Promise<Listed[]> {
  const r = await rclone.run(['lsjson', ...what, target]);
  if (r.code !== 0) throw new OperatorError(`listing ${target} failed: ${rcloneFailure(r.stderr)}`);
  return JSON.parse(r.stdout) as Listed[];
}

const md5Of = (l: Listed) => l.Hashes?.md5 ?? l.Hashes?.MD5 ?? '';

/** rclone check over `files`, returning the keys it did not find identical. */
async function check(
  o: MigrateOptions,
  src: string,
  dst: string,
  files: string[],
  download: boolean,
): Promise<BucketReport['failed']> {
  if (!files.length) return [];
  const tag = download ? 'download' : 'hash';
  const filesFrom = o.rclone.scratch(`check-${tag}.txt`);
  const combined = o.rclone.scratch(`combined-${tag}.txt`);
  await writeFile(filesFrom, files.join('\n') + '\n');
  const r = await o.rclone.run([
    'check',
    src,
    dst,
    '--one-way',
    '--files-from-raw',
    filesFrom,
    '--combined',
    combined,
    ...(download ? ['--download'] : []),
  ]);
  const lines = (await readFile(combined, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const failed: BucketReport['failed'] = [];
  let same = 0;
  for (const line of lines) {
    const [mark, key] = [line[0], line.slice(2)];
    if (mark === '=') same++;
    else if (mark === '*') failed.push({ key, why: 'differs' });
    else if (mark === '+') failed.push({ key, why: 'missing' });
    else if (mark === '!') failed.push({ key, why: 'error' });
  }
  // rclone says "hashes could not be checked" when a side lacks one: such a pass proves nothing.
  if (!download && /hashes could not be checked/.test(r.stderr))
    throw new OperatorError(
      `rclone could not compare some hashes of ${src}; run again with --verify download`,
    );
  if (same + failed.length !== files.length)
    throw new OperatorError(`verifying ${src} failed: ${rcloneFailure(r.stderr)}`);
  return failed;
}

export async function migrate(o: MigrateOptions): Promise<BucketReport[]> {
  const whole = o.from.endsWith(':');
  const buckets = whole
    ? (await list(o.rclone, o.from, ['--dirs-only'])).map((d) => d.Path)
    : [o.from.slice(o.from.indexOf(':') + 1).split('/')[0]!];
  if (!buckets.length) throw new OperatorError(`${o.from} holds no bucket`);
  const unknown = Object.keys(o.bucketMap).filter((b) => !buckets.includes(b));
  if (unknown.length)
    throw new OperatorError(`--bucket-map names ${unknown.join(', ')}, which ${o.from} does not hold`);
  const reports: BucketReport[] = [];
  for (const bucket of buckets) {
    const target = o.bucketMap[bucket] ?? bucket;
    const src = whole ? `${o.from}${bucket}` : o.from;
    const dst = `${o.to}${target}${whole ? '' : o.from.slice(o.from.indexOf(':') + 1 + bucket.length)}`;
    const objects = await list(o.rclone, src, ['-R', '--files-only', '--hash', '--hash-type', 'MD5']);
    const bytes = objects.reduce((a, l) => a + l.Size, 0);
    o.say(`${bucket} → ${target}: ${objects.length} objects, ${bytes} bytes`);
    let copied = 0;
    const hashed = objects.filter((l) => md5Of(l)).map((l) => l.Path);
    const unhashed = objects.filter((l) => !md5Of(l)).map((l) => l.Path);
    // An object without an MD5 (a multipart upload's) goes up in parts, each with its Content-MD5:
    // streamed whole, its body could not be verified, and Coffer refuses unverifiable bodies.
    for (const [pass, paths, extra] of [
      ['hashed', hashed, []],
      ['unhashed', unhashed, ['--s3-upload-cutoff', '0']],
    ] as const) {
      if (o.verifyOnly || !paths.length) continue;
      const listFile = o.rclone.scratch(`copy-${pass}.txt`);
      await writeFile(listFile, paths.join('\n') + '\n');
      const copy = await o.rclone.run(
        ['copy', src, dst, '--files-from-raw', listFile, '--metadata', '--checksum', ...extra].concat([
          '-v',
          '--stats',
          '5s',
          '--stats-one-line',
        ]),
        (line) => {
          if (/: Copied \(/.test(line)) copied++;
          else if (/ETA|ERROR|NOTICE/.test(line))
            o.say(`${bucket}: ${line.replace(/^\S+ \S+ \w+\s*:\s*/, '')}`);
        },
      );
      if (copy.code !== 0)
        throw new OperatorError(
          `copying ${src} stopped: ${rcloneFailure(copy.stderr)} (run the same command again: it resumes)`,
        );
    }
    // What can be proven by hash is, the rest is downloaded and compared byte for byte.
    const copies = new Map(
      (await list(o.rclone, dst, ['-R', '--files-only', '--hash', '--hash-type', 'MD5'])).map((l) => [
        l.Path,
        l,
      ]),
    );
    const byHash: string[] = [];
    const byDownload: string[] = [];
    for (const l of objects) {
      const theirs = copies.get(l.Path);
      if (o.verify === 'hash' && md5Of(l) && theirs && md5Of(theirs)) byHash.push(l.Path);
      else byDownload.push(l.Path);
    }
    o.say(`${bucket}: verifying ${byHash.length} by MD5 and ${byDownload.length} by download`);
    const failed = [
      ...(await check(o, src, dst, byHash, false)),
      ...(await check(o, src, dst, byDownload, true)),
    ];
    reports.push({
      source: bucket,
      target,
      objects: objects.length,
      bytes,
      copied,
      verifiedByHash: byHash.length - failed.filter((f) => byHash.includes(f.key)).length,
      verifiedByDownload: byDownload.length - failed.filter((f) => byDownload.includes(f.key)).length,
      failed,
    });
  }
  return reports;
}
