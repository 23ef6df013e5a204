import type { IncomingHttpHeaders } from 'node:http';
import { xmlResponse, type S3Context, type S3Response, bucketOf } from './context.js';
import { S3Error } from '../errors/s3-errors.js';
import { isHeaderName, isHeaderValue } from './header-values.js';
import { documentBody } from './request-body.js';
import { parseXmlRoot, toXml } from './xml.js';

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];
const MAX_RULES = 100;

const list = (v: unknown): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => String(x).trim());

/** AWS's CORS wildcards: at most one `*`, matching any run of characters; header names compare case-insensitively. */
function globMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  return v.length >= p.length - 1 && v.startsWith(p.slice(0, star)) && v.endsWith(p.slice(star + 1));
}

export function parseCorsXml(text: string): CorsRule[] {
  const doc = parseXmlRoot(text, 'CORSConfiguration') as Record<string, unknown> | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const rules = (Array.isArray(doc.CORSRule) ? doc.CORSRule : doc.CORSRule ? [doc.CORSRule] : []) as Array<
    Record<string, unknown>
  >;
  if (rules.length === 0 || rules.length > MAX_RULES) throw new S3Error('MalformedXML');
  return rules.map((r) => {
    const rule: CorsRule = {
      id: typeof r.ID === 'string' ? r.ID : undefined,
      allowedOrigins: list(r.AllowedOrigin),
      allowedMethods: list(r.AllowedMethod),
      allowedHeaders: list(r.AllowedHeader),
      exposeHeaders: list(r.ExposeHeader),
      maxAgeSeconds: r.MaxAgeSeconds === undefined ? undefined : Number(r.MaxAgeSeconds),
    };
    if (rule.allowedOrigins.length === 0 || rule.allowedMethods.length === 0)
      throw new S3Error('MalformedXML');
    for (const m of rule.allowedMethods) {
      if (!METHODS.includes(m))
        throw new S3Error(
          'InvalidRequest',
          `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`,
        );
    }
    for (const o of [...rule.allowedOrigins, ...rule.allowedHeaders]) {
      if (o.split('*').length > 2)
        throw new S3Error(
          'InvalidRequest',
          `AllowedOrigin/AllowedHeader "${o}" can not have more than one wildcard.`,
        );
    }
    // These come back in Access-Control-* response headers: refuse now what could never be sent.
    for (const [field, names] of [
      ['AllowedHeader', rule.allowedHeaders],
      ['ExposeHeader', rule.exposeHeaders],
    ] as const) {
      for (const name of names) {
        if (!isHeaderName(name))
          throw new S3Error('InvalidRequest', `${field} "${name}" is not a valid HTTP header name.`);
      }
    }
    for (const origin of rule.allowedOrigins) {
      if (!origin || !isHeaderValue(origin) || /\s/.test(origin))
        throw new S3Error('InvalidRequest', `AllowedOrigin "${origin}" is not a valid origin.`);
    }
    if (
      rule.maxAgeSeconds !== undefined &&
      !(Number.isInteger(rule.maxAgeSeconds) && rule.maxAgeSeconds >= 0)
    )
      throw new S3Error('MalformedXML');
    return rule;
  });
}

/** The first rule that allows this origin, method and every requested header, as S3 evaluates them. */
export function matchRule(
  rules: CorsRule[],
  origin: string,
  method: string,
  requestHeaders: string[],
): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => globMatch(o, origin)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((a) => globMatch(a, h, true))),
  );
}

export function corsHeaders(
  rule: CorsRule,
  origin: string,
  requestHeaders: string[],
  preflight: boolean,
): Record<string, string> {
  const h: Record<string, string> = {
    'access-control-allow-origin': rule.allowedOrigins.includes('*') ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (!rule.allowedOrigins.includes('*')) h['access-control-allow-credentials'] = 'true';
  if (preflight && requestHeaders.length) h['access-control-allow-headers'] = requestHeaders.join(', ');
  if (rule.exposeHeaders.length) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (preflight && rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds);
  return h;
}

function requestedHeaders(headers: IncomingHttpHeaders): string[] {
  const raw = headers['access-control-request-headers'];
  return (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** OPTIONS preflight: unauthenticated by design, answered from the bucket's rules alone. */
export async function preflight(
  headers: IncomingHttpHeaders,
  bucket: string | undefined,
  rulesOf: (bucket: string) => Promise<CorsRule[] | null>,
): Promise<S3Response> {
  const origin = headers.origin;
  const method = headers['access-control-request-method'];
  if (!origin || typeof method !== 'string') {
    throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
  }
  if (!bucket) throw new S3Error('AccessForbidden');
  const rules = await rulesOf(bucket);
  const wanted = requestedHeaders(headers);
  const rule = rules ? matchRule(rules, origin, method.toUpperCase(), wanted) : undefined;
  if (!rule) throw new S3Error('AccessForbidden');
  return { status: 200, headers: corsHeaders(rule, origin, wanted, true) };
}

export async function putBucketCors(ctx: S3Context): Promise<S3Response> {
  const text = await documentBody(ctx, 64 * 1024);
  await ctx.store.buckets.setSetting(bucketOf(ctx), 'cors', parseCorsXml(text));
  return { status: 200 };
}

export async function getBucketCors(ctx: S3Context): Promise<S3Response> {
  const rules = await ctx.store.buckets.setting<CorsRule[]>(bucketOf(ctx), 'cors');
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: ctx.bucket! });
  return xmlResponse(
    toXml('CORSConfiguration', {
      CORSRule: rules.map((r) => ({
        ID: r.id,
        AllowedHeader: r.allowedHeaders,
        AllowedMethod: r.allowedMethods,
        AllowedOrigin: r.allowedOrigins,
        ExposeHeader: r.exposeHeaders,
        MaxAgeSeconds: r.maxAgeSeconds,
      })),
    }),
  );
}

export async function deleteBucketCors(ctx: S3Context): Promise<S3Response> {
  await ctx.store.buckets.setSetting(bucketOf(ctx), 'cors', null);
  return { status: 204 };
}
