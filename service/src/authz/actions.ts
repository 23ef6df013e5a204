/**
 * The S3 actions Coffer serves, named as AWS IAM names them, so bucket policies and grants written for
 * AWS mean the same here. Several operations share one action (HeadObject is s3:GetObject, as on AWS).
 */
export const S3_ACTIONS = [
  's3:ListAllMyBuckets',
  's3:CreateBucket',
  's3:DeleteBucket',
  's3:ListBucket',
  's3:GetBucketLocation',
  's3:GetBucketCORS',
  's3:PutBucketCORS',
  's3:GetBucketTagging',
  's3:PutBucketTagging',
  's3:ListBucketMultipartUploads',
  's3:GetBucketVersioning',
  's3:PutBucketVersioning',
  's3:ListBucketVersions',
  's3:GetObject',
  's3:GetObjectVersion',
  's3:PutObject',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:GetObjectTagging',
  's3:GetObjectVersionTagging',
  's3:PutObjectVersionTagging',
  's3:DeleteObjectVersionTagging',
  's3:PutObjectTagging',
  's3:DeleteObjectTagging',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
  's3:GetBucketObjectLockConfiguration',
  's3:PutBucketObjectLockConfiguration',
  's3:GetObjectRetention',
  's3:PutObjectRetention',
  's3:GetObjectLegalHold',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:GetLifecycleConfiguration',
  's3:PutLifecycleConfiguration',
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:GetBucketPolicyStatus',
  's3:GetBucketAcl',
  's3:PutBucketAcl',
  's3:GetObjectAcl',
  's3:PutObjectAcl',
  's3:GetObjectVersionAcl',
  's3:PutObjectVersionAcl',
  's3:GetBucketOwnershipControls',
  's3:PutBucketOwnershipControls',
  's3:GetBucketPublicAccessBlock',
  's3:PutBucketPublicAccessBlock',
  's3:GetBucketNotification',
  's3:PutBucketNotification',
] as const;

export type S3Action = (typeof S3_ACTIONS)[number];

/** Actions no endpoint performs alone: asked by a handler for a request that claims them (a header). */
export const CONDITION_ACTIONS: ReadonlySet<S3Action> = new Set(['s3:BypassGovernanceRetention']);

/** Actions on no existing bucket: AWS checks them against the account, not a bucket's owner. */
export const ACCOUNT_ACTIONS: ReadonlySet<S3Action> = new Set(['s3:ListAllMyBuckets', 's3:CreateBucket']);

/** Actions on an object (arn:aws:s3:::bucket/key); every other bucket action is on the bucket itself. */
export const OBJECT_ACTIONS: ReadonlySet<S3Action> = new Set(
  S3_ACTIONS.filter((a) => !/Bucket|Lifecycle/.test(a)),
);
