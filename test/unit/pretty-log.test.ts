import { describe, expect, it } from 'vitest';
import { prettyLine } from '../../scripts/lib/pretty-log.js';

describe('npm run logs -- --pretty', () => {
  it('turns a gateway line into time, service, level, message and fields', () => {
    const line =
      'gateway_1   | {"level":30,"time":1796040000000,"pid":7,"hostname":"c0ffee","operation":"PutObject","bucket":"photos","status":200,"msg":"request done"}';
    expect(prettyLine(line)).toBe(
      '2026-11-30T12:00:00.000Z gateway  INFO  request done operation=PutObject bucket=photos status=200',
    );
    const warn =
      'coffer-gateway-1  | {"level":40,"time":1796040000000,"reason":"pool is full","msg":"database pool"}';
    expect(prettyLine(warn)).toBe(
      '2026-11-30T12:00:00.000Z gateway  WARN  database pool reason="pool is full"',
    );
  });

  it('turns an nginx access line into time, status, method, URI, size, duration and client', () => {
    const line =
      'nginx_1     | {"time":"2026-11-30T10:40:00+00:00","remote_addr":"10.0.0.7","host":"s3.lan","method":"GET","uri":"/photos/a.jpg","status":200,"bytes_sent":1234,"request_length":310,"duration":0.004,"upstream_status":"200","request_id":"abc","tls":"TLSv1.3"}';
    expect(prettyLine(line)).toBe(
      '2026-11-30T10:40:00.000Z nginx    200 GET /photos/a.jpg 1234 B 0.004 s from 10.0.0.7',
    );
  });

  it('passes other lines through, with their service', () => {
    expect(prettyLine('postgres_1  | LOG:  database system is ready')).toBe(
      'postgres LOG:  database system is ready',
    );
    expect(prettyLine('Attaching to coffer_nginx_1')).toBe('Attaching to coffer_nginx_1');
  });
});
