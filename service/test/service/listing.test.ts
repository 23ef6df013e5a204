import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Bucket, ListInput } from '../../src/store/types.js';
import { createTestEnv, type TestEnv } from '../support/gateway.js';

/**
 * Listing pagination driven through the Store with real Postgres, no HTTP: every page walk must give
 * what a plain model of S3 listing gives (UTF-8 byte order, prefix, delimiter, common prefixes rolled
 * up, the marker skipping a whole common prefix).
 */
let env: TestEnv;
let gw: Gateway;
let bucket: Bucket;
const keys = new Set<string>();

beforeAll(async () => {
  env = await createTestEnv();
  gw = await buildGateway(await loadConfig(env.env));
  // Buckets belong to users: the one the first credential of the secrets file was seeded as.
  const owner = gw.credentials.identityOf(env.creds[0]!.accessKeyId)!.canonicalId;
  bucket = await gw.store.buckets.create(owner, 'pages', undefined);
  const parts = ['a', 'a/', 'b/', 'é', 'z', '/', '~', 'a/b', '💾', 'A'];
  while (keys.size < 300) {
    const n = randomInt(1, 5);
    keys.add(Array.from({ length: n }, () => parts[randomInt(parts.length)]).join(''));
  }
  await Promise.all(
    [...keys].map((key) =>
      gw.store.putObject(bucket, {
        key,
        userMetadata: {},
        contentType: 'binary/octet-stream',
        body: (async function* () {
          yield Buffer.from(key);
        })(),
        finalize: async () => ({ etag: '"0"', checksums: {} }),
      }),
    ),
  );
}, 180_000);

afterAll(async () => {
  await gw?.app.close();
  await env?.stop();
});

/** What one full listing returns, computed without the store: sorted by UTF-8 bytes, prefixes rolled up. */
function model(prefix: string, delimiter: string): string[] {
  const entries = new Set<string>();
  for (const k of keys) {
    if (!k.startsWith(prefix)) continue;
    const i = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
    entries.add(i >= 0 ? k.slice(0, i + delimiter.length) : k);
  }
  return [...entries].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
}

async function walk(prefix: string, delimiter: string, maxKeys: number): Promise<string[]> {
  const seen: string[] = [];
  let after = '';
  for (let page = 0; page < 1000; page++) {
    const input: ListInput = { prefix, delimiter, maxKeys, after };
    const r = await gw.store.listObjects(bucket, input);
    const entries = [...r.objects.map((o) => o.key), ...r.commonPrefixes].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y)),
    );
    expect(entries.length).toBeLessThanOrEqual(maxKeys);
    seen.push(...entries);
    if (!r.isTruncated) return seen;
    expect(r.lastEntry).toBe(entries.at(-1));
    after = r.lastEntry!;
  }
  throw new Error('listing never ended');
}

describe('listing pagination (Store, no HTTP)', () => {
  for (const [prefix, delimiter] of [
    ['', ''],
    ['', '/'],
    ['a', '/'],
    ['a/', '/'],
    ['é', ''],
    ['', 'b/'],
  ] as const)
    for (const maxKeys of [1, 7, 1000])
      it(`prefix '${prefix}', delimiter '${delimiter}', ${maxKeys} per page: exactly the model, each entry once`, async () => {
        expect(await walk(prefix, delimiter, maxKeys)).toEqual(model(prefix, delimiter));
      });

  it('answers nothing, not truncated, for max-keys 0', async () => {
    const r = await gw.store.listObjects(bucket, {
      prefix: '',
      delimiter: '',
      maxKeys: 0,
      after: '',
    });
    expect(r).toMatchObject({ objects: [], commonPrefixes: [], isTruncated: false });
  });
});
