import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import aws4 from 'aws4';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../src/auth/authenticate.js';
import { StaticCredentials } from '../../src/auth/credentials.js';
import { S3Error } from '../../src/errors/s3-errors.js';
import { uriEncode, type WireRequest } from '../../src/auth/sigv4.js';

const cred = { accessKeyId: 'AKIDINDEPENDENT', secretAccessKey: 'independent/secret+key=value' };
const credentials = new StaticCredentials([cred]);
const HOST = 'gateway.example:8443';

const awkwardKeys = [
  'plain.txt',
  'with space/and+plus.txt',
  'percent%25literal%.txt',
  'unicodé/日本語/🙂.bin',
  'quotes\'"!*()~.txt',
  'a//double//slash/',
  'trailing/',
  'semi;colon,comma=equals&amp@at$dollar',
];
const awkwardQueries: Array<Record<string, string>> = [
  {},
  { prefix: 'a b/c+d', delimiter: '/', 'max-keys': '2' },
  { 'list-type': '2', 'start-after': 'ü/é', 'encoding-type': 'url' },
  { 'response-content-disposition': 'attachment; filename="x y.txt"' },
];

function wireFrom(method: string, path: string, query: string, headers: Record<string, string>): WireRequest {
  return { method, rawPath: path, rawQuery: query, headers: Object.entries(headers) };
}

function check(wire: WireRequest, query: Array<[string, string]> = [], region = 'us-east-1') {
  return authenticate(wire, query, {
    credentials,
    now: new Date(),
    region,
    enforcePayloadVerification: true,
    signatureV2: true,
  });
}

describe('requests signed by independent signers verify', () => {
  for (const key of awkwardKeys) {
    for (const q of awkwardQueries) {
      const path = '/bucket/' + uriEncode(key, true);
      const query = Object.entries(q)
        .map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(v, false)}`)
        .join('&');

      it(`aws4: ${key} ?${query}`, () => {
        const signed = aws4.sign(
          {
            host: HOST,
            method: 'GET',
            path: path + (query ? '?' + query : ''),
            service: 's3',
            region: 'us-east-1',
            headers: { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD', 'x-amz-meta-Awkward': '  two  spaces  ' },
          },
          cred,
        );
        const headers = signed.headers as Record<string, string>;
        expect(check(wireFrom('GET', path, query, headers)).accessKeyId).toBe(cred.accessKeyId);
      });

      it(`@smithy/signature-v4: ${key} ?${query}`, async () => {
        const signer = new SignatureV4({
          service: 's3',
          region: 'eu-central-1',
          credentials: cred,
          sha256: Sha256,
          uriEscapePath: false,
          applyChecksum: true,
        });
        const req = {
          method: 'PUT',
          protocol: 'https:',
          hostname: 'gateway.example',
          port: 8443,
          path,
          query: q,
          headers: {
            host: HOST,
            'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
            'content-type': 'text/plain',
          } as Record<string, string>,
        };
        const signed = await signer.sign(req);
        expect(check(wireFrom('PUT', path, query, signed.headers), [], 'eu-central-1').accessKeyId).toBe(
          cred.accessKeyId,
        );
        const presigned = await signer.presign(req, { expiresIn: 300 });
        const pq = Object.entries(presigned.query ?? {})
          .map(([k, v]) => `${uriEncode(k, false)}=${uriEncode(String(v), false)}`)
          .join('&');
        const pairs = Object.entries(presigned.query ?? {}).map(
          ([k, v]) => [k, String(v)] as [string, string],
        );
        expect(check(wireFrom('PUT', path, pq, presigned.headers), pairs, 'eu-central-1').presigned).toBe(
          true,
        );
      });
    }
  }

  it('refuses a request whose path was altered after signing', () => {
    const signed = aws4.sign(
      {
        host: HOST,
        method: 'GET',
        path: '/bucket/a',
        service: 's3',
        region: 'us-east-1',
        headers: { 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' },
      },
      cred,
    );
    const headers = signed.headers as Record<string, string>;
    expect(() => check(wireFrom('GET', '/bucket/b', '', headers))).toThrow(S3Error);
    expect(() => check(wireFrom('GET', '/bucket/a', '', { ...headers, Host: 'other.example' }))).toThrow(
      S3Error,
    );
  });
});
