/**
 * POST Object (browser form uploads): the signature over the form's policy (SigV4 or SigV2) and the
 * policy itself, its expiration and its conditions, checked against the form fields AWS's way.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors/s3-errors.js';
import type { CredentialProvider } from './credentials.js';
import { ALGORITHM, parseCredential, sign, signaturesEqual, signingKey } from './sigv4.js';

/** Form fields by lower-cased name (AWS matches field names case-insensitively). */
export type FormFields = ReadonlyMap<string, string>;

export interface PolicyCondition {
  op: 'eq' | 'starts-with' | 'content-length-range';
  /** The field it tests, lower-cased without the '$' ('' for content-length-range). */
  field: string;
  value: string;
  min?: number;
  max?: number;
  /** As written, for the error message. */
  text: string;
}

export interface PostPolicy {
  expiration: Date;
  conditions: PolicyCondition[];
}

const denied = (why: string) => new S3Error('AccessDenied', `Invalid according to Policy: ${why}`);
const invalidPolicy = (why: string) => new S3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`);

/** Who signed the form's policy: the access key, or nobody when the form carries no signature. */
export function verifyPostSignature(
  fields: FormFields,
  opts: { credentials: CredentialProvider; region: string; signatureV2: boolean },
): { accessKeyId?: string; policy?: string } {
  const policy = fields.get('policy');
  const v4 = fields.get('x-amz-signature');
  const v2 = fields.get('signature');
  if (policy === undefined) {
    if (v4 !== undefined || v2 !== undefined)
      throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named policy', {
        ArgumentName: 'policy',
      });
    return {};
  }
  if (v4 !== undefined) {
    if (fields.get('x-amz-algorithm') !== ALGORITHM)
      throw new S3Error('InvalidArgument', `x-amz-algorithm must be ${ALGORITHM}`, {
        ArgumentName: 'x-amz-algorithm',
      });
    const credential = parseCredential(
      fields.get('x-amz-credential') ?? '',
      (m) => new S3Error('InvalidArgument', m, { ArgumentName: 'x-amz-credential' }),
    );
    if (credential.region !== opts.region || credential.service !== 's3')
      throw new S3Error(
        'AuthorizationQueryParametersError',
        `The credential must be scoped to ${opts.region}/s3.`,
      );
    const secret = opts.credentials.secretFor(credential.accessKeyId);
    if (secret === undefined)
      throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
    const expected = sign(signingKey(secret, credential.date, credential.region, 's3'), policy);
    if (!signaturesEqual(expected, v4.toLowerCase()))
      throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: credential.accessKeyId });
    return { accessKeyId: credential.accessKeyId, policy };
  }
  if (v2 !== undefined) {
    if (!opts.signatureV2)
      throw new S3Error(
        'InvalidRequest',
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    const accessKeyId = fields.get('awsaccesskeyid') ?? '';
    const secret = opts.credentials.secretFor(accessKeyId);
    if (secret === undefined)
      throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
    const expected = createHmac('sha1', secret).update(policy).digest();
    const given = Buffer.from(v2, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new S3Error('SignatureDoesNotMatch', undefined, { AWSAccessKeyId: accessKeyId });
    return { accessKeyId, policy };
  }
  throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named x-amz-signature', {
    ArgumentName: 'x-amz-signature',
  });
}

/** Decodes the base64 policy document and checks its shape. */
export function parsePostPolicy(base64: string): PostPolicy {
  let doc: { expiration?: unknown; conditions?: unknown };
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  const expiration = typeof doc.expiration === 'string' ? new Date(doc.expiration) : undefined;
  if (!expiration || Number.isNaN(expiration.getTime())) throw invalidPolicy('Policy missing expiration.');
  if (!Array.isArray(doc.conditions)) throw invalidPolicy('Policy missing conditions.');
  return { expiration, conditions: doc.conditions.map(parseCondition) };
}

function parseCondition(c: unknown): PolicyCondition {
  const text = JSON.stringify(c);
  if (Array.isArray(c)) {
    const [op, a, b] = c as unknown[];
    const name = String(op).toLowerCase();
    if (name === 'content-length-range' && c.length === 3) {
      const min = Number(a);
      const max = Number(b);
      if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min)
        throw invalidPolicy(`Invalid content-length-range: ${text}`);
      return { op: 'content-length-range', field: '', value: '', min, max, text };
    }
    if (
      (name === 'eq' || name === 'starts-with') &&
      c.length === 3 &&
      typeof a === 'string' &&
      a.startsWith('$')
    )
      return { op: name, field: a.slice(1).toLowerCase(), value: String(b ?? ''), text };
    throw invalidPolicy(`Invalid Condition: ${text}`);
  }
  if (typeof c === 'object' && c !== null) {
    const entries = Object.entries(c);
    if (entries.length === 1) {
      const [field, value] = entries[0]!;
      return { op: 'eq', field: field.toLowerCase(), value: String(value), text };
    }
  }
  throw invalidPolicy(`Invalid Condition: ${text}`);
}

/** Fields that need no condition (AWS: the signature fields, the file, and x-ignore-*). */
const FREE_FIELDS = new Set([
  'policy',
  'x-amz-signature',
  'signature',
  'awsaccesskeyid',
  'file',
  'x-amz-security-token',
]);

/**
 * Checks the form against the policy: not expired, every condition holds (the bucket included), and
 * every field is covered by a condition. The size range is returned for the upload to enforce.
 */
export function checkPostPolicy(
  policy: PostPolicy,
  fields: FormFields,
  bucket: string,
  now: Date,
): { min: number; max: number } | undefined {
  if (policy.expiration.getTime() <= now.getTime()) throw denied('Policy expired.');
  const values = new Map(fields).set('bucket', bucket);
  let range: { min: number; max: number } | undefined;
  const covered = new Set<string>();
  for (const c of policy.conditions) {
    if (c.op === 'content-length-range') {
      range = { min: c.min!, max: c.max! };
      continue;
    }
    covered.add(c.field);
    const actual = values.get(c.field);
    const holds =
      actual !== undefined &&
      (c.op === 'eq'
        ? actual === c.value
        : actual.startsWith(c.value) || (c.field === 'content-type' && startsWithEach(actual, c.value)));
    if (!holds) throw denied(`Policy Condition failed: ${c.text}`);
  }
  const extra = [...fields.keys()].filter(
    (f) => !FREE_FIELDS.has(f) && !f.startsWith('x-ignore-') && !covered.has(f),
  );
  if (extra.length) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return range;
}

/** A Content-Type starts-with condition applies to each comma-separated value, as AWS documents. */
function startsWithEach(actual: string, prefix: string): boolean {
  return actual.split(',').every((v) => v.trim().startsWith(prefix));
}
