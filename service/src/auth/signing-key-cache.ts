import { signingKey } from './sigv4.js';

/**
 * Derived SigV4 keys are valid for a whole day, so deriving one per request (four HMACs) is waste.
 * Entries are keyed by the secret too: a rotated secret can never meet a stale key.
 */
export class SigningKeyCache {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 4096) {}

  get(secret: string, date: string, region: string, service: string): Buffer {
    const id = `${secret}\n${date}\n${region}\n${service}`;
    let key = this.keys.get(id);
    if (!key) {
      key = signingKey(secret, date, region, service);
      if (this.keys.size >= this.maxEntries) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(id, key);
    }
    return key;
  }
}
