/**
 * The rules a Coffer deployment must satisfy, as plain functions over a DeploymentView. The CrossGuard
 * pack (policies/index.ts) and `npm run policy` (compose) both run exactly these.
 */
import { archivePresetProblems, type ArchivePreset } from '../service/src/parse/archive-preset.js';
import { roleOf, type ContainerView, type DeploymentView } from './model.js';

/** What a site requires beyond the rules' own: CrossGuard policy config, or npm run policy's options. */
export interface RuleOptions {
  /** Every deployment checked must be a compliance archive. */
  requireArchive: boolean;
  /** The shortest default retention an archive may have, in days. */
  minRetentionDays: number;
}

export const DEFAULT_RULE_OPTIONS: RuleOptions = { requireArchive: false, minRetentionDays: 1 };

export interface Rule {
  name: string;
  description: string;
  /** Violations, one readable sentence each; empty when the deployment complies. */
  check(view: DeploymentView, options: RuleOptions): string[];
}

const GATEWAY_PORT = 3000;
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const RESTART_POLICIES = ['always', 'unless-stopped', 'on-failure'];
const SECRET_ENV_NAME = /PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|(^|_)KEY$|_KEY_/;
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i;

const byRole = (view: DeploymentView, role: string) =>
  view.containers.filter((c) => roleOf(c.image) === role);

/** The directory a service keeps its data in, per role. */
function dataDirs(c: ContainerView): string[] {
  switch (roleOf(c.image)) {
    case 'gateway':
      return [c.env.DATA_DIR ?? '/var/lib/coffer'];
    case 'postgres':
      return [c.env.PGDATA ?? '/var/lib/postgresql/data'];
    default:
      return [];
  }
}

/** The gateways that claim the compliance-archive preset. */
const archiveGateways = (view: DeploymentView) =>
  byRole(view, 'gateway').filter((c) => c.env.PRESET === 'compliance-archive');

/** A rule about archives: it checks each archive gateway (and nginx in front of one) only. */
const whenArchive =
  (check: (view: DeploymentView, gateways: ContainerView[], o: RuleOptions) => string[]) =>
  (view: DeploymentView, o: RuleOptions) => {
    const gateways = archiveGateways(view);
    return gateways.length ? check(view, gateways, o) : [];
  };

/** The preset as a gateway's environment states it (what the gateway applies at every start). */
function presetOf(c: ContainerView): ArchivePreset {
  return {
    buckets: (c.env.ARCHIVE_BUCKETS ?? '').split(',').filter(Boolean),
    retentionMode: (c.env.ARCHIVE_RETENTION_MODE ?? 'COMPLIANCE') as ArchivePreset['retentionMode'],
    retentionDays: Number(c.env.ARCHIVE_RETENTION_DAYS ?? 365),
  };
}

const ARCHIVE_RULES: Rule[] = [
  {
    name: 'archive-preset-complete',
    description:
      'A compliance archive names its buckets (versioned, object-locked, ACL-less, public access blocked by the gateway) and gets its keys as a secret file; where archives are required, every deployment is one.',
    check: (view, o) => {
      const gateways = byRole(view, 'gateway');
      const archives = archiveGateways(view);
      const out = o.requireArchive
        ? gateways
            .filter((c) => !archives.includes(c))
            .map((c) => `${c.name} must set PRESET=compliance-archive: this site deploys only archives`)
        : [];
      for (const c of archives) {
        const problems = archivePresetProblems(presetOf(c)).filter((p) => !/retention/.test(p));
        out.push(...problems.map((p) => `${c.name}'s ARCHIVE_BUCKETS: ${p}`));
        const keys = c.env.ARCHIVE_CREDENTIALS_FILE;
        if (!keys || !c.secretFiles.some((f) => f.path === keys))
          out.push(
            `${c.name} must mount the archive keys as a secret file named by ARCHIVE_CREDENTIALS_FILE`,
          );
      }
      return out;
    },
  },
  {
    name: 'archive-retention-minimum',
    description: 'An archive keeps every new version at least the required number of days, in a valid mode.',
    check: whenArchive((_view, gateways, o) =>
      gateways.flatMap((c) => {
        const p = presetOf(c);
        const out = archivePresetProblems(p)
          .filter((x) => /retention/.test(x))
          .map((x) => `${c.name}: ${x}`);
        if (Number.isInteger(p.retentionDays) && p.retentionDays < o.minRetentionDays)
          out.push(
            `${c.name} keeps new versions ${p.retentionDays} days: this site requires at least ${o.minRetentionDays}`,
          );
        return out;
      }),
    ),
  },
  {
    name: 'archive-sigv2-off',
    description:
      'An archive refuses Signature Version 2 (SIGV2_ENABLED=false): SHA-1 signatures and week-long links.',
    check: whenArchive((_view, gateways) =>
      gateways
        .filter((c) => c.env.SIGV2_ENABLED !== 'false')
        .map((c) => `${c.name} must set SIGV2_ENABLED=false for a compliance archive`),
    ),
  },
  {
    name: 'archive-acls-disabled',
    description:
      "An archive's buckets start with ACLs disabled and public access blocked (BUCKET_DEFAULTS=current).",
    check: whenArchive((_view, gateways) =>
      gateways
        .filter((c) => (c.env.BUCKET_DEFAULTS ?? 'current') !== 'current')
        .map(
          (c) =>
            `${c.name} must keep BUCKET_DEFAULTS=current for a compliance archive (ACLs off, public access blocked)`,
        ),
    ),
  },
  {
    name: 'archive-tls-1.3',
    description: 'nginx in front of an archive accepts TLS 1.3 only.',
    check: whenArchive((view) =>
      byRole(view, 'nginx')
        .filter((c) => c.env.TLS_MIN_VERSION !== '1.3')
        .map(
          (c) =>
            `${c.name} must set TLS_MIN_VERSION=1.3 in front of a compliance archive (got ${JSON.stringify(c.env.TLS_MIN_VERSION ?? null)})`,
        ),
    ),
  },
  {
    name: 'archive-audit-retention',
    description:
      "An archive's audit records are kept a year at least, and never for less time than its objects.",
    check: whenArchive((_view, gateways) =>
      gateways.flatMap((c) => {
        const days = Number(c.env.AUDIT_RETENTION_DAYS ?? 365);
        const wanted = Math.max(365, presetOf(c).retentionDays);
        return days >= wanted
          ? []
          : [
              `${c.name} keeps audit records ${days} days: a compliance archive needs at least ${wanted} (AUDIT_RETENTION_DAYS)`,
            ];
      }),
    ),
  },
];

const DEPLOYMENT_RULES: Rule[] = [
  {
    name: 'only-nginx-publishes-ports',
    description: `The gateway's port ${GATEWAY_PORT} is never published; only nginx publishes ports to the network (Prometheus only on this host's loopback).`,
    check: (view) =>
      view.containers.flatMap((c) => {
        const loopbackOnly = roleOf(c.image) === 'prometheus';
        const published = c.ports.filter(
          (p) => p.published !== undefined && !(loopbackOnly && LOOPBACK.test(p.hostIp ?? '')),
        );
        const out: string[] = [];
        if (c.ports.some((p) => p.target === GATEWAY_PORT || p.published === GATEWAY_PORT))
          out.push(
            `${c.name} publishes port ${GATEWAY_PORT}: the gateway must only be reached through nginx TLS`,
          );
        else if (published.length && loopbackOnly)
          out.push(
            `${c.name} publishes ${published.map((p) => p.published).join(', ')} beyond loopback: Prometheus answers this host only (127.0.0.1)`,
          );
        else if (published.length && roleOf(c.image) !== 'nginx')
          out.push(
            `${c.name} publishes ${published.map((p) => p.published).join(', ')}: only nginx may publish ports`,
          );
        return out;
      }),
  },
  {
    name: 'no-secret-in-env',
    description: 'No secret value in any container environment: secrets are files under /run/secrets.',
    check: (view) => {
      const known = [
        ...view.containers.flatMap((c) => c.secretFiles.map((f) => f.content?.trim())),
        ...view.caKeys.map((k) => k.value?.trim()),
      ].filter((v): v is string => !!v && v.length >= 8);
      return view.containers.flatMap((c) =>
        Object.entries(c.env).flatMap(([k, v]) => {
          if (SECRET_ENV_NAME.test(k) && !k.endsWith('_FILE'))
            return [`${c.name} sets ${k} in its environment: pass it as a secret file (${k}_FILE)`];
          if (PEM_KEY.test(v) || URL_WITH_PASSWORD.test(v) || known.some((s) => v.includes(s)))
            return [`${c.name}'s environment variable ${k} holds a secret value`];
          return [];
        }),
      );
    },
  },
  {
    name: 'blob-store-keys-as-secret',
    description:
      "A gateway keeping blobs in a remote store (BLOB_BACKEND=s3) reads the store's keys from a secret file, never from its environment.",
    check: (view) =>
      byRole(view, 'gateway')
        .filter((c) => c.env.BLOB_BACKEND === 's3')
        .flatMap((c) => {
          const file = c.env.BLOB_S3_CREDENTIALS_FILE;
          if (file && file.startsWith('/run/secrets/') && c.secretFiles.some((f) => f.path === file))
            return [];
          return [
            `${c.name} keeps blobs in ${c.env.BLOB_S3_ENDPOINT ?? 'a remote store'} but does not read its keys from a secret file (BLOB_S3_CREDENTIALS_FILE=${JSON.stringify(file ?? null)})`,
          ];
        }),
  },
  {
    name: 'tls-minimum-1.2',
    description: 'nginx accepts TLS 1.2 or newer only, and says so explicitly.',
    check: (view) =>
      byRole(view, 'nginx').flatMap((c) => {
        const v = c.env.TLS_MIN_VERSION;
        return v === '1.2' || v === '1.3'
          ? []
          : [
              `${c.name} must set TLS_MIN_VERSION to 1.2 or 1.3 (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`,
            ];
      }),
  },
  {
    name: 'payload-verification-enforced',
    description: 'The gateway verifies every payload hash and checksum (ENFORCE_PAYLOAD_VERIFICATION=true).',
    check: (view) =>
      byRole(view, 'gateway').flatMap((c) =>
        c.env.ENFORCE_PAYLOAD_VERIFICATION === 'true'
          ? []
          : [
              `${c.name} must set ENFORCE_PAYLOAD_VERIFICATION=true (got ${JSON.stringify(c.env.ENFORCE_PAYLOAD_VERIFICATION ?? null)})`,
            ],
      ),
  },
  {
    name: 'pinned-image-tags',
    description: 'Every image is pinned by a tag other than "latest", or by digest.',
    check: (view) =>
      view.containers.flatMap((c) => {
        if (c.image.includes('@sha256:')) return [];
        const tag = /:([^/:]+)$/.exec(c.image)?.[1];
        if (!tag) return [`${c.name} uses the untagged image ${JSON.stringify(c.image)}: pin a version`];
        if (tag === 'latest') return [`${c.name} uses ${c.image}: "latest" is not a version, pin one`];
        return [];
      }),
  },
  {
    name: 'data-on-named-persistent-volumes',
    description: 'Object data and Postgres data live on named, persistent volumes.',
    check: (view) =>
      view.containers.flatMap((c) =>
        dataDirs(c).flatMap((dir) => {
          const m = c.mounts.find((x) => x.target.replace(/\/$/, '') === dir.replace(/\/$/, ''));
          if (!m) return [`${c.name} keeps ${dir} inside the container: mount a named volume there`];
          if (m.tmpfs) return [`${c.name} keeps ${dir} on a tmpfs: it would be lost on restart`];
          if (!m.volume)
            return [
              m.hostPath
                ? `${c.name} bind-mounts ${m.hostPath} at ${dir}: use a named volume (a bind-backed one is fine)`
                : `${c.name} mounts an anonymous volume at ${dir}: name it`,
            ];
          const v = view.volumes.find((x) => x.name === m.volume);
          if (!v) return [`${c.name} mounts ${m.volume} at ${dir}, which is not a declared volume`];
          if (v.ephemeral) return [`${c.name} keeps ${dir} on ${m.volume}, which is backed by memory`];
          return [];
        }),
      ),
  },
  {
    name: 'restart-and-healthcheck',
    description: 'Every service restarts on failure and has a healthcheck.',
    check: (view) =>
      view.containers.flatMap((c) => [
        ...(RESTART_POLICIES.includes(c.restart ?? '')
          ? []
          : [
              `${c.name} has restart policy ${JSON.stringify(c.restart ?? 'no')}: use unless-stopped or always`,
            ]),
        ...(c.healthcheck?.length && c.healthcheck[0] !== 'NONE' ? [] : [`${c.name} has no healthcheck`]),
      ]),
  },
  {
    name: 'ca-key-only-as-secret',
    description: 'The root CA private key exists only as a Pulumi secret and reaches no container.',
    check: (view) =>
      view.caKeys.flatMap((k) => {
        const out: string[] = [];
        if (!k.secret) out.push(`the root CA private key in ${k.where} is not a Pulumi secret`);
        for (const c of view.containers) {
          const reaches = c.secretFiles.some(
            (f) =>
              (k.file !== undefined && f.source === k.file) ||
              (k.value !== undefined && f.content !== undefined && f.content.includes(k.value.trim())),
          );
          if (reaches)
            out.push(
              `${c.name} receives the root CA private key (${k.where}): only the server key belongs there`,
            );
        }
        return out;
      }),
  },
];

export const RULES: Rule[] = [...DEPLOYMENT_RULES, ...ARCHIVE_RULES];

export interface RuleReport {
  rule: string;
  violations: string[];
}

export function evaluate(
  view: DeploymentView,
  options: Partial<RuleOptions> = {},
  rules: Rule[] = RULES,
): RuleReport[] {
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  return rules.map((r) => ({ rule: r.name, violations: r.check(view, o) }));
}
