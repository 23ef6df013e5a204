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

type Compare = (actual: string, wanted: string) => boolean;

interface Operator {
  compare: Compare;
  negated: boolean;
  /** Checks one value written in the policy; returns the problem, if any. */
  check?: (value: string) => string | undefined;
}

/** A glob with IAM's two wildcards; `flags` 'i' for actions, which are case-insensitive. */
export function globMatches(pattern: string, value: string, flags = ''): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 's' + flags).test(value);
}

const number = (s: string) => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : NaN);
/** ISO 8601 dates, or epoch seconds as IAM also accepts. */
const date = (s: string) => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));
const numeric =
  (f: (a: number, b: number) => boolean): Compare =>
  (a, b) => {
    const x = number(a);
    const y = number(b);
    return !Number.isNaN(x) && !Number.isNaN(y) && f(x, y);
  };
const dated =
  (f: (a: number, b: number) => boolean): Compare =>
  (a, b) => {
    const x = date(a);
    const y = date(b);
    return !Number.isNaN(x) && !Number.isNaN(y) && f(x, y);
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

function inRange(ip: string, range: string): boolean {
  const r = cidr(range);
  const version = isIP(ip.replace(/^::ffff:(?=\d+\.)/, ''));
  if (!r || !version) return false;
  const list = new BlockList();
  list.addSubnet(r.address, r.prefix, r.family);
  const plain = ip.replace(/^::ffff:(?=\d+\.)/, '');
  return list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
}

/** ARNs compare part by part, so a wildcard never spans a colon. */
function arnLike(actual: string, pattern: string): boolean {
  const a = actual.split(':');
  const p = pattern.split(':');
  if (p.length !== 6 || a.length < 6) return false;
  const tail = a.slice(5).join(':');
  return p.every((part, i) => globMatches(part, i === 5 ? tail : a[i]!));
}

const BASE: Record<string, Omit<Operator, 'negated'> & { negated?: boolean }> = {
  StringEquals: { compare: (a, b) => a === b },
  StringNotEquals: { compare: (a, b) => a === b, negated: true },
  StringEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase() },
  StringNotEqualsIgnoreCase: { compare: (a, b) => a.toLowerCase() === b.toLowerCase(), negated: true },
  StringLike: { compare: (a, b) => globMatches(b, a) },
  StringNotLike: { compare: (a, b) => globMatches(b, a), negated: true },
  NumericEquals: { compare: numeric((a, b) => a === b), check: checkNumber },
  NumericNotEquals: { compare: numeric((a, b) => a === b), negated: true, check: checkNumber },
  NumericLessThan: { compare: numeric((a, b) => a < b), check: checkNumber },
  NumericLessThanEquals: { compare: numeric((a, b) => a <= b), check: checkNumber },
  NumericGreaterThan: { compare: numeric((a, b) => a > b), check: checkNumber },
  NumericGreaterThanEquals: { compare: numeric((a, b) => a >= b), check: checkNumber },
  DateEquals: { compare: dated((a, b) => a === b), check: checkDate },
  DateNotEquals: { compare: dated((a, b) => a === b), negated: true, check: checkDate },
  DateLessThan: { compare: dated((a, b) => a < b), check: checkDate },
  DateLessThanEquals: { compare: dated((a, b) => a <= b), check: checkDate },
  DateGreaterThan: { compare: dated((a, b) => a > b), check: checkDate },
  DateGreaterThanEquals: { compare: dated((a, b) => a >= b), check: checkDate },
  Bool: {
    compare: (a, b) => a.toLowerCase() === b.toLowerCase(),
    check: (v) => (/^(true|false)$/i.test(v) ? undefined : `'${v}' is not true or false`),
  },
  IpAddress: {
    compare: inRange,
    check: (v) => (cidr(v) ? undefined : `'${v}' is not an IP address or CIDR range`),
  },
  NotIpAddress: {
    compare: inRange,
    negated: true,
    check: (v) => (cidr(v) ? undefined : `'${v}' is not an IP address or CIDR range`),
  },
  ArnEquals: { compare: arnLike },
  ArnLike: { compare: arnLike },
  ArnNotEquals: { compare: arnLike, negated: true },
  ArnNotLike: { compare: arnLike, negated: true },
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

/** Whether the whole block holds for the request's values. */
export function conditionsHold(block: ConditionBlock | undefined, values: ConditionValues): boolean {
  if (!block) return true;
  for (const [op, keys] of Object.entries(block)) {
    const parsed = parseOperator(op)!;
    for (const [key, wanted] of Object.entries(keys)) {
      if (!operatorHolds(parsed, values.get(key.toLowerCase()), asList(wanted))) return false;
    }
  }
  return true;
}

function operatorHolds(op: ParsedOperator, actual: readonly string[] | undefined, wanted: string[]): boolean {
  if (op.base === 'Null') {
    const missing = actual === undefined || actual.length === 0;
    return wanted.some((w) => (w.toLowerCase() === 'true') === missing);
  }
  const base = op.base;
  const matchesOne = (a: string) => wanted.some((w) => base.compare(a, w));
  if (actual === undefined || actual.length === 0) {
    if (op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return false;
    return op.ifExists || base.negated;
  }
  const holdsFor = (a: string) => (base.negated ? !matchesOne(a) : matchesOne(a));
  if (op.set === 'ForAllValues') return actual.every(holdsFor);
  if (op.set === 'ForAnyValue') return actual.some(holdsFor);
  // A single-valued key: negated operators hold when the value matches none of those listed.
  return base.negated ? !actual.some(matchesOne) : actual.some(matchesOne);
}
