/** scripts/setup-credentials: every secret a Coffer deployment needs, written once, kept safe. */
import path from 'node:path';
import { ROOT } from './lib/images.js';
import { SECRET_FILES } from '../stacks/topology.js';
import { composeFile, deployOptions, existingDataVolume, saveSettings } from './lib/deploy.js';
import { rotatePostgresPassword } from './lib/rotate-postgres.js';
import { fail } from './lib/exec.js';
import { setupCredentials } from './lib/secrets.js';
import { parseCli } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run setup-credentials -- [--domain NAME] [--host NAME]... [--ip ADDR]... [--force]

Writes secrets/ (0700; files 0600): postgres_user.txt, postgres_password.txt, database_url.txt,
credentials_json.txt, master_key.txt, a root CA (ca.key, root.crt) and a server certificate (server.key,
server.crt) for NAME, *.NAME, localhost and 127.0.0.1, plus credentials.json (a human-readable backup).
A compliance-archive deployment (npm run up -- --preset compliance-archive) also gets
archive_credentials_json.txt: its ingest and reader keys.

Existing files are kept. The master key is never generated while credentials.json backs one up or the
deployment's data exists: it is the only key to the stored data (restore it instead).

--force regenerates the rest. While the deployment's data exists (its Docker volumes), it regenerates
only what is safe to rotate: the S3 credential (the old one stays valid until disabled in the console),
the console admin's password and API key, and the server certificate; the Postgres password and the
root CA are kept, since the database and every client depend on them.
--renew-server-cert issues a new server certificate from the existing root CA (also done by itself
when --domain, --host or --ip name something the current certificate does not cover).
--rotate-postgres-password changes the Postgres password of the running deployment (ALTER ROLE), then
writes the new secret files and recreates the gateway on them.`,
  options: {
    domain: { type: 'string' },
    host: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    force: { type: 'boolean' },
    'renew-server-cert': { type: 'boolean' },
    'rotate-postgres-password': { type: 'boolean' },
  },
});
const o = deployOptions(argv);
if (argv['rotate-postgres-password']) {
  await rotatePostgresPassword(ROOT, await composeFile(o)).catch((err: Error) => fail(err.message));
  console.log(
    `rotated ${SECRET_FILES.postgres_password} and ${SECRET_FILES.database_url}; the gateway runs on them`,
  );
  process.exit(0);
}
const r = await setupCredentials({
  root: ROOT,
  domain: o.domain,
  extraHosts: o.extraHostNames,
  extraIps: o.extraIps,
  force: Boolean(argv.force),
  existingData: await existingDataVolume(o.project),
  renewServerCert: Boolean(argv['renew-server-cert']),
  archive: o.preset !== undefined,
}).catch((err: Error) => fail(err.message));
await saveSettings(ROOT, o);
for (const f of r.created) console.log(`created ${f}`);
for (const f of r.kept) console.log(`kept    ${f}`);
console.log(
  `\n${path.join(ROOT, 'credentials.json')} backs up these secrets, the master key in clear: copy it offline,\n` +
    'encrypted (gpg -c), and keep it apart from the data; losing the key loses every object.',
);
