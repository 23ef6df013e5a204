import v8 from 'node:v8';

/**
 * V8 settings for a process that serves S3 traffic, applied before it serves. Each decrypted or sealed
 * 64 KiB segment is a buffer of its own, a GB of them a second; freed on a background thread, which a
 * busy 2-core host starves, they pile up as external memory that V8 counts toward its old-generation
 * limit, and it then marked and compacted every 60-80 ms: a large GET's CPU per GB doubled.
 */
export function tuneHeap(): void {
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
}
