/**
 * `up --blob-store URL --blob-store-credentials FILE`: sealed blobs in a remote S3-compatible store. The
 * store is kept in deployment.json and its keys in secrets/ (copied once, never replaced); a deployment
 * that holds data is never moved to another store, which would leave its blobs behind.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  blobStoreProblems,
  DEFAULT_BLOB_PREFIX,
  type BlobStore,
} from '../../service/src/parse/blob-store.js';
import { BLOB_STORE_SECRET_FILES } from '../../stacks/topology.js';
import { OperatorError } from './exec.js';
import { adoptSecretFile } from './secret-file.js';

/** `https://host:port/bucket[/prefix/]` → the store; the prefix defaults to blobs/. */
export function parseBlobStoreUrl(spec: string, region: string | undefined): BlobStore {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new OperatorError(`--blob-store takes https://HOST[:PORT]/BUCKET[/PREFIX/] (got ${spec})`);
  }
  const [bucket = '', ...rest] = url.pathname.replace(/^\//, '').split('/');
  const prefix =
    rest.length && rest.join('/') !== '' ? `${rest.join('/').replace(/\/?$/, '/')}` : DEFAULT_BLOB_PREFIX;
  const store = { endpoint: url.origin, bucket, region: region ?? 'us-east-1', prefix };
  const [problem] = blobStoreProblems(store);
  if (problem) throw new OperatorError(`--blob-store: ${problem}`);
  return store;
}

export const sameStore = (a: BlobStore | undefined, b: BlobStore | undefined) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Refuses to move a deployment whose volumes hold data to another blob store (or between the data volume
 * and a store), and puts the store's keys into secrets/ when given, never over different ones.
 */
export async function prepareBlobStore(
  root: string,
  saved: BlobStore | undefined,
  next: BlobStore | undefined,
  credentialsFile: string | undefined,
  existingData: string | undefined,
): Promise<void> {
  if (!sameStore(saved, next) && existingData)
    throw new OperatorError(
      `the volume ${existingData} holds data whose blobs are ${saved ? `in ${saved.endpoint}/${saved.bucket}/${saved.prefix}` : 'on the data volume'}; ` +
        'moving them to another store is not supported yet',
    );
  const secret = path.join(root, BLOB_STORE_SECRET_FILES.blob_store_credentials);
  if (!next) {
    if (credentialsFile) throw new OperatorError('--blob-store-credentials needs --blob-store');
    return;
  }
  if (credentialsFile) {
    await adoptSecretFile({
      root,
      rel: BLOB_STORE_SECRET_FILES.blob_store_credentials,
      option: '--blob-store-credentials',
      file: credentialsFile,
      problem: storeKeysProblem(credentialsFile),
      other: 'other keys',
    });
    return;
  }
  if (!existsSync(secret))
    throw new OperatorError(
      `--blob-store needs the store's keys once: --blob-store-credentials FILE ({"access_key_id", "secret_access_key"})`,
    );
}

/** Why a keys file cannot be the store's keys: it must be {"access_key_id", "secret_access_key"}. */
const storeKeysProblem = (file: string) => (content: string) => {
  let keys: { access_key_id?: unknown; secret_access_key?: unknown };
  try {
    keys = JSON.parse(content);
  } catch {
    return `${file} is not JSON`;
  }
  return typeof keys.access_key_id === 'string' && typeof keys.secret_access_key === 'string'
    ? undefined
    : `${file} needs {"access_key_id": "...", "secret_access_key": "..."}`;
};
