/**
 * The condition keys a bucket policy can test, read from one request as AWS defines them (global aws:*
 * keys and S3's s3:* keys), lower-cased for lookup.
 */
import type { IncomingMessage } from 'node:http';
import type { Authenticated } from '../auth/authenticate.js';
import type { User } from '../authz/authorize.js';

export interface ConditionSource {
  raw: IncomingMessage;
  query: Map<string, string>;
  auth: Authenticated;
  user?: User;
  /** The client's address, and whether it reached the gateway over TLS (through a trusted proxy or not). */
  sourceIp?: string;
  secure: boolean;
  now: Date;
}

/** Request headers that become s3:<header> condition keys when present. */
const HEADER_KEYS = [
  'x-amz-acl',
  'x-amz-grant-read',
  'x-amz-grant-write',
  'x-amz-grant-read-acp',
  'x-amz-grant-write-acp',
  'x-amz-grant-full-control',
  'x-amz-copy-source',
  'x-amz-metadata-directive',
  'x-amz-server-side-encryption',
  'x-amz-storage-class',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-content-sha256',
  'if-none-match',
  'if-match',
];

/** Query parameters that become s3:<name> condition keys (ListObjects' and a version's). */
const QUERY_KEYS: Array<[string, string]> = [
  ['prefix', 's3:prefix'],
  ['delimiter', 's3:delimiter'],
  ['max-keys', 's3:max-keys'],
  ['versionId', 's3:versionid'],
];

export function conditionValues(r: ConditionSource): Map<string, string[]> {
  const values = new Map<string, string[]>();
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined) values.set(key, [value]);
  };
  set('aws:securetransport', String(r.secure));
  set('aws:sourceip', r.sourceIp?.replace(/^::ffff:(?=\d+\.)/, ''));
  set('aws:currenttime', r.now.toISOString());
  set('aws:epochtime', String(Math.floor(r.now.getTime() / 1000)));
  set('aws:useragent', header(r.raw, 'user-agent'));
  set('aws:referer', header(r.raw, 'referer'));
  if (r.user) {
    set('aws:username', r.user.name);
    set('aws:userid', r.user.canonicalId);
    set('aws:principaltype', 'User');
  } else set('aws:principaltype', 'Anonymous');
  set('s3:signatureversion', r.auth.signatureVersion);
  if (r.auth.accessKeyId) set('s3:authtype', r.auth.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER');
  for (const name of HEADER_KEYS) set(`s3:${name}`, header(r.raw, name));
  for (const [param, key] of QUERY_KEYS) set(key, r.query.get(param));
  const tagging = header(r.raw, 'x-amz-tagging');
  if (tagging !== undefined) {
    const tags = new URLSearchParams(tagging);
    values.set('s3:requestobjecttagkeys', [...tags.keys()]);
    for (const [k, v] of tags) values.set(`s3:requestobjecttag/${k.toLowerCase()}`, [v]);
  }
  return values;
}

function header(raw: IncomingMessage, name: string): string | undefined {
  const v = raw.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
