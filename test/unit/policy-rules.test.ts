import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fromCompose, fromPulumi, TYPES, type ResourceRecord } from '../../policies/model.js';
import { DEFAULT_RULE_OPTIONS, RULES, evaluate } from '../../policies/rules.js';
import { spawnSync } from 'node:child_process';
import { renderCompose } from '../../scripts/lib/compose.js';
import { topology } from '../../stacks/topology.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
type Compose = {
  services: Record<string, Record<string, unknown>>;
  volumes: Record<string, unknown>;
} & Record<string, unknown>;
const checkedIn = (): Compose =>
  parse(readFileSync(path.join(ROOT, 'docker-compose.yaml'), 'utf8')) as Compose;
const rule = (name: string) => {
  const r = RULES.find((x) => x.name === name);
  if (!r) throw new Error(`no rule ${name}`);
  return r;
};
/** The violations one rule finds in the checked-in compose file after `edit`. */
function violations(name: string, edit: (c: Compose) => void): string[] {
  const doc = checkedIn();
  edit(doc);
  return rule(name).check(fromCompose(doc), DEFAULT_RULE_OPTIONS);
}

describe('policy rules', () => {
  it('every rule passes on the checked-in docker-compose.yaml', () => {
    for (const r of RULES)
      expect(r.check(fromCompose(checkedIn()), DEFAULT_RULE_OPTIONS), r.name).toEqual([]);
  });

  const failing: Array<[string, string, (c: Compose) => void, RegExp]> = [
    [
      'only-nginx-publishes-ports',
      'gateway publishes 3000',
      (c) => (c.services.gateway!.ports = ['3000:3000']),
      /gateway publishes port 3000/,
    ],
    [
      'only-nginx-publishes-ports',
      'postgres publishes 5432',
      (c) => (c.services.postgres!.ports = ['127.0.0.1:5432:5432']),
      /postgres publishes 5432: only nginx/,
    ],
    [
      'only-nginx-publishes-ports',
      'long syntax target 3000',
      (c) => (c.services.gateway!.ports = [{ target: 3000, published: 8000 }]),
      /gateway publishes port 3000/,
    ],
    [
      'no-secret-in-env',
      'a password variable',
      (c) =>
        ((c.services.postgres!.environment as Record<string, string>).POSTGRES_PASSWORD = 'hunter2hunter2'),
      /postgres sets POSTGRES_PASSWORD in its environment/,
    ],
    [
      'no-secret-in-env',
      'a URL with a password',
      (c) =>
        ((c.services.gateway!.environment as Record<string, string>).DATABASE_URL =
          'postgres://coffer:s3cret@postgres/coffer'),
      /gateway sets DATABASE_URL|DATABASE_URL holds a secret value/,
    ],
    [
      'no-secret-in-env',
      'a PEM key under a harmless name',
      (c) =>
        ((c.services.nginx!.environment as Record<string, string>).TLS_CERT =
          '-----BEGIN EC PRIVATE KEY-----\nxx'),
      /TLS_CERT holds a secret value/,
    ],
    [
      'tls-minimum-1.2',
      'TLS 1.1 allowed',
      (c) => ((c.services.nginx!.environment as Record<string, string>).TLS_MIN_VERSION = '1.1'),
      /nginx must set TLS_MIN_VERSION to 1.2 or 1.3 \(got "1.1"\)/,
    ],
    [
      'tls-minimum-1.2',
      'minimum not stated',
      (c) => delete (c.services.nginx!.environment as Record<string, string>).TLS_MIN_VERSION,
      /got nothing/,
    ],
    [
      'payload-verification-enforced',
      'verification off',
      (c) =>
        ((c.services.gateway!.environment as Record<string, string>).ENFORCE_PAYLOAD_VERIFICATION = 'false'),
      /gateway must set ENFORCE_PAYLOAD_VERIFICATION=true \(got "false"\)/,
    ],
    [
      'pinned-image-tags',
      'latest',
      (c) => (c.services.gateway!.image = 'coffer/gateway:latest'),
      /"latest" is not a version/,
    ],
    [
      'pinned-image-tags',
      'untagged',
      (c) => (c.services.nginx!.image = 'registry.lan:5000/coffer/nginx'),
      /untagged image/,
    ],
    [
      'data-on-named-persistent-volumes',
      'no data volume',
      (c) => delete c.services.gateway!.volumes,
      /gateway keeps \/var\/lib\/coffer inside the container/,
    ],
    [
      'data-on-named-persistent-volumes',
      'bind mount',
      (c) => (c.services.postgres!.volumes = ['./pgdata:/var/lib/postgresql/data']),
      /postgres bind-mounts \.\/pgdata/,
    ],
    [
      'data-on-named-persistent-volumes',
      'anonymous volume',
      (c) => (c.services.gateway!.volumes = ['/var/lib/coffer']),
      /anonymous volume/,
    ],
    [
      'data-on-named-persistent-volumes',
      'tmpfs',
      (c) => {
        delete c.services.gateway!.volumes;
        c.services.gateway!.tmpfs = ['/run/coffer', '/var/lib/coffer'];
      },
      /on a tmpfs/,
    ],
    [
      'data-on-named-persistent-volumes',
      'memory-backed volume',
      (c) => (c.volumes['coffer-data'] = { driver_opts: { type: 'tmpfs', device: 'tmpfs' } }),
      /backed by memory/,
    ],
    [
      'restart-and-healthcheck',
      'no restart policy',
      (c) => delete c.services.postgres!.restart,
      /postgres has restart policy "no"/,
    ],
    [
      'restart-and-healthcheck',
      'healthcheck disabled',
      (c) => (c.services.gateway!.healthcheck = { disable: true }),
      /gateway has no healthcheck/,
    ],
    [
      'ca-key-only-as-secret',
      'CA key mounted into nginx',
      (c) => {
        (c.secrets as Record<string, unknown>).ca_key = { file: './secrets/ca.key' };
        (c.services.nginx!.secrets as string[]).push('ca_key');
      },
      /nginx receives the root CA private key/,
    ],
  ];
  for (const [name, what, edit, message] of failing)
    it(`${name} fails on ${what}`, () => {
      const found = violations(name, edit);
      expect(found.join('\n')).toMatch(message);
      // Each fixture breaks its own rule and no other, so the rules do not overlap.
      const doc = checkedIn();
      edit(doc);
      const others = evaluate(fromCompose(doc)).filter((r) => r.violations.length && r.rule !== name);
      expect(others.map((r) => r.rule)).toEqual([]);
    });

  it('an image pinned by digest passes', () => {
    expect(
      violations(
        'pinned-image-tags',
        (c) => (c.services.gateway!.image = `coffer/gateway@sha256:${'a'.repeat(64)}`),
      ),
    ).toEqual([]);
  });

  describe('over Pulumi resources', () => {
    const caPem = '-----BEGIN PRIVATE KEY-----\nQ0Eta2V5\n-----END PRIVATE KEY-----\n';
    const records = (
      over: Partial<Record<'key' | 'cert' | 'nginxUpload', Partial<ResourceRecord>>> = {},
    ): ResourceRecord[] => [
      {
        type: TYPES.privateKey,
        name: 'root-ca-key',
        props: { privateKeyPem: caPem },
        additionalSecretOutputs: ['privateKeyPem'],
        ...over.key,
      },
      {
        type: TYPES.selfSignedCert,
        name: 'root-ca',
        props: { privateKeyPem: caPem, isCaCertificate: true },
        additionalSecretOutputs: ['privateKeyPem'],
        ...over.cert,
      },
      {
        type: TYPES.container,
        name: 'nginx',
        props: {
          name: 'coffer-nginx',
          image: 'coffer/nginx:0.1.0',
          envs: ['TLS_MIN_VERSION=1.2'],
          uploads: [
            { file: '/run/secrets/server_key', content: 'server key', ...(over.nginxUpload?.props ?? {}) },
          ],
          ports: [{ internal: 443, external: 443 }],
          restart: 'unless-stopped',
          healthcheck: { tests: ['CMD', 'nginx-health'] },
        },
        additionalSecretOutputs: [],
      },
    ];
    const caRule = (r: ResourceRecord[]) =>
      rule('ca-key-only-as-secret').check(fromPulumi(r), DEFAULT_RULE_OPTIONS);

    it('passes when the CA key is a declared secret output reaching no container', () => {
      expect(evaluate(fromPulumi(records())).filter((r) => r.violations.length)).toEqual([]);
    });
    it('fails when the CA key is not a secret output', () => {
      expect(caRule(records({ key: { additionalSecretOutputs: [] } }))).toEqual([
        'the root CA private key in root-ca-key.privateKeyPem is not a Pulumi secret',
      ]);
    });
    it('fails when a container receives the CA key', () => {
      expect(caRule(records({ nginxUpload: { props: { content: caPem } } }))).toEqual([
        'coffer-nginx receives the root CA private key (root-ca.privateKeyPem): only the server key belongs there',
        'coffer-nginx receives the root CA private key (root-ca-key.privateKeyPem): only the server key belongs there',
      ]);
    });
    it('reads a Pulumi container with no restart policy as "no"', () => {
      const r = records();
      delete r[2]!.props.restart;
      expect(rule('restart-and-healthcheck').check(fromPulumi(r), DEFAULT_RULE_OPTIONS)).toEqual([
        'coffer-nginx has restart policy "no": use unless-stopped or always',
      ]);
    });
  });
});

describe('compliance-archive rules', () => {
  const archive = (): Compose =>
    parse(
      renderCompose(
        topology({ preset: { buckets: ['records'], retentionMode: 'COMPLIANCE', retentionDays: 400 } }),
      ),
    ) as Compose;
  const site = { requireArchive: true, minRetentionDays: 365 };
  const env = (c: Compose, service: string) => c.services[service]!.environment as Record<string, string>;
  const failed = (doc: Compose) =>
    evaluate(fromCompose(doc), site)
      .filter((r) => r.violations.length)
      .map((r) => ({ rule: r.rule, violations: r.violations }));

  it('every rule passes on the preset as the topology renders it, even where the site requires archives', () => {
    expect(failed(archive())).toEqual([]);
  });

  it('a site that requires archives refuses a deployment without the preset', () => {
    expect(failed(checkedIn())).toEqual([
      {
        rule: 'archive-preset-complete',
        violations: ['gateway must set PRESET=compliance-archive: this site deploys only archives'],
      },
    ]);
  });

  const breaking: Array<[string, string, (c: Compose) => void, RegExp]> = [
    [
      'archive-preset-complete',
      'no archive bucket',
      (c) => (env(c, 'gateway').ARCHIVE_BUCKETS = ''),
      /gateway's ARCHIVE_BUCKETS: buckets must name at least one bucket/,
    ],
    [
      'archive-preset-complete',
      'keys not mounted',
      (c) =>
        (c.services.gateway!.secrets = (c.services.gateway!.secrets as string[]).filter(
          (x) => x !== 'archive_credentials_json',
        )),
      /gateway must mount the archive keys as a secret file/,
    ],
    [
      'archive-retention-minimum',
      'a retention shorter than the site requires',
      (c) => {
        env(c, 'gateway').ARCHIVE_RETENTION_DAYS = '30';
      },
      /gateway keeps new versions 30 days: this site requires at least 365/,
    ],
    [
      'archive-retention-minimum',
      'an unknown mode',
      (c) => (env(c, 'gateway').ARCHIVE_RETENTION_MODE = 'NONE'),
      /retention mode must be COMPLIANCE or GOVERNANCE/,
    ],
    [
      'archive-sigv2-off',
      'SigV2 on',
      (c) => (env(c, 'gateway').SIGV2_ENABLED = 'true'),
      /gateway must set SIGV2_ENABLED=false/,
    ],
    [
      'archive-acls-disabled',
      'legacy bucket defaults',
      (c) => (env(c, 'gateway').BUCKET_DEFAULTS = 'legacy'),
      /gateway must keep BUCKET_DEFAULTS=current/,
    ],
    [
      'archive-tls-1.3',
      'TLS 1.2 allowed',
      (c) => (env(c, 'nginx').TLS_MIN_VERSION = '1.2'),
      /nginx must set TLS_MIN_VERSION=1.3 in front of a compliance archive \(got "1.2"\)/,
    ],
    [
      'archive-audit-retention',
      'audit records kept less long than the objects',
      (c) => (env(c, 'gateway').AUDIT_RETENTION_DAYS = '380'),
      /gateway keeps audit records 380 days: a compliance archive needs at least 400/,
    ],
  ];
  for (const [name, what, edit, message] of breaking)
    it(`${name} fails on ${what}, and no other rule does`, () => {
      const doc = archive();
      edit(doc);
      const found = failed(doc);
      expect(found.map((r) => r.rule)).toEqual([name]);
      expect(found[0]!.violations.join('\n')).toMatch(message);
    });
});

describe('npm run policy', () => {
  it('passes on the checked-in compose file and fails, naming the rule, on a copy publishing port 3000', () => {
    const policy = (...args: string[]) =>
      spawnSync('node', ['--import', 'tsx', 'scripts/policy.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
    const ok = policy();
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`all ${RULES.length} rules pass`);
    const site = policy('--require-archive', '--min-retention-days', '365');
    expect(site.status).toBe(1);
    expect(site.stdout).toContain('FAIL archive-preset-complete');
    expect(policy('--min-retention-days', 'year').stderr.trim()).toBe(
      'coffer: --min-retention-days must be a number of days (got year)',
    );

    const dir = mkdtempSync(path.join(tmpdir(), 'coffer-policy-'));
    try {
      const doc = checkedIn();
      doc.services.gateway!.ports = ['3000:3000'];
      const file = path.join(dir, 'docker-compose.yaml');
      writeFileSync(file, stringify(doc));
      const bad = policy('--file', file);
      expect(bad.status).toBe(1);
      expect(bad.stdout).toContain('FAIL only-nginx-publishes-ports');
      expect(bad.stdout).toContain(
        'gateway publishes port 3000: the gateway must only be reached through nginx TLS',
      );
      expect(bad.stderr).toContain(`1 of ${RULES.length} rules violated`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
