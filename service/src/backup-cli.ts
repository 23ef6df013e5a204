/**
 * Backup and restore from the command line, with the gateway's own configuration (inside a one-off
 * container of the gateway's image, the backup directory mounted): `backup` writes a pg_dump taken in one
 * snapshot plus exactly the sealed blobs that snapshot references, copying only blobs the directory lacks;
 * `restore` puts a snapshot back into an empty deployment. `npm run backup` and `npm run restore` run it.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { createBlobBackend } from './blobs/backends.js';
import type { BlobBackend } from './blobs/backend.js';
import { fsyncPath } from './blobs/fs-backend.js';
import { commandLine, fail, withGateway } from './cli-support.js';
import type { Config } from './config.js';
import { migrationSource } from './db/migrations.js';
import { libpqEnv } from './parse/database-url.js';
import { humanSize } from './parse/human-size.js';
import { holdTrash, readBlob, restoreBlob, snapshotBlobs, type SnapshotBlob } from './store/backup.js';
import { keyUse } from './store/rekey.js';

const USAGE = `usage: backup-cli backup --to DIR --name NAME [--owner UID:GID] [--have FILE]
       backup-cli restore --from DIR --name NAME [--owner UID:GID]

backup    writes DIR/snapshots/NAME: metadata.pgdump (pg_dump, one snapshot) and manifest.json, and into
          DIR/blobs every sealed blob that snapshot references and DIR does not hold yet. Written as
          NAME.partial, renamed when complete. --owner: who owns what it writes (default: DIR's owner).
          --have: blobs the backup holds elsewhere (lines of "id size"), not copied again
restore   into an empty database and data directory: the snapshot's blobs, then its metadata in one
          transaction. Stopped part-way, run it again. --owner: who owns the restored data (default:
          the data directory's owner)`;

export const MANIFEST_FORMAT = 'coffer-backup/1';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  name: string;
  /** When the snapshot was taken (the database's clock). */
  taken_at: string;
  /** The last schema migration the snapshot holds. */
  schema: string;
  /** Master key ids (hex) that wrap the snapshot's data keys and secrets. */
  master_keys: string[];
  counts: { buckets: number; objects: number; versions: number; blobs: number; blob_bytes: number };
  blobs: SnapshotBlob[];
}

const blobPath = (dir: string, id: string) => path.join(dir, 'blobs', id.slice(0, 2), id);
const SNAPSHOT_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,99}$/;

/** Runs a PostgreSQL client tool; fails with its last line of stderr. */
function pgTool(tool: string, args: string[], config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      env: libpqEnv(config.databaseUrl),
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new Error(`${tool} could not run: ${err.message}`)));
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${tool} failed: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`)),
    );
  });
}

function parseOwner(value: string | undefined): { uid: number; gid: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m) fail('--owner must be UID:GID', 2);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** Progress on stderr at most every few seconds, so a long copy shows it is moving. */
function progress(verb: string, total: number) {
  let last = Date.now();
  return (done: number, bytes: number) => {
    if (Date.now() - last < 5000 && done < total) return;
    last = Date.now();
    process.stderr.write(`coffer: ${verb} ${done} of ${total} blobs (${humanSize(bytes)})\n`);
  };
}

async function backup(
  config: Config,
  db: Knex,
  backend: BlobBackend,
  dir: string,
  name: string,
  owner: { uid: number; gid: number },
  /** Blobs (id → sealed size) the backup already holds somewhere DIR does not show: a remote. */
  elsewhere: Map<string, number>,
) {
  const final = path.join(dir, 'snapshots', name);
  if (await fs.stat(final).catch(() => undefined)) fail(`snapshot ${name} already exists in the backup`);
  const partial = `${final}.partial`;
  await fs.mkdir(partial, { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(dir, 'blobs'), { recursive: true, mode: 0o700 });
  const dump = path.join(partial, 'metadata.pgdump');

  // The hold commits before the snapshot exists: whatever the snapshot references stays until copied.
  const hold = await holdTrash(db);
  try {
    const manifest = await db.transaction(
      async (trx) => {
        const { snapshot, taken_at } = (
          await trx.raw(`SELECT pg_export_snapshot() AS snapshot, now() AS taken_at`)
        ).rows[0] as { snapshot: string; taken_at: Date };
        // pg_dump reads the very snapshot the blob list below is read in.
        const dumped = pgTool(
          'pg_dump',
          ['--format=custom', `--snapshot=${snapshot}`, '--no-owner', '--no-privileges', `--file=${dump}`],
          config,
        );
        // Awaited below; a failure before then must not go unhandled.
        dumped.catch(() => undefined);
        const blobs = await snapshotBlobs(trx);
        const count = async (table: string) => Number((await trx(table).count({ n: '*' }))[0]!.n);
        const [schema] = (await trx('knex_migrations')
          .orderBy('id', 'desc')
          .limit(1)
          .pluck('name')) as string[];
        const m: Manifest = {
          format: MANIFEST_FORMAT,
          name,
          taken_at: taken_at.toISOString(),
          schema: schema!,
          master_keys: Object.keys(await keyUse(trx)).sort(),
          counts: {
            buckets: await count('buckets'),
            objects: await count('objects'),
            versions: await count('object_versions'),
            blobs: blobs.length,
            blob_bytes: blobs.reduce((a, b) => a + b.length, 0),
          },
          blobs,
        };
        await dumped;
        return m;
      },
      { isolationLevel: 'repeatable read', readOnly: true },
    );

    let copied = 0;
    let copiedBytes = 0;
    const report = progress('copied', manifest.blobs.length);
    const touched = new Set<string>();
    for (const [i, blob] of manifest.blobs.entries()) {
      const target = blobPath(dir, blob.id);
      const size = elsewhere.get(blob.id) ?? (await fs.stat(target).catch(() => undefined))?.size;
      if (size !== blob.length) {
        // Blobs never change under their name: one already in the backup is the same blob.
        await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
        const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
        const fh = await fs.open(tmp, 'wx', 0o600);
        try {
          for await (const chunk of readBlob(backend, blob)) await fh.write(chunk);
          await fh.datasync();
        } finally {
          await fh.close();
        }
        await fs.chown(tmp, owner.uid, owner.gid);
        await fs.rename(tmp, target);
        touched.add(path.dirname(target));
        copied++;
        copiedBytes += blob.length;
      }
      report(i + 1, copiedBytes);
    }
    for (const d of touched) await fsyncPath(d);

    await fs.writeFile(path.join(partial, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n', {
      mode: 0o600,
    });
    for (const f of await fs.readdir(partial)) {
      await fs.chmod(path.join(partial, f), 0o600);
      await fs.chown(path.join(partial, f), owner.uid, owner.gid);
      await fsyncPath(path.join(partial, f));
    }
    await fs.chown(partial, owner.uid, owner.gid);
    await fs.rename(partial, final);
    await fsyncPath(path.dirname(final));
    const c = manifest.counts;
    process.stdout.write(
      `snapshot ${name} taken ${manifest.taken_at}: ${c.buckets} buckets, ${c.objects} objects, ` +
        `${c.versions} older versions; ${c.blobs} blobs (${humanSize(c.blob_bytes)}), ` +
        `${copied} of them new (${humanSize(copiedBytes)})\n`,
    );
  } finally {
    await hold.release().catch(() => undefined);
  }
}

async function restore(
  config: Config,
  db: Knex,
  backend: BlobBackend,
  dir: string,
  name: string,
  owner: { uid: number; gid: number },
) {
  const snapshot = path.join(dir, 'snapshots', name);
  const manifest = JSON.parse(
    await fs.readFile(path.join(snapshot, 'manifest.json'), 'utf8').catch(() => {
      fail(`snapshot ${name} is not in the backup (or is incomplete: no manifest.json)`);
    }),
  ) as Manifest;
  if (manifest.format !== MANIFEST_FORMAT)
    fail(`snapshot ${name} is in an unknown format (${manifest.format})`);
  const known = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m));
  if (!known.includes(manifest.schema))
    fail(
      `snapshot ${name} has schema ${manifest.schema}, newer than this gateway knows; restore with that version`,
    );
  const missingKeys = manifest.master_keys.filter((id) => !config.masterKey.ids.includes(id));
  if (missingKeys.length)
    fail(
      `the master key file lacks ${missingKeys.join(', ')}, which the snapshot's data keys are wrapped by; ` +
        'restore with the backup of that key',
      3,
    );
  const tables = Number(
    (await db.raw(`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'`))
      .rows[0].n,
  );
  if (tables)
    fail(
      'the database is not empty: a restore goes into a new deployment (npm run down -- --purge-data first)',
    );

  // Blobs first, each under its own name; the metadata that references them commits last, in one step.
  const wanted = new Set(manifest.blobs.map((b) => b.id));
  const present = new Set<string>();
  for await (const e of backend.list()) {
    if (e.pending) await backend.discard(e);
    else if (!wanted.has(e.name))
      fail(
        `the data directory holds blob ${e.name}, which is not in snapshot ${name}: restore into an empty one`,
      );
    else present.add(e.name);
  }
  const report = progress('restored', manifest.blobs.length);
  let bytes = 0;
  for (const [i, blob] of manifest.blobs.entries()) {
    if (!present.has(blob.id)) {
      const file = blobPath(dir, blob.id);
      const st = await fs.stat(file).catch(() => undefined);
      if (st?.size !== blob.length)
        fail(`the backup's blob ${blob.id} is ${st ? `${st.size} bytes, not ${blob.length}` : 'missing'}`);
      await restoreBlob(backend, blob, createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }));
      bytes += blob.length;
    }
    report(i + 1, bytes);
  }
  await chownTree(config.dataDir, owner);
  await pgTool(
    'pg_restore',
    [
      '--exit-on-error',
      '--single-transaction',
      '--no-owner',
      '--no-privileges',
      `--dbname=${libpqEnv(config.databaseUrl).PGDATABASE}`,
      path.join(snapshot, 'metadata.pgdump'),
    ],
    config,
  );
  const c = manifest.counts;
  process.stdout.write(
    `restored snapshot ${name} taken ${manifest.taken_at}: ${c.buckets} buckets, ${c.objects} objects, ` +
      `${c.versions} older versions, ${c.blobs} blobs (${humanSize(c.blob_bytes)})\n`,
  );
}

/** The gateway runs unprivileged: what a restore wrote as root becomes the data directory owner's. */
async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await fs.chown(dir, owner.uid, owner.gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, owner);
    else await fs.chown(p, owner.uid, owner.gid);
  }
}

async function main(): Promise<void> {
  const { command, values } = commandLine(
    ['to', 'from', 'name', 'owner', 'have'],
    ['backup', 'restore'],
    USAGE,
  );
  const dir = command === 'backup' ? values.to : values.from;
  if (!dir || (command === 'backup' ? values.from : values.to) !== undefined)
    fail(`${command} takes ${command === 'backup' ? '--to' : '--from'} DIR\n${USAGE}`, 2);
  if (values.have && command !== 'backup') fail('--have goes with backup', 2);
  if (!values.name || !SNAPSHOT_NAME.test(values.name))
    fail('--name must be a snapshot name (letters, digits, . _ -)', 2);
  const given = parseOwner(values.owner);

  await withGateway(async ({ config, db }) => {
    const backend = createBlobBackend({
      kind: config.blobBackend,
      dataDir: config.dataDir,
      directIo: config.blobDirectIo,
      s3: config.blobStore,
    });
    await backend.init();
    const ownerOf = async (p: string) => {
      const st = await fs.stat(p);
      return { uid: st.uid, gid: st.gid };
    };
    if (command === 'backup') {
      const elsewhere = new Map<string, number>();
      if (values.have)
        for (const line of (await fs.readFile(values.have, 'utf8')).split('\n')) {
          const [id, size] = line.trim().split(' ');
          if (id && size) elsewhere.set(id, Number(size));
        }
      await backup(config, db, backend, dir, values.name!, given ?? (await ownerOf(dir)), elsewhere);
    } else await restore(config, db, backend, dir, values.name!, given ?? (await ownerOf(config.dataDir)));
  });
}

main().catch((err: Error) => fail(err.message));
