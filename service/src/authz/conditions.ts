/**
 * The Condition element of a policy statement, evaluated as IAM does: operators AND together, keys of
 * one operator AND together, the values listed for a key OR together (NOR for a negated operator); a
 * key missing from the request makes a positive operator false and a negated one true, except that
 * ...IfExists is true when the key is missing and Null tests presence itself.
 */
import { BlockList, isIP } from 'node:net';

/** The request's condition keys, lower-cased, each with its values (most keys have one). */
export type ConditionValues = ReadonlyMap<string, readonly string[]>;

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

/** Compiles one value listed in the policy into a test of the request's value. */
type Compile = (wanted: string) => Matcher;

interface Operator {
  compile: Compile;
  negated: boolean;
  /** Checks one value written in the policy; returns the problem, if any. */
  check?: (value: string) => string | undefined;
}

/** A compiled test of one value against a pattern or a condition's listed value. */
export type Matcher = (value: string) => boolean;

/** A glob with IAM's two wildcards, compiled once; `flags` 'i' for actions, which are case-insensitive. */
export function glob(pattern: string, flags = ''): Matcher {
  if (!pattern.includes('*') && !pattern.includes('?')) {
    if (!flags) return (v) => v === pattern;
    const lower = pattern.toLowerCase();
    return (v) => v.toLowerCase() === lower;
  }
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 's' + flags);
  return (v) => re.test(v);
}

/** One-off glob test (policy checks at put time); evaluation uses compiled matchers. */
export const globMatches = (pattern: string, value: string, flags = '') => glob(pattern, flags)(value);

const number = (s: string) => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : NaN);
/** ISO 8601 dates, or epoch seconds as IAM also accepts. */
const date = (s: string) => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
const numeric =
  (f: (a: number, b: number) => boolean): Compile =>
  (wanted) => {
    const y = number(wanted);
    return (a) => {
      const x = number(a);
      return !Number.isNaN(x) && !Number.isNaN(y) && f(x, y);
    };
  };
const dated =
  (f: (a: number, b: number) => boolean): Compile =>
  (wanted) => {
    const y = date(wanted);
    return (a) => {
      const x = date(a);
      return !Number.isNaN(x) && !Number.isNaN(y) && f(x, y);
    };
  };
const checkNumber = (v: string) => (Number.isNaN(number(v)) ? `'${v}' is not a number` : undefined);
const checkDate = (v: string) => (Number.isNaN(date(v)) ? `'${v}' is not a date` : undefined);

function cidr(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address, bits] = value.split('/');
  const version = isIP(address ?? '');
  if (!version) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address: address!, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const unmapped = (ip: string) => ip.replace(/^::ffff:(?=\d+\.)/, '');

/** An address or CIDR range, compiled to a test of the request's address. */
function inRange(range: string): Matcher {
  const r = cidr(range);
  if (!r) return () => false;
  const list = new BlockList();
  list.addSubnet(r.address, r.prefix, r.family);
  return (ip) => {
    const plain = unmapped(ip);
    const version = isIP(plain);
    return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
}

/** ARNs compare part by part, so a wildcard never spans a colon. */
function arnLike(pattern: string): Matcher {
  const parts = pattern.split(':');
  if (parts.length !== 6) return () => false;
  const tests = parts.map((p) => glob(p));
  return (actual) => {
    const a = actual.split(':');
    if (a.length < 6) return false;
    const tail = a.slice(5).join(':');
    return tests.every((t, i) => t(i === 5 ? tail : a[i]!));
  };
}

const equal: Compile = (w) => (a) => a === w;
const equalIgnoringCase: Compile = (w) => {
  const lower = w.toLowerCase();
  return (a) => a.toLowerCase() === lower;
};

const ipCheck = (v: string) => (cidr(v) ? undefined : `'${v}' is not an IP address or CIDR range`);

const BASE: Record<string, Omit<Operator, 'negated'> & { negated?: boolean }> = {
  StringEquals: { compile: equal },
  StringNotEquals: { compile: equal, negated: true },
  StringEqualsIgnoreCase: { compile: equalIgnoringCase },
  StringNotEqualsIgnoreCase: { compile: equalIgnoringCase, negated: true },
  StringLike: { compile: (w) => glob(w) },
  StringNotLike: { compile: (w) => glob(w), negated: true },
  NumericEquals: { compile: numeric((a, b) => a === b), check: checkNumber },
  NumericNotEquals: { compile: numeric((a, b) => a === b), negated: true, check: checkNumber },
  NumericLessThan: { compile: numeric((a, b) => a < b), check: checkNumber },
  NumericLessThanEquals: { compile: numeric((a, b) => a <= b), check: checkNumber },
  NumericGreaterThan: { compile: numeric((a, b) => a > b), check: checkNumber },
  NumericGreaterThanEquals: { compile: numeric((a, b) => a >= b), check: checkNumber },
  DateEquals: { compile: dated((a, b) => a === b), check: checkDate },
  DateNotEquals: { compile: dated((a, b) => a === b), negated: true, check: checkDate },
  DateLessThan: { compile: dated((a, b) => a < b), check: checkDate },
  DateLessThanEquals: { compile: dated((a, b) => a <= b), check: checkDate },
  DateGreaterThan: { compile: dated((a, b) => a > b), check: checkDate },
  DateGreaterThanEquals: { compile: dated((a, b) => a >= b), check: checkDate },
  Bool: {
    compile: equalIgnoringCase,
    check: (v) => (/^(true|false)$/i.test(v) ? undefined : `'${v}' is not true or false`),
  },
  IpAddress: { compile: inRange, check: ipCheck },
  NotIpAddress: { compile: inRange, negated: true, check: ipCheck },
  ArnEquals: { compile: arnLike },
  ArnLike: { compile: arnLike },
  ArnNotEquals: { compile: arnLike, negated: true },
  ArnNotLike: { compile: arnLike, negated: true },
};

interface ParsedOperator {
  name: string;
  base: Operator | 'Null';
  ifExists: boolean;
  set?: 'ForAnyValue' | 'ForAllValues';
}

function parseOperator(full: string): ParsedOperator | undefined {
  const m = /^(?:(ForAnyValue|ForAllValues):)?(\w+?)(IfExists)?$/.exec(full);
  if (!m) return undefined;
  const [, set, name, ifExists] = m;
  if (name === 'Null') return ifExists ? undefined : { name: name, base: 'Null', ifExists: false };
  const base = BASE[name!];
  if (!base) return undefined;
  return {
    name: name!,
    base: { ...base, negated: base.negated ?? false },
    ifExists: !!ifExists,
    set: set as ParsedOperator['set'],
  };
}

const asList = (v: string | string[] | boolean | number): string[] =>
  (Array.isArray(v) ? v : [v]).map((x) => String(x));

/** The problem with a Condition element, named as MalformedPolicy's message would, or undefined. */
export function conditionProblem(block: unknown): string | undefined {
  if (typeof block !== 'object' || block === null || Array.isArray(block))
    return 'Condition must be an object of operators';
  for (const [op, keys] of Object.entries(block)) {
    const parsed = parseOperator(op);
    if (!parsed) return `Invalid Condition type : ${op}`;
    if (typeof keys !== 'object' || keys === null || Array.isArray(keys))
      return `Condition ${op} must map keys to values`;
    for (const [key, value] of Object.entries(keys as Record<string, unknown>)) {
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.some((v) => !['string', 'boolean', 'number'].includes(typeof v)))
        return `Condition ${op} of ${key} needs one or more string values`;
      if (parsed.base === 'Null') {
        if (values.some((v) => !/^(true|false)$/i.test(String(v))))
          return `Condition Null of ${key} takes true or false`;
        continue;
      }
      const check = parsed.base.check;
      for (const v of values) {
        const problem = check?.(String(v));
        if (problem) return `Condition ${op} of ${key}: ${problem}`;
      }
    }
  }
  return undefined;
}

/** The condition keys a block names (lower-cased), so the caller fetches only what is asked. */
export function conditionKeys(block: ConditionBlock | undefined): string[] {
  if (!block) return [];
  return Object.values(block).flatMap((keys) => Object.keys(keys).map((k) => k.toLowerCase()));
}

/** A condition block compiled once (operators parsed, patterns and ranges built) for every request. */
export type CompiledConditions = (values: ConditionValues) => boolean;

/** Compiles a block conditionProblem found nothing wrong with. */
export function compileConditions(block: ConditionBlock | undefined): CompiledConditions {
  if (!block) return () => true;
  const tests = Object.entries(block).flatMap(([op, keys]) => {
    const parsed = parseOperator(op)!;
    return Object.entries(keys).map(([key, wanted]) => {
      const name = key.toLowerCase();
      const holds = compileOperator(parsed, asList(wanted));
      return (values: ConditionValues) => holds(values.get(name));
    });
  });
  return (values) => tests.every((t) => t(values));
}

/** Whether the whole block holds for the request's values (compiling it first). */
export function conditionsHold(block: ConditionBlock | undefined, values: ConditionValues): boolean {
  return compileConditions(block)(values);
}

function compileOperator(
  op: ParsedOperator,
  wanted: string[],
): (actual: readonly string[] | undefined) => boolean {
  if (op.base === 'Null') {
    const wantMissing = wanted.map((w) => w.toLowerCase() === 'true');
    return (actual) => {
      const missing = actual === undefined || actual.length === 0;
      return wantMissing.some((w) => w === missing);
    };
  }
  const base = op.base;
  const matchers = wanted.map((w) => base.compile(w));
  const matchesOne = (a: string) => matchers.some((m) => m(a));
  const holdsFor = (a: string) => (base.negated ? !matchesOne(a) : matchesOne(a));
  return (actual) => {
    if (actual === undefined || actual.length === 0) {
      if (op.set === 'ForAllValues') return true;
      if (op.set === 'ForAnyValue') return false;
      return op.ifExists || base.negated;
    }
    if (op.set === 'ForAllValues') return actual.every(holdsFor);
    if (op.set === 'ForAnyValue') return actual.some(holdsFor);
    // A single-valued key: negated operators hold when the value matches none of those listed.
    return base.negated ? !actual.some(matchesOne) : actual.some(matchesOne);
  };
}
