import type { BlobBackend } from './backend.js';
import { FsBackend, type FsBackendOptions } from './fs-backend.js';
import { S3Backend, type S3BackendSettings } from './s3-backend.js';

/** The backends BLOB_BACKEND may name; nothing above this interface knows which one runs. */
export const BLOB_BACKENDS = ['fs', 's3'] as const;
export type BlobBackendKind = (typeof BLOB_BACKENDS)[number];

export interface BlobBackendSettings {
  kind: BlobBackendKind;
  /** The filesystem backend's root: blobs/ and tmp/ live under it. */
  dataDir: string;
  /** Whether the filesystem backend uses O_DIRECT (BLOB_DIRECT_IO). */
  directIo?: FsBackendOptions['directIo'];
  /** The remote store, for `s3`. */
  s3?: S3BackendSettings;
}

export function createBlobBackend(settings: BlobBackendSettings): BlobBackend {
  switch (settings.kind) {
    case 'fs':
      return new FsBackend(settings.dataDir, { directIo: settings.directIo });
    case 's3':
      if (!settings.s3)
        throw new Error(
          'BLOB_BACKEND=s3 needs the store: BLOB_S3_ENDPOINT, BLOB_S3_BUCKET and BLOB_S3_CREDENTIALS_FILE',
        );
      return new S3Backend(settings.s3);
  }
}
