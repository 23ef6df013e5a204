import aws4 from 'aws4';
import type { TestCredential } from './gateway.js';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  bytes: Buffer;
}

export interface SignedRequestInit {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Mutates the signed headers before sending: to forge, drop or corrupt what was signed. */
  tamper?: (headers: Record<string, string>) => void;
  unsignedPayloadHash?: boolean;
  /** The credential scope's region; us-east-1 unless a test needs another. */
  region?: string;
}

/** A hand-built SigV4 request (signed by aws4) for cases real SDKs refuse to produce. */
export async function signedFetch(
  endpoint: string,
  cred: TestCredential,
  init: SignedRequestInit,
): Promise<RawResponse> {
  const url = new URL(endpoint);
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const opts = {
    host: url.host,
    method: init.method ?? 'GET',
    path: init.path,
    service: 's3',
    region: init.region ?? 'us-east-1',
    headers,
    body: init.body,
  };
  const signed = aws4.sign(opts, cred);
  const out = { ...(signed.headers as Record<string, string>) };
  delete out.Host;
  delete out['Content-Length'];
  init.tamper?.(out);
  const res = await fetch(endpoint + init.path, {
    method: opts.method,
    headers: out,
    body: init.body === undefined ? undefined : init.body,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: bytes.toString('utf8'), bytes };
}

export function errorCode(text: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
}
