/**
 * The shape every policy rule reads: the deployment's containers, volumes and CA key holders, built
 * either from Pulumi resource inputs (the CrossGuard pack) or from a compose file (`npm run policy`),
 * so one set of rules judges both engines.
 */
import path from 'node:path';

export interface PortView {
  target: number;
  published?: number;
  /** The host address it is bound to; undefined means every interface. */
  hostIp?: string;
}

export interface SecretFileView {
  /** Where the container sees it. */
  path: string;
  /** The host file it comes from (compose), when known. */
  source?: string;
  /** Its content (Pulumi uploads), when known. */
  content?: string;
}

export interface MountView {
  target: string;
  /** Named volume. */
  volume?: string;
  hostPath?: string;
  tmpfs?: boolean;
}

export interface ContainerView {
  name: string;
  image: string;
  env: Record<string, string>;
  ports: PortView[];
  secretFiles: SecretFileView[];
  mounts: MountView[];
  restart?: string;
  healthcheck?: string[];
}

export interface VolumeView {
  name: string;
  /** Backed by memory (tmpfs driver options): gone on restart. */
  ephemeral: boolean;
}

/** A place the root CA's private key lives. */
export interface CaKeyHolder {
  where: string;
  /** Held as a secret (a Pulumi secret output, or a file never mounted anywhere). */
  secret: boolean;
  value?: string;
  file?: string;
}

export interface DeploymentView {
  containers: ContainerView[];
  volumes: VolumeView[];
  caKeys: CaKeyHolder[];
}

/** `coffer/gateway:0.1.0` → `gateway`: the service role an image plays, whatever registry it came from. */
export function roleOf(image: string): string {
  const repo = image.split('@')[0]!.replace(/:[^/:]*$/, '');
  return repo.slice(repo.lastIndexOf('/') + 1);
}

/** `["K=V", …]`, as docker.Container's envs and compose's list form write an environment. */
export function envFromList(list: string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((e) => {
      const i = e.indexOf('=');
      return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
    }),
  );
}

// ---- Pulumi resources -------------------------------------------------------------------------

/** What CrossGuard's stack validation (or a test's mocks) knows of one resource. */
export interface ResourceRecord {
  type: string;
  name: string;
  props: Record<string, unknown>;
  additionalSecretOutputs: string[];
}

export const TYPES = {
  container: 'docker:index/container:Container',
  volume: 'docker:index/volume:Volume',
  privateKey: 'tls:index/privateKey:PrivateKey',
  selfSignedCert: 'tls:index/selfSignedCert:SelfSignedCert',
  locallySignedCert: 'tls:index/locallySignedCert:LocallySignedCert',
} as const;

type Props = Record<string, unknown>;
const asArray = (v: unknown): Props[] => (Array.isArray(v) ? (v as Props[]) : []);
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function fromPulumi(resources: ResourceRecord[]): DeploymentView {
  const containers = resources
    .filter((r) => r.type === TYPES.container)
    .map((r): ContainerView => {
      const p = r.props;
      const env = envFromList(Array.isArray(p.envs) ? (p.envs as string[]) : []);
      const health = p.healthcheck as Props | undefined;
      return {
        name: asString(p.name) ?? r.name,
        image: asString(p.image) ?? '',
        env,
        ports: asArray(p.ports).map((x) => ({
          target: Number(x.internal),
          published: x.external === undefined ? undefined : Number(x.external),
          hostIp: asString(x.ip),
        })),
        secretFiles: asArray(p.uploads).map((u) => ({
          path: String(u.file),
          content: asString(u.content),
          source: asString(u.source),
        })),
        mounts: [
          ...asArray(p.volumes).map((v) => ({
            target: String(v.containerPath),
            volume: asString(v.volumeName),
            hostPath: asString(v.hostPath),
          })),
          ...Object.keys((p.tmpfs as Props | undefined) ?? {}).map((t) => ({ target: t, tmpfs: true })),
        ],
        // The provider's default is "no".
        restart: asString(p.restart) ?? 'no',
        healthcheck: Array.isArray(health?.tests) ? (health.tests as string[]) : undefined,
      };
    });
  const volumes = resources
    .filter((r) => r.type === TYPES.volume)
    .map((r) => {
      const opts = (r.props.driverOpts as Record<string, string> | undefined) ?? {};
      return { name: asString(r.props.name) ?? r.name, ephemeral: opts.type === 'tmpfs' };
    });

  // The CA key is the one a CA certificate is self-signed with; every copy of it must be secret.
  const caCerts = resources.filter(
    (r) => r.type === TYPES.selfSignedCert && r.props.isCaCertificate === true,
  );
  const caValues = new Set(
    caCerts.map((r) => asString(r.props.privateKeyPem)).filter((v) => v !== undefined),
  );
  const caKeys: CaKeyHolder[] = [
    ...caCerts.map((r) => ({
      where: `${r.name}.privateKeyPem`,
      secret: r.additionalSecretOutputs.includes('privateKeyPem'),
      value: asString(r.props.privateKeyPem),
    })),
    ...resources
      .filter((r) => r.type === TYPES.privateKey && caValues.has(asString(r.props.privateKeyPem) ?? '\0'))
      .map((r) => ({
        where: `${r.name}.privateKeyPem`,
        secret: r.additionalSecretOutputs.includes('privateKeyPem'),
        value: asString(r.props.privateKeyPem),
      })),
    ...resources
      .filter((r) => r.type === TYPES.locallySignedCert)
      .map((r) => ({
        where: `${r.name}.caPrivateKeyPem`,
        secret: r.additionalSecretOutputs.includes('caPrivateKeyPem'),
        value: asString(r.props.caPrivateKeyPem),
      })),
  ];
  return { containers, volumes, caKeys };
}

// ---- docker-compose.yaml ----------------------------------------------------------------------

/** The files setup-credentials writes the root CA's key to. */
export const COMPOSE_CA_KEY_FILES = ['secrets/ca.key'];

function composePorts(ports: unknown): PortView[] {
  return asArray(ports).map((p: unknown) => {
    if (typeof p === 'object' && p !== null) {
      const o = p as Props;
      return {
        target: Number(o.target),
        published: o.published === undefined ? undefined : Number(o.published),
        hostIp: asString(o.host_ip),
      };
    }
    // "[ip:]published:target[/proto]" or just "target" (published on a random host port).
    const parts = String(p).split('/')[0]!.split(':');
    const target = Number(parts.at(-1));
    return {
      target,
      published: parts.length > 1 ? Number(parts.at(-2)) : 0,
      ...(parts.length > 2 ? { hostIp: parts.slice(0, -2).join(':') } : {}),
    };
  });
}

function composeMounts(volumes: unknown, tmpfs: unknown, named: Set<string>): MountView[] {
  const mounts = asArray(volumes).map((v: unknown): MountView => {
    if (typeof v === 'object' && v !== null) {
      const o = v as Props;
      const target = String(o.target);
      if (o.type === 'tmpfs') return { target, tmpfs: true };
      if (o.type === 'bind') return { target, hostPath: asString(o.source) };
      return { target, volume: asString(o.source) };
    }
    const parts = String(v).split(':');
    if (parts.length === 1) return { target: parts[0]! };
    const [source, target] = parts as [string, string];
    return named.has(source) || !/^[./~]/.test(source)
      ? { target, volume: source }
      : { target, hostPath: source };
  });
  const tmpfsList = typeof tmpfs === 'string' ? [tmpfs] : Array.isArray(tmpfs) ? (tmpfs as string[]) : [];
  return [...mounts, ...tmpfsList.map((t) => ({ target: t.split(':')[0]!, tmpfs: true }))];
}

export function fromCompose(doc: Props): DeploymentView {
  const services = (doc.services as Record<string, Props> | undefined) ?? {};
  const secretDefs = (doc.secrets as Record<string, Props> | undefined) ?? {};
  const volumeDefs = (doc.volumes as Record<string, Props | null> | undefined) ?? {};
  const normalise = (f: string) => path.posix.normalize(f.replace(/^\.\//, ''));
  const containers = Object.entries(services).map(([name, s]): ContainerView => {
    const env: Record<string, string> = Array.isArray(s.environment)
      ? envFromList(s.environment as string[])
      : Object.fromEntries(
          Object.entries((s.environment as Props | undefined) ?? {}).map(([k, v]) => [k, String(v)]),
        );
    const health = s.healthcheck as Props | undefined;
    const test = health?.disable === true ? ['NONE'] : health?.test;
    return {
      name,
      image: asString(s.image) ?? '',
      env,
      ports: composePorts(s.ports),
      secretFiles: asArray(s.secrets).map((x: unknown) => {
        const source = typeof x === 'string' ? x : String((x as Props).source);
        const target = typeof x === 'string' ? x : (asString((x as Props).target) ?? source);
        const file = asString(secretDefs[source]?.file);
        return {
          path: target.startsWith('/') ? target : `/run/secrets/${target}`,
          source: file && normalise(file),
        };
      }),
      mounts: composeMounts(s.volumes, s.tmpfs, new Set(Object.keys(volumeDefs))),
      restart: asString(s.restart) ?? 'no',
      healthcheck:
        typeof test === 'string' ? ['CMD-SHELL', test] : Array.isArray(test) ? (test as string[]) : undefined,
    };
  });
  const volumes = Object.entries(volumeDefs).map(([name, v]) => {
    const opts = (v?.driver_opts as Record<string, string> | undefined) ?? {};
    return { name, ephemeral: opts.type === 'tmpfs' || v?.driver === 'tmpfs' };
  });
  const caKeys = COMPOSE_CA_KEY_FILES.map((file) => ({ where: file, secret: true, file }));
  return { containers, volumes, caKeys };
}
