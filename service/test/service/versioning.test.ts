import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import knex from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobBackend } from '../../src/blobs/backends.js';
import { holdTrash, readBlob, snapshotBlobs } from '../../src/store/backup.js';
import { createTestEnv, startGateway, type RunningGateway, type TestEnv } from '../support/gateway.js';
import { outcome } from '../support/outcome.js';
import { managementClient } from '../support/management.js';
import { pathStyleClient } from '../support/s3-client.js';
import { signedFetch } from '../support/signed-fetch.js';

/** S3 versioning as AWS documents it, driven with the AWS SDK v3 and raw signed requests. */
let env: TestEnv;
let gw: RunningGateway;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv();
  gw = await startGateway(env.env);
  s3 = pathStyleClient(gw.endpoint, env.creds[0]!);
}, 120_000);

afterAll(async () => {
  s3?.destroy();
  await gw?.close();
  await env?.stop();
});

async function text(out: { Body?: unknown }): Promise<string> {
  return (out.Body as { transformToString(): Promise<string> }).transformToString();
}

async function versionedBucket(name: string, status: 'Enabled' | 'Suspended' = 'Enabled') {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: status } }),
  );
}

const put = (Bucket: string, Key: string, Body: string) =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body }));

async function allVersions(Bucket: string, extra: { Prefix?: string } = {}) {
  const out = await s3.send(new ListObjectVersionsCommand({ Bucket, ...extra }));
  return [
    ...(out.Versions ?? []).map((v) => ({ key: v.Key, id: v.VersionId, latest: v.IsLatest, marker: false })),
    ...(out.DeleteMarkers ?? []).map((v) => ({
      key: v.Key,
      id: v.VersionId,
      latest: v.IsLatest,
      marker: true,
    })),
  ];
}

describe('bucket versioning configuration', () => {
  it('answers an empty configuration for a never-versioned bucket, then Enabled and Suspended', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'vcfg' }));
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vcfg' }))).Status).toBeUndefined();
    for (const Status of ['Enabled', 'Suspended'] as const) {
      await s3.send(new PutBucketVersioningCommand({ Bucket: 'vcfg', VersioningConfiguration: { Status } }));
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'vcfg' }))).Status).toBe(Status);
    }
  });

  it('refuses MFA delete and a configuration without a valid status', async () => {
    const mfa = await outcome(
      s3.send(
        new PutBucketVersioningCommand({
          Bucket: 'vcfg',
          VersioningConfiguration: { Status: 'Enabled', MFADelete: 'Enabled' },
        }),
      ),
    );
    expect(mfa).toMatchObject({ code: 'NotImplemented', status: 501 });
    const bad = await signedFetch(gw.endpoint, env.creds[0]!, {
      method: 'PUT',
      path: '/vcfg?versioning',
      body: '<VersioningConfiguration><Status>On</Status></VersioningConfiguration>',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('<Code>IllegalVersioningConfigurationException</Code>');
  });

  it('refuses another credential', async () => {
    const other = pathStyleClient(gw.endpoint, env.creds[1]!);
    expect(await outcome(other.send(new GetBucketVersioningCommand({ Bucket: 'vcfg' })))).toMatchObject({
      code: 'AccessDenied',
    });
  });
});

describe('versions of an object', () => {
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    await versionedBucket('ver');
    v1 = (await put('ver', 'doc.txt', 'first')).VersionId!;
    v2 = (await put('ver', 'doc.txt', 'second')).VersionId!;
  });

  it('gives every write its own version id and keeps the old ones readable', async () => {
    expect(v1).toMatch(/^[A-Za-z0-9._]{32}$/);
    expect(v2).not.toBe(v1);
    const latest = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }));
    expect([await text(latest), latest.VersionId]).toEqual(['second', v2]);
    const old = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v1 }));
    expect([await text(old), old.VersionId]).toEqual(['first', v1]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v1 }));
    expect([head.ContentLength, head.VersionId]).toEqual([5, v1]);
  });

  it('answers NoSuchVersion for an unknown version and InvalidArgument for a malformed one', async () => {
    const unknown = 'A'.repeat(32);
    expect(
      await outcome(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: unknown }))),
    ).toMatchObject({ code: 'NoSuchVersion', status: 404 });
    expect(
      await outcome(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: 'nope' }))),
    ).toMatchObject({ code: 'InvalidArgument', status: 400 });
  });

  it('lists only current versions in ListObjectsV2 and every version, newest first, in ListObjectVersions', async () => {
    await put('ver', 'other.txt', 'x');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'ver' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['doc.txt', 'other.txt']);
    const versions = await allVersions('ver');
    expect(versions.filter((v) => v.key === 'doc.txt')).toEqual([
      { key: 'doc.txt', id: v2, latest: true, marker: false },
      { key: 'doc.txt', id: v1, latest: false, marker: false },
    ]);
  });

  it('hides a deleted key behind a delete marker, answering 404 and 405 with the headers S3 sends', async () => {
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'other.txt' }));
    expect(del.DeleteMarker).toBe(true);
    const marker = del.VersionId!;
    expect(marker).toMatch(/^[A-Za-z0-9._]{32}$/);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'ver' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(['doc.txt']);
    const get = await signedFetch(gw.endpoint, env.creds[0]!, { path: '/ver/other.txt' });
    expect(get.status).toBe(404);
    expect(get.text).toContain('<Code>NoSuchKey</Code>');
    expect(get.headers.get('x-amz-delete-marker')).toBe('true');
    expect(get.headers.get('x-amz-version-id')).toBe(marker);
    const byId = await signedFetch(gw.endpoint, env.creds[0]!, {
      path: `/ver/other.txt?versionId=${marker}`,
    });
    expect(byId.status).toBe(405);
    expect(byId.text).toContain('<Code>MethodNotAllowed</Code>');
    expect(byId.headers.get('x-amz-delete-marker')).toBe('true');
    expect(byId.headers.get('allow')).toBe('DELETE');
    // The SDK returns versions and delete markers as two lists.
    expect((await allVersions('ver')).filter((v) => v.key === 'other.txt')).toEqual([
      { key: 'other.txt', id: expect.any(String), latest: false, marker: false },
      { key: 'other.txt', id: marker, latest: true, marker: true },
    ]);
    // Removing the marker brings the object back.
    const undo = await s3.send(
      new DeleteObjectCommand({ Bucket: 'ver', Key: 'other.txt', VersionId: marker }),
    );
    expect([undo.DeleteMarker, undo.VersionId]).toEqual([true, marker]);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'other.txt' })))).toBe('x');
  });

  it('deletes one version for good; deleting the current one makes the previous current', async () => {
    const v3 = (await put('ver', 'doc.txt', 'third')).VersionId!;
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v3 }));
    expect(del.VersionId).toBe(v3);
    expect(del.DeleteMarker).toBeUndefined();
    const now = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }));
    expect([await text(now), now.VersionId]).toEqual(['second', v2]);
    expect(
      await outcome(s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v3 }))),
    ).toMatchObject({ code: 'NoSuchVersion' });
  });

  it('restores an old version by copying it over its key', async () => {
    const copy = await s3.send(
      new CopyObjectCommand({ Bucket: 'ver', Key: 'doc.txt', CopySource: `ver/doc.txt?versionId=${v1}` }),
    );
    expect(copy.CopySourceVersionId).toBe(v1);
    expect(copy.VersionId).toMatch(/^[A-Za-z0-9._]{32}$/);
    const now = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }));
    expect([await text(now), now.VersionId]).toEqual(['first', copy.VersionId]);
  });

  it('lists, restores and deletes versions through the management API', async () => {
    const api = managementClient(gw.endpoint, { key: env.admin.apiKey });
    const before = await api('GET', '/buckets/ver/versions/doc.txt');
    expect(before.status).toBe(200);
    const versions = before.body.versions as Array<{ version_id: string; is_latest: boolean }>;
    expect(versions.map((v) => v.version_id)).toContain(v1);
    expect(versions.filter((v) => v.is_latest)).toHaveLength(1);
    const restored = await api('POST', '/buckets/ver/versions/doc.txt', { version_id: v2 });
    expect(restored).toMatchObject({ status: 201, body: { restored_from: v2 } });
    const now = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' }));
    expect([await text(now), now.VersionId]).toEqual(['second', restored.body.version_id]);
    expect(
      (await api('DELETE', `/buckets/ver/versions/doc.txt?version_id=${restored.body.version_id}`)).status,
    ).toBe(200);
    expect(await text(await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'doc.txt' })))).toBe('first');
  });

  it('tags one version without touching the others', async () => {
    await s3.send(
      new PutObjectTaggingCommand({
        Bucket: 'ver',
        Key: 'doc.txt',
        VersionId: v1,
        Tagging: { TagSet: [{ Key: 'era', Value: 'old' }] },
      }),
    );
    const old = await s3.send(new GetObjectTaggingCommand({ Bucket: 'ver', Key: 'doc.txt', VersionId: v1 }));
    expect(old.TagSet).toEqual([{ Key: 'era', Value: 'old' }]);
    const current = await s3.send(new GetObjectTaggingCommand({ Bucket: 'ver', Key: 'doc.txt' }));
    expect(current.TagSet).toEqual([]);
  });

  it('deletes versions and adds markers in one DeleteObjects call', async () => {
    const a = (await put('ver', 'batch/a', 'a')).VersionId!;
    await put('ver', 'batch/b', 'b');
    const out = await s3.send(
      new DeleteObjectsCommand({
        Bucket: 'ver',
        Delete: { Objects: [{ Key: 'batch/a', VersionId: a }, { Key: 'batch/b' }] },
      }),
    );
    const byKey = Object.fromEntries((out.Deleted ?? []).map((d) => [d.Key, d]));
    expect(byKey['batch/a']).toMatchObject({ VersionId: a });
    expect(byKey['batch/a']!.DeleteMarker).toBeFalsy();
    expect(byKey['batch/b']).toMatchObject({ DeleteMarker: true, DeleteMarkerVersionId: expect.any(String) });
    expect(await allVersions('ver', { Prefix: 'batch/' })).toEqual([
      { key: 'batch/b', id: expect.any(String), latest: false, marker: false },
      { key: 'batch/b', id: byKey['batch/b']!.DeleteMarkerVersionId, latest: true, marker: true },
    ]);
  });

  it('gives a completed multipart upload a version id', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'ver', Key: 'mp' }));
    const part = await s3.send(
      new UploadPartCommand({ Bucket: 'ver', Key: 'mp', UploadId, PartNumber: 1, Body: 'only part' }),
    );
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'ver',
        Key: 'mp',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(done.VersionId).toMatch(/^[A-Za-z0-9._]{32}$/);
    // A client retrying Complete after a lost answer gets the same version back.
    const retried = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'ver',
        Key: 'mp',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
    );
    expect(retried.VersionId).toBe(done.VersionId);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'mp', VersionId: done.VersionId }));
    expect(await text(got)).toBe('only part');
  });

  it('keeps old versions through the collector: their data is referenced, not garbage', async () => {
    const big = randomBytes(300 * 1024);
    const first = (await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'big', Body: big }))).VersionId!;
    await s3.send(new PutObjectCommand({ Bucket: 'ver', Key: 'big', Body: randomBytes(300 * 1024) }));
    await gw.gateway.collector.runOnce(0);
    const old = await s3.send(new GetObjectCommand({ Bucket: 'ver', Key: 'big', VersionId: first }));
    expect(
      Buffer.from(
        await (old.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      ).equals(big),
    ).toBe(true);
  });
});

describe('a backup hold', () => {
  it('keeps every blob a snapshot references through deletes, overwrites and the collector, until released', async () => {
    const db = knex({ client: 'pg', connection: env.pg.url, pool: { min: 0, max: 2 } });
    const backend = createBlobBackend({ kind: 'fs', dataDir: env.env.DATA_DIR! });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'held' }));
      const bodies = { gone: randomBytes(200 * 1024), replaced: randomBytes(200 * 1024) };
      for (const [Key, Body] of Object.entries(bodies))
        await s3.send(new PutObjectCommand({ Bucket: 'held', Key, Body }));
      const hold = await holdTrash(db);
      const inSnapshot = await db.transaction((trx) => snapshotBlobs(trx), {
        isolationLevel: 'repeatable read',
      });
      await s3.send(new DeleteObjectCommand({ Bucket: 'held', Key: 'gone' }));
      await s3.send(new PutObjectCommand({ Bucket: 'held', Key: 'replaced', Body: 'new' }));
      await gw.gateway.collector.runOnce(0);
      const now = await db.transaction((trx) => snapshotBlobs(trx));
      const dropped = inSnapshot.filter((b) => !now.some((n) => n.id === b.id));
      expect(dropped).toHaveLength(2);
      // Both dropped blobs are still whole: a backup of the snapshot can copy them.
      const sealedBytes = async (b: (typeof dropped)[number]) => {
        let n = 0;
        for await (const chunk of readBlob(backend, b)) n += chunk.length;
        return n;
      };
      for (const b of dropped) expect(await sealedBytes(b)).toBe(b.length);
      await hold.release();
      await gw.gateway.collector.runOnce(0);
      for (const b of dropped) await expect(backend.open(b.id, b.length)).rejects.toThrow();
      // A hold whose backup died stops holding once it expires.
      await db('backup_holds').insert({ id: 'died', expires_at: db.raw(`now() - interval '1 second'`) });
      await s3.send(new PutObjectCommand({ Bucket: 'held', Key: 'big', Body: randomBytes(200 * 1024) }));
      const [big] = (await db.transaction((trx) => snapshotBlobs(trx))).filter(
        (b) => !now.some((n) => n.id === b.id),
      );
      await s3.send(new DeleteObjectCommand({ Bucket: 'held', Key: 'big' }));
      await gw.gateway.collector.runOnce(0);
      await expect(backend.open(big!.id, big!.length)).rejects.toThrow();
      await db('backup_holds').where({ id: 'died' }).delete();
    } finally {
      await db.destroy();
    }
  });
});

describe('suspended versioning and unversioned buckets', () => {
  it('writes the null version in a suspended bucket, replacing only it and keeping older versions', async () => {
    await versionedBucket('susp');
    const kept = (await put('susp', 'k', 'versioned')).VersionId!;
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'susp', VersioningConfiguration: { Status: 'Suspended' } }),
    );
    expect((await put('susp', 'k', 'null one')).VersionId).toBe('null');
    expect((await put('susp', 'k', 'null two')).VersionId).toBe('null');
    expect(await allVersions('susp')).toEqual([
      { key: 'k', id: 'null', latest: true, marker: false },
      { key: 'k', id: kept, latest: false, marker: false },
    ]);
    expect(
      await text(await s3.send(new GetObjectCommand({ Bucket: 'susp', Key: 'k', VersionId: 'null' }))),
    ).toBe('null two');
    // A delete in a suspended bucket puts a null delete marker in place of the null version.
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'susp', Key: 'k' }));
    expect([del.DeleteMarker, del.VersionId]).toEqual([true, 'null']);
    expect(await allVersions('susp')).toEqual([
      { key: 'k', id: kept, latest: false, marker: false },
      { key: 'k', id: 'null', latest: true, marker: true },
    ]);
  });

  it('sends no version headers for a never-versioned bucket, and serves its null version by id', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
    const putOut = await put('plain', 'k', 'v');
    expect(putOut.VersionId).toBeUndefined();
    const got = await s3.send(new GetObjectCommand({ Bucket: 'plain', Key: 'k', VersionId: 'null' }));
    expect([await text(got), got.VersionId]).toEqual(['v', undefined]);
    const del = await s3.send(new DeleteObjectCommand({ Bucket: 'plain', Key: 'k', VersionId: 'null' }));
    expect(del.DeleteMarker).toBeUndefined();
    expect(await outcome(s3.send(new GetObjectCommand({ Bucket: 'plain', Key: 'k' })))).toMatchObject({
      code: 'NoSuchKey',
    });
  });

  it('deletes a bucket only once no version or delete marker is left', async () => {
    await versionedBucket('emptying');
    const v = (await put('emptying', 'k', 'x')).VersionId!;
    const marker = (await s3.send(new DeleteObjectCommand({ Bucket: 'emptying', Key: 'k' }))).VersionId!;
    expect(await outcome(s3.send(new DeleteBucketCommand({ Bucket: 'emptying' })))).toMatchObject({
      code: 'BucketNotEmpty',
    });
    await s3.send(new DeleteObjectCommand({ Bucket: 'emptying', Key: 'k', VersionId: v }));
    expect(await outcome(s3.send(new DeleteBucketCommand({ Bucket: 'emptying' })))).toMatchObject({
      code: 'BucketNotEmpty',
    });
    await s3.send(new DeleteObjectCommand({ Bucket: 'emptying', Key: 'k', VersionId: marker }));
    expect(await outcome(s3.send(new DeleteBucketCommand({ Bucket: 'emptying' })))).toMatchObject({
      code: 'OK',
    });
  });
});

describe('ListObjectVersions paging', () => {
  /** Every (key, version) of the bucket as one listing gives it. */
  let full: Array<{ key: string; id: string; latest: boolean }>;

  beforeAll(async () => {
    await versionedBucket('pages');
    for (const key of ['a', 'b/1', 'b/2', 'c', 'é']) {
      const n = key === 'c' ? 4 : 2;
      for (let i = 0; i < n; i++) await put('pages', key, `${key}${i}`);
    }
    await s3.send(new DeleteObjectCommand({ Bucket: 'pages', Key: 'a' }));
    full = sorted(await s3.send(new ListObjectVersionsCommand({ Bucket: 'pages' })));
  });

  /** Versions and markers of one page in S3's order: keys ascending, each key's versions newest first. */
  function sorted(out: ListObjectVersionsCommandOutput) {
    const all = [
      ...(out.Versions ?? []).map((v) => ({
        key: v.Key!,
        id: v.VersionId!,
        latest: !!v.IsLatest,
        t: v.LastModified,
      })),
      ...(out.DeleteMarkers ?? []).map((v) => ({
        key: v.Key!,
        id: v.VersionId!,
        latest: !!v.IsLatest,
        t: v.LastModified,
      })),
    ];
    return all.map(({ key, id, latest }) => ({ key, id, latest }));
  }

  it('lists keys in byte order and each key with its latest version first', () => {
    expect(full.length).toBe(2 + 1 + 2 + 2 + 4 + 2);
    const keys = [...new Set(full.map((v) => v.key))];
    expect(keys.sort()).toEqual(['a', 'b/1', 'b/2', 'c', 'é']);
    for (const key of keys) expect(full.filter((v) => v.key === key).filter((v) => v.latest)).toHaveLength(1);
  });

  for (const maxKeys of [1, 2, 3, 5])
    it(`walks every version exactly once, ${maxKeys} per page, with key and version-id markers`, async () => {
      const seen: Array<{ key: string; id: string; latest: boolean }> = [];
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      for (let i = 0; i < 100; i++) {
        const out = await s3.send(
          new ListObjectVersionsCommand({ Bucket: 'pages', MaxKeys: maxKeys, KeyMarker, VersionIdMarker }),
        );
        const page = sorted(out);
        expect(page.length).toBeLessThanOrEqual(maxKeys);
        seen.push(...page);
        if (!out.IsTruncated) break;
        KeyMarker = out.NextKeyMarker;
        VersionIdMarker = out.NextVersionIdMarker;
      }
      const byId = (x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id);
      expect([...seen].sort(byId)).toEqual([...full].sort(byId));
    });

  it('URL-encodes keys and markers with encoding-type=url', async () => {
    await put('ver', 'sp ace/ü', 'x');
    const res = await signedFetch(gw.endpoint, env.creds[0]!, {
      path: '/ver?versions&encoding-type=url&prefix=sp',
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<EncodingType>url</EncodingType>');
    expect(res.text).toContain('<Key>sp+ace/%C3%BC</Key>');
  });

  describe('with a delimiter', () => {
    beforeAll(async () => {
      await versionedBucket('folders');
      for (const [key, n] of [
        ['a', 2],
        ['b/1', 2],
        ['b/2', 1],
        ['c', 3],
        ['d/1', 1],
        ['é', 1],
      ] as const)
        for (let i = 0; i < n; i++) await put('folders', key, `${key}${i}`);
      await s3.send(new DeleteObjectCommand({ Bucket: 'folders', Key: 'a' }));
    });

    for (const maxKeys of [1, 2, 3])
      it(`pages through common prefixes and versions, each entry once, ${maxKeys} per page`, async () => {
        const entries: string[] = [];
        let KeyMarker: string | undefined;
        let VersionIdMarker: string | undefined;
        for (let i = 0; i < 100; i++) {
          const out = await s3.send(
            new ListObjectVersionsCommand({
              Bucket: 'folders',
              Delimiter: '/',
              MaxKeys: maxKeys,
              KeyMarker,
              VersionIdMarker,
            }),
          );
          const page = [
            ...sorted(out).map((v) => `${v.key}@${v.id}`),
            ...(out.CommonPrefixes ?? []).map((p) => p.Prefix!),
          ];
          expect(page.length).toBeLessThanOrEqual(maxKeys);
          entries.push(...page);
          if (!out.IsTruncated) break;
          KeyMarker = out.NextKeyMarker;
          VersionIdMarker = out.NextVersionIdMarker;
        }
        const all = sorted(await s3.send(new ListObjectVersionsCommand({ Bucket: 'folders' })));
        const expected = [
          ...all.filter((v) => !v.key.includes('/')).map((v) => `${v.key}@${v.id}`),
          'b/',
          'd/',
        ];
        expect([...entries].sort()).toEqual([...expected].sort());
      });
  });

  it('rolls keys up into common prefixes with a delimiter', async () => {
    const out = await s3.send(new ListObjectVersionsCommand({ Bucket: 'pages', Delimiter: '/' }));
    expect(out.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['b/']);
    expect(new Set(sorted(out).map((v) => v.key))).toEqual(new Set(['a', 'c', 'é']));
  });
});
