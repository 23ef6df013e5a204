import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { pathStyleClient } from '../support/s3-client.js';
import { sql } from '../support/sql.js';

let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;
let other: S3Client;

function client(i: number, extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  return pathStyleClient(gw.endpoint, env.creds[i]!, extra);
}

async function body(out: { Body?: unknown }): Promise<Buffer> {
  return Buffer.from(
    await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

async function s3Error(p: Promise<unknown>): Promise<{ code: string; status: number }> {
  const o = await outcome(p);
  if (o.code === 'OK') throw new Error('expected an S3 error');
  return o;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = client(0);
  other = client(1);
});

afterAll(async () => {
  s3?.destroy();
  other?.destroy();
  await gw?.close();
  await env?.stop();
});

describe('buckets', () => {
  it('creates, lists only the caller’s, heads, locates and deletes', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
    await other.send(new CreateBucketCommand({ Bucket: 'bravo-other' }));
    const mine = await s3.send(new ListBucketsCommand({}));
    expect(mine.Buckets?.map((b) => b.Name)).toEqual(['alpha']);
    // A user's canonical id, as AWS's, with its name (here the key it was migrated from) as DisplayName.
    expect(mine.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    expect(mine.Owner?.DisplayName).toBe(env.creds[0]!.accessKeyId);
    await s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));
    const loc = await s3.send(new GetBucketLocationCommand({ Bucket: 'alpha' }));
    expect(loc.LocationConstraint ?? '').toBe('');
    await s3.send(new DeleteBucketCommand({ Bucket: 'alpha' }));
    expect(await s3Error(s3.send(new HeadBucketCommand({ Bucket: 'alpha' })))).toMatchObject({ status: 404 });
  });

  it('enforces naming rules and ownership', async () => {
    for (const bad of [
      'ab',
      'UPPER',
      'has_underscore',
      '-dash',
      'dot..dot',
      '192.168.1.1',
      'xn--punycode',
      'a'.repeat(64),
    ]) {
      expect(await s3Error(s3.send(new CreateBucketCommand({ Bucket: bad })))).toMatchObject({
        code: 'InvalidBucketName',
        status: 400,
      });
    }
    await s3.send(new CreateBucketCommand({ Bucket: 'owned' }));
    // us-east-1 answers re-creating your own bucket with success (bad-input.test.ts covers other regions).
    await s3.send(new CreateBucketCommand({ Bucket: 'owned' }));
    expect(await s3Error(other.send(new CreateBucketCommand({ Bucket: 'owned' })))).toMatchObject({
      code: 'BucketAlreadyExists',
      status: 409,
    });
    expect(
      await s3Error(other.send(new PutObjectCommand({ Bucket: 'owned', Key: 'x', Body: 'x' }))),
    ).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(await s3Error(other.send(new ListObjectsV2Command({ Bucket: 'owned' })))).toMatchObject({
      code: 'AccessDenied',
    });
    expect(await s3Error(s3.send(new ListObjectsV2Command({ Bucket: 'missing-bucket' })))).toMatchObject({
      code: 'NoSuchBucket',
      status: 404,
    });
  });

  it('accepts its own region as LocationConstraint and refuses another', async () => {
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'located',
        CreateBucketConfiguration: { LocationConstraint: 'us-east-1' as never },
      }),
    );
    expect(
      await s3Error(
        s3.send(
          new CreateBucketCommand({
            Bucket: 'elsewhere',
            CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
          }),
        ),
      ),
    ).toMatchObject({ code: 'InvalidLocationConstraint', status: 400 });
  });

  it('refuses to delete a non-empty bucket', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'full' }));
    await s3.send(new PutObjectCommand({ Bucket: 'full', Key: 'k', Body: 'v' }));
    expect(await s3Error(s3.send(new DeleteBucketCommand({ Bucket: 'full' })))).toMatchObject({
      code: 'BucketNotEmpty',
      status: 409,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: 'full', Key: 'k' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'full' }));
  });
});

describe('objects', () => {
  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'objects' }));
  });

  const keys = [
    'a',
    'a/',
    'a/b',
    'A',
    'folder/',
    'with space.txt',
    'plus+sign',
    'percent%20not-a-space',
    'unicodé/日本語/🙂.txt',
    'semi;colon?question#hash&amp',
    'k'.repeat(1024),
    'ü'.repeat(512),
  ];
  for (const key of keys) {
    it(`round-trips key ${JSON.stringify(key.slice(0, 40))}${key.length > 40 ? '…' : ''}`, async () => {
      const data = Buffer.from(`content of ${key}`);
      const put = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: key, Body: data }));
      expect(put.ETag).toBe(`"${md5(data)}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: key }));
      expect((await body(got)).equals(data)).toBe(true);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'objects', Prefix: key }));
      expect(listed.Contents?.[0]?.Key).toBe(key);
    });
  }

  it('refuses a key over 1024 bytes', async () => {
    expect(
      await s3Error(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'é'.repeat(513), Body: 'x' }))),
    ).toMatchObject({
      code: 'KeyTooLongError',
    });
  });

  for (const size of [0, 1, 50 * 1024 * 1024]) {
    it(`stores ${size} bytes from a Buffer and from an fs.ReadStream byte-exact`, async () => {
      const data = randomBytes(size);
      const file = path.join(env.dir, `upload-${size}`);
      await writeFile(file, data);
      await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: `sized/${size}`, Body: data }));
      const fromStream = await s3.send(
        new PutObjectCommand({
          Bucket: 'objects',
          Key: `sized/${size}-stream`,
          Body: createReadStream(file),
          ContentLength: size,
        }),
      );
      expect(fromStream.ETag).toBe(`"${md5(data)}"`);
      for (const key of [`sized/${size}`, `sized/${size}-stream`]) {
        const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: key }));
        expect(got.ContentLength).toBe(size);
        expect(got.ETag).toBe(`"${md5(data)}"`);
        expect((await body(got)).equals(data)).toBe(true);
      }
    });
  }

  it('stores and returns content headers and user metadata', async () => {
    const expires = new Date('2030-01-01T00:00:00Z');
    await s3.send(
      new PutObjectCommand({
        Bucket: 'objects',
        Key: 'headers.html',
        Body: '<p>hi</p>',
        ContentType: 'text/html; charset=utf-8',
        ContentEncoding: 'identity',
        ContentDisposition: 'attachment; filename="hi.html"',
        ContentLanguage: 'en-GB',
        CacheControl: 'max-age=60',
        Expires: expires,
        Metadata: { 'color-name': 'Blue Sky', number: '42' },
      }),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'headers.html' }));
    expect(head).toMatchObject({
      ContentType: 'text/html; charset=utf-8',
      ContentEncoding: 'identity',
      ContentDisposition: 'attachment; filename="hi.html"',
      ContentLanguage: 'en-GB',
      CacheControl: 'max-age=60',
      Metadata: { 'color-name': 'Blue Sky', number: '42' },
      ContentLength: 9,
    });
    expect(head.ExpiresString ?? head.Expires?.toUTCString()).toContain('2030');
    const overridden = await s3.send(
      new GetObjectCommand({
        Bucket: 'objects',
        Key: 'headers.html',
        ResponseContentType: 'application/x-override',
        ResponseContentDisposition: 'inline',
        ResponseCacheControl: 'no-store',
        ResponseContentLanguage: 'fr',
      }),
    );
    expect(overridden).toMatchObject({
      ContentType: 'application/x-override',
      ContentDisposition: 'inline',
      CacheControl: 'no-store',
      ContentLanguage: 'fr',
    });
  });

  it('refuses more than 2 KB of user metadata', async () => {
    const Metadata = { big: 'x'.repeat(2100) };
    expect(
      await s3Error(s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'meta', Body: 'x', Metadata }))),
    ).toMatchObject({
      code: 'MetadataTooLarge',
      status: 400,
    });
  });

  it('serves ranges and refuses unsatisfiable ones', async () => {
    const data = randomBytes(200_000);
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'ranged', Body: data }));
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=100-65636', 100, 65636],
      ['bytes=150000-', 150000, 199999],
      ['bytes=-1000', 199000, 199999],
      ['bytes=199990-500000', 199990, 199999],
      ['bytes=-500000', 0, 199999],
    ];
    for (const [Range, start, end] of cases) {
      const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'ranged', Range }));
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect(got.ContentRange).toBe(`bytes ${start}-${end}/200000`);
      expect((await body(got)).equals(data.subarray(start, end + 1))).toBe(true);
    }
    expect(
      await s3Error(
        s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'ranged', Range: 'bytes=200000-' })),
      ),
    ).toMatchObject({
      code: 'InvalidRange',
      status: 416,
    });
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'empty', Body: '' }));
    expect(
      await s3Error(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'empty', Range: 'bytes=0-' }))),
    ).toMatchObject({
      status: 416,
    });
  });

  it('applies conditional headers with AWS precedence', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'cond', Body: 'conditional' }));
    const etag = put.ETag!;
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'cond' }));
    const lm = head.LastModified!;
    const before = new Date(lm.getTime() - 60_000);
    const after = new Date(lm.getTime() + 60_000);
    const get = (input: Record<string, unknown>) =>
      s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'cond', ...input }));
    expect((await get({ IfMatch: etag })).$metadata.httpStatusCode).toBe(200);
    expect(await s3Error(get({ IfMatch: '"nope"' }))).toMatchObject({ status: 412 });
    expect(await s3Error(get({ IfNoneMatch: etag }))).toMatchObject({ status: 304 });
    expect((await get({ IfNoneMatch: '"nope"' })).$metadata.httpStatusCode).toBe(200);
    expect(await s3Error(get({ IfModifiedSince: after }))).toMatchObject({ status: 304 });
    expect((await get({ IfModifiedSince: before })).$metadata.httpStatusCode).toBe(200);
    expect(await s3Error(get({ IfUnmodifiedSince: before }))).toMatchObject({ status: 412 });
    // If-Match true wins over a failing If-Unmodified-Since; If-None-Match false wins over If-Modified-Since.
    expect((await get({ IfMatch: etag, IfUnmodifiedSince: before })).$metadata.httpStatusCode).toBe(200);
    expect((await get({ IfNoneMatch: '"nope"', IfModifiedSince: after })).$metadata.httpStatusCode).toBe(200);
    expect(await s3Error(get({ IfNoneMatch: etag, IfModifiedSince: before }))).toMatchObject({ status: 304 });
  });

  it('deletes, answering 204 also for a missing key', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'doomed', Body: 'x' }));
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'doomed' }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    expect(
      (await s3.send(new DeleteObjectCommand({ Bucket: 'objects', Key: 'doomed' }))).$metadata.httpStatusCode,
    ).toBe(204);
    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: 'objects', Key: 'doomed' })))).toMatchObject({
      code: 'NoSuchKey',
      status: 404,
    });
    expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key: 'doomed' })))).toMatchObject(
      { status: 404 },
    );
  });

  it('deletes many keys, verbose and quiet, with a CRC checksum and no Content-MD5', async () => {
    const ks = Array.from({ length: 1000 }, (_, i) => `batch/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < ks.length; i += 100) {
      await Promise.all(
        ks
          .slice(i, i + 100)
          .map((Key) => s3.send(new PutObjectCommand({ Bucket: 'objects', Key, Body: Key }))),
      );
    }
    const verbose = await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'objects',
        Delete: { Objects: [...ks.slice(0, 500), 'batch/missing'].map((Key) => ({ Key })) },
      }),
    );
    expect(verbose.Deleted?.length).toBe(501);
    expect(verbose.Errors ?? []).toEqual([]);
    const quiet = await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'objects',
        Delete: { Quiet: true, Objects: ks.slice(500).map((Key) => ({ Key })) },
      }),
    );
    expect(quiet.Deleted ?? []).toEqual([]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: 'objects', Prefix: 'batch/' }));
    expect(left.KeyCount).toBe(0);
    expect(
      await s3Error(
        s3.send(
          new DeleteObjectsCommand({
            Bucket: 'objects',
            Delete: { Objects: Array.from({ length: 1001 }, (_, i) => ({ Key: `k${i}` })) },
          }),
        ),
      ),
    ).toMatchObject({ code: 'MalformedXML' });
  });

  it('stores and returns flexible checksums', async () => {
    for (const ChecksumAlgorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const data = randomBytes(100_000);
      const Key = `checksum/${ChecksumAlgorithm}`;
      const put = await s3.send(
        new PutObjectCommand({ Bucket: 'objects', Key, Body: data, ChecksumAlgorithm }),
      );
      const field = `Checksum${ChecksumAlgorithm}` as const;
      expect(put[field]).toBeTruthy();
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'objects', Key, ChecksumMode: 'ENABLED' }));
      expect(head[field]).toBe(put[field]);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'objects', Key, ChecksumMode: 'ENABLED' }));
      expect((await body(got)).equals(data)).toBe(true);
      expect(got[field]).toBe(put[field]);
    }
  });

  it('refuses a wrong Content-MD5 or checksum and stores nothing', async () => {
    const wrongMd5 = Buffer.alloc(16, 1).toString('base64');
    expect(
      await s3Error(
        s3.send(
          new PutObjectCommand({ Bucket: 'objects', Key: 'bad-md5', Body: 'data', ContentMD5: wrongMd5 }),
        ),
      ),
    ).toMatchObject({ code: 'BadDigest', status: 400 });
    expect(
      await s3Error(
        s3.send(
          new PutObjectCommand({
            Bucket: 'objects',
            Key: 'bad-crc',
            Body: 'data',
            ChecksumCRC32: 'AAAAAA==',
          }),
        ),
      ),
    ).toMatchObject({ code: 'BadDigest', status: 400 });
    for (const Key of ['bad-md5', 'bad-crc']) {
      expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: 'objects', Key })))).toMatchObject({
        status: 404,
      });
    }
  });

  it('works with presigned GET and PUT URLs and refuses them after expiry', async () => {
    const putUrl = await getSignedUrl(
      s3,
      new PutObjectCommand({ Bucket: 'objects', Key: 'presigned file.txt' }),
      { expiresIn: 60 },
    );
    const put = await fetch(putUrl, { method: 'PUT', body: 'via presigned url' });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: 'objects', Key: 'presigned file.txt' }),
      { expiresIn: 60 },
    );
    const got = await fetch(getUrl);
    expect(await got.text()).toBe('via presigned url');
    const expired = await getSignedUrl(
      s3,
      new GetObjectCommand({ Bucket: 'objects', Key: 'presigned file.txt' }),
      {
        expiresIn: 1,
        signingDate: new Date(Date.now() - 10_000),
      },
    );
    const res = await fetch(expired);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('answers authentication failures with their S3 codes', async () => {
    const unknown = pathStyleClient(gw.endpoint, {
      accessKeyId: 'AKIANOBODY',
      secretAccessKey: 'whatever-secret',
    });
    expect(await s3Error(unknown.send(new ListBucketsCommand({})))).toMatchObject({
      code: 'InvalidAccessKeyId',
      status: 403,
    });
    const wrong = client(0, {
      credentials: { accessKeyId: env.creds[0]!.accessKeyId, secretAccessKey: 'not-the-secret' },
    });
    expect(await s3Error(wrong.send(new ListBucketsCommand({})))).toMatchObject({
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
    const skewed = client(0, { systemClockOffset: -20 * 60 * 1000 });
    expect(await s3Error(skewed.send(new ListBucketsCommand({})))).toMatchObject({
      code: 'RequestTimeTooSkewed',
      status: 403,
    });
    const anon = await fetch(`${gw.endpoint}/objects/a`);
    expect(anon.status).toBe(403);
    expect(anon.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
    expect(await anon.text()).toMatch(
      /<Error><Code>AccessDenied<\/Code><Message>.+<\/Message><Resource>\/objects\/a<\/Resource><RequestId>/,
    );
    for (const c of [unknown, wrong, skewed]) c.destroy();
  });

  it('never writes object data in plaintext, neither under DATA_DIR nor in Postgres (small objects live there)', async () => {
    const marker = Buffer.from('COFFER-PLAINTEXT-CANARY-');
    // Under Postgres's 2 kB TOAST threshold, so an inline value is never compressed out of sight.
    const small = Buffer.concat(Array.from({ length: 10 }, () => marker));
    const large = Buffer.concat(Array.from({ length: 200_000 }, () => marker));
    // A control the search must find: user metadata is stored as given, in Postgres.
    const control = 'COFFER-METADATA-CONTROL';
    await s3.send(
      new PutObjectCommand({
        Bucket: 'objects',
        Key: 'canary-small',
        Body: small,
        Metadata: { probe: control },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'objects', Key: 'canary-large', Body: large }));
    // Everything committed reaches the data files, not only the WAL.
    await sql(env.pg.url, 'CHECKPOINT');
    const filesUnder = async (root: string): Promise<string[]> => {
      const files: string[] = [];
      const walk = async (d: string): Promise<void> => {
        for (const e of await readdir(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile()) files.push(p);
        }
      };
      await walk(root);
      return files;
    };
    const dataFiles = await filesUnder(env.env.DATA_DIR!);
    const pgFiles = await filesUnder(env.pg.dataDir);
    expect(dataFiles.length).toBeGreaterThan(0);
    let controlSeen = false;
    for (const f of [...dataFiles, ...pgFiles]) {
      // Postgres may remove a temporary file between the listing and the read.
      const bytes = await readFile(f).catch(() => Buffer.alloc(0));
      expect(bytes.includes(marker), f).toBe(false);
      controlSeen ||= bytes.includes(control);
    }
    expect(controlSeen, 'the search reaches what Postgres stores').toBe(true);
  });
});

describe('concurrent overwrites', () => {
  it('keeps exactly one of many racing writers and frees every other version at once', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'racing' }));
    const blobFiles = async () => {
      const dir = path.join(env.env.DATA_DIR!, 'blobs');
      let n = 0;
      for (const d of await readdir(dir)) n += (await readdir(path.join(dir, d))).length;
      return n;
    };
    const before = await blobFiles();
    const bodies = Array.from({ length: 24 }, () => randomBytes(200_000));
    await Promise.all(
      bodies.map((Body) => s3.send(new PutObjectCommand({ Bucket: 'racing', Key: 'contested', Body }))),
    );
    const got = await body(await s3.send(new GetObjectCommand({ Bucket: 'racing', Key: 'contested' })));
    expect(bodies.some((b) => b.equals(got))).toBe(true);
    // Superseded and replaced versions are freed right after their commit, not left for the collector.
    expect(await blobFiles()).toBe(before + 1);
  });
});
