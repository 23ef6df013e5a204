/**
 * Webhook targets as an admin or a deployment declares them, checked before anything is stored: the
 * management API, the gateway's WEBHOOKS_FILE and `up --webhooks-file` refuse the same things.
 */
import { createHash } from 'node:crypto';
import { createSecureContext } from 'node:tls';

export type TargetAuth = 'none' | 'bearer' | 'hmac';

export interface NewTarget {
  name: string;
  userName: string;
  url: string;
  auth: TargetAuth;
  secret?: string;
  caBundle?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Why the settings of a new target are refused, or undefined. */
export function targetProblem(t: NewTarget): string | undefined {
  if (!NAME.test(t.name)) return 'name: 1 to 63 letters, digits, "-" or "_", starting with a letter or digit';
  let url: URL;
  try {
    url = new URL(t.url);
  } catch {
    return `url: "${t.url}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url: must be http or https';
  if (url.username || url.password) return 'url: credentials go in the secret, not the URL';
  if (t.auth === 'none' ? t.secret !== undefined : !t.secret)
    return t.auth === 'none' ? 'secret: only with auth bearer or hmac' : `secret: auth ${t.auth} needs one`;
  if (t.secret !== undefined && (t.secret.length < 16 || t.secret.length > 4096 || /[\r\n]/.test(t.secret)))
    return 'secret: 16 to 4096 characters on one line';
  if (t.caBundle !== undefined) {
    if (url.protocol !== 'https:') return 'ca_bundle: only for an https url';
    try {
      createSecureContext({ ca: t.caBundle });
    } catch (err) {
      return `ca_bundle: not PEM certificates (${(err as Error).message})`;
    }
    if (!t.caBundle.includes('-----BEGIN CERTIFICATE-----')) return 'ca_bundle: not PEM certificates';
  }
  return undefined;
}

const FIELDS = new Set(['name', 'user', 'url', 'auth', 'secret', 'ca_bundle']);

/**
 * A webhooks file: a JSON array of {"name", "user", "url", "auth", "secret", "ca_bundle"}, as the management
 * API takes them. Throws one line naming the first problem (never echoing a secret).
 */
export function parseWebhooksFile(text: string): NewTarget[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('is not JSON');
  }
  if (!Array.isArray(data)) throw new Error('must be a JSON array of webhook targets');
  const names = new Set<string>();
  return data.map((entry: unknown, i) => {
    const at = `entry ${i + 1}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw new Error(`${at} is not an object`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).find((k) => !FIELDS.has(k));
    if (unknown) throw new Error(`${at} has an unknown field "${unknown}"`);
    for (const f of ['name', 'user', 'url'])
      if (typeof e[f] !== 'string') throw new Error(`${at} needs "${f}" as a string`);
    for (const f of ['auth', 'secret', 'ca_bundle'])
      if (e[f] !== undefined && typeof e[f] !== 'string') throw new Error(`${at}: "${f}" must be a string`);
    const auth = (e.auth ?? 'none') as string;
    if (!['none', 'bearer', 'hmac'].includes(auth))
      throw new Error(`${at}: auth must be none, bearer or hmac`);
    const target: NewTarget = {
      name: e.name as string,
      userName: e.user as string,
      url: e.url as string,
      auth: auth as TargetAuth,
      ...(e.secret !== undefined ? { secret: e.secret as string } : {}),
      ...(e.ca_bundle !== undefined ? { caBundle: e.ca_bundle as string } : {}),
    };
    const problem = targetProblem(target);
    if (problem) throw new Error(`${at} (${target.name}): ${problem}`);
    if (names.has(target.name)) throw new Error(`${at}: the name ${target.name} is used twice`);
    names.add(target.name);
    return target;
  });
}

/** Names a webhooks file's content without revealing it: what makes a deployment's gateways restart when it changes. */
export function webhooksDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
