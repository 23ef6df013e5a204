import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderCompose } from '../../scripts/lib/compose.js';
import { deployOptions, presetOptions, saveSettings } from '../../scripts/lib/deploy.js';
import { setupCredentials } from '../../scripts/lib/secrets.js';
import { parseArchiveKeys } from '../../service/src/auth/credentials.js';
import { topology } from '../../stacks/topology.js';

/** `up --preset compliance-archive` as the operator meets it: what it deploys, and what it refuses. */
let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'coffer-preset-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

const archive = { buckets: ['records'], retentionMode: 'COMPLIANCE', retentionDays: 400 } as const;

describe('the preset in the topology', () => {
  it('turns off what an archive must not have, whatever the other options say', () => {
    const t = topology({
      preset: { ...archive, buckets: ['records'] },
      signatureV2: true,
      tlsMinVersion: '1.2',
    });
    const gateway = t.services.find((s) => s.name === 'gateway')!;
    const nginx = t.services.find((s) => s.name === 'nginx')!;
    expect(gateway.env).toMatchObject({
      PRESET: 'compliance-archive',
      ARCHIVE_BUCKETS: 'records',
      ARCHIVE_RETENTION_MODE: 'COMPLIANCE',
      ARCHIVE_RETENTION_DAYS: '400',
      ARCHIVE_CREDENTIALS_FILE: '/run/secrets/archive_credentials_json',
      SIGV2_ENABLED: 'false',
      ENFORCE_PAYLOAD_VERIFICATION: 'true',
      BUCKET_DEFAULTS: 'current',
      AUDIT_RETENTION_DAYS: '400',
    });
    expect(nginx.env.TLS_MIN_VERSION).toBe('1.3');
    expect(gateway.secrets.map((s) => s.name)).toContain('archive_credentials_json');
    expect(renderCompose(t)).toContain('file: ./secrets/archive_credentials_json.txt');
  });

  it('keeps audit records a year at least, even for a shorter retention', () => {
    const gateway = topology({
      preset: { ...archive, buckets: ['records'], retentionDays: 30 },
    }).services.find((s) => s.name === 'gateway')!;
    expect(gateway.env.AUDIT_RETENTION_DAYS).toBe('365');
  });

  it('adds nothing to a deployment without it', () => {
    const t = topology({});
    expect(Object.keys(t.secrets)).not.toContain('archive_credentials_json');
    expect(t.services.find((s) => s.name === 'gateway')!.env.PRESET).toBeUndefined();
  });
});

describe('up --preset compliance-archive', () => {
  it('is kept in deployment.json, so a plain up later deploys the same archive', async () => {
    await saveSettings(
      root,
      deployOptions(
        { preset: 'compliance-archive', 'archive-buckets': 'records,ledgers', 'retention-days': '400' },
        root,
      ),
    );
    const again = deployOptions({}, root);
    expect(again.preset).toEqual({
      buckets: ['records', 'ledgers'],
      retentionMode: 'COMPLIANCE',
      retentionDays: 400,
    });
    expect(again.signatureV2).toBe(false);
    expect(JSON.parse(await readFile(path.join(root, 'deployment.json'), 'utf8')).preset.retentionDays).toBe(
      400,
    );
    // Stricter is allowed: a longer retention and another bucket.
    expect(
      deployOptions({ 'retention-days': '500', 'archive-buckets': 'records,ledgers,mail' }, root).preset,
    ).toMatchObject({ retentionDays: 500, buckets: ['records', 'ledgers', 'mail'] });
  });

  it.each([
    [{ preset: 'none' }, /is a compliance archive \(deployment.json\): --preset none would drop/],
    [{ 'retention-days': '30' }, /the retention would shrink from 400 to 30 days/],
    [{ 'archive-buckets': 'records' }, /the archive bucket\(s\) ledgers would be left out/],
    [{ 'retention-mode': 'governance' }, /from COMPLIANCE to GOVERNANCE/],
    [{ sigv2: 'on' }, /--sigv2 on contradicts --preset compliance-archive/],
    [{ 'bucket-defaults': 'legacy' }, /--bucket-defaults legacy contradicts/],
  ])('refuses to weaken a saved archive: %o', (argv, message) => {
    const saved = {
      buckets: ['records', 'ledgers'],
      retentionMode: 'COMPLIANCE' as const,
      retentionDays: 400,
    };
    expect(() => presetOptions(argv, saved)).toThrow(message);
  });

  it.each([
    [{ preset: 'archive' }, /--preset must be compliance-archive or none/],
    [{ 'retention-days': '30' }, /--retention-days needs --preset compliance-archive/],
    [{ preset: 'compliance-archive', 'retention-days': 'ten' }, /retention days must be an integer/],
    [{ preset: 'compliance-archive', 'archive-buckets': 'Records' }, /bucket 'Records' may contain only/],
  ])('refuses what it does not understand: %o', (argv, message) => {
    expect(() => presetOptions(argv, undefined)).toThrow(message);
  });

  it('gets its own keys from setup-credentials, written once and backed up', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-preset-secrets-'));
    try {
      const opts = {
        root: dir,
        domain: 'localhost',
        extraHosts: [],
        extraIps: [],
        force: false,
        archive: true,
      };
      await setupCredentials(opts);
      const file = path.join(dir, 'secrets/archive_credentials_json.txt');
      const text = await readFile(file, 'utf8');
      const keys = parseArchiveKeys(text);
      expect(keys.ingest.accessKeyId).not.toBe(keys.reader.accessKeyId);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      await setupCredentials({ ...opts, force: true });
      expect(await readFile(file, 'utf8')).toBe(text);
      const backup = JSON.parse(await readFile(path.join(dir, 'credentials.json'), 'utf8'));
      expect(backup.archive_credentials.ingest.client_id).toBe(keys.ingest.accessKeyId);
      await rm(file);
      await setupCredentials({ ...opts, archive: false });
      expect(existsSync(file)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
