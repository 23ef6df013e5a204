/**
 * Backup and restore of a compose deployment. The gateway image's backup-cli does the work in a one-off
 * container with the deployment's volume, secrets and network and the backup directory mounted; this side
 * picks snapshot names, and puts the master key into a backup only when asked, sealed under a passphrase.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import {
  openWithPassphrase,
  sealWithPassphrase,
  type PassphraseSealed,
} from '../../service/src/crypto/passphrase.js';
import { SECRET_FILES } from '../../stacks/topology.js';
import { compose, composeExec, projectContainers, type ComposeTarget } from './deploy.js';
import { OperatorError, step } from './exec.js';
import { keyId, keyLines, replaceFile } from './keyring.js';
import { rcloneFailure, rcloneWith, type Rclone } from '../../service/src/transfer/rclone.js';

const CLI = '/opt/coffer/dist/backup-cli.js';
const MIN_PASSPHRASE = 12;

/** The manifest fields this side reads (backup-cli writes the whole of it). */
interface ManifestHead {
  name: string;
  taken_at: string;
  master_keys: string[];
}

/** A snapshot name that sorts by time: 20261130T174502Z. */
export function snapshotName(at = new Date()): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The passphrase from a file (its first line) or typed twice on a terminal, never echoed. */
export async function readPassphrase(file: string | undefined, purpose: 'seal' | 'open'): Promise<string> {
  if (file) {
    const text = (
      await readFile(file, 'utf8').catch(() => {
        throw new OperatorError(`cannot read the passphrase file ${file}`);
      })
    ).split('\n')[0]!;
    if (purpose === 'seal' && text.length < MIN_PASSPHRASE)
      throw new OperatorError(`the passphrase must have at least ${MIN_PASSPHRASE} characters`);
    return text;
  }
  if (!process.stdin.isTTY)
    throw new OperatorError(
      "give the master key's passphrase with --passphrase-file FILE, or run on a terminal",
    );
  const ask = async (prompt: string) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _enc, done) {
        if (!muted) process.stdout.write(chunk);
        done();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    const answer = rl.question(prompt);
    muted = true;
    const value = await answer;
    rl.close();
    process.stdout.write('\n');
    return value;
  };
  const first = await ask('passphrase for the master key in the backup: ');
  if (purpose === 'open') return first;
  if (first.length < MIN_PASSPHRASE)
    throw new OperatorError(`the passphrase must have at least ${MIN_PASSPHRASE} characters`);
  if ((await ask('the same passphrase again: ')) !== first) throw new OperatorError('the passphrases differ');
  return first;
}

/** The backup directory as the container sees it; created 0700 for the operator running this. */
async function backupDir(dir: string, create: boolean): Promise<string> {
  const abs = path.resolve(dir);
  if (create) await mkdir(abs, { recursive: true, mode: 0o700 });
  const st = await stat(abs).catch(() => undefined);
  if (!st?.isDirectory()) throw new OperatorError(`${abs} is not a directory`);
  return abs;
}

async function runCli(target: ComposeTarget, mount: string, args: string[]): Promise<string> {
  // As root (the entrypoint would drop to the gateway's user): it writes files the operator owns.
  const r = await compose(target, [
    'run',
    '--rm',
    '--no-deps',
    '-T',
    '--entrypoint',
    'node',
    '-v',
    mount,
    'gateway',
    CLI,
    ...args,
  ]);
  for (const line of r.stderr.split('\n'))
    if (line.startsWith('coffer: ') && r.exitCode === 0) step(line.slice(8));
  if (r.exitCode !== 0) {
    const why =
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('coffer: '))
        .pop()
        ?.slice(8) ?? r.stderr.trim().split('\n').pop();
    throw new OperatorError(why || `backup-cli exited with ${r.exitCode}`);
  }
  return r.stdout.trim();
}

export interface BackupResult {
  dir: string;
  name: string;
  summary: string;
  withMasterKey: boolean;
}

/** A snapshot of the running deployment into `dir`; the master key only with a passphrase. */
/** `name:path`: an rclone remote from the operator's rclone config rather than a directory. */
export function isRemote(spec: string): boolean {
  return /^[\w.-]+:/.test(spec) && !spec.startsWith('/');
}

/** A scratch directory in the checkout for what goes to or comes from a remote. */
async function staging(root: string): Promise<string> {
  const dir = path.join(root, '.coffer-build', `backup-staging-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

async function rcloneOk(rclone: Rclone, args: string[], what: string): Promise<string> {
  const r = await rclone.run(args);
  if (r.code !== 0) throw new OperatorError(`${what} failed: ${rcloneFailure(r.stderr)}`);
  return r.stdout;
}

/**
 * A snapshot of the running deployment into `to` (a directory, or an rclone remote: then only blobs the
 * remote lacks are staged here and uploaded, blobs before the snapshot that needs them); the master key
 * only with a passphrase.
 */
export async function backupDeployment(
  root: string,
  target: ComposeTarget,
  opts: { to: string; passphrase?: string },
): Promise<BackupResult> {
  const remote = isRemote(opts.to) ? opts.to.replace(/\/+$/, '') : undefined;
  const dir = remote ? await staging(root) : await backupDir(opts.to, true);
  const rclone = remote ? await rcloneWith({}) : undefined;
  try {
    const name = snapshotName();
    if (opts.passphrase !== undefined) {
      const partial = path.join(dir, 'snapshots', `${name}.partial`);
      await mkdir(partial, { recursive: true, mode: 0o700 });
      const keyring = await readFile(path.join(root, SECRET_FILES.master_key));
      await writeFile(
        path.join(partial, 'master-key.json'),
        JSON.stringify(sealWithPassphrase(keyring, opts.passphrase), null, 1) + '\n',
        { mode: 0o600 },
      );
    }
    const extra: string[] = [];
    if (rclone && remote) {
      const listed = await rclone.run([
        'lsf',
        '-R',
        '--files-only',
        '--format',
        'sp',
        '--separator',
        ' ',
        `${remote}/blobs`,
      ]);
      if (listed.code !== 0 && !/directory not found/i.test(listed.stderr))
        throw new OperatorError(`listing ${remote}/blobs failed: ${rcloneFailure(listed.stderr)}`);
      const have = listed.code === 0 ? listed.stdout.split('\n').filter(Boolean) : [];
      await writeFile(
        path.join(dir, 'have.txt'),
        have
          .map((l) => `${path.basename(l.slice(l.indexOf(' ') + 1))} ${l.slice(0, l.indexOf(' '))}`)
          .join('\n') + '\n',
      );
      extra.push('--have', '/backup/have.txt');
      step(`${remote} holds ${have.length} blobs already`);
    }
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    step(`snapshot ${name} into ${remote ?? dir} (the deployment keeps serving)`);
    const summary = await runCli(target, `${dir}:/backup`, [
      'backup',
      '--to',
      '/backup',
      '--name',
      name,
      '--owner',
      `${uid}:${gid}`,
      ...extra,
    ]);
    if (rclone && remote) {
      // Blobs first, the manifest last: a snapshot is complete on the remote only once it is there.
      step(`uploading to ${remote}`);
      await rcloneOk(
        rclone,
        ['copy', path.join(dir, 'blobs'), `${remote}/blobs`],
        `uploading blobs to ${remote}`,
      );
      const snap = path.join(dir, 'snapshots', name);
      await rcloneOk(
        rclone,
        ['copy', snap, `${remote}/snapshots/${name}`, '--exclude', 'manifest.json'],
        `uploading to ${remote}`,
      );
      await rcloneOk(
        rclone,
        ['copy', path.join(snap, 'manifest.json'), `${remote}/snapshots/${name}`],
        `uploading to ${remote}`,
      );
    }
    return { dir: remote ?? dir, name, summary, withMasterKey: opts.passphrase !== undefined };
  } finally {
    await rclone?.close();
    if (remote) await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A remote backup's snapshot (the newest complete one, or the named one) and exactly the blobs it
 * references, fetched into a staging directory a restore then reads like a local backup.
 */
export async function fetchSnapshot(
  root: string,
  remoteSpec: string,
  name?: string,
): Promise<{ dir: string; snapshot: ManifestHead; cleanup(): Promise<void> }> {
  const remote = remoteSpec.replace(/\/+$/, '');
  const dir = await staging(root);
  const rclone = await rcloneWith({});
  const cleanup = async () => {
    await rclone.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const complete = (
      await rcloneOk(
        rclone,
        ['lsf', '-R', '--files-only', '--include', '*/manifest.json', `${remote}/snapshots`],
        `listing ${remote}`,
      )
    )
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('/')[0]!);
    const chosen = name ?? complete.sort().at(-1);
    if (!chosen || !complete.includes(chosen))
      throw new OperatorError(
        `${remote} holds no complete snapshot${name ? ` ${name} (it has: ${complete.join(', ') || 'none'})` : ''}`,
      );
    step(`fetching snapshot ${chosen} from ${remote}`);
    const local = path.join(dir, 'snapshots', chosen);
    await rcloneOk(rclone, ['copy', `${remote}/snapshots/${chosen}`, local], `fetching from ${remote}`);
    const snapshot = JSON.parse(await readFile(path.join(local, 'manifest.json'), 'utf8')) as ManifestHead & {
      blobs: Array<{ id: string }>;
    };
    const list = path.join(dir, 'blobs.txt');
    await writeFile(list, snapshot.blobs.map((b) => `${b.id.slice(0, 2)}/${b.id}`).join('\n') + '\n');
    await rcloneOk(
      rclone,
      ['copy', `${remote}/blobs`, path.join(dir, 'blobs'), '--files-from-raw', list],
      `fetching blobs from ${remote}`,
    );
    return { dir, snapshot, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The newest complete snapshot in `dir`, or the named one. */
export async function chooseSnapshot(dir: string, name?: string): Promise<ManifestHead> {
  const snapshots = path.join(dir, 'snapshots');
  const names = (await readdir(snapshots).catch(() => [] as string[])).filter(
    (n) => !n.endsWith('.partial') && existsSync(path.join(snapshots, n, 'manifest.json')),
  );
  const chosen = name ?? names.sort().at(-1);
  if (!chosen || !names.includes(chosen))
    throw new OperatorError(
      name
        ? `${dir} holds no complete snapshot ${name} (it has: ${names.join(', ') || 'none'})`
        : `${dir} holds no complete snapshot`,
    );
  return JSON.parse(await readFile(path.join(snapshots, chosen, 'manifest.json'), 'utf8')) as ManifestHead;
}

/**
 * Makes the key file able to open what the snapshot's data keys are wrapped by: keys it lacks come from
 * the backup's sealed copy and are added after the keys already there (nothing is replaced), in the
 * credentials.json backup first. Returns the ids added.
 */
export async function provideMasterKeys(
  root: string,
  dir: string,
  snapshot: ManifestHead,
  passphrase: () => Promise<string>,
): Promise<string[]> {
  const keyFile = path.join(root, SECRET_FILES.master_key);
  const held = keyLines(await readFile(keyFile, 'utf8'));
  const missing = snapshot.master_keys.filter((id) => !held.map(keyId).includes(id));
  if (!missing.length) return [];
  const sealedFile = path.join(dir, 'snapshots', snapshot.name, 'master-key.json');
  if (!existsSync(sealedFile))
    throw new OperatorError(
      `the snapshot's data keys are wrapped by master key ${missing.join(', ')}, which ${SECRET_FILES.master_key} ` +
        'lacks and the backup does not hold (it was taken without --with-master-key): add that key as a line ' +
        `of ${SECRET_FILES.master_key} (from the backed-up deployment's credentials.json), then restore again`,
    );
  const sealed = JSON.parse(await readFile(sealedFile, 'utf8')) as PassphraseSealed;
  let opened: string[];
  try {
    opened = keyLines(openWithPassphrase(sealed, await passphrase()).toString('utf8'));
  } catch (err) {
    throw new OperatorError((err as Error).message);
  }
  const adding = opened.filter((k) => missing.includes(keyId(k)));
  const still = missing.filter((id) => !adding.map(keyId).includes(id));
  if (still.length) throw new OperatorError(`the backup's master key file lacks ${still.join(', ')} too`);
  const keyring = [...held, ...adding].join('\n');
  const backupFile = path.join(root, 'credentials.json');
  const backup = JSON.parse(await readFile(backupFile, 'utf8')) as Record<string, unknown>;
  await replaceFile(backupFile, JSON.stringify({ ...backup, master_key: keyring }, null, 2) + '\n');
  await replaceFile(keyFile, keyring + '\n');
  return missing;
}

async function startPostgresAlone(target: ComposeTarget): Promise<void> {
  step('starting postgres alone');
  const pg = await compose(target, ['up', '-d', 'postgres']);
  if (pg.exitCode !== 0)
    throw new OperatorError(`starting postgres failed: ${pg.stderr.trim().split('\n').pop()}`);
  for (let i = 0; ; i++) {
    const health = (await composeExec(target, 'postgres', ['pg-ready'])).exitCode === 0;
    if (health) break;
    if (i > 120) throw new OperatorError('postgres did not get ready in 2 minutes (npm run logs shows why)');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Puts a snapshot into the deployment's empty volumes; the caller starts the deployment after. */
export async function restoreDeployment(
  target: ComposeTarget,
  dir: string,
  snapshot: ManifestHead,
): Promise<string> {
  const [running] = await projectContainers(target, 'gateway');
  if (running)
    throw new OperatorError(
      'the gateway is running: a restore goes into an empty deployment (npm run down -- --purge-data first, after a backup)',
    );
  if (!target.externalPostgres) await startPostgresAlone(target);
  step(`restoring snapshot ${snapshot.name} (taken ${snapshot.taken_at})`);
  return runCli(target, `${await backupDir(dir, false)}:/backup:ro`, [
    'restore',
    '--from',
    '/backup',
    '--name',
    snapshot.name,
  ]);
}
