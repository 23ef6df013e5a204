import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { cleanEnv, rcloneEnv as remoteEnv, requireBinary, run } from '../support/run.js';
import { pathStyleClient } from '../support/s3-client.js';
import { startTlsProxy, type TlsProxy } from '../support/tls-proxy.js';

const DOMAIN = 's3.coffer.test';
let env: TestEnv;
let gw: RunningGateway;
let tlsProxy: TlsProxy;
let work: string;

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** boto3 is a Debian package CI installs; elsewhere the suite is skipped when Python lacks it. */
function hasBoto3(): boolean {
  return spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;
}

beforeAll(async () => {
  env = await createTestEnv({ S3_DOMAIN: DOMAIN });
  gw = await startGateway(env.env);
  tlsProxy = await startTlsProxy(env.dir, gw.port);
  work = path.join(env.dir, 'work');
  await mkdir(work, { recursive: true });
});

afterAll(async () => {
  await tlsProxy?.close();
  await gw?.close();
  await env?.stop();
});

describe.runIf(requireBinary('aws'))('aws CLI', () => {
  const awsEnv = () =>
    cleanEnv({
      AWS_ACCESS_KEY_ID: env.creds[0]!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.creds[0]!.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: path.join(work, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-aws-credentials'),
    });
  const aws = (endpoint: string, args: string[], extra: string[] = []) =>
    run('aws', ['--endpoint-url', endpoint, ...extra, ...args], awsEnv(), work);

  for (const transport of ['http', 'https'] as const) {
    it(`s3 cp/ls/sync/rm and s3api over ${transport}`, async () => {
      const endpoint = transport === 'http' ? gw.endpoint : `https://localhost:${tlsProxy.port}`;
      const extra = transport === 'https' ? ['--ca-bundle', tlsProxy.caFile] : [];
      const bucket = `cli-${transport}`;
      await aws(endpoint, ['s3', 'mb', `s3://${bucket}`], extra);
      const src = path.join(work, `src-${transport}`);
      await mkdir(path.join(src, 'sub dir'), { recursive: true });
      const files: Record<string, Buffer> = {
        'one.bin': randomBytes(3 * 1024 * 1024),
        'sub dir/two+plus.txt': Buffer.from('two'),
        'empty.txt': Buffer.alloc(0),
        'ünï cødé.txt': Buffer.from('unicode'),
      };
      for (const [name, data] of Object.entries(files)) await writeFile(path.join(src, name), data);
      await aws(endpoint, ['s3', 'cp', path.join(src, 'one.bin'), `s3://${bucket}/single/one.bin`], extra);
      await aws(endpoint, ['s3', 'sync', src, `s3://${bucket}/synced`], extra);
      const ls = await aws(endpoint, ['s3', 'ls', '--recursive', `s3://${bucket}/synced/`], extra);
      for (const name of Object.keys(files)) expect(ls.stdout).toContain(`synced/${name}`);
      const back = path.join(work, `back-${transport}`);
      await aws(endpoint, ['s3', 'sync', `s3://${bucket}/synced`, back], extra);
      for (const [name, data] of Object.entries(files))
        expect((await readFile(path.join(back, name))).equals(data)).toBe(true);
      const head = JSON.parse(
        (
          await aws(
            endpoint,
            [
              's3api',
              'head-object',
              '--bucket',
              bucket,
              '--key',
              'single/one.bin',
              '--checksum-mode',
              'ENABLED',
            ],
            extra,
          )
        ).stdout,
      );
      expect(head.ETag).toBe(`"${md5(files['one.bin']!)}"`);
      expect(head.ContentLength).toBe(3 * 1024 * 1024);
      // aws-cli sends a CRC32 (header over HTTP, aws-chunked trailer over HTTPS); it was verified and kept.
      expect(head.ChecksumCRC32).toBeTruthy();
      const listed = JSON.parse(
        (
          await aws(
            endpoint,
            ['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'synced/', '--delimiter', '/'],
            extra,
          )
        ).stdout,
      );
      expect(listed.CommonPrefixes.map((p: { Prefix: string }) => p.Prefix)).toEqual(['synced/sub dir/']);
      await aws(
        endpoint,
        [
          's3api',
          'get-object',
          '--bucket',
          bucket,
          '--key',
          'synced/sub dir/two+plus.txt',
          path.join(work, 'two'),
        ],
        extra,
      );
      expect(await readFile(path.join(work, 'two'), 'utf8')).toBe('two');
      await aws(endpoint, ['s3', 'rm', '--recursive', `s3://${bucket}/`], extra);
      await aws(endpoint, ['s3', 'rb', `s3://${bucket}`], extra);
    });
  }

  it('versions objects with s3api: put-bucket-versioning, list-object-versions, get-object --version-id', async () => {
    const endpoint = gw.endpoint;
    const api = async (...args: string[]) => {
      const out = (await aws(endpoint, ['s3api', ...args, '--output', 'json'])).stdout.trim();
      return out ? JSON.parse(out) : {};
    };
    await api('create-bucket', '--bucket', 'cli-versions');
    await api(
      'put-bucket-versioning',
      '--bucket',
      'cli-versions',
      '--versioning-configuration',
      'Status=Enabled',
    );
    expect((await api('get-bucket-versioning', '--bucket', 'cli-versions')).Status).toBe('Enabled');
    const file = path.join(work, 'cli-version.txt');
    const ids: string[] = [];
    for (const content of ['one', 'two']) {
      await writeFile(file, content);
      const put = await api('put-object', '--bucket', 'cli-versions', '--key', 'v.txt', '--body', file);
      ids.push(put.VersionId);
    }
    const listed = await api('list-object-versions', '--bucket', 'cli-versions');
    expect(
      listed.Versions.map((v: { VersionId: string; IsLatest: boolean }) => [v.VersionId, v.IsLatest]),
    ).toEqual([
      [ids[1], true],
      [ids[0], false],
    ]);
    const out = path.join(work, 'cli-version-back.txt');
    const got = await api(
      'get-object',
      '--bucket',
      'cli-versions',
      '--key',
      'v.txt',
      '--version-id',
      ids[0]!,
      out,
    );
    expect([got.VersionId, await readFile(out, 'utf8')]).toEqual([ids[0], 'one']);
    const del = await api('delete-object', '--bucket', 'cli-versions', '--key', 'v.txt');
    expect(del.DeleteMarker).toBe(true);
    // Object lock from the CLI: retention and legal hold on a version, and the refusal to delete it.
    await api('create-bucket', '--bucket', 'cli-vault', '--object-lock-enabled-for-bucket');
    await writeFile(file, 'locked');
    const locked = await api('put-object', '--bucket', 'cli-vault', '--key', 'l.txt', '--body', file);
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const onRecord = (op: string, ...args: string[]) =>
      api(op, '--bucket', 'cli-vault', '--key', 'l.txt', ...args);
    await onRecord(
      'put-object-retention',
      '--version-id',
      locked.VersionId,
      '--retention',
      `Mode=COMPLIANCE,RetainUntilDate=${until}`,
    );
    await onRecord('put-object-legal-hold', '--legal-hold', 'Status=ON');
    const retention = await onRecord('get-object-retention');
    expect(retention.Retention.Mode).toBe('COMPLIANCE');
    const refused = await onRecord('delete-object', '--version-id', locked.VersionId).then(
      () => 'deleted',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/AccessDenied/);
    const after = await api('list-object-versions', '--bucket', 'cli-versions');
    expect(
      after.DeleteMarkers.map((m: { VersionId: string; IsLatest: boolean }) => [m.VersionId, m.IsLatest]),
    ).toEqual([[del.VersionId, true]]);
  });
});

describe.runIf(hasBoto3())('boto3', () => {
  it('versions and locks objects: list_object_versions, retention, legal hold, a refused version delete', async () => {
    const script = `
import boto3, datetime, json, sys
from botocore.exceptions import ClientError
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
s3.create_bucket(Bucket='boto-vault', ObjectLockEnabledForBucket=True)
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
v1 = s3.put_object(Bucket='boto-vault', Key='r', Body=b'one', ObjectLockMode='COMPLIANCE',
                   ObjectLockRetainUntilDate=until)['VersionId']
v2 = s3.put_object(Bucket='boto-vault', Key='r', Body=b'two')['VersionId']
s3.put_object_legal_hold(Bucket='boto-vault', Key='r', VersionId=v2, LegalHold={'Status': 'ON'})
out = {
  'versions': [(v['VersionId'], v['IsLatest']) for v in s3.list_object_versions(Bucket='boto-vault')['Versions']],
  'old': s3.get_object(Bucket='boto-vault', Key='r', VersionId=v1)['Body'].read().decode(),
  'mode': s3.get_object_retention(Bucket='boto-vault', Key='r', VersionId=v1)['Retention']['Mode'],
  'hold': s3.get_object_legal_hold(Bucket='boto-vault', Key='r', VersionId=v2)['LegalHold']['Status'],
  'v1': v1, 'v2': v2, 'refused': [],
}
for v in (v1, v2):
    try:
        s3.delete_object(Bucket='boto-vault', Key='r', VersionId=v, BypassGovernanceRetention=True)
    except ClientError as e:
        out['refused'].append(e.response['Error']['Code'])
print(json.dumps(out))
`;
    const cred = env.creds[0]!;
    const { stdout } = await run(
      'python3',
      ['-c', script, gw.endpoint, cred.accessKeyId, cred.secretAccessKey],
      cleanEnv({ AWS_CONFIG_FILE: path.join(work, 'no-aws-config') }),
      work,
    );
    const out = JSON.parse(stdout);
    expect(out.versions).toEqual([
      [out.v2, true],
      [out.v1, false],
    ]);
    expect([out.old, out.mode, out.hold]).toEqual(['one', 'COMPLIANCE', 'ON']);
    expect(out.refused).toEqual(['AccessDenied', 'AccessDenied']);
  });
});

describe("presigned links and ACLs with the clients' defaults (SigV2)", () => {
  const cred = () => env.creds[0]!;
  let s3cmdConfig: string;

  beforeAll(async () => {
    const owner = pathStyleClient(gw.endpoint, cred());
    await owner.send(new CreateBucketCommand({ Bucket: 'links', ObjectOwnership: 'ObjectWriter' }));
    await owner.send(new DeletePublicAccessBlockCommand({ Bucket: 'links' }));
    await owner.send(new PutObjectCommand({ Bucket: 'links', Key: 'report one.txt', Body: 'linked' }));
    s3cmdConfig = path.join(work, 's3cmd.cfg');
    const host = new URL(gw.endpoint).host;
    await writeFile(
      s3cmdConfig,
      [
        '[default]',
        `access_key = ${cred().accessKeyId}`,
        `secret_key = ${cred().secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'bucket_location = us-east-1',
        '',
      ].join('\n'),
    );
  });
  const s3cmd = (args: string[]) => run('s3cmd', ['-c', s3cmdConfig, ...args], cleanEnv({}), work);
  const fetchText = async (url: string) => {
    const res = await fetch(url);
    return `${res.status} ${await res.text()}`;
  };

  it.runIf(requireBinary('aws'))('aws s3 presign (aws CLI v1, SigV2 query string)', async () => {
    const { stdout } = await run(
      'aws',
      ['--endpoint-url', gw.endpoint, 's3', 'presign', 's3://links/report one.txt'],
      cleanEnv({
        AWS_ACCESS_KEY_ID: cred().accessKeyId,
        AWS_SECRET_ACCESS_KEY: cred().secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_CONFIG_FILE: path.join(work, 'no-aws-config'),
      }),
      work,
    );
    const url = stdout.trim();
    expect(url).toMatch(/[?&]AWSAccessKeyId=/);
    expect(await fetchText(url)).toBe('200 linked');
    expect((await fetch(url.replace('report%20one', 'report%20two'))).status).toBe(403);
  });

  it.runIf(hasBoto3())('boto3 generate_presigned_url in us-east-1, and a changed link refused', async () => {
    const script = `
import boto3, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
print(s3.generate_presigned_url('get_object', Params={'Bucket': 'links', 'Key': 'report one.txt'}, ExpiresIn=300))
`;
    const { stdout } = await run(
      'python3',
      ['-c', script, gw.endpoint, cred().accessKeyId, cred().secretAccessKey],
      cleanEnv({ AWS_CONFIG_FILE: path.join(work, 'no-aws-config') }),
      work,
    );
    const url = stdout.trim();
    expect(url).toMatch(/[?&]AWSAccessKeyId=.*&Signature=/);
    expect(await fetchText(url)).toBe('200 linked');
    expect((await fetch(url.replace(/Expires=\d+/, 'Expires=4102444800'))).status).toBe(403);
  });

  it.runIf(hasBoto3())('boto3 generate_presigned_post, then a form upload with its fields', async () => {
    const script = `
import boto3, json, sys
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',
                  aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
print(json.dumps(s3.generate_presigned_post('links', 'posted/\${filename}',
      Conditions=[['content-length-range', 1, 4096]], ExpiresIn=300)))
`;
    const { stdout } = await run(
      'python3',
      ['-c', script, gw.endpoint, cred().accessKeyId, cred().secretAccessKey],
      cleanEnv({ AWS_CONFIG_FILE: path.join(work, 'no-aws-config') }),
      work,
    );
    const post = JSON.parse(stdout) as { url: string; fields: Record<string, string> };
    const form = new FormData();
    for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
    form.append('file', new Blob(['posted by boto3']), 'boto.txt');
    const res = await fetch(post.url, { method: 'POST', body: form });
    expect(res.status).toBe(204);
    const owner = pathStyleClient(gw.endpoint, cred());
    const got = await owner.send(new GetObjectCommand({ Bucket: 'links', Key: 'posted/boto.txt' }));
    expect(await got.Body!.transformToString()).toBe('posted by boto3');
  });

  it.runIf(requireBinary('s3cmd'))('s3cmd signurl, and s3cmd over SigV2 for every request', async () => {
    const expiry = String(Math.floor(Date.now() / 1000) + 300);
    const { stdout } = await s3cmd(['signurl', 's3://links/report one.txt', expiry]);
    expect(stdout.trim()).toMatch(/[?&]AWSAccessKeyId=/);
    expect(await fetchText(stdout.trim())).toBe('200 linked');
    const file = path.join(work, 'v2.txt');
    await writeFile(file, 'signed with v2');
    // SigV2 cannot sign a body and s3cmd sends no Content-MD5 with it: refused while payloads must be verified.
    await expect(s3cmd(['--signature-v2', 'put', file, 's3://links/v2 put.txt'])).rejects.toThrow(
      /Payload verification is enforced/,
    );
    await s3cmd(['put', file, 's3://links/v2 put.txt']);
    const listed = await s3cmd(['--signature-v2', 'ls', 's3://links/']);
    expect(listed.stdout).toContain('s3://links/report one.txt');
    expect(listed.stdout).toContain('s3://links/v2 put.txt');
    await s3cmd([
      '--signature-v2',
      'get',
      '--force',
      's3://links/v2 put.txt',
      path.join(work, 'v2-back.txt'),
    ]);
    expect(await readFile(path.join(work, 'v2-back.txt'), 'utf8')).toBe('signed with v2');
    await s3cmd(['--signature-v2', 'del', 's3://links/v2 put.txt']);
  });

  it.runIf(requireBinary('s3cmd'))('s3cmd put --acl-public and setacl, then anonymous reads', async () => {
    const file = path.join(work, 'public.txt');
    await writeFile(file, 'for everyone');
    await s3cmd(['put', '--acl-public', file, 's3://links/public.txt']);
    expect(await fetchText(`${gw.endpoint}/links/public.txt`)).toBe('200 for everyone');
    expect((await fetch(`${gw.endpoint}/links/report%20one.txt`)).status).toBe(403);
    await s3cmd(['setacl', '--acl-public', 's3://links/report one.txt']);
    expect(await fetchText(`${gw.endpoint}/links/report%20one.txt`)).toBe('200 linked');
    await s3cmd(['setacl', '--acl-private', 's3://links/report one.txt']);
    expect((await fetch(`${gw.endpoint}/links/report%20one.txt`)).status).toBe(403);
  });
});

describe.runIf(requireBinary('rclone'))('rclone (provider Other)', () => {
  const rcloneEnv = () =>
    remoteEnv('coffer', gw.endpoint, env.creds[0]!, path.join(work, 'rclone.conf'), {
      RCLONE_CONFIG_COFFER_REGION: 'us-east-1',
    });
  const rclone = (...args: string[]) => run('rclone', ['--retries', '1', ...args], rcloneEnv(), work);

  it('copies, syncs, lists and checks with a download', async () => {
    const src = path.join(work, 'rclone-src');
    await mkdir(path.join(src, 'nested/deeper'), { recursive: true });
    const files: Record<string, Buffer> = {
      'big.bin': randomBytes(12 * 1024 * 1024),
      'nested/a b+c.txt': Buffer.from('spaces and plus'),
      'nested/deeper/ünicode.txt': Buffer.from('ü'),
      'zero.txt': Buffer.alloc(0),
    };
    for (const [name, data] of Object.entries(files)) await writeFile(path.join(src, name), data);
    await rclone('mkdir', 'coffer:rclone-bucket');
    await rclone('copy', src, 'coffer:rclone-bucket/copy');
    await rclone('check', '--download', src, 'coffer:rclone-bucket/copy');
    await writeFile(path.join(src, 'nested/a b+c.txt'), 'changed');
    await rclone('sync', src, 'coffer:rclone-bucket/copy');
    await rclone('check', '--download', src, 'coffer:rclone-bucket/copy');
    const listing = JSON.parse(
      (await rclone('lsjson', '-R', '--files-only', 'coffer:rclone-bucket/copy')).stdout,
    ) as Array<{
      Path: string;
      Size: number;
    }>;
    expect(listing.map((e) => e.Path).sort()).toEqual(Object.keys(files).sort());
    expect(listing.find((e) => e.Path === 'big.bin')?.Size).toBe(12 * 1024 * 1024);
    const back = path.join(work, 'rclone-back');
    await rclone('copy', 'coffer:rclone-bucket/copy', back);
    expect((await readFile(path.join(back, 'big.bin'))).equals(files['big.bin']!)).toBe(true);
  });

  it('lists a prefix holding more than 1000 keys exactly (v1 marker paging)', async () => {
    const many = path.join(work, 'many');
    await mkdir(many, { recursive: true });
    const names = Array.from(
      { length: 1203 },
      (_, i) => `f-${String(i).padStart(5, '0')}${i % 7 === 0 ? ' spaced' : ''}.txt`,
    );
    for (const n of names) await writeFile(path.join(many, n), n);
    await rclone('copy', '--transfers', '16', '--checkers', '16', many, 'coffer:rclone-bucket/many');
    const listed = (await rclone('lsf', 'coffer:rclone-bucket/many')).stdout.trim().split('\n');
    expect(listed.length).toBe(names.length);
    expect(new Set(listed)).toEqual(new Set(names));
    const dirs = (await rclone('lsf', '--dirs-only', 'coffer:rclone-bucket')).stdout.trim().split('\n');
    expect(dirs).toEqual(['copy/', 'many/']);
  });

  it('turns versioning on and reads old versions back with --s3-versions and --s3-version-at', async () => {
    await rclone('mkdir', 'coffer:rclone-versions');
    await rclone('backend', 'versioning', 'coffer:rclone-versions', 'Enabled');
    expect((await rclone('backend', 'versioning', 'coffer:rclone-versions')).stdout.trim()).toBe('Enabled');
    const file = path.join(work, 'doc.bin');
    const first = randomBytes(70_000);
    const second = randomBytes(90_000);
    await writeFile(file, first);
    await rclone('copyto', file, 'coffer:rclone-versions/doc.bin');
    await new Promise((r) => setTimeout(r, 1100));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    await writeFile(file, second);
    await rclone('copyto', file, 'coffer:rclone-versions/doc.bin');
    // The current listing has one file; with --s3-versions the old one appears beside it, named by its time.
    expect((await rclone('lsf', 'coffer:rclone-versions')).stdout.trim()).toBe('doc.bin');
    const withVersions = (await rclone('lsf', '--s3-versions', 'coffer:rclone-versions')).stdout
      .trim()
      .split('\n');
    expect(withVersions).toHaveLength(2);
    const old = withVersions.find((n) => n !== 'doc.bin')!;
    expect(old).toMatch(/^doc-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.bin$/);
    const back = path.join(work, 'rclone-versions-back');
    await rclone('copy', '--s3-versions', 'coffer:rclone-versions', back);
    expect(md5(await readFile(path.join(back, old)))).toBe(md5(first));
    expect(md5(await readFile(path.join(back, 'doc.bin')))).toBe(md5(second));
    const at = path.join(work, 'rclone-version-at');
    await rclone('copy', '--s3-version-at', between, 'coffer:rclone-versions', at);
    expect(md5(await readFile(path.join(at, 'doc.bin')))).toBe(md5(first));
  });
});

describe('minio-js', () => {
  // Virtual-hosted style needs *.s3.coffer.test to reach the gateway: resolve every name to loopback.
  const loopback: typeof dns.lookup = ((_host: string, opts: unknown, cb: unknown) => {
    const callback = (typeof opts === 'function' ? opts : cb) as (...a: unknown[]) => void;
    const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all;
    if (all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
  }) as typeof dns.lookup;

  for (const style of ['path', 'virtual-host'] as const) {
    it(`puts, stats, lists, gets and removes in ${style} style`, async () => {
      const client = new Minio.Client({
        endPoint: style === 'path' ? '127.0.0.1' : DOMAIN,
        port: gw.port,
        useSSL: false,
        accessKey: env.creds[0]!.accessKeyId,
        secretKey: env.creds[0]!.secretAccessKey,
        region: 'us-east-1',
        pathStyle: style === 'path',
        transportAgent: new http.Agent({ keepAlive: true, lookup: loopback }),
      });
      const bucket = `minio-${style}`;
      await client.makeBucket(bucket, 'us-east-1');
      expect(await client.bucketExists(bucket)).toBe(true);
      const data = randomBytes(2 * 1024 * 1024 + 5);
      await client.putObject(bucket, 'dir/obj ü+.bin', data, data.length, {
        'Content-Type': 'application/x-test',
        'X-Amz-Meta-Origin': 'minio',
      });
      await client.putObject(
        bucket,
        'dir/streamed.bin',
        Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
        data.length,
      );
      const stat = await client.statObject(bucket, 'dir/obj ü+.bin');
      expect(stat.size).toBe(data.length);
      expect(stat.etag).toBe(md5(data));
      expect(stat.metaData['content-type']).toBe('application/x-test');
      expect(stat.metaData['origin']).toBe('minio');
      const chunks: Buffer[] = [];
      for await (const c of await client.getObject(bucket, 'dir/obj ü+.bin')) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(data)).toBe(true);
      const partial: Buffer[] = [];
      for await (const c of await client.getPartialObject(bucket, 'dir/streamed.bin', 10, 100))
        partial.push(c as Buffer);
      expect(Buffer.concat(partial).equals(data.subarray(10, 110))).toBe(true);
      const names: string[] = [];
      for await (const o of client.listObjectsV2(bucket, 'dir/', true))
        names.push((o as { name: string }).name);
      expect(names).toEqual(['dir/obj ü+.bin', 'dir/streamed.bin']);
      await client.removeObjects(bucket, names);
      await client.removeBucket(bucket);
    });
  }
});
