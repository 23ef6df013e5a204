/**
 * Access control lists: canned ACLs (x-amz-acl), header grants (x-amz-grant-*) and AccessControlPolicy
 * documents, for buckets and objects. The authorizer evaluates them; here they are read and written.
 */
import { ALL_USERS, AUTHENTICATED_USERS, isPublicAcl } from '../authz/acl.js';
import { S3Error } from '../errors/s3-errors.js';
import { grantsOthers } from '../store/buckets.js';
import type { Acl, AclGrantee, AclPermission, Bucket } from '../store/types.js';
import { bucketOf, headerOf, ownerXml, xmlResponse, type S3Context, type S3Response } from './context.js';
import { documentBody } from './request-body.js';
import { parseXmlRoot, toXml, type XmlNode } from './xml.js';

const LOG_DELIVERY = 'http://acs.amazonaws.com/groups/s3/LogDelivery';
const GROUPS = new Set([ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY]);
const PERMISSIONS: AclPermission[] = ['FULL_CONTROL', 'READ', 'WRITE', 'READ_ACP', 'WRITE_ACP'];
const GRANT_HEADERS: Array<[string, AclPermission]> = [
  ['x-amz-grant-full-control', 'FULL_CONTROL'],
  ['x-amz-grant-read', 'READ'],
  ['x-amz-grant-write', 'WRITE'],
  ['x-amz-grant-read-acp', 'READ_ACP'],
  ['x-amz-grant-write-acp', 'WRITE_ACP'],
];
/** ACLs that change nothing when ACLs are disabled: the owner has full control either way. */
const OWNER_ONLY = new Set(['private', 'bucket-owner-full-control']);

const user = (id: string): AclGrantee => ({ type: 'CanonicalUser', id });
const group = (uri: string): AclGrantee => ({ type: 'Group', uri });

/** A canned ACL's grants, for an object (or bucket) owned by `owner` in a bucket owned by `bucketOwner`. */
function canned(name: string, owner: string, bucketOwner: string): Acl {
  const full = { grantee: user(owner), permission: 'FULL_CONTROL' as const };
  const grants: Acl['grants'] = [full];
  switch (name) {
    case 'private':
      break;
    case 'public-read':
      grants.push({ grantee: group(ALL_USERS), permission: 'READ' });
      break;
    case 'public-read-write':
      grants.push(
        { grantee: group(ALL_USERS), permission: 'READ' },
        { grantee: group(ALL_USERS), permission: 'WRITE' },
      );
      break;
    case 'authenticated-read':
      grants.push({ grantee: group(AUTHENTICATED_USERS), permission: 'READ' });
      break;
    case 'bucket-owner-read':
      if (bucketOwner !== owner) grants.push({ grantee: user(bucketOwner), permission: 'READ' });
      break;
    case 'bucket-owner-full-control':
      if (bucketOwner !== owner) grants.push({ grantee: user(bucketOwner), permission: 'FULL_CONTROL' });
      break;
    case 'log-delivery-write':
      grants.push(
        { grantee: group(LOG_DELIVERY), permission: 'WRITE' },
        { grantee: group(LOG_DELIVERY), permission: 'READ_ACP' },
      );
      break;
    default:
      throw new S3Error('InvalidArgument', `'${name}' is not a canned ACL.`, { ArgumentName: 'x-amz-acl' });
  }
  return { owner, grants };
}

/** One x-amz-grant-* header: `id="…", uri="…"` (emailAddress= names nobody here). */
function headerGrantees(value: string, header: string): AclGrantee[] {
  return value.split(',').map((part) => {
    const m = /^\s*(id|uri|emailAddress)\s*=\s*"?([^"]*)"?\s*$/i.exec(part);
    if (!m)
      throw new S3Error('InvalidArgument', `${header} must list id="…" or uri="…" grantees.`, {
        ArgumentName: header,
      });
    const [, kind, v] = m;
    if (kind!.toLowerCase() === 'emailaddress') throw new S3Error('UnresolvableGrantByEmailAddress');
    if (kind!.toLowerCase() === 'uri') {
      if (!GROUPS.has(v!))
        throw new S3Error('InvalidArgument', `Invalid group uri ${v}`, { ArgumentName: header });
      return group(v!);
    }
    return user(v!);
  });
}

/**
 * The ACL a request asks for (canned or header grants), or undefined when it asks none. `owner` owns what
 * is being written. Grantee ids must be users who exist.
 */
export function requestedAcl(ctx: S3Context, owner: string, bucketOwner: string): Acl | undefined {
  const name = headerOf(ctx, 'x-amz-acl')?.trim();
  const headerGrants = GRANT_HEADERS.filter(([h]) => headerOf(ctx, h) !== undefined);
  if (name !== undefined && headerGrants.length)
    throw new S3Error('InvalidRequest', 'Specifying both Canned ACLs and Header Grants is not allowed');
  if (name !== undefined) return canned(name, owner, bucketOwner);
  if (!headerGrants.length) return undefined;
  const grants: Acl['grants'] = [];
  for (const [h, permission] of headerGrants)
    for (const grantee of headerGrantees(headerOf(ctx, h)!, h)) grants.push({ grantee, permission });
  return checkGrantees(ctx, { owner, grants });
}

function checkGrantees(ctx: S3Context, acl: Acl): Acl {
  for (const { grantee } of acl.grants)
    if (grantee.type === 'CanonicalUser' && !ctx.users.userByCanonicalId(grantee.id))
      throw new S3Error('InvalidArgument', 'Invalid id', {
        ArgumentName: 'CanonicalUser/ID',
        ArgumentValue: grantee.id,
      });
  return acl;
}

/**
 * The ACL a write (PutObject, CopyObject, CreateMultipartUpload) gives its new object, with the bucket's
 * ownership rules: with ACLs disabled only owner-only ACLs are accepted (and none stored); an object
 * written by another user belongs to it under ObjectWriter, to the bucket owner otherwise.
 */
export function newObjectAcl(ctx: S3Context): Acl | undefined {
  const bucket = bucketOf(ctx);
  const p = ctx.grant.principal;
  const writer = p.kind === 'user' ? p.user.canonicalId : bucket.owner;
  const cannedName = headerOf(ctx, 'x-amz-acl')?.trim();
  if (bucket.ownership === 'BucketOwnerEnforced') {
    if (disabledAclAsked(ctx)) throw aclsDisabled();
    return undefined;
  }
  const bucketOwnerTakes =
    bucket.ownership === 'BucketOwnerPreferred' && cannedName === 'bucket-owner-full-control';
  const owner = bucketOwnerTakes ? bucket.owner : writer;
  const acl = requestedAcl(ctx, owner, bucket.owner);
  refusePublic(bucket, acl);
  if (acl) return acl;
  return owner === bucket.owner ? undefined : canned('private', owner, bucket.owner);
}

/** Whether the request asks for an ACL other than the owner-only ones a disabled bucket accepts. */
function disabledAclAsked(ctx: S3Context): boolean {
  const name = headerOf(ctx, 'x-amz-acl')?.trim();
  return (
    (name !== undefined && !OWNER_ONLY.has(name)) ||
    GRANT_HEADERS.some(([h]) => headerOf(ctx, h) !== undefined)
  );
}

const aclsDisabled = () => new S3Error('AccessControlListNotSupported');

/** BlockPublicAcls: a request that would make something public is refused. */
function refusePublic(bucket: Bucket, acl: Acl | undefined): void {
  if (bucket.publicAccessBlock?.BlockPublicAcls && isPublicAcl(acl))
    throw new S3Error(
      'AccessDenied',
      'Public ACLs are blocked by the BlockPublicAcls setting of this bucket.',
    );
}

function granteeXml(g: AclGrantee, ctx: S3Context): XmlNode {
  return g.type === 'CanonicalUser'
    ? { '@_xmlns:xsi': XSI, '@_xsi:type': 'CanonicalUser', ...ownerXml(ctx, g.id) }
    : { '@_xmlns:xsi': XSI, '@_xsi:type': 'Group', URI: g.uri };
}
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

function aclXml(ctx: S3Context, acl: Acl): S3Response {
  return xmlResponse(
    toXml('AccessControlPolicy', {
      Owner: ownerXml(ctx, acl.owner),
      AccessControlList: {
        Grant: acl.grants.map((g) => ({ Grantee: granteeXml(g.grantee, ctx), Permission: g.permission })),
      },
    }),
  );
}

/** An AccessControlPolicy document, or the request's canned / header ACL; exactly one of them. */
async function aclFromPut(ctx: S3Context, owner: string, bucketOwner: string): Promise<Acl> {
  const text = await documentBody(ctx, 64 * 1024);
  const fromHeaders = requestedAcl(ctx, owner, bucketOwner);
  if (!text.trim()) {
    if (!fromHeaders)
      throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header: x-amz-acl');
    return fromHeaders;
  }
  if (fromHeaders) throw new S3Error('UnexpectedContent', 'This request does not support content');
  return checkGrantees(ctx, parseAclXml(text, owner));
}

/** AccessControlPolicy XML; its Owner, when given, must be the resource's owner. */
export function parseAclXml(text: string, owner: string): Acl {
  const doc = parseXmlRoot(text, 'AccessControlPolicy') as Record<string, unknown> | '';
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedACLError');
  const ownerId = (doc.Owner as Record<string, unknown> | undefined)?.ID;
  if (ownerId !== undefined && ownerId !== owner)
    throw new S3Error('AccessDenied', 'The Owner of an ACL cannot be changed.');
  const list = (doc.AccessControlList as Record<string, unknown> | '' | undefined) || {};
  const raw = (list as Record<string, unknown>).Grant;
  const grants = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) as Array<
    Record<string, unknown>
  >;
  return {
    owner,
    grants: grants.map((g) => {
      const permission = g.Permission as AclPermission;
      const grantee = g.Grantee as Record<string, unknown> | undefined;
      if (!PERMISSIONS.includes(permission) || !grantee) throw new S3Error('MalformedACLError');
      if (typeof grantee.ID === 'string') return { grantee: user(grantee.ID.trim()), permission };
      if (typeof grantee.URI === 'string' && GROUPS.has(grantee.URI.trim()))
        return { grantee: group(grantee.URI.trim()), permission };
      if (grantee.EmailAddress !== undefined) throw new S3Error('UnresolvableGrantByEmailAddress');
      throw new S3Error('MalformedACLError');
    }),
  };
}

/** The owner-only ACL of a bucket or object that never had one set. */
const ownerOnly = (owner: string): Acl => ({
  owner,
  grants: [{ grantee: user(owner), permission: 'FULL_CONTROL' }],
});

export async function getBucketAcl(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  return aclXml(ctx, bucket.acl ?? ownerOnly(bucket.owner));
}

export async function putBucketAcl(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  const acl = await aclFromPut(ctx, bucket.owner, bucket.owner);
  if (bucket.ownership === 'BucketOwnerEnforced' && grantsOthers(acl, bucket.owner)) throw aclsDisabled();
  refusePublic(bucket, acl);
  await ctx.store.buckets.setAcl(bucket, acl);
  return { status: 200 };
}

export async function getObjectAcl(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  const versionId = ctx.query.get('versionId');
  const { info } = await ctx.store.getObject(bucket, ctx.key!, versionId);
  const acl = bucket.ownership === 'BucketOwnerEnforced' ? undefined : info.acl;
  const headers: Record<string, string> =
    versionId !== undefined && info.versionId ? { 'x-amz-version-id': info.versionId } : {};
  const response = aclXml(ctx, acl ?? ownerOnly(bucket.owner));
  return { ...response, headers: { ...response.headers, ...headers } };
}

export async function putObjectAcl(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  const versionId = ctx.query.get('versionId');
  const { info } = await ctx.store.getObject(bucket, ctx.key!, versionId);
  const owner = info.acl?.owner ?? bucket.owner;
  const acl = await aclFromPut(ctx, owner, bucket.owner);
  if (bucket.ownership === 'BucketOwnerEnforced') {
    if (grantsOthers(acl, bucket.owner)) throw aclsDisabled();
    return { status: 200 };
  }
  refusePublic(bucket, acl);
  await ctx.store.setObjectAcl(bucket, ctx.key!, acl, versionId);
  return { status: 200 };
}
