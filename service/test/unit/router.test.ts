import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CONDITION_ACTIONS, S3_ACTIONS } from '../../src/authz/actions.js';
import { S3Error } from '../../src/errors/s3-errors.js';
import { ENDPOINTS, route, serves, SUBRESOURCES, type RoutedRequest } from '../../src/s3/router.js';

/** A request shape as routing sees it; no HTTP. */
function shape(
  method: string,
  target: 'service' | 'bucket' | 'object',
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
): RoutedRequest {
  return {
    raw: { headers } as unknown as IncomingMessage,
    method,
    bucket: target === 'service' ? undefined : 'b',
    key: target === 'object' ? 'k' : undefined,
    query: new Map(Object.entries(query)),
  };
}

/** Every shape the table distinguishes: each endpoint's own, plus its discriminators toggled. */
function shapes(): RoutedRequest[] {
  const out: RoutedRequest[] = [];
  for (const e of ENDPOINTS) {
    const query = Object.fromEntries((e.subresources ?? []).map((s) => [s, s === 'partNumber' ? '1' : 'x']));
    for (const extraQuery of [{}, { 'list-type': '2' }] as Array<Record<string, string>>)
      for (const headers of [
        {},
        { 'x-amz-copy-source': '/src/key' },
        { 'content-type': 'multipart/form-data; boundary=x' },
      ] as Array<Record<string, string>>)
        out.push(shape(e.method, e.target, { ...query, ...extraQuery }, headers));
  }
  return out;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const a = [...items];
  let x = seed;
  for (let i = a.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('the S3 routing table', () => {
  it('resolves every request shape to at most one endpoint, and each endpoint is some shape', () => {
    const reached = new Set<string>();
    for (const s of shapes()) {
      const matching = ENDPOINTS.filter((e) => serves(e, s));
      expect(matching.length, `${s.method} ${[...s.query.keys()].join('&')}`).toBeLessThanOrEqual(1);
      if (matching[0]) reached.add(`${matching[0].name}/${(matching[0].subresources ?? []).join('&')}`);
    }
    expect(reached.size).toBe(ENDPOINTS.length);
  });

  it('routes the same whatever the order of the table', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const table = shuffled(ENDPOINTS, seed);
      for (const s of shapes()) {
        let expected: string;
        try {
          expected = route(s).name;
        } catch (err) {
          expected = (err as S3Error).code;
        }
        let got: string;
        try {
          got = route(s, table).name;
        } catch (err) {
          got = (err as S3Error).code;
        }
        expect(got).toBe(expected);
      }
    }
  });

  it('sends copies, V2 listings and sub-resources where they belong', () => {
    expect(route(shape('PUT', 'object', {}, { 'x-amz-copy-source': '/a/b' })).name).toBe('CopyObject');
    expect(route(shape('PUT', 'object')).name).toBe('PutObject');
    expect(
      route(shape('POST', 'bucket', {}, { 'content-type': 'multipart/form-data; boundary=x' })).name,
    ).toBe('PostObject');
    expect(() => route(shape('POST', 'bucket'))).toThrow(/POST is not allowed/);
    expect(route(shape('GET', 'bucket', { 'list-type': '2' })).name).toBe('ListObjectsV2');
    expect(route(shape('GET', 'bucket')).name).toBe('ListObjects');
    expect(route(shape('PUT', 'object', { partNumber: '1', uploadId: 'u' })).name).toBe('UploadPart');
    expect(route(shape('GET', 'object', { versionId: 'null' })).name).toBe('GetObject');
    // Naming a version (the null one included) is a different IAM action than acting on the latest.
    const versioned = (method: string, query: Record<string, string>) => {
      const e = route(shape(method, 'object', query));
      return `${e.name} ${e.action}`;
    };
    expect(versioned('GET', { versionId: 'null' })).toBe('GetObject s3:GetObjectVersion');
    expect(versioned('HEAD', { versionId: 'v', partNumber: '1' })).toBe('HeadObject s3:GetObjectVersion');
    expect(versioned('DELETE', { versionId: 'v' })).toBe('DeleteObject s3:DeleteObjectVersion');
    expect(versioned('PUT', { tagging: '', versionId: 'v' })).toBe(
      'PutObjectTagging s3:PutObjectVersionTagging',
    );
    expect(route(shape('GET', 'bucket', { versions: '' })).name).toBe('ListObjectVersions');
    expect(() => route(shape('PUT', 'object', { versionId: 'v' }))).toThrow(
      expect.objectContaining({ code: 'NotImplemented' }),
    );
  });

  it('answers NotImplemented for every sub-resource it does not serve, never the plain operation', () => {
    const served = new Set(ENDPOINTS.flatMap((e) => e.subresources ?? []));
    for (const sub of SUBRESOURCES.filter((s) => !served.has(s)))
      for (const method of ['GET', 'PUT', 'DELETE', 'POST'])
        for (const target of ['bucket', 'object'] as const)
          expect(() => route(shape(method, target, { [sub]: '' })), `${method} ${target} ?${sub}`).toThrow(
            expect.objectContaining({ code: 'NotImplemented' }),
          );
    expect(() => route(shape('GET', 'bucket', { 'list-type': '3' }))).toThrow(
      expect.objectContaining({ code: 'NotImplemented' }),
    );
    expect(() => route(shape('PATCH', 'object'))).toThrow(
      expect.objectContaining({ code: 'MethodNotAllowed' }),
    );
  });

  it('gives every endpoint an S3 action as AWS names it, and serves every action some endpoint', () => {
    for (const e of ENDPOINTS) expect(S3_ACTIONS, e.name).toContain(e.action);
    const used = new Set(ENDPOINTS.map((e) => e.action));
    expect(S3_ACTIONS.filter((a) => !used.has(a) && !CONDITION_ACTIONS.has(a))).toEqual([]);
    // Spot checks against AWS's action table: reads and writes that share an action, as on AWS.
    const actionOf = (name: string) => new Set(ENDPOINTS.filter((e) => e.name === name).map((e) => e.action));
    expect(actionOf('HeadObject')).toEqual(new Set(['s3:GetObject', 's3:GetObjectVersion']));
    expect(actionOf('DeleteObject')).toEqual(new Set(['s3:DeleteObject', 's3:DeleteObjectVersion']));
    expect(actionOf('HeadBucket')).toEqual(new Set(['s3:ListBucket']));
    expect(actionOf('UploadPart')).toEqual(new Set(['s3:PutObject']));
    expect(actionOf('DeleteObjects')).toEqual(new Set(['s3:DeleteObject']));
    expect(actionOf('DeleteBucketCors')).toEqual(new Set(['s3:PutBucketCORS']));
    expect(actionOf('ListParts')).toEqual(new Set(['s3:ListMultipartUploadParts']));
  });
});
