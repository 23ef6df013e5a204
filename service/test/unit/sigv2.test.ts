import { describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/authenticate.js';
import { StaticCredentials } from '../../src/auth/credentials.js';
import { parseRawQuery, type WireRequest } from '../../src/auth/sigv4.js';

/**
 * Signature Version 2 against the examples AWS publishes in "Signing and authenticating REST requests"
 * (their credentials, requests, dates and signatures), as the gateway receives them.
 */
const credentials = new StaticCredentials([
  { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
]);

interface Example {
  name: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  /** The bucket named by the Host, for virtual-hosted examples. */
  virtualBucket?: string;
  signature?: string;
  now: string;
}

const EXAMPLES: Example[] = [
  {
    name: 'object GET (virtual-hosted)',
    method: 'GET',
    path: '/photos/puppy.jpg',
    virtualBucket: 'johnsmith',
    headers: [['Date', 'Tue, 27 Mar 2007 19:36:42 +0000']],
    signature: 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=',
    now: '2007-03-27T19:36:42Z',
  },
  {
    name: 'object PUT with a content type',
    method: 'PUT',
    path: '/photos/puppy.jpg',
    virtualBucket: 'johnsmith',
    headers: [
      ['Content-Type', 'image/jpeg'],
      ['Content-Length', '94328'],
      ['Date', 'Tue, 27 Mar 2007 21:15:45 +0000'],
    ],
    signature: 'MyyxeRY7whkBe+bq8fHCL/2kKUg=',
    now: '2007-03-27T21:15:45Z',
  },
  {
    name: 'list (query parameters that are not sub-resources are not signed)',
    method: 'GET',
    path: '/?prefix=photos&max-keys=50&marker=puppy',
    virtualBucket: 'johnsmith',
    headers: [
      ['User-Agent', 'Mozilla/5.0'],
      ['Date', 'Tue, 27 Mar 2007 19:42:41 +0000'],
    ],
    signature: 'htDYFYduRNen8P9ZfE/s9SuKy0U=',
    now: '2007-03-27T19:42:41Z',
  },
  {
    name: 'fetch an ACL (a signed sub-resource)',
    method: 'GET',
    path: '/?acl',
    virtualBucket: 'johnsmith',
    headers: [['Date', 'Tue, 27 Mar 2007 19:44:46 +0000']],
    signature: 'c2WLPFtWHVgbEmeEG93a4cG37dM=',
    now: '2007-03-27T19:44:46Z',
  },
  {
    name: 'DELETE, path style, dated by x-amz-date',
    method: 'DELETE',
    path: '/johnsmith/photos/puppy.jpg',
    headers: [
      ['User-Agent', 'dotnet'],
      ['Date', 'Tue, 27 Mar 2007 21:20:27 +0000'],
      ['x-amz-date', 'Tue, 27 Mar 2007 21:20:26 +0000'],
    ],
    signature: 'lx3byBScXR6KzyMaifNkardMwNk=',
    now: '2007-03-27T21:20:26Z',
  },
  {
    name: 'upload with x-amz-* headers, a repeated one folded (CNAME bucket)',
    method: 'PUT',
    path: '/db-backup.dat.gz',
    virtualBucket: 'static.johnsmith.net',
    headers: [
      ['User-Agent', 'curl/7.15.5'],
      ['Date', 'Tue, 27 Mar 2007 21:06:08 +0000'],
      ['x-amz-acl', 'public-read'],
      ['content-type', 'application/x-download'],
      ['Content-MD5', '4gJE4saaMU4BqNR0kLY+lw=='],
      ['X-Amz-Meta-ReviewedBy', 'joe@johnsmith.net'],
      ['X-Amz-Meta-ReviewedBy', 'jane@johnsmith.net'],
      ['X-Amz-Meta-FileChecksum', '0x02661779'],
      ['X-Amz-Meta-ChecksumAlgorithm', 'crc32'],
      ['Content-Disposition', 'attachment; filename=database.dat'],
      ['Content-Encoding', 'gzip'],
      ['Content-Length', '5913339'],
    ],
    signature: 'ilyl83RwaSoYIEdixDQcA4OnAnc=',
    now: '2007-03-27T21:06:08Z',
  },
  {
    name: 'list all my buckets',
    method: 'GET',
    path: '/',
    headers: [['Date', 'Wed, 28 Mar 2007 01:29:59 +0000']],
    signature: 'qGdzdERIC03wnaRNKh6OqZehG9s=',
    now: '2007-03-28T01:29:59Z',
  },
  {
    name: 'unicode keys, percent-encoded as sent',
    method: 'GET',
    path: '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re',
    headers: [['Date', 'Wed, 28 Mar 2007 01:49:49 +0000']],
    signature: 'DNEZGsoieTZ92F3bUfSPQcbGmlM=',
    now: '2007-03-28T01:49:49Z',
  },
  {
    name: 'query string authentication',
    method: 'GET',
    path: '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620',
    virtualBucket: 'johnsmith',
    headers: [],
    now: '2007-03-29T03:00:00Z',
  },
];

function run(
  e: Example,
  opts: { signatureV2?: boolean; now?: string; tamper?: (w: WireRequest) => void } = {},
) {
  const q = e.path.indexOf('?');
  const rawQuery = q < 0 ? '' : e.path.slice(q + 1);
  const wire: WireRequest = {
    method: e.method,
    rawPath: q < 0 ? e.path : e.path.slice(0, q),
    rawQuery,
    headers: e.signature
      ? [...e.headers, ['Authorization', `AWS AKIAIOSFODNN7EXAMPLE:${e.signature}`]]
      : e.headers,
  };
  opts.tamper?.(wire);
  try {
    const auth = authenticate(wire, parseRawQuery(wire.rawQuery), {
      credentials,
      now: new Date(opts.now ?? e.now),
      region: 'us-east-1',
      enforcePayloadVerification: true,
      signatureV2: opts.signatureV2 ?? true,
      virtualBucket: e.virtualBucket,
    });
    return `${auth.signatureVersion} ${auth.accessKeyId} presigned=${auth.presigned} ${auth.payload.kind}`;
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
}

describe('SigV2: AWS published examples', () => {
  for (const e of EXAMPLES)
    it(`verifies ${e.name}`, () =>
      expect(run(e)).toBe(`AWS AKIAIOSFODNN7EXAMPLE presigned=${e.signature === undefined} unsigned`));
});

describe('SigV2: refusals', () => {
  const get = EXAMPLES[0]!;
  it('refuses a changed request (another key)', () =>
    expect(run(get, { tamper: (w) => void (w.rawPath = '/photos/kitten.jpg') })).toMatch(
      /^SignatureDoesNotMatch/,
    ));
  it('refuses a changed sub-resource', () =>
    expect(run(EXAMPLES[3]!, { tamper: (w) => void (w.rawQuery = 'policy') })).toMatch(
      /^SignatureDoesNotMatch/,
    ));
  it('refuses an added x-amz-* header, which SigV2 always signs', () =>
    expect(
      run(get, { tamper: (w) => void (w.headers = [...w.headers, ['x-amz-copy-source', '/other/secret']]) }),
    ).toMatch(/^SignatureDoesNotMatch/));
  it('refuses a request dated more than 15 minutes away', () =>
    expect(run(get, { now: '2007-03-27T20:00:00Z' })).toMatch(/^RequestTimeTooSkewed/));
  it('refuses an expired query-string URL', () =>
    expect(run(EXAMPLES[8]!, { now: '2007-03-29T04:00:00Z' })).toMatch(/^AccessDenied: Request has expired/));
  it('refuses an unknown access key', () =>
    expect(
      run(get, {
        tamper: (w) =>
          void (w.headers = [
            w.headers[0]!,
            ['Authorization', 'AWS AKIANOBODY:bWq2s1WEIj+Ydj0vQ697zp+IXMU='],
          ]),
      }),
    ).toMatch(/^InvalidAccessKeyId/));
  it('answers an accurate error when SigV2 is turned off, not "anonymous"', () =>
    expect(run(get, { signatureV2: false })).toBe(
      'InvalidRequest: The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    ));
});
