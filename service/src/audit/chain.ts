import { createHash } from 'node:crypto';

/** One audit record as stored: what happened, who asked, and its place in the chain. */
export interface AuditRecord {
  seq: number;
  at: Date;
  principal: string | null;
  accessKey: string | null;
  source: string | null;
  operation: string;
  bucket: string | null;
  key: string | null;
  versionId: string | null;
  result: string;
  bytes: number;
  requestId: string | null;
  prevHash: Buffer;
  hash: Buffer;
}

/** The hash of the record before the first one. */
export const GENESIS = Buffer.alloc(32);

const field = (v: string | null) => (v === null ? '-' : Buffer.from(v, 'utf8').toString('hex'));

/** The text a record's hash covers: the same as coffer_audit_text() in the 0014_audit migration. */
export function recordText(r: Omit<AuditRecord, 'prevHash' | 'hash'>): string {
  return [
    String(r.seq),
    String(r.at.getTime()),
    field(r.principal),
    field(r.accessKey),
    field(r.source),
    field(r.operation),
    field(r.bucket),
    field(r.key),
    field(r.versionId),
    field(r.result),
    String(r.bytes),
    field(r.requestId),
  ].join('|');
}

export function recordHash(prevHash: Buffer, r: Omit<AuditRecord, 'prevHash' | 'hash'>): Buffer {
  return createHash('sha256').update(prevHash).update(recordText(r), 'utf8').digest();
}

/** Where a chain stops being what it claims, or undefined when every link holds. */
export interface ChainBreak {
  seq: number;
  reason: string;
}

/**
 * Checks the next record of a walk in order: the number after the last, naming the last one's hash
 * (the first record seen is taken as it is: GENESIS at 1, or whatever aged out before it), and its hash
 * recomputed from its own fields. Returns the break, or advances `state`.
 */
export function checkLink(
  r: AuditRecord,
  state: { seq: number; hash: Buffer | undefined },
): ChainBreak | undefined {
  if (state.hash !== undefined) {
    if (r.seq !== state.seq + 1)
      return { seq: state.seq + 1, reason: `records ${state.seq + 1}..${r.seq - 1} are missing` };
    if (!r.prevHash.equals(state.hash))
      return { seq: r.seq, reason: 'it does not name the hash of the record before it' };
  }
  if (!recordHash(r.prevHash, r).equals(r.hash))
    return { seq: r.seq, reason: 'its content does not match its hash (the record was changed)' };
  state.seq = r.seq;
  state.hash = r.hash;
  return undefined;
}
