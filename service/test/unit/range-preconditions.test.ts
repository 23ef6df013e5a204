import { describe, expect, it } from 'vitest';
import { parseRange } from '../../src/s3/objects.js';
import { checkPreconditions, COPY_SOURCE_CONDITIONS, GET_CONDITIONS } from '../../src/s3/preconditions.js';
import type { ObjectInfo } from '../../src/store/types.js';

describe('Range (RFC 9110 byte ranges as S3 reads them)', () => {
  const size = 1000;
  it('reads first-last, open-ended and suffix ranges, clamped to the object', () => {
    expect(parseRange('bytes=0-0', size)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=10-19', size)).toEqual({ start: 10, end: 19 });
    expect(parseRange('bytes=990-', size)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=990-5000', size)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-10', size)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-5000', size)).toEqual({ start: 0, end: 999 });
  });

  it('ignores what is not one byte range (the whole object is sent), as S3 does', () => {
    for (const h of [
      undefined,
      '',
      'bytes=',
      'bytes=-',
      'items=0-1',
      'bytes=0-1,5-6',
      'bytes=20-10',
      'bytes=a-b',
    ])
      expect(parseRange(h, size), String(h)).toBeUndefined();
  });

  it('answers InvalidRange for a range that starts past the end, or any suffix of an empty object', () => {
    for (const [h, s] of [
      ['bytes=1000-', size],
      ['bytes=5000-6000', size],
      ['bytes=-0', size],
      ['bytes=-1', 0],
      ['bytes=0-', 0],
    ] as const)
      expect(() => parseRange(h, s), h).toThrow(
        expect.objectContaining({ code: 'InvalidRange', status: 416 }),
      );
  });
});

describe('GET/HEAD preconditions (If-Match, If-None-Match, If-(Un)Modified-Since)', () => {
  const info = { etag: '"abc"', lastModified: new Date('2026-01-02T03:04:05.678Z') } as ObjectInfo;
  const outcome = (headers: Record<string, string>, names = GET_CONDITIONS) => {
    try {
      checkPreconditions((name) => headers[name], info, names);
      return 'ok';
    } catch (err) {
      const e = err as { code: string; extra?: { Condition?: string } };
      return e.extra?.Condition ? `${e.code} ${e.extra.Condition}` : e.code;
    }
  };
  const before = 'Thu, 01 Jan 2026 00:00:00 GMT';
  const same = 'Fri, 02 Jan 2026 03:04:05 GMT';
  const after = 'Sat, 03 Jan 2026 00:00:00 GMT';

  it('If-Match: any listed tag, quoted or not, weak or *', () => {
    expect(outcome({ 'if-match': '"abc"' })).toBe('ok');
    expect(outcome({ 'if-match': 'abc' })).toBe('ok');
    expect(outcome({ 'if-match': '"x", W/"abc"' })).toBe('ok');
    expect(outcome({ 'if-match': '*' })).toBe('ok');
    expect(outcome({ 'if-match': '"x"' })).toBe('PreconditionFailed If-Match');
  });

  it('If-None-Match answers 304 on a match', () => {
    expect(outcome({ 'if-none-match': '"abc"' })).toBe('NotModified');
    expect(outcome({ 'if-none-match': '"x"' })).toBe('ok');
  });

  it('compares dates at one-second precision', () => {
    expect(outcome({ 'if-modified-since': same })).toBe('NotModified');
    expect(outcome({ 'if-modified-since': before })).toBe('ok');
    expect(outcome({ 'if-unmodified-since': same })).toBe('ok');
    expect(outcome({ 'if-unmodified-since': before })).toBe('PreconditionFailed If-Unmodified-Since');
    expect(outcome({ 'if-unmodified-since': after })).toBe('ok');
    expect(outcome({ 'if-modified-since': 'not a date' })).toBe('ok');
  });

  it('lets the tag conditions win over the date ones, as S3 documents', () => {
    // If-Match true and If-Unmodified-Since false: 200.
    expect(outcome({ 'if-match': '"abc"', 'if-unmodified-since': before })).toBe('ok');
    // If-None-Match false and If-Modified-Since true: 200 (the tag decides).
    expect(outcome({ 'if-none-match': '"x"', 'if-modified-since': same })).toBe('ok');
    // A failing If-Match is 412 even when If-None-Match would be 304.
    expect(outcome({ 'if-match': '"x"', 'if-none-match': '"abc"' })).toBe('PreconditionFailed If-Match');
  });

  it('evaluates x-amz-copy-source-if-* by the same rules, every failure a 412 naming its header', () => {
    const copy = (h: Record<string, string>) => outcome(h, COPY_SOURCE_CONDITIONS);
    expect(copy({ 'x-amz-copy-source-if-match': 'W/"abc"' })).toBe('ok');
    expect(copy({ 'x-amz-copy-source-if-match': '"x"' })).toBe(
      'PreconditionFailed x-amz-copy-source-if-match',
    );
    expect(copy({ 'x-amz-copy-source-if-none-match': '"abc"' })).toBe(
      'PreconditionFailed x-amz-copy-source-if-none-match',
    );
    expect(copy({ 'x-amz-copy-source-if-modified-since': same })).toBe(
      'PreconditionFailed x-amz-copy-source-if-modified-since',
    );
    expect(
      copy({ 'x-amz-copy-source-if-match': '"abc"', 'x-amz-copy-source-if-unmodified-since': before }),
    ).toBe('ok');
    // GET's own headers mean nothing to a copy source.
    expect(copy({ 'if-match': '"x"' })).toBe('ok');
  });
});
