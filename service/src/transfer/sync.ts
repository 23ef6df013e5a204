/**
 * Sync between a local directory (or any rclone remote) and a path in Coffer, with rclone as the engine:
 * push and pull mirror one side onto the other (new, changed and deleted files), or with `--after-copy
 * delete` move what arrived and delete it at the source; two-way keeps both sides' changes (rclone bisync,
 * its listings kept between runs in a state directory).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { rcloneFailure, TransferError, type Rclone } from './rclone.js';
import type { AfterCopy, SyncDirection } from '../parse/sync-job.js';

export interface SyncOptions {
  rclone: Rclone;
  direction: SyncDirection;
  /** The other side: a local directory or `remote:path`. */
  other: string;
  /** The Coffer side, `remote:bucket/path`. */
  coffer: string;
  afterCopy: AfterCopy;
  /** Where two-way sync keeps its listings between runs. */
  stateDir: string;
  say(line: string): void;
}

export interface SyncReport {
  copied: number;
  deleted: number;
}

export async function syncOnce(o: SyncOptions): Promise<SyncReport> {
  if (o.direction === 'two-way' && o.afterCopy === 'delete')
    throw new TransferError('--after-copy delete needs push or pull: two-way keeps both sides');
  const [from, to] = o.direction === 'pull' ? [o.coffer, o.other] : [o.other, o.coffer];
  const report: SyncReport = { copied: 0, deleted: 0 };
  const count = (line: string) => {
    if (/: Copied \(/.test(line)) report.copied++;
    else if (/: Deleted$/.test(line)) report.deleted++;
    else if (/ERROR|NOTICE/.test(line)) o.say(line.replace(/^\S+ \S+ \w+\s*:\s*/, ''));
  };
  let args: string[];
  if (o.direction === 'two-way') {
    // bisync needs one --resync run to take its first listings; after that it works from them.
    const work = path.join(
      o.stateDir,
      createHash('sha256').update(`${o.other}\n${o.coffer}`).digest('hex').slice(0, 16),
    );
    const first = !existsSync(work);
    await mkdir(work, { recursive: true, mode: 0o700 });
    args = ['bisync', o.other, o.coffer, '--workdir', work, ...(first ? ['--resync'] : [])];
    if (first) o.say('first two-way run: taking both sides as they are (--resync)');
  } else if (o.afterCopy === 'delete') {
    // move deletes a source file only once its copy arrived and checked out.
    args = ['move', from, to];
  } else {
    args = ['sync', from, to];
  }
  const r = await o.rclone.run([...args, '-v'], count);
  if (r.code !== 0) {
    if (o.direction === 'two-way' && /resync/i.test(r.stderr))
      throw new TransferError(
        `two-way sync refused to go on (${rcloneFailure(r.stderr)}); remove ${o.stateDir} to start over from both sides as they are`,
      );
    throw new TransferError(`${o.direction} failed: ${rcloneFailure(r.stderr)}`);
  }
  return report;
}
