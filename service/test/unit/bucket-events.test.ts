import { describe, expect, it } from 'vitest';
import { eventKey, eventMessage, sequencer } from '../../src/events/message.js';
import {
  eventCovers,
  eventNameOf,
  ruleMatches,
  rulesConflict,
  type NotificationRule,
} from '../../src/events/rules.js';
import { signature } from '../../src/events/sender.js';
import { targetNameOf } from '../../src/events/targets.js';
import { parseWebhooksFile, targetProblem } from '../../src/parse/webhook-targets.js';
import { backoff } from '../../src/events/worker.js';
import { notificationXml, parseNotificationXml } from '../../src/s3/notification.js';
import { verifySignature } from '../support/webhook-receiver.js';

const ARN = 'arn:coffer:sqs:us-east-1:hook:webhook';
const rule = (r: Partial<NotificationRule>): NotificationRule => ({
  id: 'r',
  target: ARN,
  events: ['s3:ObjectCreated:*'],
  ...r,
});

describe('notification rules', () => {
  it('match event types with and without wildcards, and key prefix and suffix', () => {
    expect(eventCovers('s3:ObjectCreated:*', 's3:ObjectCreated:Copy')).toBe(true);
    expect(eventCovers('s3:ObjectCreated:*', 's3:ObjectRemoved:Delete')).toBe(false);
    expect(eventCovers('s3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteMarkerCreated')).toBe(false);
    const pdfs = rule({ prefix: 'docs/', suffix: '.pdf' });
    expect(ruleMatches(pdfs, 's3:ObjectCreated:Put', 'docs/a.pdf')).toBe(true);
    expect(ruleMatches(pdfs, 's3:ObjectCreated:Put', 'docs/a.pdfx')).toBe(false);
    expect(ruleMatches(pdfs, 's3:ObjectCreated:Put', 'xdocs/a.pdf')).toBe(false);
    expect(ruleMatches(pdfs, 's3:ObjectRemoved:Delete', 'docs/a.pdf')).toBe(false);
  });

  it('conflict when some event of one key would belong to two rules, as S3 refuses', () => {
    expect(rulesConflict([rule({ id: 'a' }), rule({ id: 'b', events: ['s3:ObjectCreated:Put'] })])).toMatch(
      /overlap/,
    );
    expect(rulesConflict([rule({ id: 'a', prefix: 'a/' }), rule({ id: 'b', prefix: 'a/b/' })])).toMatch(
      /overlap/,
    );
    expect(rulesConflict([rule({ id: 'a', suffix: '.jpg' }), rule({ id: 'b', suffix: 'x.jpg' })])).toMatch(
      /overlap/,
    );
    expect(rulesConflict([rule({ id: 'a', prefix: 'a/' }), rule({ id: 'b', prefix: 'b/' })])).toBeUndefined();
    expect(
      rulesConflict([rule({ id: 'a', suffix: '.jpg' }), rule({ id: 'b', suffix: '.png' })]),
    ).toBeUndefined();
    expect(
      rulesConflict([rule({ id: 'a' }), rule({ id: 'b', events: ['s3:ObjectRemoved:*'] })]),
    ).toBeUndefined();
    expect(rulesConflict([rule({ id: 'a', prefix: 'a/' }), rule({ id: 'a', prefix: 'b/' })])).toMatch(
      /Id "a"/,
    );
  });

  it('name each committed change as S3 does, and none for changes that are not events', () => {
    const present = { present: true, deleteMarker: false };
    const gone = { present: false, deleteMarker: false };
    const marker = { present: false, deleteMarker: true };
    expect(eventNameOf('PutObject', present)).toBe('s3:ObjectCreated:Put');
    expect(eventNameOf('PostObject', present)).toBe('s3:ObjectCreated:Post');
    expect(eventNameOf('CopyObject', present)).toBe('s3:ObjectCreated:Copy');
    expect(eventNameOf('CompleteMultipartUpload', present)).toBe('s3:ObjectCreated:CompleteMultipartUpload');
    expect(eventNameOf('DeleteObject', gone)).toBe('s3:ObjectRemoved:Delete');
    expect(eventNameOf('DeleteObjects', marker)).toBe('s3:ObjectRemoved:DeleteMarkerCreated');
    expect(eventNameOf('DELETE /buckets/:bucket/objects/*', gone)).toBe('s3:ObjectRemoved:Delete');
    expect(eventNameOf('POST /buckets/:bucket/versions/*', present)).toBe('s3:ObjectCreated:Copy');
    expect(eventNameOf('Lifecycle:expired', marker)).toBe('s3:LifecycleExpiration:DeleteMarkerCreated');
    expect(eventNameOf('Lifecycle:noncurrentDeleted', gone)).toBe('s3:LifecycleExpiration:Delete');
    expect(eventNameOf('PutObjectRetention', present)).toBe('s3:ObjectCreated:PutRetention');
    expect(eventNameOf('PutObjectTagging', present)).toBe('s3:ObjectTagging:Put');
    // Parts and uploads started change no object; a delete that left the version there did nothing.
    expect(eventNameOf('UploadPart', gone)).toBeUndefined();
    expect(eventNameOf('CreateMultipartUpload', gone)).toBeUndefined();
    expect(eventNameOf('DeleteObject', present)).toBeUndefined();
  });
});

describe('the notification configuration document', () => {
  it('reads queue configurations, filters in any case, and writes them back as S3 does', () => {
    const rules =
      parseNotificationXml(`<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <QueueConfiguration><Id>pdfs</Id><Queue>${ARN}</Queue><Event>s3:ObjectCreated:*</Event>
        <Event>s3:ObjectRemoved:Delete</Event>
        <Filter><S3Key><FilterRule><Name>Prefix</Name><Value>docs/</Value></FilterRule>
          <FilterRule><Name>suffix</Name><Value>.pdf</Value></FilterRule></S3Key></Filter>
      </QueueConfiguration></NotificationConfiguration>`);
    expect(rules).toEqual([
      {
        id: 'pdfs',
        target: ARN,
        events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:Delete'],
        prefix: 'docs/',
        suffix: '.pdf',
      },
    ]);
    expect(parseNotificationXml(notificationXml(rules))).toEqual(rules);
    expect(parseNotificationXml('<NotificationConfiguration/>')).toEqual([]);
    expect(parseNotificationXml('<NotificationConfiguration>\n</NotificationConfiguration>')).toEqual([]);
    // An Id is made up when the document has none, as S3 does.
    expect(
      parseNotificationXml(`<NotificationConfiguration><QueueConfiguration><Queue>${ARN}</Queue>
      <Event>s3:ObjectCreated:Put</Event></QueueConfiguration></NotificationConfiguration>`)[0]!.id,
    ).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses what it cannot honour with the code S3 gives', () => {
    const code = (xml: string) => {
      try {
        parseNotificationXml(xml);
        return 'accepted';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    const queue = (inner: string) =>
      `<NotificationConfiguration><QueueConfiguration>${inner}</QueueConfiguration></NotificationConfiguration>`;
    expect(code(queue(`<Queue>${ARN}</Queue><Event>s3:ObjectCreated:Everything</Event>`))).toBe(
      'InvalidArgument',
    );
    expect(code(queue(`<Queue>${ARN}</Queue>`))).toBe('MalformedXML');
    expect(code(queue('<Event>s3:ObjectCreated:*</Event>'))).toBe('MalformedXML');
    expect(
      code(
        queue(
          `<Queue>${ARN}</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>x</Value></FilterRule></S3Key></Filter>`,
        ),
      ),
    ).toBe('InvalidArgument');
    expect(
      code(
        queue(
          `<Queue>${ARN}</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule><FilterRule><Name>Prefix</Name><Value>b</Value></FilterRule></S3Key></Filter>`,
        ),
      ),
    ).toBe('InvalidArgument');
    expect(
      code(
        '<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>',
      ),
    ).toBe('InvalidArgument');
    expect(code('<NotificationConfiguration><EventBridgeConfiguration/></NotificationConfiguration>')).toBe(
      'InvalidArgument',
    );
    expect(code('<Other/>')).toBe('MalformedXML');
  });
});

describe('the event message', () => {
  it('encodes keys as S3 does: form encoding, a space as +, slashes kept', () => {
    expect(eventKey('in box/a+b (1).txt')).toBe('in+box/a%2Bb+%281%29.txt');
    expect(eventKey("it's~é")).toBe('it%27s%7E%C3%A9');
    expect(eventKey('a-b_c.d*e')).toBe('a-b_c.d*e');
  });

  it('orders sequencers as strings the way their numbers order', () => {
    const seqs = [1, 9, 10, 255, 256, 2 ** 40].map(sequencer);
    expect([...seqs].sort()).toEqual(seqs);
  });

  it('carries size and ETag for a creation, not for a removal, and a version id only where there is one', () => {
    const change = {
      seq: 42,
      at: new Date('2026-01-02T03:04:05.678Z'),
      bucket: 'b',
      bucketOwner: 'c'.repeat(64),
      key: 'k',
      versionId: 'null',
      size: 5,
      etag: '"abc"',
      principal: 'alice',
      accessKey: 'AKIA1',
      source: '10.0.0.1',
      requestId: 'req-1',
    };
    const put = eventMessage(change, 's3:ObjectCreated:Put', 'rule-1', 'eu-1').Records[0]!;
    expect(put).toEqual({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'eu-1',
      eventTime: '2026-01-02T03:04:05.678Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AKIA1' },
      requestParameters: { sourceIPAddress: '10.0.0.1' },
      responseElements: { 'x-amz-request-id': 'req-1' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'rule-1',
        bucket: { name: 'b', ownerIdentity: { principalId: 'c'.repeat(64) }, arn: 'arn:aws:s3:::b' },
        object: { key: 'k', size: 5, eTag: 'abc', sequencer: '000000000000002A' },
      },
    });
    const removed = eventMessage({ ...change, versionId: 'v1' }, 's3:ObjectRemoved:Delete', 'r', 'eu-1')
      .Records[0]!;
    expect(removed.s3.object).toEqual({ key: 'k', versionId: 'v1', sequencer: '000000000000002A' });
  });
});

describe('webhook targets and delivery', () => {
  it('signs what a receiver can verify, and nothing else verifies', () => {
    const header = signature('top-secret-key-123', 1_700_000_000, '{"a":1}');
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifySignature(header, 'top-secret-key-123', '{"a":1}')).toBe(true);
    expect(verifySignature(header, 'top-secret-key-123', '{"a":2}')).toBe(false);
    expect(verifySignature(header, 'another-secret-key', '{"a":1}')).toBe(false);
  });

  it('name targets by ARNs of their region only', () => {
    expect(targetNameOf(ARN, 'us-east-1')).toBe('hook');
    expect(targetNameOf(ARN, 'eu-west-1')).toBeUndefined();
    expect(targetNameOf('arn:minio:sqs::1:webhook', 'us-east-1')).toBeUndefined();
  });

  it('refuse settings that could never deliver, or would leak a secret', () => {
    const ok = { name: 'n8n', userName: 'u', url: 'https://n8n.local/hook', auth: 'none' as const };
    expect(targetProblem(ok)).toBeUndefined();
    expect(targetProblem({ ...ok, name: '-x' })).toMatch(/^name/);
    expect(targetProblem({ ...ok, url: 'ftp://x/' })).toMatch(/^url/);
    expect(targetProblem({ ...ok, url: 'https://user:pw@x/' })).toMatch(/^url: credentials/);
    expect(targetProblem({ ...ok, auth: 'hmac' })).toMatch(/^secret: auth hmac needs one/);
    expect(targetProblem({ ...ok, auth: 'bearer', secret: 'short' })).toMatch(/^secret: 16/);
    expect(targetProblem({ ...ok, secret: 'x'.repeat(20) })).toMatch(/^secret: only with/);
    expect(targetProblem({ ...ok, caBundle: 'not a certificate' })).toMatch(/^ca_bundle/);
    expect(targetProblem({ ...ok, url: 'http://x/', caBundle: 'x' })).toMatch(
      /^ca_bundle: only for an https/,
    );
  });

  it("read a deployment's webhooks file, refusing with one line that never shows a secret", () => {
    const secret = 'x'.repeat(24);
    expect(
      parseWebhooksFile(
        JSON.stringify([{ name: 'n8n', user: 'alice', url: 'https://n8n/hook', auth: 'hmac', secret }]),
      ),
    ).toEqual([{ name: 'n8n', userName: 'alice', url: 'https://n8n/hook', auth: 'hmac', secret }]);
    expect(parseWebhooksFile('[]')).toEqual([]);
    const why = (text: string) => {
      try {
        parseWebhooksFile(text);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(why('{')).toBe('is not JSON');
    expect(why('{}')).toBe('must be a JSON array of webhook targets');
    expect(why('[{"name":"a","user":"u"}]')).toBe('entry 1 needs "url" as a string');
    expect(why('[{"name":"a","user":"u","url":"http://x/","token":"t"}]')).toBe(
      'entry 1 has an unknown field "token"',
    );
    expect(why('[{"name":"a","user":"u","url":"http://x/","auth":"basic"}]')).toBe(
      'entry 1: auth must be none, bearer or hmac',
    );
    const short = why(
      JSON.stringify([{ name: 'a', user: 'u', url: 'http://x/', auth: 'bearer', secret: 'tiny-secret' }]),
    );
    expect(short).toBe('entry 1 (a): secret: 16 to 4096 characters on one line');
    expect(short).not.toContain('tiny-secret');
    expect(why('[{"name":"a","user":"u","url":"http://x/"},{"name":"a","user":"v","url":"http://y/"}]')).toBe(
      'entry 2: the name a is used twice',
    );
  });

  it('back off exponentially up to the cap, spread by jitter', () => {
    const s = { pollMs: 1, timeoutMs: 1, retryBaseMs: 1000, retryMaxMs: 60_000, giveUpMs: 1, concurrency: 1 };
    expect([1, 2, 3, 4].map((n) => backoff(n, s, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoff(30, s, () => 1)).toBe(60_000);
    expect(backoff(1, s, () => 0)).toBe(800);
  });
});
