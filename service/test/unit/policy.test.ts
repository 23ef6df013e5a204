import { describe, expect, it } from 'vitest';
import { conditionsHold, type ConditionBlock } from '../../src/authz/conditions.js';
import {
  evaluate,
  isPublic,
  parsePolicy,
  type PolicyRequest,
  type UserDirectory,
} from '../../src/authz/policy.js';

/** The bucket policy engine alone: documents as AWS's examples write them, decided against requests. */
const ALICE = { canonicalId: 'a'.repeat(64), name: 'alice' };
const BOB = { canonicalId: 'b'.repeat(64), name: 'bob' };
const users: UserDirectory = {
  userByCanonicalId: (id) => [ALICE, BOB].find((u) => u.canonicalId === id),
  userByName: (name) => [ALICE, BOB].find((u) => u.name === name),
};

const policy = (...Statement: object[]) =>
  parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement }), 'docs', users);

const request = (over: Partial<PolicyRequest> & { values?: Record<string, string | string[]> } = {}) => ({
  requester: BOB,
  action: 's3:GetObject',
  resource: 'arn:aws:s3:::docs/reports/q1.pdf',
  ...over,
  values: new Map(Object.entries(over.values ?? {}).map(([k, v]) => [k.toLowerCase(), [v].flat()])),
});

function malformed(doc: unknown): string {
  try {
    parsePolicy(typeof doc === 'string' ? doc : JSON.stringify(doc), 'docs', users);
    return 'accepted';
  } catch (err) {
    return `${(err as { code: string }).code}: ${(err as Error).message}`;
  }
}

const allowBob = { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/bob' } };

describe('policy evaluation: effects, principals, actions and resources', () => {
  const table: Array<[string, object[], Parameters<typeof request>[0], 'Allow' | 'Deny' | undefined]> = [
    [
      'allow by user ARN',
      [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/*' }],
      {},
      'Allow',
    ],
    [
      'allow by canonical id',
      [
        {
          Effect: 'Allow',
          Principal: { CanonicalUser: BOB.canonicalId },
          Action: 's3:Get*',
          Resource: 'arn:aws:s3:::docs/*',
        },
      ],
      {},
      'Allow',
    ],
    [
      'another user is not named',
      [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/*' }],
      { requester: ALICE },
      undefined,
    ],
    [
      'anonymous is not a named user',
      [{ ...allowBob, Action: '*', Resource: 'arn:aws:s3:::docs/*' }],
      { requester: undefined },
      undefined,
    ],
    [
      '"*" includes anonymous',
      [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/*' }],
      { requester: undefined },
      'Allow',
    ],
    [
      'action wildcard, case-insensitive',
      [{ ...allowBob, Action: 'S3:get*', Resource: 'arn:aws:s3:::docs/*' }],
      {},
      'Allow',
    ],
    [
      'action not listed',
      [{ ...allowBob, Action: 's3:PutObject', Resource: 'arn:aws:s3:::docs/*' }],
      {},
      undefined,
    ],
    [
      'resource wildcard with ?',
      [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/reports/q?.pdf' }],
      {},
      'Allow',
    ],
    [
      'resource outside the prefix',
      [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/private/*' }],
      {},
      undefined,
    ],
    [
      'explicit deny wins over allow',
      [
        { ...allowBob, Action: 's3:*', Resource: 'arn:aws:s3:::docs/*' },
        { Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/reports/*' },
      ],
      {},
      'Deny',
    ],
    [
      'NotAction: everything but deletes',
      [
        {
          ...allowBob,
          NotAction: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
          Resource: 'arn:aws:s3:::docs/*',
        },
      ],
      { action: 's3:DeleteObject' },
      undefined,
    ],
    [
      'NotAction allows what it does not name',
      [{ ...allowBob, NotAction: 's3:Delete*', Resource: 'arn:aws:s3:::docs/*' }],
      {},
      'Allow',
    ],
    [
      'NotResource',
      [{ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::docs/public/*' }],
      {},
      'Deny',
    ],
    [
      'NotPrincipal: deny everyone but alice',
      [
        {
          Effect: 'Deny',
          NotPrincipal: { AWS: 'arn:aws:iam::000000000000:user/alice' },
          Action: 's3:*',
          Resource: 'arn:aws:s3:::docs/*',
        },
      ],
      {},
      'Deny',
    ],
  ];
  for (const [name, statements, req, expected] of table)
    it(name, () => expect(evaluate(policy(...statements), request(req))).toBe(expected));
});

describe('condition operators', () => {
  const holds = (block: ConditionBlock, values: Record<string, string | string[]>) =>
    conditionsHold(block, new Map(Object.entries(values).map(([k, v]) => [k.toLowerCase(), [v].flat()])));
  const table: Array<[string, ConditionBlock, Record<string, string | string[]>, boolean]> = [
    ['StringEquals', { StringEquals: { 's3:prefix': 'home/' } }, { 's3:prefix': 'home/' }, true],
    [
      'StringEquals, any listed value',
      { StringEquals: { 's3:prefix': ['a/', 'home/'] } },
      { 's3:prefix': 'home/' },
      true,
    ],
    [
      'StringEquals is case-sensitive',
      { StringEquals: { 's3:prefix': 'Home/' } },
      { 's3:prefix': 'home/' },
      false,
    ],
    [
      'StringNotEquals',
      { StringNotEquals: { 's3:x-amz-acl': 'public-read' } },
      { 's3:x-amz-acl': 'private' },
      true,
    ],
    [
      'StringNotEquals, a listed value',
      { StringNotEquals: { 's3:x-amz-acl': ['public-read', 'private'] } },
      { 's3:x-amz-acl': 'private' },
      false,
    ],
    [
      'StringEqualsIgnoreCase',
      { StringEqualsIgnoreCase: { 's3:delimiter': 'X' } },
      { 's3:delimiter': 'x' },
      true,
    ],
    [
      'StringNotEqualsIgnoreCase',
      { StringNotEqualsIgnoreCase: { 's3:delimiter': 'X' } },
      { 's3:delimiter': 'x' },
      false,
    ],
    ['StringLike', { StringLike: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'home/bob/' }, true],
    ['StringNotLike', { StringNotLike: { 's3:prefix': 'home/*' } }, { 's3:prefix': 'etc/' }, true],
    [
      'NumericLessThanEquals',
      { NumericLessThanEquals: { 's3:max-keys': '10' } },
      { 's3:max-keys': '10' },
      true,
    ],
    ['NumericLessThan', { NumericLessThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '10' }, false],
    ['NumericGreaterThan', { NumericGreaterThan: { 's3:max-keys': '10' } }, { 's3:max-keys': '11' }, true],
    [
      'NumericGreaterThanEquals',
      { NumericGreaterThanEquals: { 's3:max-keys': '10' } },
      { 's3:max-keys': '9' },
      false,
    ],
    ['NumericEquals', { NumericEquals: { 's3:max-keys': '5' } }, { 's3:max-keys': '5' }, true],
    ['NumericNotEquals', { NumericNotEquals: { 's3:max-keys': '5' } }, { 's3:max-keys': '5' }, false],
    [
      'NumericEquals, not a number',
      { NumericEquals: { 's3:max-keys': '5' } },
      { 's3:max-keys': 'five' },
      false,
    ],
    [
      'DateLessThan',
      { DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } },
      { 'aws:currenttime': '2026-11-30T00:00:00Z' },
      true,
    ],
    [
      'DateGreaterThan',
      { DateGreaterThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } },
      { 'aws:currenttime': '2026-11-30T00:00:00Z' },
      false,
    ],
    [
      'DateLessThanEquals',
      { DateLessThanEquals: { 'aws:CurrentTime': '2026-11-30T00:00:00Z' } },
      { 'aws:currenttime': '2026-11-30T00:00:00.000Z' },
      true,
    ],
    [
      'DateGreaterThanEquals, epoch seconds',
      { DateGreaterThanEquals: { 'aws:CurrentTime': '1700000000' } },
      { 'aws:currenttime': '2026-11-30T00:00:00Z' },
      true,
    ],
    [
      'DateEquals',
      { DateEquals: { 'aws:CurrentTime': '2026-11-30T00:00:00Z' } },
      { 'aws:currenttime': '2026-11-30T00:00:00.000Z' },
      true,
    ],
    [
      'DateNotEquals',
      { DateNotEquals: { 'aws:CurrentTime': '2026-11-30T00:00:00Z' } },
      { 'aws:currenttime': '2026-11-30T00:00:00Z' },
      false,
    ],
    ['Bool true', { Bool: { 'aws:SecureTransport': 'true' } }, { 'aws:securetransport': 'true' }, true],
    ['Bool false', { Bool: { 'aws:SecureTransport': 'false' } }, { 'aws:securetransport': 'true' }, false],
    [
      'IpAddress in a CIDR',
      { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } },
      { 'aws:sourceip': '192.0.2.77' },
      true,
    ],
    [
      'IpAddress outside',
      { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } },
      { 'aws:sourceip': '198.51.100.1' },
      false,
    ],
    [
      'IpAddress, IPv6',
      { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } },
      { 'aws:sourceip': '2001:db8::1' },
      true,
    ],
    [
      'NotIpAddress',
      { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '127.0.0.1'] } },
      { 'aws:sourceip': '127.0.0.1' },
      false,
    ],
    [
      'ArnLike',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::docs*' } },
      { 'aws:sourcearn': 'arn:aws:s3:::docs-logs' },
      true,
    ],
    [
      'ArnEquals, a wildcard never spans a colon',
      { ArnEquals: { 'aws:SourceArn': 'arn:*:s3:::docs' } },
      { 'aws:sourcearn': 'arn:aws:iam:::docs' },
      false,
    ],
    [
      'ArnNotLike',
      { ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::docs' } },
      { 'aws:sourcearn': 'arn:aws:s3:::other' },
      true,
    ],
    [
      'ArnNotEquals',
      { ArnNotEquals: { 'aws:SourceArn': 'arn:aws:s3:::docs' } },
      { 'aws:sourcearn': 'arn:aws:s3:::docs' },
      false,
    ],
    ['Null true: the key is missing', { Null: { 's3:x-amz-server-side-encryption': 'true' } }, {}, true],
    ['Null false: the key is present', { Null: { 's3:x-amz-server-side-encryption': 'false' } }, {}, false],
    ['missing key: a positive operator is false', { StringEquals: { 's3:prefix': 'home/' } }, {}, false],
    ['missing key: a negated operator is true', { StringNotEquals: { 's3:prefix': 'home/' } }, {}, true],
    ['missing key with IfExists: true', { StringEqualsIfExists: { 's3:prefix': 'home/' } }, {}, true],
    [
      'present key with IfExists: checked',
      { StringEqualsIfExists: { 's3:prefix': 'home/' } },
      { 's3:prefix': 'etc/' },
      false,
    ],
    ['missing key, NumericLessThanIfExists', { NumericLessThanIfExists: { 's3:max-keys': '10' } }, {}, true],
    ['missing key, NumericLessThan', { NumericLessThan: { 's3:max-keys': '10' } }, {}, false],
    [
      'ForAllValues over request tag keys',
      { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['team', 'env'] } },
      { 's3:requestobjecttagkeys': ['env'] },
      true,
    ],
    [
      'ForAllValues, one key outside',
      { 'ForAllValues:StringEquals': { 's3:RequestObjectTagKeys': ['team'] } },
      { 's3:requestobjecttagkeys': ['team', 'secret'] },
      false,
    ],
    [
      'ForAnyValue',
      { 'ForAnyValue:StringLike': { 's3:RequestObjectTagKeys': 'sec*' } },
      { 's3:requestobjecttagkeys': ['team', 'secret'] },
      true,
    ],
    [
      'ExistingObjectTag',
      { StringEquals: { 's3:ExistingObjectTag/classification': 'public' } },
      { 's3:existingobjecttag/classification': 'public' },
      true,
    ],
    [
      'RequestObjectTag',
      { StringEquals: { 's3:RequestObjectTag/env': 'prod' } },
      { 's3:requestobjecttag/env': 'dev' },
      false,
    ],
    [
      'operators AND together',
      { Bool: { 'aws:SecureTransport': 'true' }, StringLike: { 's3:prefix': 'home/*' } },
      { 'aws:securetransport': 'true', 's3:prefix': 'etc/' },
      false,
    ],
  ];
  for (const [name, block, values, expected] of table)
    it(name, () => expect(holds(block, values)).toBe(expected));
});

describe('malformed policies are refused, naming the problem', () => {
  const table: Array<[string, unknown, RegExp]> = [
    ['not JSON', '{"Statement": [', /^MalformedPolicy: This policy contains invalid Json/],
    ['not an object', '[]', /^MalformedPolicy: Policies must be valid JSON and the first byte must be '\{'/],
    ['no Statement', { Version: '2012-10-17' }, /Missing required field Statement/],
    [
      'a bad Effect',
      { Statement: [{ ...allowBob, Effect: 'Maybe', Action: '*', Resource: 'arn:aws:s3:::docs' }] },
      /Invalid effect/,
    ],
    [
      'no Principal',
      { Statement: [{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::docs' }] },
      /Missing required field Principal/,
    ],
    [
      'an unknown user',
      {
        Statement: [
          {
            ...allowBob,
            Principal: { AWS: 'arn:aws:iam::1:user/mallory' },
            Action: '*',
            Resource: 'arn:aws:s3:::docs',
          },
        ],
      },
      /Invalid principal in policy/,
    ],
    [
      'an unknown action',
      { Statement: [{ ...allowBob, Action: 's3:GetObjectz', Resource: 'arn:aws:s3:::docs/*' }] },
      /Policy has invalid action/,
    ],
    [
      'another bucket',
      { Statement: [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' }] },
      /Policy has invalid resource/,
    ],
    [
      'an object action on the bucket',
      { Statement: [{ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs' }] },
      /Action does not apply to any resource\(s\) in statement/,
    ],
    [
      'an unknown operator',
      {
        Statement: [
          {
            ...allowBob,
            Action: '*',
            Resource: 'arn:aws:s3:::docs',
            Condition: { StringSorta: { 's3:prefix': 'a' } },
          },
        ],
      },
      /Invalid Condition type : StringSorta/,
    ],
    [
      'a bad CIDR',
      {
        Statement: [
          {
            ...allowBob,
            Action: '*',
            Resource: 'arn:aws:s3:::docs',
            Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } },
          },
        ],
      },
      /not an IP address or CIDR range/,
    ],
    [
      'an unknown field',
      { Statement: [{ ...allowBob, Action: '*', Resource: 'arn:aws:s3:::docs', Effects: 'Allow' }] },
      /Unknown field Effects/,
    ],
    [
      'too large',
      {
        Statement: [{ ...allowBob, Sid: 'x'.repeat(21 * 1024), Action: '*', Resource: 'arn:aws:s3:::docs' }],
      },
      /^PolicyTooLarge/,
    ],
  ];
  for (const [name, doc, expected] of table) it(name, () => expect(malformed(doc)).toMatch(expected));
});

describe('public policies (GetBucketPolicyStatus, BlockPublicPolicy)', () => {
  it('calls a wildcard principal public unless a condition narrows who or from where', () => {
    const everyone = {
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::docs/*',
    };
    expect(isPublic(policy(everyone))).toBe(true);
    expect(
      isPublic(policy({ ...everyone, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })),
    ).toBe(false);
    expect(isPublic(policy({ ...everyone, Effect: 'Deny' }))).toBe(false);
    expect(isPublic(policy({ ...allowBob, Action: 's3:GetObject', Resource: 'arn:aws:s3:::docs/*' }))).toBe(
      false,
    );
  });
});
