/** Presigned S3 URLs (SigV4 query signing, UNSIGNED-PAYLOAD), made with the same canonicalisation the gateway verifies. */
import {
  ALGORITHM,
  UNSIGNED_PAYLOAD,
  canonicalRequest,
  formatAmzDate,
  sign,
  signingKey,
  stringToSign,
  uriEncode,
} from '../auth/sigv4.js';

export interface PresignInput {
  method: string;
  /** scheme://host[:port] as the client will use it; the host is signed. */
  origin: string;
  bucket: string;
  key: string;
  /** The operation's own query parameters (uploadId, partNumber, uploads), signed with the rest. */
  query?: Array<[string, string]>;
  accessKey: string;
  secretKey: string;
  region: string;
  expiresIn: number;
  now: Date;
}

export function presignUrl(i: PresignInput): string {
  const url = new URL(i.origin);
  const amzDate = formatAmzDate(i.now);
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${i.region}/s3/aws4_request`;
  const rawPath = `/${i.bucket}/${uriEncode(i.key, true)}`;
  const params: Array<[string, string]> = [
    ['X-Amz-Algorithm', ALGORITHM],
    ['X-Amz-Credential', `${i.accessKey}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(i.expiresIn)],
    ['X-Amz-SignedHeaders', 'host'],
    ...(i.query ?? []),
  ];
  const rawQuery = params.map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`).join('&');
  const canonical = canonicalRequest(
    { method: i.method, rawPath, rawQuery, headers: [['host', url.host]] },
    ['host'],
    UNSIGNED_PAYLOAD,
    { normalize: false },
  );
  const signature = sign(
    signingKey(i.secretKey, date, i.region, 's3'),
    stringToSign(amzDate, scope, canonical),
  );
  return `${url.protocol}//${url.host}${rawPath}?${rawQuery}&X-Amz-Signature=${signature}`;
}
