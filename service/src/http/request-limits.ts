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

/** How much of a refused request's unread body is read and discarded before answering. */
const DRAIN_MAX_BYTES = 1024 * 1024;
const DRAIN_MAX_MS = 2000;

/**
 * Reads and discards what is left of a refused request's body when it is small, so the client, still
 * sending, gets the answer instead of a broken pipe. Resolves false when the rest is too large, too slow,
 * or of unknown size: the caller then closes the connection after answering.
 */
export function drainSmallRemainder(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  const declared = Number(req.headers['content-length']);
  if (!Number.isFinite(declared) || declared > DRAIN_MAX_BYTES || req.destroyed)
    return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (drained: boolean) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onEnd);
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) done(false);
    };
    const onEnd = () => done(req.complete);
    const timer = setTimeout(() => done(false), DRAIN_MAX_MS);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onEnd);
    req.unpipe();
    req.resume();
  });
}
