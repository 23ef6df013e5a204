import { S3Error } from '../errors/s3-errors.js';
import type { ChunkSigning } from './chunked.js';
import type { CredentialProvider } from './credentials.js';
import type { SigningKeyCache } from './signing-key-cache.js';
import { isSigV2, verifySigV2 } from './sigv2.js';
import {
  headerValue,
  parseAuthorizationHeader,
  parsePresignedQuery,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
  verifySignature,
  type WireRequest,
} from './sigv4.js';

/** How the request body is bound to the signature, from x-amz-content-sha256. */
export type PayloadMode =
  | { kind: 'sha256'; hex: string }
  | { kind: 'unsigned' }
  | { kind: 'streaming'; signing?: ChunkSigning; trailer: boolean };

export interface Authenticated {
  /** Absent for an anonymous request (no signature at all), which only a policy or ACL can let through. */
  accessKeyId?: string;
  presigned: boolean;
  payload: PayloadMode;
  /** s3:signatureversion: AWS4-HMAC-SHA256, or AWS for Signature Version 2. */
  signatureVersion?: 'AWS4-HMAC-SHA256' | 'AWS';
}

export interface AuthenticateOptions {
  credentials: CredentialProvider;
  now: Date;
  /** The gateway's region: the only one a credential scope may name. */
  region: string;
  enforcePayloadVerification: boolean;
  keyCache?: SigningKeyCache;
  /** Whether Signature Version 2 is accepted (SIGV2_ENABLED). */
  signatureV2: boolean;
  /** The bucket named by the Host (virtual-hosted style): SigV2 signs it as part of the resource. */
  virtualBucket?: string;
}

const MAX_SKEW_MS = 15 * 60 * 1000;

/** Verifies the SigV4 signature of a request (header or presigned) before any of its body is read. */
export function authenticate(
  wire: WireRequest,
  query: ReadonlyArray<[string, string]>,
  opts: AuthenticateOptions,
): Authenticated {
  const authorization = headerValue(wire.headers, 'authorization');
  const presigned = !authorization && query.some(([k]) => k === 'X-Amz-Algorithm' || k === 'X-Amz-Signature');
  if (isSigV2(wire, query)) return authenticateV2(wire, query, opts);
  if (!authorization && !presigned) return { presigned: false, payload: { kind: 'unsigned' } };
  const params = presigned
    ? parsePresignedQuery(query)
    : parseAuthorizationHeader(authorization!, wire.headers);
  let declared = headerValue(wire.headers, 'x-amz-content-sha256');
  if (presigned) {
    declared = query.find(([k]) => k === 'X-Amz-Content-Sha256')?.[1] ?? declared ?? UNSIGNED_PAYLOAD;
  } else if (declared === undefined) {
    if (opts.enforcePayloadVerification) {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    }
    declared = UNSIGNED_PAYLOAD;
  }
  const payload = payloadMode(declared);
  const verified = verifySignature(wire, params, declared, {
    service: 's3',
    normalize: false,
    now: opts.now,
    maxSkewMs: MAX_SKEW_MS,
    region: opts.region,
    lookupSecret: (id) => opts.credentials.secretFor(id),
    deriveKey: opts.keyCache ? (...args) => opts.keyCache!.get(...args) : undefined,
  });
  refuseUnsignedAmzHeaders(wire.headers, params.signedHeaders);
  if (payload.kind === 'streaming' && payload.signing) {
    payload.signing = {
      key: verified.key,
      scope: verified.scope,
      amzDate: params.amzDate,
      seedSignature: params.signature.toLowerCase(),
    };
  }
  return {
    accessKeyId: params.credential.accessKeyId,
    presigned,
    payload,
    signatureVersion: 'AWS4-HMAC-SHA256',
  };
}

/** SigV2: HMAC-SHA1 over headers and resource; the body is never signed, so it streams unsigned. */
function authenticateV2(
  wire: WireRequest,
  query: ReadonlyArray<[string, string]>,
  opts: AuthenticateOptions,
): Authenticated {
  if (!opts.signatureV2)
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  const params = verifySigV2(wire, query, {
    now: opts.now,
    maxSkewMs: MAX_SKEW_MS,
    lookupSecret: (id) => opts.credentials.secretFor(id),
    virtualBucket: opts.virtualBucket,
  });
  return {
    accessKeyId: params.accessKeyId,
    presigned: params.presigned,
    payload: { kind: 'unsigned' },
    signatureVersion: 'AWS',
  };
}

/**
 * x-amz-content-sha256 is bound by the signature whether or not it is listed: its value is the canonical
 * request's payload line. Every other x-amz-* header changes what a request does, so it must be signed.
 * (AWS SDK v3 and botocore sign every x-amz-* header they send; what they leave unsigned, such as
 * user-agent, expect and x-amzn-trace-id, is outside the x-amz- prefix.)
 */
const BOUND_WITHOUT_LISTING = new Set(['x-amz-content-sha256']);

/** AWS's answer to a request carrying x-amz-* headers its signature does not cover. */
function refuseUnsignedAmzHeaders(headers: WireRequest['headers'], signed: readonly string[]): void {
  const unsigned = new Set<string>();
  for (const [name] of headers) {
    const lower = name.toLowerCase();
    if (lower.startsWith('x-amz-') && !BOUND_WITHOUT_LISTING.has(lower) && !signed.includes(lower)) {
      unsigned.add(lower);
    }
  }
  if (unsigned.size > 0) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      HeadersNotSigned: [...unsigned].sort().join(', '),
    });
  }
}

function payloadMode(declared: string): PayloadMode {
  switch (declared) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case STREAMING_UNSIGNED_TRAILER:
      return { kind: 'streaming', trailer: true };
    case STREAMING_SIGNED:
    case STREAMING_SIGNED_TRAILER:
      // The signing context is filled in once the seed signature is verified.
      return {
        kind: 'streaming',
        trailer: declared === STREAMING_SIGNED_TRAILER,
        signing: { key: Buffer.alloc(0), scope: '', amzDate: '', seedSignature: '' },
      };
    default:
      if (/^[0-9a-f]{64}$/.test(declared)) return { kind: 'sha256', hex: declared };
      throw new S3Error(
        'InvalidArgument',
        `x-amz-content-sha256 must be a SHA-256 hex digest or a payload mode, not '${declared}'.`,
        {
          ArgumentName: 'x-amz-content-sha256',
        },
      );
  }
}
