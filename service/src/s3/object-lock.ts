/** Object lock (WORM): the bucket's configuration, and each version's retention and legal hold. */
import { S3Error } from '../errors/s3-errors.js';
import { requireObjectLock, RETENTION_MODES } from '../store/object-lock.js';
import type { ObjectLockConfig, RetentionMode } from '../store/types.js';
import { integerIn } from '../parse/integer.js';
import { bucketOf, headerOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import { parseRetention, requestedVersion, versionHeader } from './object-request.js';
import { documentBody, requireBodyDigest } from './request-body.js';
import { isoDate, parseXmlRoot, toXml } from './xml.js';

const MAX_DOCUMENT = 64 * 1024;

/** Asks the authorizer for s3:BypassGovernanceRetention when the request sets the bypass header. */
export async function governanceBypass(ctx: S3Context): Promise<boolean> {
  if (headerOf(ctx, 'x-amz-bypass-governance-retention')?.trim().toLowerCase() !== 'true') return false;
  await ctx.authorize({ action: 's3:BypassGovernanceRetention', bucket: ctx.bucket, key: ctx.key });
  return true;
}

async function document(ctx: S3Context, root: string): Promise<Record<string, unknown>> {
  requireBodyDigest(ctx);
  const doc = parseXmlRoot(await documentBody(ctx, MAX_DOCUMENT), root);
  if (doc === '') return {};
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  return doc as Record<string, unknown>;
}

const text = (v: unknown) =>
  typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined;

export async function getObjectLockConfiguration(ctx: S3Context): Promise<S3Response> {
  const lock = bucketOf(ctx).objectLock;
  if (!lock)
    throw new S3Error('ObjectLockConfigurationNotFoundError', undefined, { BucketName: ctx.bucket! });
  const rule = lock.rule && {
    DefaultRetention: { Mode: lock.rule.mode, Days: lock.rule.days, Years: lock.rule.years },
  };
  return xmlResponse(toXml('ObjectLockConfiguration', { ObjectLockEnabled: 'Enabled', Rule: rule }));
}

export async function putObjectLockConfiguration(ctx: S3Context): Promise<S3Response> {
  const doc = await document(ctx, 'ObjectLockConfiguration');
  if (text(doc.ObjectLockEnabled) !== 'Enabled') throw new S3Error('MalformedXML');
  const config: ObjectLockConfig = {};
  if (doc.Rule !== undefined) {
    const d = (doc.Rule as Record<string, unknown> | undefined)?.DefaultRetention as
      Record<string, unknown> | undefined;
    const mode = text(d?.Mode);
    if (!d || !mode || !(RETENTION_MODES as readonly string[]).includes(mode))
      throw new S3Error('MalformedXML');
    const days = text(d.Days);
    const years = text(d.Years);
    if ((days === undefined) === (years === undefined)) throw new S3Error('MalformedXML');
    const n = integerIn(days ?? years!, 1, days !== undefined ? 36500 : 100);
    if (n === undefined)
      throw new S3Error('InvalidArgument', 'Default retention period must be a positive integer value.', {
        ArgumentName: days !== undefined ? 'Days' : 'Years',
      });
    config.rule = { mode: mode as RetentionMode, ...(days !== undefined ? { days: n } : { years: n }) };
  }
  await ctx.store.buckets.setObjectLock(bucketOf(ctx), config);
  return { status: 200 };
}

export async function getObjectRetention(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  requireObjectLock(bucketOf(ctx));
  const { info } = await ctx.store.getObject(bucketOf(ctx), ctx.key!, versionId);
  if (!info.retention) throw new S3Error('NoSuchObjectLockConfiguration');
  return xmlResponse(
    toXml('Retention', { Mode: info.retention.mode, RetainUntilDate: isoDate(info.retention.until) }),
    200,
    versionHeader(ctx, versionId),
  );
}

export async function putObjectRetention(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  const doc = await document(ctx, 'Retention');
  const mode = text(doc.Mode);
  const until = text(doc.RetainUntilDate);
  if ((mode === undefined) !== (until === undefined)) throw new S3Error('MalformedXML');
  const retention = mode !== undefined ? parseRetention(mode, until!) : undefined;
  await ctx.store.changeLock(bucketOf(ctx), ctx.key!, versionId, {
    retention,
    bypassGovernance: await governanceBypass(ctx),
  });
  return { status: 200, headers: versionHeader(ctx, versionId) };
}

export async function getObjectLegalHold(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  requireObjectLock(bucketOf(ctx));
  const { info } = await ctx.store.getObject(bucketOf(ctx), ctx.key!, versionId);
  return xmlResponse(
    toXml('LegalHold', { Status: info.legalHold ? 'ON' : 'OFF' }),
    200,
    versionHeader(ctx, versionId),
  );
}

export async function putObjectLegalHold(ctx: S3Context): Promise<S3Response> {
  const versionId = requestedVersion(ctx);
  const status = text((await document(ctx, 'LegalHold')).Status);
  if (status !== 'ON' && status !== 'OFF') throw new S3Error('MalformedXML');
  await ctx.store.changeLock(bucketOf(ctx), ctx.key!, versionId, { legalHold: status === 'ON' });
  return { status: 200, headers: versionHeader(ctx, versionId) };
}
