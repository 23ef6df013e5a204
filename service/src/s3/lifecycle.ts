/** Put/Get/DeleteBucketLifecycleConfiguration: AWS's XML to and from the store's lifecycle rules. */
import { S3Error } from '../errors/s3-errors.js';
import { integerIn } from '../parse/integer.js';
import type { LifecycleConfig, LifecycleFilter, LifecycleRule } from '../store/lifecycle.js';
import { bucketOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { validateTags } from './object-request.js';
import { documentBody, requireBodyDigest } from './request-body.js';
import { parseXmlRoot, toXml, type XmlNode } from './xml.js';

const MAX_RULES = 1000;

type Node = Record<string, unknown>;
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : undefined);
const malformed = (why: string) =>
  new S3Error('MalformedXML', `The lifecycle configuration is not valid: ${why}.`);

function count(v: unknown, what: string, min = 1): number {
  const n = integerIn(text(v) ?? '', min);
  if (n === undefined) throw new S3Error('InvalidArgument', `${what} must be an integer of at least ${min}.`);
  return n;
}

function parseFilter(rule: Node): LifecycleFilter {
  // The older form puts Prefix on the rule itself.
  if (rule.Filter === undefined) return rule.Prefix !== undefined ? { prefix: text(rule.Prefix) ?? '' } : {};
  const f = (rule.Filter === '' ? {} : rule.Filter) as Node;
  const and = (f.And ?? f) as Node;
  const filter: LifecycleFilter = {};
  if (and.Prefix !== undefined) filter.prefix = text(and.Prefix) ?? '';
  const tags = list(and.Tag).map((t) => [text((t as Node)?.Key), text((t as Node)?.Value) ?? ''] as const);
  if (tags.some(([k]) => k === undefined)) throw malformed('a Tag needs a Key');
  if (tags.length) filter.tags = validateTags(tags as Array<[string, string]>, 50);
  if (and.ObjectSizeGreaterThan !== undefined)
    filter.sizeGreaterThan = count(and.ObjectSizeGreaterThan, 'ObjectSizeGreaterThan', 0);
  if (and.ObjectSizeLessThan !== undefined)
    filter.sizeLessThan = count(and.ObjectSizeLessThan, 'ObjectSizeLessThan');
  return filter;
}

function parseRule(r: Node, index: number): LifecycleRule {
  if (r.Transition !== undefined || r.NoncurrentVersionTransition !== undefined)
    throw new S3Error(
      'InvalidRequest',
      'Transitions are not supported: this gateway has one storage class (STANDARD); use Expiration instead.',
    );
  const status = text(r.Status);
  if (status !== 'Enabled' && status !== 'Disabled') throw malformed('Status must be Enabled or Disabled');
  const id = text(r.ID) || `rule-${index + 1}`;
  if (id.length > 255)
    throw new S3Error('InvalidArgument', 'ID length should not exceed allowed limit of 255');
  const rule: LifecycleRule = { id, enabled: status === 'Enabled', filter: parseFilter(r) };
  if (r.Expiration !== undefined) {
    const e = r.Expiration as Node;
    const kinds = ['Days', 'Date', 'ExpiredObjectDeleteMarker'].filter((k) => e[k] !== undefined);
    if (kinds.length !== 1)
      throw malformed('Expiration takes exactly one of Days, Date, ExpiredObjectDeleteMarker');
    if (e.Days !== undefined) rule.expiration = { days: count(e.Days, 'Days') };
    else if (e.Date !== undefined) {
      const date = text(e.Date)!;
      if (!/^\d{4}-\d{2}-\d{2}T00:00:00(\.000)?Z$/.test(date) || Number.isNaN(Date.parse(date)))
        throw new S3Error('InvalidArgument', "'Date' must be at midnight GMT, in ISO 8601 form.");
      rule.expiration = { date: new Date(date).toISOString() };
    } else {
      const marker = text(e.ExpiredObjectDeleteMarker);
      if (marker !== 'true' && marker !== 'false')
        throw malformed('ExpiredObjectDeleteMarker must be true or false');
      rule.expiration = { expiredObjectDeleteMarker: marker === 'true' };
    }
  }
  if (r.NoncurrentVersionExpiration !== undefined) {
    const n = r.NoncurrentVersionExpiration as Node;
    rule.noncurrentExpiration = { noncurrentDays: count(n.NoncurrentDays, 'NoncurrentDays') };
    if (n.NewerNoncurrentVersions !== undefined)
      rule.noncurrentExpiration.newerNoncurrentVersions = count(
        n.NewerNoncurrentVersions,
        'NewerNoncurrentVersions',
      );
  }
  if (r.AbortIncompleteMultipartUpload !== undefined)
    rule.abortIncompleteMultipartUploadDays = count(
      (r.AbortIncompleteMultipartUpload as Node).DaysAfterInitiation,
      'DaysAfterInitiation',
    );
  if (!rule.expiration && !rule.noncurrentExpiration && rule.abortIncompleteMultipartUploadDays === undefined)
    throw malformed('a rule needs at least one action');
  return rule;
}

export async function putBucketLifecycle(ctx: S3Context): Promise<S3Response> {
  requireBodyDigest(ctx);
  const doc = parseXmlRoot(await documentBody(ctx, 512 * 1024), 'LifecycleConfiguration') as Node | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const raw = list(doc.Rule);
  if (raw.length === 0 || raw.length > MAX_RULES) throw malformed(`1 to ${MAX_RULES} rules are needed`);
  const rules = raw.map((r, i) => parseRule(r as Node, i));
  if (new Set(rules.map((r) => r.id)).size !== rules.length)
    throw new S3Error('InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule');
  await ctx.store.buckets.setLifecycle(bucketOf(ctx), { rules });
  return { status: 200 };
}

function filterXml(f: LifecycleFilter): XmlNode {
  const tags = Object.entries(f.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const parts: XmlNode = {
    Prefix: f.prefix,
    Tag: tags,
    ObjectSizeGreaterThan: f.sizeGreaterThan,
    ObjectSizeLessThan: f.sizeLessThan,
  };
  const n =
    [f.prefix !== undefined, f.sizeGreaterThan !== undefined, f.sizeLessThan !== undefined].filter(Boolean)
      .length + tags.length;
  return n > 1 ? { And: parts } : parts;
}

export async function getBucketLifecycle(ctx: S3Context): Promise<S3Response> {
  const config: LifecycleConfig | undefined = bucketOf(ctx).lifecycle;
  if (!config) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: ctx.bucket! });
  return xmlResponse(
    toXml('LifecycleConfiguration', {
      Rule: config.rules.map((r) => ({
        ID: r.id,
        Filter: filterXml(r.filter),
        Status: r.enabled ? 'Enabled' : 'Disabled',
        Expiration: r.expiration && {
          Days: r.expiration.days,
          Date: r.expiration.date,
          ExpiredObjectDeleteMarker: r.expiration.expiredObjectDeleteMarker,
        },
        NoncurrentVersionExpiration: r.noncurrentExpiration && {
          NoncurrentDays: r.noncurrentExpiration.noncurrentDays,
          NewerNoncurrentVersions: r.noncurrentExpiration.newerNoncurrentVersions,
        },
        AbortIncompleteMultipartUpload:
          r.abortIncompleteMultipartUploadDays !== undefined
            ? { DaysAfterInitiation: r.abortIncompleteMultipartUploadDays }
            : undefined,
      })),
    }),
  );
}

export async function deleteBucketLifecycle(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setLifecycle(bucketOf(ctx), null);
  return { status: 204 };
}
