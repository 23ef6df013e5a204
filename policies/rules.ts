/**
 * The rules a Coffer deployment must satisfy, as plain functions over a DeploymentView. The CrossGuard
 * pack (policies/index.ts) and `npm run policy` (compose) both run exactly these.
 */
import { roleOf, type ContainerView, type DeploymentView } from './model.js';

export interface Rule {
  name: string;
  description: string;
  /** Violations, one readable sentence each; empty when the deployment complies. */
  check(view: DeploymentView): string[];
}

const GATEWAY_PORT = 3000;
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

export const RULES: Rule[] = [
  {
    name: 'only-nginx-publishes-ports',
    description: `The gateway's port ${GATEWAY_PORT} is never published; only nginx publishes ports.`,
    check: (view) =>
      view.containers.flatMap((c) => {
        const published = c.ports.filter((p) => p.published !== undefined);
        const out: string[] = [];
        if (c.ports.some((p) => p.target === GATEWAY_PORT || p.published === GATEWAY_PORT))
          out.push(
            `${c.name} publishes port ${GATEWAY_PORT}: the gateway must only be reached through nginx TLS`,
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

export interface RuleReport {
  rule: string;
  violations: string[];
}

export function evaluate(view: DeploymentView, rules: Rule[] = RULES): RuleReport[] {
  return rules.map((r) => ({ rule: r.name, violations: r.check(view) }));
}
