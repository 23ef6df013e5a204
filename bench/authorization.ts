/**
 * The cost of one authorization decision, in process: the bucket owner with no policy (every request of
 * a single-user site), a grantee matched through grants beside a 20-statement policy with conditions, and
 * an anonymous request refused by the same policy.
 */
import { Authorizer, type Principal } from '../service/src/authz/authorize.js';
import { grantStatements } from '../service/src/authz/grants.js';
import type { Bucket } from '../service/src/store/types.js';

const OWNER = 'a'.repeat(64);
const GRANTEE = { canonicalId: 'b'.repeat(64), name: 'grantee' };

function policyOf(statements: number): string {
  const Statement = Array.from({ length: statements }, (_, i) => ({
    Sid: `s${i}`,
    Effect: i % 5 === 0 ? 'Deny' : 'Allow',
    Principal: { AWS: `arn:aws:iam::000000000000:user/u${i}` },
    Action: ['s3:GetObject', 's3:PutObject', 's3:List*'],
    Resource: `arn:aws:s3:::bench/team${i}/*`,
    Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' }, Bool: { 'aws:SecureTransport': 'true' } },
  }));
  return JSON.stringify({ Version: '2012-10-17', Statement });
}

async function microsPerDecision(authorizer: Authorizer, principal: Principal, n: number): Promise<number> {
  const values = new Map([
    ['aws:sourceip', ['10.1.2.3']],
    ['aws:securetransport', ['true']],
  ]);
  const ask = () =>
    authorizer
      .authorize({
        principal,
        action: 's3:GetObject',
        bucket: 'bench',
        key: 'reports/q1.pdf',
        context: { values },
      })
      .catch(() => undefined);
  for (let i = 0; i < 1000; i++) await ask();
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await ask();
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

export async function authorizationCost(n = 100_000) {
  const plain: Bucket = { id: 1, name: 'bench', owner: OWNER, region: 'us-east-1', createdAt: new Date() };
  const shared: Bucket = {
    ...plain,
    policy: policyOf(20),
    grantStatements: grantStatements('bench', GRANTEE.canonicalId, 'read', 'reports/'),
  };
  const over = (b: Bucket) => new Authorizer({ byName: async () => b });
  const owner: Principal = {
    kind: 'user',
    accessKeyId: 'AKIAOWNER',
    user: { canonicalId: OWNER, name: 'owner' },
  };
  const grantee: Principal = { kind: 'user', accessKeyId: 'AKIAGRANTEE', user: GRANTEE };
  return {
    ownerUs: await microsPerDecision(over(plain), owner, n),
    granteeUs: await microsPerDecision(over(shared), grantee, n),
    anonymousUs: await microsPerDecision(over(shared), { kind: 'anonymous' }, n),
  };
}
