/**
 * Bounds on how long a client may take to send a request, so a stalled or trickling client cannot hold a
 * connection forever, while a large upload at a slow but steady rate still succeeds.
 */
import type { IncomingMessage } from 'node:http';

export interface RequestLimits {
  /** Until the last header line arrives. */
  headersTimeoutMs: number;
  /** Longest silence between body bytes, whatever the body's size. */
  bodyIdleTimeoutMs: number;
  /** Whole body of endpoints that take small documents (XML configuration, JSON, login). */
  smallBodyTimeoutMs: number;
}

/** Error a timed-out request is destroyed with: its connection is gone, so handlers log it and answer nothing. */
export class BodyTimeoutError extends Error {
  constructor(readonly reason: 'idle' | 'deadline') {
    super(
      reason === 'idle' ? 'the request body stopped arriving' : 'the request body took too long to arrive',
    );
    this.name = 'BodyTimeoutError';
  }
}

function abort(req: IncomingMessage, reason: 'idle' | 'deadline'): void {
  if (req.complete || req.destroyed) return;
  req.destroy(new BodyTimeoutError(reason));
}

/** Closes the request when its body goes silent for `idleMs`; disarmed once the body is complete. */
export function guardBodyIdle(req: IncomingMessage, idleMs: number): void {
  if (idleMs <= 0 || req.complete) return;
  const socket = req.socket;
  const onTimeout = () => abort(req, 'idle');
  socket.setTimeout(idleMs);
  socket.on('timeout', onTimeout);
  const disarm = () => {
    socket.setTimeout(0);
    socket.off('timeout', onTimeout);
  };
  req.once('end', disarm);
  req.once('close', disarm);
}

/** Closes the request if its whole body has not arrived within `ms`; disarmed once the body is complete. */
export function limitBodyTime(req: IncomingMessage, ms: number): void {
  if (ms <= 0 || req.complete) return;
  const timer = setTimeout(() => abort(req, 'deadline'), ms);
  const disarm = () => clearTimeout(timer);
  req.once('end', disarm);
  req.once('close', disarm);
}
