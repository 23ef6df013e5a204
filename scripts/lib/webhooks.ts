/**
 * `up --webhooks-file FILE`: webhook targets the deployment declares (name, user, url, auth, secret,
 * ca_bundle, as the management API takes them). The file holds their secrets: it is copied into
 * secrets/webhooks.json once, never over another; later changes are made there, and the next `up`
 * checks it and recreates the gateways, which apply it as they start.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseWebhooksFile, webhooksDigest } from '../../service/src/parse/webhook-targets.js';
import { WEBHOOK_SECRET_FILES } from '../../stacks/topology.js';
import { OperatorError } from './exec.js';
import { adoptSecretFile } from './secret-file.js';

const KEPT = WEBHOOK_SECRET_FILES.webhooks_json;

/** Why a webhooks file cannot be used, or undefined. */
function problemOf(text: string): string | undefined {
  try {
    parseWebhooksFile(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The kept file's digest once it is there and usable; undefined when the deployment declares none. */
export async function prepareWebhooks(
  root: string,
  wanted: boolean,
  file: string | undefined,
): Promise<{ digest: string } | undefined> {
  if (!wanted) return undefined;
  if (file)
    await adoptSecretFile({
      root,
      rel: KEPT,
      option: '--webhooks-file',
      file,
      problem: (text) => {
        const why = problemOf(text);
        return why && `${file} ${why}`;
      },
      other: 'other webhook targets (edit it there instead)',
    });
  const kept = path.join(root, KEPT);
  if (!existsSync(kept)) throw new OperatorError(`${KEPT} is missing: pass --webhooks-file FILE again`);
  const text = await readFile(kept, 'utf8');
  const why = problemOf(text);
  if (why) throw new OperatorError(`${KEPT} ${why}: fix it, then run up again (nothing was changed)`);
  return { digest: webhooksDigest(text) };
}
