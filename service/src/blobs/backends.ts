import type { BlobBackend } from './backend.js';
import { FsBackend } from './fs-backend.js';

/** The backends BLOB_BACKEND may name; a remote S3-compatible one joins this list, nothing above changes. */
export const BLOB_BACKENDS = ['fs'] as const;
export type BlobBackendKind = (typeof BLOB_BACKENDS)[number];

export interface BlobBackendSettings {
  kind: BlobBackendKind;
  /** The filesystem backend's root: blobs/ and tmp/ live under it. */
  dataDir: string;
}

export function createBlobBackend(settings: BlobBackendSettings): BlobBackend {
  switch (settings.kind) {
    case 'fs':
      return new FsBackend(settings.dataDir);
  }
}
