/**
 * Applies the compliance-archive preset at every start: the archive buckets exist with versioning,
 * object lock and the default retention, ACLs disabled and public access blocked; the ingest key may only
 * add objects and the reader key only read. Every start brings a bucket back to the preset (a setting
 * changed behind the gateway's back is restored), and refuses to start rather than weaken one.
 */
import type { FastifyBaseLogger } from 'fastify';
import { grantStatements } from '../authz/grants.js';
import type { ArchiveKeys } from '../auth/credentials.js';
import { S3Error } from '../errors/s3-errors.js';
import { ARCHIVE_USERS, type ArchivePreset } from '../parse/archive-preset.js';
import type { GrantAccess } from '../store/buckets.js';
import type { Store } from '../store/store.js';
import type { Bucket, ObjectLockConfig, PublicAccessBlock } from '../store/types.js';
import type { CredentialStore } from './credential-store.js';
import type { UserStore } from './user-store.js';
import { ApiError } from './errors.js';

const BLOCK_ALL: PublicAccessBlock = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

/** Why the preset cannot be applied without weakening what a bucket already promises. */
export class PresetConflict extends Error {
  constructor(message: string) {
    super(`compliance-archive preset: ${message}`);
    this.name = 'PresetConflict';
  }
}

export interface PresetDeps {
  store: Store;
  users: UserStore;
  credentials: CredentialStore;
  log: FastifyBaseLogger;
}

export async function applyArchivePreset(
  deps: PresetDeps,
  preset: ArchivePreset,
  keys: ArchiveKeys,
): Promise<void> {
  const { store, credentials } = deps;
  const asPreset = <T>(operation: string, bucket: string | undefined, work: () => Promise<T>) =>
    store.asAudited({ principal: 'preset', operation: `Preset:${operation}`, bucket }, work);
  await asPreset('SeedKeys', undefined, () =>
    credentials.seed([
      { ...keys.ingest, userName: ARCHIVE_USERS.ingest },
      { ...keys.reader, userName: ARCHIVE_USERS.reader },
    ]),
  );
  const owner = await ownerUser(deps, asPreset);
  // A key an admin deleted stays deleted: its grant is then simply not made.
  const ingest = credentials.identityOf(keys.ingest.accessKeyId);
  const reader = credentials.identityOf(keys.reader.accessKeyId);
  for (const name of preset.buckets) {
    let bucket = await existingOrCreated(store, name, owner, asPreset);
    const lock: ObjectLockConfig = {
      rule: { mode: preset.retentionMode, days: preset.retentionDays },
    };
    checkNotWeaker(bucket, preset);
    if (bucket.versioning !== 'Enabled')
      await asPreset('PutBucketVersioning', name, () => store.buckets.setVersioning(bucket, 'Enabled'));
    if (!sameLock(bucket.objectLock, lock))
      await asPreset('PutObjectLockConfiguration', name, () => store.buckets.setObjectLock(bucket, lock));
    if (bucket.ownership !== 'BucketOwnerEnforced')
      await asPreset('PutBucketOwnershipControls', name, () =>
        store.buckets.setOwnership(bucket, 'BucketOwnerEnforced'),
      );
    if (!blocksAll(bucket.publicAccessBlock))
      await asPreset('PutPublicAccessBlock', name, () =>
        store.buckets.setPublicAccessBlock(bucket, BLOCK_ALL),
      );
    bucket = (await store.buckets.byName(name)) ?? bucket;
    const have = await store.buckets.grants(bucket);
    const wanted: Array<[typeof ingest, GrantAccess]> = [
      [ingest, 'write'],
      [reader, 'read'],
    ];
    for (const [user, access] of wanted) {
      if (!user) continue;
      if (have.some((g) => g.userId === user.userId && g.prefix === '' && g.access === access)) continue;
      await asPreset('PutGrant', name, () =>
        store.buckets.putGrant(bucket, {
          userId: user.userId,
          access,
          prefix: '',
          statements: grantStatements(name, user.canonicalId, access, ''),
        }),
      );
    }
  }
  deps.log.info(
    { buckets: preset.buckets, mode: preset.retentionMode, days: preset.retentionDays },
    'compliance-archive preset applied',
  );
}

/** The keyless user that owns the archive buckets: no S3 request can act as their owner. */
async function ownerUser(
  deps: PresetDeps,
  asPreset: <T>(op: string, bucket: string | undefined, work: () => Promise<T>) => Promise<T>,
): Promise<string> {
  const known = () => deps.credentials.userByName(ARCHIVE_USERS.owner);
  if (!known()) {
    await deps.credentials.refresh();
    if (!known())
      await asPreset('CreateUser', undefined, () => deps.users.create(ARCHIVE_USERS.owner)).catch((err) => {
        // Another gateway starting at the same time created it first.
        if (!(err instanceof ApiError && err.code === 'UserAlreadyExists')) throw err;
      });
    await deps.credentials.refresh();
  }
  const owner = known();
  if (!owner) throw new PresetConflict(`the user ${ARCHIVE_USERS.owner} cannot be found or created`);
  return owner.canonicalId;
}

async function existingOrCreated(
  store: Store,
  name: string,
  owner: string,
  asPreset: <T>(op: string, bucket: string | undefined, work: () => Promise<T>) => Promise<T>,
): Promise<Bucket> {
  const existing = await store.buckets.byName(name);
  if (existing) return existing;
  try {
    return await asPreset('CreateBucket', name, () =>
      store.buckets.create(owner, name, undefined, { objectLock: true, ownership: 'BucketOwnerEnforced' }),
    );
  } catch (err) {
    // Another gateway starting at the same time created it first.
    const raced = err instanceof S3Error && /^BucketAlready/.test(err.code);
    const bucket = raced ? await store.buckets.byName(name) : undefined;
    if (!bucket) throw err;
    return bucket;
  }
}

/** A bucket already stricter than the preset asks is not loosened: the deployment is refused instead. */
function checkNotWeaker(bucket: Bucket, preset: ArchivePreset): void {
  const rule = bucket.objectLock?.rule;
  if (!rule) return;
  const days = (rule.days ?? 0) + (rule.years ?? 0) * 365;
  if (rule.mode === 'COMPLIANCE' && preset.retentionMode !== 'COMPLIANCE')
    throw new PresetConflict(
      `bucket ${bucket.name} keeps COMPLIANCE retention, and ARCHIVE_RETENTION_MODE asks ${preset.retentionMode}: an archive is never weakened`,
    );
  if (days > preset.retentionDays)
    throw new PresetConflict(
      `bucket ${bucket.name} keeps ${days} days of default retention, and ARCHIVE_RETENTION_DAYS asks ${preset.retentionDays}: an archive is never weakened`,
    );
}

function blocksAll(block: PublicAccessBlock | undefined): boolean {
  return (
    !!block && (Object.keys(BLOCK_ALL) as Array<keyof PublicAccessBlock>).every((k) => block[k] === true)
  );
}

function sameLock(a: ObjectLockConfig | undefined, b: ObjectLockConfig): boolean {
  return a?.rule?.mode === b.rule?.mode && a?.rule?.days === b.rule?.days && a?.rule?.years === undefined;
}
