/** scripts/setup-credentials: every secret a Coffer deployment needs, written once, kept safe. */
import { ROOT } from './lib/images.js';
import { setupCredentials } from './lib/secrets.js';
import { parseCli } from './lib/cli.js';

const { values: argv } = parseCli({
  usage: `usage: npm run setup-credentials -- [--domain NAME] [--host NAME]... [--ip ADDR]... [--force]

Writes secrets/ (0700; files 0600): postgres_user.txt, postgres_password.txt, database_url.txt,
credentials_json.txt, master_key.txt, a root CA (ca.key, root.crt) and a server certificate (server.key,
server.crt) for NAME, *.NAME, localhost and 127.0.0.1, plus credentials.json (a human-readable backup).

Existing files are kept. --force regenerates them all except the master key, which this script never
replaces: it is the only key to the stored data. To start a deployment from scratch, remove its
volumes and secrets/master_key.txt by hand.`,
  options: {
    domain: { type: 'string' },
    host: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    force: { type: 'boolean' },
  },
});
const list = (v: unknown) => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
const r = await setupCredentials({
  root: ROOT,
  domain: String(argv.domain ?? process.env.COFFER_DOMAIN ?? 'localhost'),
  extraHosts: list(argv.host),
  extraIps: list(argv.ip),
  force: Boolean(argv.force),
});
for (const f of r.created) console.log(`created ${f}`);
for (const f of r.kept) console.log(`kept    ${f}`);
