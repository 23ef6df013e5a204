import v8 from 'node:v8';

/**
 * V8 settings for a process that serves S3 traffic, applied before it serves. Large transfers make a
 * buffer of every 64 KiB segment they decrypt or seal, a GB of them a second, and two defaults then had V8
 * mark and compact the whole heap every 50-100 ms (--trace-gc), doubling a large GET's CPU per GB:
 * - the buffers were freed on a background thread, which a busy 2-core host starves, so they piled up as
 *   external memory counted toward the old-generation limit; they are now freed during the scavenge;
 * - V8 starts marking as soon as the room left under that limit is smaller than the young generation
 *   (--trace-incremental-marking: "Start (task)" at 30 of 56 MB), and once the young generation has grown
 *   to its 16 MB semi-spaces the limit it sets after a collection (about twice the live heap, itself about
 *   25 MB here) is already that close. A limit three times the live heap leaves the young generation room.
 */
export function tuneHeap(): void {
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  v8.setFlagsFromString('--heap-growing-percent=200');
}
