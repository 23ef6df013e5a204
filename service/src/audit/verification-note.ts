/**
 * The files the audit trail keeps beside the database: the exported head, and what `audit verify` last
 * found (outside the chain it describes, so noting it changes nothing the next verification checks).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ChainHead, VerifyResult } from './audit-log.js';

export interface VerificationNote {
  at: Date;
  result: string;
}

const noteFile = (headFile: string) => path.join(path.dirname(headFile), 'audit-verified.json');

export async function noteVerification(headFile: string, result: VerifyResult): Promise<void> {
  const text = result.ok
    ? `intact, ${result.count} records`
    : `broken at record ${result.break.seq}: ${result.break.reason}`;
  await writeFile(noteFile(headFile), JSON.stringify({ at: new Date().toISOString(), result: text }) + '\n');
}

/** The last note, or undefined when verify never ran here (or its note cannot be read). */
export async function lastVerification(headFile: string): Promise<VerificationNote | undefined> {
  const file = noteFile(headFile);
  if (!existsSync(file)) return undefined;
  try {
    const note = JSON.parse(await readFile(file, 'utf8')) as { at: string; result: string };
    return { at: new Date(note.at), result: String(note.result) };
  } catch {
    return undefined;
  }
}

/** The head the gateway last exported to `headFile`, if it did. */
export async function exportedHead(headFile: string): Promise<ChainHead | undefined> {
  return existsSync(headFile) ? (JSON.parse(await readFile(headFile, 'utf8')) as ChainHead) : undefined;
}
