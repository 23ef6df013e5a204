/**
 * A remote blob store (BLOB_BACKEND=s3) as plain data, and its checks: one definition that the gateway's
 * configuration, the deployment engines and `up` share. Its access keys are a secret file, never here.
 */
import { bucketNameProblem } from './bucket-names.js';

export interface BlobStore {
  endpoint: string;
  bucket: string;
  region: string;
  /** Key prefix of the blobs in the bucket (several deployments may share one): empty or ending in `/`. */
  prefix: string;
}

export const DEFAULT_BLOB_PREFIX = 'blobs/';

/** Why a store cannot be used; each problem names the setting. */
export function blobStoreProblems(s: BlobStore): string[] {
  const problems: string[] = [];
  let url: URL | undefined;
  try {
    url = new URL(s.endpoint);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol) || url.pathname !== '/' || url.search)
    problems.push(`endpoint must be an http(s) URL with no path (got '${s.endpoint}')`);
  const bad = bucketNameProblem(s.bucket);
  if (bad) problems.push(`bucket '${s.bucket}' ${bad}`);
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(s.region))
    problems.push(`region must be like us-east-1 (got '${s.region}')`);
  if (!/^([\w.-]+\/)*$/.test(s.prefix))
    problems.push(`prefix must be empty or end with / (got '${s.prefix}')`);
  return problems;
}
