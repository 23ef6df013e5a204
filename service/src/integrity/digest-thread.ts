/**
 * A digest thread: keeps the running digests of the bodies its pool sends it, fed from shared slots, so
 * a large upload's MD5 and SHA-256 run beside the event loop instead of on it.
 */
import { parentPort } from 'node:worker_threads';
import { BodyHashes } from './body-digests.js';
import type { ThreadReply, ThreadRequest } from './digest-pool.js';

const port = parentPort;
if (!port) throw new Error('digest-thread runs as a worker thread');
const bodies = new Map<number, BodyHashes>();
const slots = new Map<number, Buffer>();

function reply(message: ThreadReply): void {
  port!.postMessage(message);
}

port.on('message', (m: ThreadRequest) => {
  try {
    switch (m.type) {
      case 'open':
        bodies.set(m.id, new BodyHashes(m.set));
        return;
      case 'data': {
        if (m.slot) slots.set(m.slotId, Buffer.from(m.slot));
        const slot = slots.get(m.slotId);
        if (!slot) throw new Error(`slot ${m.slotId} was never sent`);
        bodies.get(m.id)?.update(slot.subarray(0, m.length));
        reply({ type: 'done', id: m.id, slotId: m.slotId });
        return;
      }
      case 'end': {
        const body = bodies.get(m.id);
        bodies.delete(m.id);
        if (!body) return reply({ type: 'failed', id: m.id, message: 'unknown body' });
        body.digest().then(
          (result) => reply({ type: 'result', id: m.id, result }),
          (err: Error) => reply({ type: 'failed', id: m.id, message: err.message }),
        );
        return;
      }
      case 'cancel':
        bodies.delete(m.id);
        return;
    }
  } catch (err) {
    reply({ type: 'failed', id: m.id, message: (err as Error).message });
  }
});
