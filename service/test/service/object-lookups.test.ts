import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Bucket } from '../../src/store/types.js';
import { createTestEnv, type TestEnv } from '../support/gateway.js';

/**
 * Concurrent GETs share their metadata lookups (store/object-lookups.ts): whatever batch a lookup lands
 * in, it must get its own key's object in its own bucket, a missing key must stay missing, and a write
 * acknowledged before a GET was asked must be what that GET reads.
 */
let env: TestEnv;
let gw: Gateway;
let first: Bucket;
let second: Bucket;

/** Writes `content` under `key`; resolves the new version's id. */
async function put(bucket: Bucket, key: string, content: string): Promise<string | undefined> {
  const info = await gw.store.putObject(bucket, {
    key,
    userMetadata: {},
    contentType: 'text/plain',
    body: (async function* () {
      yield Buffer.from(content);
    })(),
    finalize: async () => ({ etag: `"${content}"`, checksums: {} }),
  });
  return info.versionId;
}

/** The object's content, or the S3 error code its GET failed with. */
async function read(bucket: Bucket, key: string, versionId?: string): Promise<string> {
  try {
    const obj = await gw.store.getObject(bucket, key, versionId);
    const chunks: Buffer[] = [];
    for await (const c of gw.store.readObject(obj, 0, obj.info.size - 1)) chunks.push(c);
    expect(obj.info.key).toBe(key);
    return Buffer.concat(chunks).toString();
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

beforeAll(async () => {
  env = await createTestEnv();
  gw = await buildGateway(await loadConfig(env.env));
  const owner = gw.credentials.identityOf(env.creds[0]!.accessKeyId)!.canonicalId;
  first = await gw.store.buckets.create(owner, 'lookups-one', undefined);
  second = await gw.store.buckets.create(owner, 'lookups-two', undefined);
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 150; i++) {
    writes.push(put(first, `k/${i}`, `one ${i}`));
    // The same keys in another bucket, with other content: a lookup must not take its neighbour's bucket.
    if (i % 2 === 0) writes.push(put(second, `k/${i}`, `two ${i}`));
  }
  await Promise.all(writes);
}, 120_000);

afterAll(async () => {
  await gw?.app.close();
  await env?.stop();
});

describe('batched current-object lookups', () => {
  it('give each concurrent GET its own bucket and key, and missing keys stay missing', async () => {
    const asked: Array<[Bucket, string, string]> = [];
    for (let i = 0; i < 150; i++) {
      asked.push([first, `k/${i}`, `one ${i}`]);
      asked.push([second, `k/${i}`, i % 2 === 0 ? `two ${i}` : 'NoSuchKey']);
      asked.push([first, `missing/${i}`, 'NoSuchKey']);
      // The same key asked twice in one batch gets two answers.
      if (i % 10 === 0) asked.push([first, `k/${i}`, `one ${i}`]);
    }
    const got = await Promise.all(asked.map(([b, k]) => read(b, k)));
    expect(got).toEqual(asked.map(([, , want]) => want));
  });

  it('read what was acknowledged before the GET, while other GETs keep lookups in flight', async () => {
    let stop = false;
    const background = Array.from({ length: 8 }, async () => {
      for (let i = 0; !stop; i++) await read(first, `k/${i % 150}`);
    });
    try {
      for (let round = 0; round < 40; round++) {
        await put(second, 'changing', `round ${round}`);
        expect(await read(second, 'changing')).toBe(`round ${round}`);
      }
    } finally {
      stop = true;
      await Promise.all(background);
    }
  });
});

describe('group-committed writes', () => {
  // Batches of every size: prepared per size up to 32 rows, parsed each time beyond (store/insert-batcher.ts).
  it('commit each concurrent PUT with its own content, whether it creates or replaces its key', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `group/${i}`);
    await Promise.all(keys.map((k, i) => put(first, k, `created ${i}`)));
    expect(await Promise.all(keys.map((k) => read(first, k)))).toEqual(keys.map((_, i) => `created ${i}`));
    // Replacements in growing waves, beside a write of the same key in the other bucket.
    for (const wave of [1, 2, 5, 17, 33, 64, 181]) {
      const written = keys.slice(0, wave);
      await Promise.all([
        ...written.map((k, i) => put(first, k, `wave ${wave} ${i}`)),
        put(second, written[0]!, `beside ${wave}`),
      ]);
      expect(await Promise.all(written.map((k) => read(first, k)))).toEqual(
        written.map((_, i) => `wave ${wave} ${i}`),
      );
      expect(await read(second, written[0]!)).toBe(`beside ${wave}`);
    }
    expect(await read(first, 'group/299')).toBe('created 299');
  });
});

describe('group-committed versions', () => {
  // The same batch sizes in a versioned bucket, and the same key twice in a batch (a later round of it).
  it('give each concurrent PUT its own version, the last one current and every other one readable', async () => {
    const owner = gw.credentials.identityOf(env.creds[0]!.accessKeyId)!.canonicalId;
    await gw.store.buckets.setVersioning(
      await gw.store.buckets.create(owner, 'lookups-versioned', undefined),
      'Enabled',
    );
    const bucket = (await gw.store.buckets.byName('lookups-versioned'))!;
    const keys = Array.from({ length: 120 }, (_, i) => `v/${i}`);
    const written = new Map<string, Map<string, string>>(keys.map((k) => [k, new Map()]));
    const write = async (key: string, content: string) => {
      const id = await put(bucket, key, content);
      expect(id).toBeTruthy();
      written.get(key)!.set(id!, content);
    };
    for (const wave of [120, 1, 2, 5, 17, 33, 64, 120]) {
      await Promise.all([
        ...keys.slice(0, wave).map((k, i) => write(k, `wave ${wave} ${i}`)),
        write(keys[0]!, `again ${wave}`),
        put(second, keys[0]!, `beside ${wave}`),
      ]);
    }
    const listed = await gw.store.listVersions(bucket, {
      prefix: 'v/',
      delimiter: '',
      maxKeys: 1000,
      keyMarker: '',
      versionIdMarker: '',
    });
    for (const key of keys) {
      const versions = listed.versions.filter((v) => v.key === key);
      expect(new Set(versions.map((v) => v.versionId))).toEqual(new Set(written.get(key)!.keys()));
      expect(versions[0]!.isLatest).toBe(true);
      expect(await read(bucket, key)).toBe(written.get(key)!.get(versions[0]!.versionId));
      for (const [id, content] of written.get(key)!) expect(await read(bucket, key, id)).toBe(content);
    }
    expect(await read(bucket, 'v/119')).toBe('wave 120 119');
  });
});
