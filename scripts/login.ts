/** scripts/login: checks the deployment over TLS with the generated CA, writes ./root.crt, verifies S3 access. */
import { argv } from 'zx';
import { deployOptions, endpointOf } from './lib/deploy.js';
import { ROOT } from './lib/images.js';
import { login } from './lib/login.js';

if (argv.help || argv.h) {
  console.log(`usage: npm run login -- [--domain NAME] [--https-port N]

Fetches nothing from outside: copies secrets/root.crt to ./root.crt, checks https://NAME over TLS
with it, then signs an S3 ListBuckets with the first credential. On failure prints one JSON object
{"error","message","status","code"} and exits 1.`);
  process.exit(0);
}
const report = await login(ROOT, endpointOf(deployOptions(argv)));
if (!report.ok) {
  console.error(JSON.stringify(report.error));
  process.exit(1);
}
console.log(`logged in: ${report.endpoint} answers S3 over TLS verified by ${report.rootCert}`);
