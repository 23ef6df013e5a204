/**
 * An opening thread: authenticates and decrypts the sealed segments its pool points it at in shared
 * memory, writing their plaintext back to back into the shared slot the job names.
 */
import { parentPort } from 'node:worker_threads';
import type { OpeningReply, OpeningRequest } from './opening-pool.js';
import { openSegment } from './segments.js';

const port = parentPort;
if (!port) throw new Error('opening-thread runs as a worker thread');
const memories = new Map<number, Buffer>();
const slots = new Map<number, Buffer>();

function open(m: Extract<OpeningRequest, { type: 'open' }>): number {
  if (m.memory) memories.set(m.memoryId, Buffer.from(m.memory));
  if (m.slot) slots.set(m.slotId, Buffer.from(m.slot));
  const memory = memories.get(m.memoryId);
  const slot = slots.get(m.slotId);
  if (!memory || !slot) throw new Error('opening thread: a shared memory was never sent');
  // Structured cloning turns the key into a plain Uint8Array.
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  let at = m.offset;
  let filled = 0;
  m.lengths.forEach((length, k) => {
    const index = m.first + k;
    const plain = openSegment(key, index, index === m.lastIndex, memory.subarray(at, at + length));
    // fill() with a Buffer is one native memcpy; set() into shared memory can go element by element.
    if (plain.length > 0) slot.fill(plain, filled, filled + plain.length);
    filled += plain.length;
    at += length;
  });
  return filled;
}

port.on('message', (m: OpeningRequest) => {
  if (m.type === 'forget') return void slots.delete(m.slotId);
  let reply: OpeningReply;
  try {
    reply = { id: m.id, plain: open(m) };
  } catch (err) {
    reply = { id: m.id, message: (err as Error).message };
  }
  port.postMessage(reply);
});
