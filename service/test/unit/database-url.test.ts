import { describe, expect, it } from 'vitest';
import { databaseUrlProblem, libpqEnv } from '../../src/parse/database-url.js';

describe('libpqEnv', () => {
  it('gives pg_dump the URL as libpq variables, the password among them, not on a command line', () => {
    const env = libpqEnv('postgres://coffer:p%40ss%2Fword@db.internal:6543/coffer?sslmode=require');
    expect(env).toMatchObject({
      PGHOST: 'db.internal',
      PGPORT: '6543',
      PGUSER: 'coffer',
      PGPASSWORD: 'p@ss/word',
      PGDATABASE: 'coffer',
      PGSSLMODE: 'require',
    });
  });

  it("takes a host parameter (a unix socket's directory) over the URL's host name, as libpq does", () => {
    const env = libpqEnv('postgres://coffer:pw@127.0.0.1:5433/coffer?host=%2Ftmp%2Fcoffer-pg-1');
    expect(env.PGHOST).toBe('/tmp/coffer-pg-1');
    expect(env.PGPORT).toBe('5433');
    expect(env.PGSSLMODE).toBeUndefined();
  });

  it('defaults the port to 5432', () => {
    expect(libpqEnv('postgresql://u:p@db/coffer').PGPORT).toBe('5432');
  });
});

describe('databaseUrlProblem', () => {
  it('accepts a socket URL the embedded cluster gives', () => {
    expect(databaseUrlProblem('postgres://coffer:pw@127.0.0.1:5433/coffer?host=%2Ftmp%2Fx')).toBeUndefined();
  });
});
