/**
 * Bucket policy documents: parsed and checked once when set (MalformedPolicy names the problem), then
 * matched against each request. Grants made from the management API are statements of the same form.
 */
import { S3Error } from '../errors/s3-errors.js';
import { OBJECT_ACTIONS, S3_ACTIONS } from './actions.js';
import {
  compileConditions,
  conditionKeys,
  conditionProblem,
  glob,
  globMatches,
  type CompiledConditions,
  type ConditionBlock,
  type ConditionValues,
  type Matcher,
} from './conditions.js';

/** Who a statement names: everyone, or users by canonical id or by name (arn:aws:iam::…:user/name). */
export interface PrincipalMatch {
  everyone: boolean;
  canonicalIds: string[];
  names: string[];
}

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  principal?: PrincipalMatch;
  notPrincipal?: PrincipalMatch;
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  condition?: ConditionBlock;
  /** The patterns and conditions above, compiled once when the statement is parsed. */
  compiled: {
    action?: Matcher[];
    notAction?: Matcher[];
    resource?: Matcher[];
    notResource?: Matcher[];
    condition: CompiledConditions;
  };
}

/** The requester as statements see it: a user, or nobody (an anonymous request). */
export type Requester = { canonicalId: string; name: string } | undefined;

/** What one request asks, as statements match it. */
export interface PolicyRequest {
  requester: Requester;
  action: string;
  /** arn:aws:s3:::bucket or arn:aws:s3:::bucket/key. */
  resource: string;
  values: ConditionValues;
}

/** How a policy finds the users its principals name, to refuse names that are nobody. */
export interface UserDirectory {
  userByCanonicalId(canonicalId: string): { name: string } | undefined;
  userByName(name: string): { canonicalId: string } | undefined;
}

const MAX_POLICY_BYTES = 20 * 1024;
const STATEMENT_FIELDS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const malformed = (message: string) => new S3Error('MalformedPolicy', message);

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

function strings(v: unknown, field: string): string[] {
  const items = list(v);
  if (items.length === 0 || items.some((x) => typeof x !== 'string' || x === ''))
    throw malformed(`${field} must be a string or a list of strings`);
  return items as string[];
}

function parsePrincipal(v: unknown, users: UserDirectory | undefined): PrincipalMatch {
  const match: PrincipalMatch = { everyone: false, canonicalIds: [], names: [] };
  if (v === '*') return { ...match, everyone: true };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed('Invalid principal in policy');
  for (const [kind, value] of Object.entries(v)) {
    for (const id of strings(value, 'Principal')) {
      if (kind === 'AWS' && id === '*') match.everyone = true;
      else if ((kind === 'CanonicalUser' || kind === 'AWS') && /^[0-9a-f]{64}$/.test(id)) {
        if (users && !users.userByCanonicalId(id)) throw malformed('Invalid principal in policy');
        match.canonicalIds.push(id);
      } else if (kind === 'AWS') {
        // arn:aws:iam::<account>:user/<name>, or :root for the account a canonical id stands for.
        const m = /^arn:aws:iam::([^:]*):(user\/(?:[^:]*\/)?([^/:]+)|root)$/.exec(id);
        if (!m) throw malformed('Invalid principal in policy');
        if (m[3] !== undefined) {
          if (users && !users.userByName(m[3])) throw malformed('Invalid principal in policy');
          match.names.push(m[3]);
        } else {
          if (users && !users.userByCanonicalId(m[1]!)) throw malformed('Invalid principal in policy');
          match.canonicalIds.push(m[1]!);
        }
      } else throw malformed('Invalid principal in policy');
    }
  }
  return match;
}

function checkActions(actions: string[]): void {
  for (const a of actions) {
    if (a === '*') continue;
    if (!/^s3:[A-Za-z*?]+$/i.test(a) || !S3_ACTIONS.some((known) => globMatches(a, known, 'i')))
      throw malformed('Policy has invalid action');
  }
}

function checkResources(resources: string[], bucket: string): void {
  for (const r of resources) {
    const m = /^arn:aws:s3:::([^/]+)(\/.*)?$/.exec(r);
    if (!m || !globMatches(m[1]!, bucket)) throw malformed('Policy has invalid resource');
  }
}

/** AWS refuses a statement whose actions and resources never meet (s3:GetObject on the bucket ARN). */
function checkActionsMeetResources(actions: string[], resources: string[]): void {
  const kinds = new Set(resources.map((r) => (r.includes('/') ? 'object' : 'bucket')));
  if (resources.some((r) => /^arn:aws:s3:::[^/]*\*$/.test(r))) kinds.add('object');
  const meets = actions.some((a) =>
    S3_ACTIONS.some(
      (known) => globMatches(a, known, 'i') && kinds.has(OBJECT_ACTIONS.has(known) ? 'object' : 'bucket'),
    ),
  );
  if (!meets) throw malformed('Action does not apply to any resource(s) in statement');
}

/** Parses and checks a bucket policy document for `bucket`; throws MalformedPolicy naming the problem. */
export function parsePolicy(text: string, bucket: string, users: UserDirectory | undefined): Statement[] {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES)
    throw new S3Error('PolicyTooLarge', `Policies cannot exceed ${MAX_POLICY_BYTES} bytes.`);
  if (!text.trimStart().startsWith('{'))
    throw malformed("Policies must be valid JSON and the first byte must be '{'");
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('This policy contains invalid Json');
  }
  const d = doc as Record<string, unknown>;
  for (const field of Object.keys(d))
    if (!['Version', 'Id', 'Statement'].includes(field)) throw malformed(`Unknown field ${field}`);
  if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17')
    throw malformed('The policy must contain a valid version string');
  if (d.Statement === undefined) throw malformed('Missing required field Statement');
  const raw = list(d.Statement);
  if (raw.length === 0) throw malformed('Missing required field Statement');
  return raw.map((s) => parseStatement(s, bucket, users));
}

/** `users` checks that named principals exist (when a policy is put); without it any name is kept. */
export function parseStatement(raw: unknown, bucket: string, users: UserDirectory | undefined): Statement {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw malformed('Statement must be an object');
  const s = raw as Record<string, unknown>;
  for (const field of Object.keys(s))
    if (!STATEMENT_FIELDS.has(field)) throw malformed(`Unknown field ${field}`);
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw malformed('Invalid effect: ' + String(s.Effect));
  if ((s.Principal === undefined) === (s.NotPrincipal === undefined))
    throw malformed('Missing required field Principal');
  if ((s.Action === undefined) === (s.NotAction === undefined))
    throw malformed('Missing required field Action');
  if ((s.Resource === undefined) === (s.NotResource === undefined))
    throw malformed('Missing required field Resource');
  const statement: Statement = { effect: s.Effect, compiled: { condition: () => true } };
  if (s.Sid !== undefined) {
    if (typeof s.Sid !== 'string') throw malformed('Sid must be a string');
    statement.sid = s.Sid;
  }
  if (s.Principal !== undefined) statement.principal = parsePrincipal(s.Principal, users);
  if (s.NotPrincipal !== undefined) statement.notPrincipal = parsePrincipal(s.NotPrincipal, users);
  if (s.Action !== undefined) checkActions((statement.action = strings(s.Action, 'Action')));
  if (s.NotAction !== undefined) checkActions((statement.notAction = strings(s.NotAction, 'NotAction')));
  if (s.Resource !== undefined)
    checkResources((statement.resource = strings(s.Resource, 'Resource')), bucket);
  if (s.NotResource !== undefined)
    checkResources((statement.notResource = strings(s.NotResource, 'NotResource')), bucket);
  if (statement.action && statement.resource) checkActionsMeetResources(statement.action, statement.resource);
  if (s.Condition !== undefined) {
    const problem = conditionProblem(s.Condition);
    if (problem) throw malformed(problem);
    statement.condition = s.Condition as ConditionBlock;
  }
  const actions = (list?: string[]) => list?.map((a) => glob(a, 'i'));
  const resources = (list?: string[]) => list?.map((r) => glob(r));
  statement.compiled = {
    action: actions(statement.action),
    notAction: actions(statement.notAction),
    resource: resources(statement.resource),
    notResource: resources(statement.notResource),
    condition: compileConditions(statement.condition),
  };
  return statement;
}

function principalMatches(match: PrincipalMatch, requester: Requester): boolean {
  if (match.everyone) return true;
  if (!requester) return false;
  return match.canonicalIds.includes(requester.canonicalId) || match.names.includes(requester.name);
}

const anyMatch = (matchers: Matcher[], value: string) => matchers.some((m) => m(value));

/** Whether the statement names the requester and the action (resources and conditions aside). */
function namesRequest(s: Statement, requester: Requester, action: string): boolean {
  const c = s.compiled;
  if (s.principal && !principalMatches(s.principal, requester)) return false;
  if (s.notPrincipal && principalMatches(s.notPrincipal, requester)) return false;
  if (c.action && !anyMatch(c.action, action)) return false;
  return !(c.notAction && anyMatch(c.notAction, action));
}

/** Whether a statement applies to the request, conditions included. */
export function statementApplies(s: Statement, r: PolicyRequest): boolean {
  const c = s.compiled;
  if (!namesRequest(s, r.requester, r.action)) return false;
  if (c.resource && !anyMatch(c.resource, r.resource)) return false;
  if (c.notResource && anyMatch(c.notResource, r.resource)) return false;
  return c.condition(r.values);
}

/** Whether an Allow statement could permit `action` to the requester on some resource, whatever the conditions. */
export function mayAllow(s: Statement, requester: Requester, action: string): boolean {
  return s.effect === 'Allow' && namesRequest(s, requester, action);
}

/** Explicit Deny wins over any Allow; no applicable statement is no decision (the caller's default). */
export function evaluate(statements: readonly Statement[], r: PolicyRequest): 'Allow' | 'Deny' | undefined {
  let decision: 'Allow' | undefined;
  for (const s of statements) {
    if (!statementApplies(s, r)) continue;
    if (s.effect === 'Deny') return 'Deny';
    decision = 'Allow';
  }
  return decision;
}

/** Every condition key the statements name, so the request gathers only what they test. */
export function namedConditionKeys(statements: readonly Statement[]): Set<string> {
  return new Set(statements.flatMap((s) => conditionKeys(s.condition)));
}

/** Keys that tie a statement to known requesters, so a wildcard principal under them is not public. */
const NARROWING_KEYS = new Set([
  'aws:sourceip',
  'aws:userid',
  'aws:username',
  'aws:principalarn',
  'aws:sourcearn',
]);

/** AWS's "public": some Allow reaches everyone, with no condition narrowing who or from where. */
export function isPublic(statements: readonly Statement[]): boolean {
  return statements.some(
    (s) =>
      s.effect === 'Allow' &&
      (s.principal?.everyone || s.notPrincipal !== undefined) &&
      !conditionKeys(s.condition).some((k) => NARROWING_KEYS.has(k)),
  );
}
