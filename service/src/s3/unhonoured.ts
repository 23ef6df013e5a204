/**
 * Headers that ask for behaviour this gateway does not have (customer-provided encryption keys, website
 * redirects). Obeying them silently would be a wrong answer; they are refused with the error AWS uses.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from '../errors/s3-errors.js';

const SSE_C_PREFIXES = [
  'x-amz-server-side-encryption-customer-',
  'x-amz-copy-source-server-side-encryption-customer-',
];

/** Endpoints that create an object, and the headers that would ask them for what they cannot do yet. */
const CREATES_OBJECTS = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload']);
const UNSUPPORTED_ON_CREATE = ['x-amz-website-redirect-location'];

/** Refuses, before the endpoint runs, what it would otherwise ignore. */
export function refuseUnhonouredHeaders(
  headers: IncomingHttpHeaders,
  endpoint: { name: string; method: string },
): void {
  for (const prefix of SSE_C_PREFIXES) {
    const given = Object.keys(headers).filter((h) => h.startsWith(prefix));
    if (given.length === 0) continue;
    if (!given.includes(`${prefix}algorithm`))
      throw new S3Error(
        'InvalidArgument',
        'Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.',
        { ArgumentName: `${prefix}algorithm` },
      );
    // No object here was written with a customer key, so none can be read with one.
    if (endpoint.method === 'GET' || endpoint.method === 'HEAD')
      throw new S3Error('InvalidRequest', 'The encryption parameters are not applicable to this object.');
    throw new S3Error(
      'NotImplemented',
      'Server-side encryption with customer-provided keys (SSE-C) is not supported; every object is encrypted at rest with keys this gateway manages.',
    );
  }
  if (CREATES_OBJECTS.has(endpoint.name)) {
    for (const h of UNSUPPORTED_ON_CREATE)
      if (headers[h] !== undefined) throw new S3Error('NotImplemented', `The ${h} header is not supported.`);
    const sse = headers['x-amz-server-side-encryption'];
    if (sse !== undefined && sse !== 'AES256')
      throw new S3Error(
        'NotImplemented',
        'Only AES256 server-side encryption is available (every object is encrypted at rest).',
      );
  }
}
