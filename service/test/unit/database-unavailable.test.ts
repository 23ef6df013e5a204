import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../../src/db/unavailable.js';

const errno = (code: string, syscall: string, message = `${syscall} ${code}`) =>
  Object.assign(new Error(message), { code, syscall });

describe('isDatabaseUnavailable', () => {
  it('counts a Postgres that refuses or drops connections, over TCP or a unix socket', () => {
    expect(isDatabaseUnavailable(errno('ECONNREFUSED', 'connect'))).toBe(true);
    // A stopped server removes its socket file: connecting finds nothing there.
    expect(isDatabaseUnavailable(errno('ENOENT', 'connect', 'connect ENOENT /tmp/pg/.s.PGSQL.5432'))).toBe(
      true,
    );
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(
      true,
    );
  });

  it('leaves a missing file and a faulty query to be what they are', () => {
    expect(isDatabaseUnavailable(errno('ENOENT', 'open', 'open ENOENT /data/blobs/ab/abcd'))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
  });
});
