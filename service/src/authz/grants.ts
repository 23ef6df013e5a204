/**
 * Grants between users (Garage's `bucket allow --read --write`), written as the bucket policy statements
 * they stand for, so the one policy engine evaluates them and an auditor can read them as policy.
 */
import type { GrantAccess } from '../store/buckets.js';
import type { S3Action } from './actions.js';

const READ_OBJECT: S3Action[] = [
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectTagging',
  's3:GetObjectVersionTagging',
  's3:GetObjectRetention',
  's3:GetObjectLegalHold',
  's3:GetObjectAcl',
  's3:GetObjectVersionAcl',
];
const READ_BUCKET: S3Action[] = ['s3:ListBucket', 's3:ListBucketVersions'];
const BUCKET_INFO: S3Action[] = [
  's3:GetBucketLocation',
  's3:GetBucketVersioning',
  's3:GetBucketObjectLockConfiguration',
];
/** Writing new objects, whole or in parts; never deleting or replacing one. */
const CREATE_OBJECT: S3Action[] = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];
const CHANGE_OBJECT: S3Action[] = [
  's3:PutObject',
  's3:DeleteObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
];

/**
 * The statements of one grant. `write` alone may only create: its PutObject carries the condition AWS
 * uses to enforce create-only writes (s3:if-none-match "*"), which the authorizer meets by making a
 * write without If-None-Match conditional, so an existing object is never replaced.
 */
export function grantStatements(
  bucket: string,
  canonicalId: string,
  access: GrantAccess,
  prefix: string,
): Record<string, unknown>[] {
  const principal = { CanonicalUser: canonicalId };
  const objects = `arn:aws:s3:::${bucket}/${prefix}*`;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const sid = (what: string) => `coffer-grant-${access}-${what}`;
  const statements: Record<string, unknown>[] = [
    { Sid: sid('bucket'), Effect: 'Allow', Principal: principal, Action: BUCKET_INFO, Resource: bucketArn },
  ];
  if (access !== 'write') {
    statements.push(
      { Sid: sid('read'), Effect: 'Allow', Principal: principal, Action: READ_OBJECT, Resource: objects },
      {
        Sid: sid('list'),
        Effect: 'Allow',
        Principal: principal,
        Action: READ_BUCKET,
        Resource: bucketArn,
        ...(prefix ? { Condition: { StringLike: { 's3:prefix': `${prefix}*` } } } : {}),
      },
    );
  }
  if (access === 'read') return statements;
  statements.push(
    access === 'write'
      ? {
          Sid: sid('create'),
          Effect: 'Allow',
          Principal: principal,
          Action: CREATE_OBJECT,
          Resource: objects,
          Condition: { StringEquals: { 's3:if-none-match': '*' } },
        }
      : {
          Sid: sid('write'),
          Effect: 'Allow',
          Principal: principal,
          Action: CHANGE_OBJECT,
          Resource: objects,
        },
    {
      Sid: sid('uploads'),
      Effect: 'Allow',
      Principal: principal,
      Action: ['s3:ListBucketMultipartUploads'],
      Resource: bucketArn,
    },
  );
  return statements;
}
