import { safeDecode } from '../auth/sigv4.js';

export interface Target {
  bucket?: string;
  key?: string;
  /** The bucket came from the Host (`<bucket>.<domain>`), not the path. */
  virtualHosted?: boolean;
}

/**
 * Virtual-hosted style when the Host is `<bucket>.<domain>`, path style otherwise. The key is the
 * rest of the path decoded once: '+' stays '+', '%2B' becomes '+', '%20' a space.
 */
export function resolveTarget(host: string | undefined, rawPath: string, domain: string | undefined): Target {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (domain && hostname.endsWith('.' + domain)) {
    const bucket = hostname.slice(0, -(domain.length + 1));
    return { bucket, key: path === '' ? undefined : safeDecode(path), virtualHosted: true };
  }
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: safeDecode(path) };
  const key = path.slice(slash + 1);
  return { bucket: safeDecode(path.slice(0, slash)), key: key === '' ? undefined : safeDecode(key) };
}
