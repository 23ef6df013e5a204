import { randomBytes } from 'node:crypto';
import { bucketOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { EVENT_TYPES, rulesConflict, type NotificationRule } from '../events/rules.js';
import { documentBody } from './request-body.js';
import { parseXmlRoot, toXml, type XmlNode } from './xml.js';

const MAX_RULES = 100;
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const invalid = (message: string, name: string, value: string) =>
  new S3Error('InvalidArgument', message, { ArgumentName: name, ArgumentValue: value });

/** A <Filter><S3Key> of FilterRules: at most one prefix and one suffix. */
function parseFilter(filter: unknown): { prefix?: string; suffix?: string } {
  if (filter === undefined || filter === '') return {};
  const key = (filter as Record<string, unknown>).S3Key;
  const out: { prefix?: string; suffix?: string } = {};
  for (const rule of list(
    key === '' ? undefined : (key as Record<string, unknown> | undefined)?.FilterRule,
  )) {
    const r = rule as Record<string, unknown>;
    const name = String(r.Name ?? '').toLowerCase();
    const value = typeof r.Value === 'string' ? r.Value : '';
    if (name !== 'prefix' && name !== 'suffix')
      throw invalid('filter rule name must be either prefix or suffix', 'FilterRule', String(r.Name ?? ''));
    if (out[name] !== undefined)
      throw invalid('Cannot specify more than one prefix rule in a filter.', 'FilterRule', name);
    if (Buffer.byteLength(value) > 1024)
      throw invalid('The filter rule value is too long', 'FilterRule', name);
    out[name] = value;
  }
  return out;
}

/**
 * A NotificationConfiguration document as S3 reads it: QueueConfigurations naming webhook targets by
 * ARN (as MinIO does), event types and key filters. SNS topics, Lambda functions and EventBridge have
 * nothing to stand for here and are refused, never silently dropped.
 */
export function parseNotificationXml(text: string): NotificationRule[] {
  const doc = parseXmlRoot(text, 'NotificationConfiguration');
  if (doc === undefined || (typeof doc === 'string' && !doc.trim())) return [];
  if (typeof doc !== 'object' || doc === null) throw new S3Error('MalformedXML');
  const d = doc as Record<string, unknown>;
  for (const other of ['TopicConfiguration', 'CloudFunctionConfiguration', 'EventBridgeConfiguration'])
    if (d[other] !== undefined)
      throw invalid(
        `${other} is not supported: Coffer sends events to webhook targets, named in QueueConfiguration`,
        other,
        '',
      );
  // Whitespace between elements is kept by the parser (trimValues is off for keys and values).
  const unknown = Object.keys(d).find(
    (k) => k !== 'QueueConfiguration' && !(k === '#text' && !String(d[k]).trim()),
  );
  if (unknown) throw new S3Error('MalformedXML');
  const configs = list(d.QueueConfiguration) as Array<Record<string, unknown>>;
  if (configs.length > MAX_RULES) throw invalid('Too many configurations', 'QueueConfiguration', '');
  const rules = configs.map((c): NotificationRule => {
    if (typeof c !== 'object' || c === null) throw new S3Error('MalformedXML');
    const target = typeof c.Queue === 'string' ? c.Queue.trim() : '';
    if (!target) throw new S3Error('MalformedXML');
    const events = list(c.Event).map((e) => String(e).trim());
    if (events.length === 0) throw new S3Error('MalformedXML');
    for (const e of events)
      if (!(EVENT_TYPES as readonly string[]).includes(e))
        throw invalid('The event is not supported for notifications', 'Event', e);
    const id = typeof c.Id === 'string' && c.Id.trim() ? c.Id.trim() : randomBytes(16).toString('hex');
    return { id, target, events: [...new Set(events)], ...parseFilter(c.Filter) };
  });
  const conflict = rulesConflict(rules);
  if (conflict) throw invalid(conflict, 'QueueConfiguration', '');
  return rules;
}

export function notificationXml(rules: NotificationRule[]): string {
  return toXml('NotificationConfiguration', {
    QueueConfiguration: rules.map((r) => {
      const filters = [
        ...(r.prefix !== undefined ? [{ Name: 'Prefix', Value: r.prefix }] : []),
        ...(r.suffix !== undefined ? [{ Name: 'Suffix', Value: r.suffix }] : []),
      ];
      const node: XmlNode = { Id: r.id, Queue: r.target, Event: r.events };
      if (filters.length) node.Filter = { S3Key: { FilterRule: filters } };
      return node;
    }),
  });
}

export async function putBucketNotification(ctx: S3Context): Promise<S3Response> {
  const rules = parseNotificationXml(await documentBody(ctx, 64 * 1024));
  await ctx.store.buckets.setNotification(bucketOf(ctx), rules, ctx.settings.region);
  return { status: 200 };
}

/** With no configuration, S3 answers an empty document, not an error. */
export async function getBucketNotification(ctx: S3Context): Promise<S3Response> {
  return xmlResponse(notificationXml(await ctx.store.buckets.notification(bucketOf(ctx))));
}
