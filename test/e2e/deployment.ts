import { execFileSync } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import {
  GenericContainer,
  Network,
  Wait,
  type StartedNetwork,
  type StartedTestContainer,
} from 'testcontainers';
import { topology, type ServiceSpec, type Topology, type TopologyOptions } from '../../stacks/topology.js';
import type { Auth } from '../../service/test/support/management.js';
import { cleanEnv, run } from '../../service/test/support/run.js';
import { writeRcloneRemote } from '../../scripts/lib/rclone.js';

/**
 * The deployment the topology describes, brought up with Testcontainers: the project's images, secrets
 * bind-mounted as files exactly as compose mounts them, named volumes for data, healthchecks from the
 * topology. Only nginx publishes ports (mapped to random host ports here).
 */
export interface Deployment {
  network: StartedNetwork;
  /** Whether the network was made for this deployment (and so goes with it) or handed in. */
  ownsNetwork: boolean;
  containers: Map<string, StartedTestContainer>;
  httpsPort: number;
  httpPort: number;
  endpoint: string;
}

export function volumeNames(prefix: string, opts: Partial<TopologyOptions> = {}): Record<string, string> {
  return Object.fromEntries(topology(opts).volumes.map((v) => [v, `${prefix}-${v}`]));
}

/** The volumes, those the topology binds to a host directory (a sync job's) made as compose makes them. */
export function createVolumes(names: Record<string, string>, hostDirs: Record<string, string> = {}): void {
  for (const [v, name] of Object.entries(names)) {
    const dir = hostDirs[v];
    const bind = dir ? ['--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${dir}`] : [];
    execFileSync('docker', ['volume', 'create', ...bind, name], { stdio: 'ignore' });
  }
}

export function removeVolumes(names: Record<string, string>): void {
  for (const v of Object.values(names))
    execFileSync('docker', ['volume', 'rm', '-f', v], { stdio: 'ignore' });
}

function containerFor(
  s: ServiceSpec,
  t: Topology,
  root: string,
  volumes: Record<string, string>,
  network: StartedNetwork,
) {
  const hc = s.healthcheck;
  let c = new GenericContainer(s.image)
    .withNetwork(network)
    .withNetworkAliases(s.name, ...s.networkAliases)
    .withEnvironment(s.env)
    .withBindMounts([
      ...s.secrets.map((x) => ({
        source: path.join(root, t.secrets[x.name]!),
        target: `/run/secrets/${x.name}`,
        mode: 'ro' as const,
      })),
      ...s.volumes.map((v) => ({ source: volumes[v.volume]!, target: v.target, mode: 'rw' as const })),
    ])
    .withHealthCheck({
      test: hc.test as ['CMD', ...string[]],
      interval: hc.intervalSeconds * 1000,
      timeout: hc.timeoutSeconds * 1000,
      retries: hc.retries,
      startPeriod: hc.startPeriodSeconds * 1000,
    })
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(180_000);
  if (s.tmpfs.length)
    c = c.withTmpFs(Object.fromEntries(s.tmpfs.map((p) => [p, 'rw,noexec,nosuid,size=1m'])));
  if (s.ports.length) c = c.withExposedPorts(...s.ports.map((p) => p.target));
  if (s.entrypoint) c = c.withEntrypoint(s.entrypoint);
  return c;
}

export async function startDeployment(
  root: string,
  volumes: Record<string, string>,
  opts: Partial<TopologyOptions> = {},
  /** A network other containers of the test (a blob store) are on already. */
  shared?: StartedNetwork,
): Promise<Deployment> {
  const network = shared ?? (await new Network().start());
  const containers = new Map<string, StartedTestContainer>();
  const t = topology(opts);
  // Topology order is dependency order: postgres, gateway, nginx; each waits for the previous to be healthy.
  for (const s of t.services)
    containers.set(s.name, await containerFor(s, t, root, volumes, network).start());
  const nginx = containers.get('nginx')!;
  const httpsPort = nginx.getMappedPort(443);
  return {
    network,
    ownsNetwork: !shared,
    containers,
    httpsPort,
    httpPort: nginx.getMappedPort(80),
    endpoint: `https://localhost:${httpsPort}`,
  };
}

/** `docker restart` of every container in dependency order; nginx may come back on other host ports. */
export async function restartEach(d: Deployment): Promise<void> {
  for (const c of d.containers.values()) await c.restart({ timeout: 10_000 });
  const nginx = d.containers.get('nginx')!;
  d.httpsPort = nginx.getMappedPort(443);
  d.httpPort = nginx.getMappedPort(80);
  d.endpoint = `https://localhost:${d.httpsPort}`;
}

export async function stopDeployment(d: Deployment): Promise<void> {
  // Reverse dependency order: whatever depends on a service stops before it.
  for (const c of [...d.containers.values()].reverse())
    await c.stop({ timeout: 10_000, remove: true, removeVolumes: false });
  if (d.ownsNetwork) await d.network.stop();
}

/** The aws CLI against a deployment through nginx TLS with this credential alone: no profile or config of the host's. */
export function awsCli(
  root: string,
  endpoint: () => string,
  cred: { accessKeyId: string; secretAccessKey: string },
) {
  const env = cleanEnv({
    AWS_ACCESS_KEY_ID: cred.accessKeyId,
    AWS_SECRET_ACCESS_KEY: cred.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: path.join(root, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(root, 'no-aws-credentials'),
  });
  return (...args: string[]) =>
    run(
      'aws',
      ['--endpoint-url', endpoint(), '--ca-bundle', path.join(root, 'secrets/root.crt'), ...args],
      env,
      root,
    );
}

/** rclone with a remote `coffer` for the deployment, written as `up` writes it, trusting its root CA. */
export async function rcloneCli(root: string, endpoint: string) {
  const config = path.join(root, 'rclone.conf');
  await writeRcloneRemote(root, { name: 'coffer', endpoint, region: 'us-east-1' }, config);
  return (...args: string[]) =>
    run(
      'rclone',
      ['--config', config, '--ca-cert', path.join(root, 'secrets/root.crt'), ...args],
      cleanEnv({}),
      root,
    );
}

/** A request through nginx TLS trusting `ca`, as a management API client makes it: JSON answers parsed. */
export async function httpsJson(url: string, ca: Buffer, init: RequestInit & { auth?: Auth } = {}) {
  return new Promise<{ status: number; body: Record<string, unknown>; cookie?: string }>(
    (resolve, reject) => {
      const u = new URL(url);
      const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
      if (init.auth?.key) headers.authorization = `Bearer ${init.auth.key}`;
      if (init.auth?.cookie) headers.cookie = init.auth.cookie;
      if (init.auth?.csrf) headers['x-csrf-token'] = init.auth.csrf;
      if (init.body) headers['content-type'] = 'application/json';
      const req = https.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          method: init.method ?? 'GET',
          ca,
          headers,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              // S3 answers in XML: only the management API's JSON is parsed.
              body: /json/.test(String(res.headers['content-type']))
                ? (JSON.parse(text) as Record<string, unknown>)
                : {},
              cookie: (res.headers['set-cookie'] ?? [])[0]?.split(';')[0],
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(init.body as string | undefined);
    },
  );
}
