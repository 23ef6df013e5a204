import { describe, expect, it } from 'vitest';
import { S3_ERRORS, S3Error } from '../../src/errors/s3-errors.js';

describe('the S3 error catalogue', () => {
  it('gives every code an HTTP error status and AWS-style message', () => {
    for (const [code, entry] of Object.entries(S3_ERRORS)) {
      expect(code).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(entry, code).toHaveLength(2);
      const [status, message] = entry;
      expect(Number.isInteger(status) && status >= 300 && status < 600, code).toBe(true);
      expect(typeof message === 'string' && message.length > 0, code).toBe(true);
    }
  });

  it('builds errors with the status and default message of their code', () => {
    expect(new S3Error('NoSuchKey')).toMatchObject({
      status: 404,
      message: 'The specified key does not exist.',
    });
    expect(new S3Error('NotImplemented', 'nope')).toMatchObject({ status: 501, message: 'nope' });
  });
});
