/**
 * Master-key rotation from the command line, with the gateway's own configuration (inside its container):
 * `status` counts what each master key wraps, `rewrap` moves everything under the key file's first key.
 * `npm run rotate-master-key` runs this in the deployment's gateway container.
 */
import { commandLine, fail, withGateway } from './cli-support.js';
import { afterOthers, JOB_LOCKS } from './db/exclusive.js';
import { keyUse, rewrapAll } from './store/rekey.js';

const USAGE = `usage: rekey status
       rekey rewrap [--batch N]

status   how many wrapped keys and secrets each master key wraps, and which keys the key file holds
rewrap   rewraps everything under the key file's first key, online; safe to stop and run again.
         Exits 0 when nothing refers to any other key (they can be retired), 1 otherwise`;

async function main(): Promise<void> {
  const { command, values } = commandLine(['batch'], ['status', 'rewrap'], USAGE);
  const batch = values.batch === undefined ? 500 : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000)
    fail('--batch must be an integer from 1 to 100000', 2);
  if (command === 'status' && values.batch !== undefined) fail('status takes no --batch', 2);

  await withGateway(async ({ config, db }) => {
    const [current, ...older] = config.masterKey.ids;
    const describe = (use: Record<string, number>) =>
      Object.entries(use)
        .map(
          ([id, n]) =>
            `${id}: ${n}${id === current ? ' (current)' : older.includes(id) ? ' (older, loaded)' : ' (NOT LOADED)'}`,
        )
        .join('; ') || 'nothing is wrapped yet';
    if (command === 'status') {
      process.stdout.write(`key file: ${[current, ...older].join(', ')} (the first wraps)\n`);
      process.stdout.write(`wrapped keys by master key: ${describe(await keyUse(db))}\n`);
      return;
    }
    // A gateway started on these keys may be rewrapping already: its pass goes first, then this one.
    const report = await afterOthers(db, JOB_LOCKS.rekey, () =>
      rewrapAll(db, config.masterKey, {
        batch,
        onBatch: (table, n) => process.stderr.write(`coffer: rewrapped ${n} in ${table}\n`),
      }),
    );
    process.stdout.write(`rewrapped ${report.rewrapped} wrapped keys and secrets under ${current}\n`);
    const left = Object.values(report.remaining).reduce((a, n) => a + n, 0);
    if (left) fail(`${left} are still under older keys (${describe(report.remaining)}); run rewrap again`);
    process.stdout.write(
      `nothing refers to ${older.length ? older.join(', ') : 'any other key'}: ${older.length ? 'they can be retired' : 'no key to retire'}\n`,
    );
  });
}

main().catch((err: Error) => fail(err.message));
