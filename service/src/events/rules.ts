/**
 * Bucket notification rules as S3 keeps them (one per QueueConfiguration): which events, which keys,
 * which target. Pure: the S3 handler parses the XML into these, the outbox matches events against them.
 */

/** The event types a rule may name, as AWS spells them (MinIO's names for object-lock changes). */
export const EVENT_TYPES = [
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectCreated:PutRetention',
  's3:ObjectCreated:PutLegalHold',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated',
  's3:ObjectTagging:*',
  's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete',
  's3:ObjectAcl:Put',
  's3:LifecycleExpiration:*',
  's3:LifecycleExpiration:Delete',
  's3:LifecycleExpiration:DeleteMarkerCreated',
] as const;

export interface NotificationRule {
  /** The rule's Id: the message's configurationId. */
  id: string;
  /** The target's ARN (events/targets.ts targetArn). */
  target: string;
  events: string[];
  prefix?: string;
  suffix?: string;
}

/** Whether `pattern` (an event type, possibly `…:*`) covers the event `name` (`s3:ObjectCreated:Put`). */
export function eventCovers(pattern: string, name: string): boolean {
  return pattern.endsWith(':*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

export function ruleMatches(rule: NotificationRule, name: string, key: string): boolean {
  return (
    rule.events.some((e) => eventCovers(e, name)) &&
    key.startsWith(rule.prefix ?? '') &&
    key.endsWith(rule.suffix ?? '')
  );
}

/** Two event types some event satisfies both of. */
const typesOverlap = (a: string, b: string) =>
  eventCovers(a, b) || eventCovers(b, a) || (a.endsWith(':*') && b.endsWith(':*') && a === b);

/** Two strings one of which starts (or, with `end`, ends) with the other: some key satisfies both filters. */
const nested = (a: string, b: string, end: boolean) =>
  end ? a.endsWith(b) || b.endsWith(a) : a.startsWith(b) || b.startsWith(a);

/**
 * Why a set of rules is refused, or undefined: S3 refuses two rules that share an event type and whose
 * filters some key satisfies both of, since which one an event belongs to would be ambiguous.
 */
export function rulesConflict(rules: NotificationRule[]): string | undefined {
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) return `Two configurations share the Id "${r.id}".`;
    ids.add(r.id);
  }
  for (let i = 0; i < rules.length; i++)
    for (let j = i + 1; j < rules.length; j++) {
      const [a, b] = [rules[i]!, rules[j]!];
      if (
        a.events.some((x) => b.events.some((y) => typesOverlap(x, y))) &&
        nested(a.prefix ?? '', b.prefix ?? '', false) &&
        nested(a.suffix ?? '', b.suffix ?? '', true)
      )
        return 'Configurations overlap. Configurations on the same bucket cannot share a common event type.';
    }
  return undefined;
}

/** Operations that write an object, by the audit record's operation name: S3's, then the management API's. */
const CREATIONS: Record<string, string> = {
  PutObject: 's3:ObjectCreated:Put',
  PostObject: 's3:ObjectCreated:Post',
  CopyObject: 's3:ObjectCreated:Copy',
  CompleteMultipartUpload: 's3:ObjectCreated:CompleteMultipartUpload',
  PutObjectRetention: 's3:ObjectCreated:PutRetention',
  PutObjectLegalHold: 's3:ObjectCreated:PutLegalHold',
  PutObjectTagging: 's3:ObjectTagging:Put',
  DeleteObjectTagging: 's3:ObjectTagging:Delete',
  PutObjectAcl: 's3:ObjectAcl:Put',
  // Restoring an old version copies it over its key, as S3 clients do with CopyObject.
  'POST /buckets/:bucket/versions/*': 's3:ObjectCreated:Copy',
};

/** Operations that remove an object or add a delete marker: S3's, the management API's and the console's. */
const REMOVALS = new Set([
  'DeleteObject',
  'DeleteObjects',
  'DELETE /buckets/:bucket/objects/*',
  'DELETE /buckets/:bucket/versions/*',
  'POST /buckets/:bucket/delete',
]);

/**
 * The event a committed change is, from its audit record's operation and what the change left of the
 * object (`present`: the version exists; `deleteMarker`: it is a delete marker); undefined for a change
 * no event type describes (an upload's part, a multipart upload started).
 */
export function eventNameOf(
  operation: string,
  left: { present: boolean; deleteMarker: boolean },
): string | undefined {
  if (CREATIONS[operation]) return CREATIONS[operation];
  if (left.present) return undefined;
  const removal = left.deleteMarker ? 'DeleteMarkerCreated' : 'Delete';
  if (operation.startsWith('Lifecycle:')) return `s3:LifecycleExpiration:${removal}`;
  return REMOVALS.has(operation) ? `s3:ObjectRemoved:${removal}` : undefined;
}
