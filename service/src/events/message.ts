/**
 * The S3 event message (eventVersion 2.1) that AWS sends to SQS, SNS and Lambda, and that MinIO's
 * webhooks, n8n's and other tools' S3 triggers parse: `{"Records": [ … ]}`, one record per message here.
 */

/** What the outbox holds of a committed change (bucket_events). */
export interface CommittedChange {
  seq: number;
  at: Date;
  bucket: string;
  bucketOwner: string;
  key: string;
  versionId: string | null;
  size: number | null;
  etag: string | null;
  principal: string | null;
  accessKey: string | null;
  source: string | null;
  requestId: string | null;
}

export interface EventRecord {
  eventVersion: '2.1';
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: Record<string, string>;
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/**
 * As S3 encodes a key in event messages: form URL encoding (a space as `+`, only letters, digits and
 * `.-_*` left as they are) except that `/` stays, as in AWS's own messages.
 */
export function eventKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
    .replace(/%2F/g, '/');
}

/**
 * Orders a key's events: a fixed-width hex string that compares as the numbers do, as AWS documents
 * receivers should compare it (longer strings padded first).
 */
export function sequencer(seq: number): string {
  return seq.toString(16).toUpperCase().padStart(16, '0');
}

export function eventMessage(
  change: CommittedChange,
  eventName: string,
  configurationId: string,
  region: string,
): { Records: EventRecord[] } {
  const removal = /^s3:(ObjectRemoved|LifecycleExpiration):/.test(eventName);
  const object: EventRecord['s3']['object'] = { key: eventKey(change.key), sequencer: sequencer(change.seq) };
  // Removals carry no size or ETag, as on AWS; a version id only where the bucket versions.
  if (!removal && change.size !== null) object.size = change.size;
  // Stored quoted, as HTTP sends it; AWS's messages carry the bare digest.
  if (!removal && change.etag !== null) object.eTag = change.etag.replace(/^"|"$/g, '');
  if (change.versionId && change.versionId !== 'null') object.versionId = change.versionId;
  const responseElements: Record<string, string> = {};
  if (change.requestId) responseElements['x-amz-request-id'] = change.requestId;
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: change.at.toISOString(),
        eventName: eventName.slice('s3:'.length),
        userIdentity: { principalId: change.accessKey ?? change.principal ?? 'coffer' },
        requestParameters: { sourceIPAddress: change.source ?? '' },
        responseElements,
        s3: {
          s3SchemaVersion: '1.0',
          configurationId,
          bucket: {
            name: change.bucket,
            ownerIdentity: { principalId: change.bucketOwner },
            arn: `arn:aws:s3:::${change.bucket}`,
          },
          object,
        },
      },
    ],
  };
}
