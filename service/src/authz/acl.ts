/**
 * What an S3 access control list permits, as AWS maps ACL permissions to actions: a bucket's READ lists
 * it and WRITE creates and deletes objects in it; an object's READ reads it; READ_ACP and WRITE_ACP read
 * and change the ACL itself; FULL_CONTROL is all of them.
 */
import type { Acl, AclPermission } from '../store/types.js';
import type { S3Action } from './actions.js';
import type { Requester } from './policy.js';

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
export const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers';

const BUCKET_ACL: Partial<Record<S3Action, AclPermission>> = {
  's3:ListBucket': 'READ',
  's3:ListBucketVersions': 'READ',
  's3:ListBucketMultipartUploads': 'READ',
  's3:PutObject': 'WRITE',
  's3:DeleteObject': 'WRITE',
  's3:DeleteObjectVersion': 'WRITE',
  's3:AbortMultipartUpload': 'WRITE',
  's3:ListMultipartUploadParts': 'WRITE',
  's3:GetBucketAcl': 'READ_ACP',
  's3:PutBucketAcl': 'WRITE_ACP',
};

const OBJECT_ACL: Partial<Record<S3Action, AclPermission>> = {
  's3:GetObject': 'READ',
  's3:GetObjectVersion': 'READ',
  's3:GetObjectAcl': 'READ_ACP',
  's3:GetObjectVersionAcl': 'READ_ACP',
  's3:PutObjectAcl': 'WRITE_ACP',
  's3:PutObjectVersionAcl': 'WRITE_ACP',
};

/** The permission a bucket's ACL must give for `action`, if its ACL can give it at all. */
export const bucketAclPermission = (action: S3Action) => BUCKET_ACL[action];
/** The permission an object's ACL must give for `action`, if its ACL can give it at all. */
export const objectAclPermission = (action: S3Action) => OBJECT_ACL[action];

const isPublicGroup = (uri: string) => uri === ALL_USERS || uri === AUTHENTICATED_USERS;

/** Whether `acl` gives `requester` the permission; public grants count only when not ignored. */
export function aclPermits(
  acl: Acl,
  requester: Requester,
  permission: AclPermission,
  ignorePublic: boolean,
): boolean {
  return acl.grants.some(({ grantee, permission: p }) => {
    if (p !== permission && p !== 'FULL_CONTROL') return false;
    if (grantee.type === 'CanonicalUser') return requester?.canonicalId === grantee.id;
    if (ignorePublic || !isPublicGroup(grantee.uri)) return false;
    return grantee.uri === ALL_USERS || requester !== undefined;
  });
}

/** AWS's "public" ACL: one that grants anything to everyone or to every authenticated user. */
export function isPublicAcl(acl: Acl | undefined): boolean {
  return !!acl?.grants.some((g) => g.grantee.type === 'Group' && isPublicGroup(g.grantee.uri));
}
