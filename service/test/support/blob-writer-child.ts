/**
 * Run as a child process by the backend contract suite: writes a blob through a backend and stops
 * before commit, then waits to be killed, so the suite can see what a crash at that moment leaves.
 * argv: <backend kind> <data dir> <bytes>
 */
import { createBlobBackend, type BlobBackendKind } from '../../src/blobs/backends.js';

const [kind, dataDir, bytes] = process.argv.slice(2);
// The s3 backend's store comes in the environment (BLOB_S3_SETTINGS, JSON).
const s3 = process.env.BLOB_S3_SETTINGS ? JSON.parse(process.env.BLOB_S3_SETTINGS) : undefined;
const backend = createBlobBackend({ kind: kind as BlobBackendKind, dataDir: dataDir!, s3 });
const sink = await backend.create();
await sink.write([Buffer.alloc(Number(bytes), 0x5a)]);
process.stdout.write(`${sink.name}\n`);
setInterval(() => undefined, 1000);
