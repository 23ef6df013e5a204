/** Management API keys: shared by the gateway, the operator scripts and the Pulumi stacks, so free of any store. */
import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'cfk_';

export function newApiKey(): string {
  return API_KEY_PREFIX + randomBytes(24).toString('base64url');
}

/** Only this digest is stored: a database dump never yields a usable key. */
export function apiKeyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
