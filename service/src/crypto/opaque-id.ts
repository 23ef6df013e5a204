import { randomBytes } from 'node:crypto';

/**
 * 32 unguessable URL-safe characters. base64url's '-' becomes '.', so no id starts with a dash
 * that a command-line client would read as an option (aws s3api ... --version-id -abc fails).
 */
export function opaqueId(): string {
  return randomBytes(24).toString('base64url').replaceAll('-', '.');
}

/** A multipart upload's id. */
export const newUploadId = opaqueId;
