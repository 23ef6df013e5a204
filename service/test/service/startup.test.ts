import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestEnv, startGateway, type TestEnv } from '../support/gateway.js';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env?.stop());

describe('startup', () => {
  it('lets several gateways migrate one fresh database at the same time', async () => {
    const gateways = await Promise.all([1, 2, 3, 4].map(() => startGateway(env.env)));
    const health = await Promise.all(gateways.map((g) => fetch(`${g.endpoint}/ready`).then((r) => r.status)));
    expect(health).toEqual([200, 200, 200, 200]);
    await Promise.all(gateways.map((g) => g.close()));
  });

  const broken: Array<[string, (e: Record<string, string>) => Promise<void> | void, RegExp]> = [
    [
      'missing master key file',
      (e) => void (e.MASTER_KEY_FILE = '/nonexistent/master.key'),
      /^configuration: MASTER_KEY_FILE points at \/nonexistent\/master.key, which cannot be read \(ENOENT\)$/,
    ],
    [
      'short master key',
      async (e) => writeFile(e.MASTER_KEY_FILE!, 'abcd'),
      /^configuration: MASTER_KEY_FILE .* must hold 32 bytes/,
    ],
    [
      'credentials not JSON',
      async (e) => writeFile(e.CREDENTIALS_FILE!, '{nope'),
      /^configuration: CREDENTIALS_FILE .* is not valid JSON$/,
    ],
    [
      'credential without secret',
      async (e) => writeFile(e.CREDENTIALS_FILE!, '[{"client_id":"abc"}]'),
      /CREDENTIALS_FILE .* entry 0 needs a client_secret/,
    ],
    [
      'no database url',
      (e) => void delete e.DATABASE_URL_FILE,
      /^configuration: DATABASE_URL_FILE is not set/,
    ],
    [
      'bad enforcement flag',
      (e) => void (e.ENFORCE_PAYLOAD_VERIFICATION = 'yes please'),
      /^configuration: ENFORCE_PAYLOAD_VERIFICATION must be true or false/,
    ],
    [
      'bad port',
      (e) => void (e.PORT = '70000'),
      /^configuration: PORT must be an integer between 0 and 65535/,
    ],
    ['no data dir', (e) => void delete e.DATA_DIR, /^configuration: DATA_DIR is not set$/],
    [
      'unknown direct I/O mode',
      (e) => void (e.BLOB_DIRECT_IO = 'always'),
      /^configuration: BLOB_DIRECT_IO must be one of auto, off \(got 'always'\)$/,
    ],
  ];
  for (const [name, breakIt, message] of broken) {
    it(`refuses to start with one line naming the problem: ${name}`, async () => {
      const dir = path.join(env.dir, name.replace(/\W+/g, '-'));
      const { mkdir, copyFile } = await import('node:fs/promises');
      await mkdir(dir, { recursive: true });
      const e = { ...env.env };
      for (const k of ['MASTER_KEY_FILE', 'CREDENTIALS_FILE'] as const) {
        const copy = path.join(dir, path.basename(e[k]!));
        await copyFile(e[k]!, copy);
        e[k] = copy;
      }
      await breakIt(e);
      const err = await loadConfig(e).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  }
});
