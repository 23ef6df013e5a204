import { stringify } from 'yaml';
import type { Topology } from '../../stacks/topology.js';

const HEADER = `# Rendered from stacks/topology.ts by \`npm run render-compose\`. Do not edit: a test fails when it drifts.
# Works with docker-compose 1.29 (Debian) and Compose v2. Secrets are files, never environment values.
`;

/** The compose-spec document for a topology: images, env, file secrets, volumes, healthchecks, ports. */
export function renderCompose(t: Topology): string {
  const services: Record<string, unknown> = {};
  for (const s of t.services) {
    services[s.name] = {
      image: s.image,
      ...(s.entrypoint ? { entrypoint: s.entrypoint } : {}),
      restart: s.restart,
      ...(Object.keys(s.env).length ? { environment: s.env } : {}),
      ...(s.secrets.length ? { secrets: s.secrets.map((x) => x.name) } : {}),
      ...(s.volumes.length ? { volumes: s.volumes.map((v) => `${v.volume}:${v.target}`) } : {}),
      ...(s.tmpfs.length ? { tmpfs: s.tmpfs } : {}),
      ...(s.ports.length
        ? { ports: s.ports.map((p) => `${p.hostIp ? `${p.hostIp}:` : ''}${p.published}:${p.target}`) }
        : {}),
      healthcheck: {
        test: s.healthcheck.test,
        interval: `${s.healthcheck.intervalSeconds}s`,
        timeout: `${s.healthcheck.timeoutSeconds}s`,
        retries: s.healthcheck.retries,
        start_period: `${s.healthcheck.startPeriodSeconds}s`,
      },
      ...(s.dependsOn.length
        ? { depends_on: Object.fromEntries(s.dependsOn.map((d) => [d, { condition: 'service_healthy' }])) }
        : {}),
      networks: s.networkAliases.length
        ? Object.fromEntries(s.networks.map((n) => [n, { aliases: s.networkAliases }]))
        : s.networks,
    };
  }
  // No top-level `name`: docker-compose 1.29 rejects it; scripts pass the project name with -p.
  const doc = {
    services,
    secrets: Object.fromEntries(
      Object.entries(t.secrets).map(([name, file]) => [name, { file: `./${file}` }]),
    ),
    // A host directory still appears as a named volume, so the containers and policies see one shape.
    volumes: Object.fromEntries(
      t.volumes.map((v) => [
        v,
        t.hostDirs[v]
          ? { driver: 'local', driver_opts: { type: 'none', o: 'bind', device: t.hostDirs[v] } }
          : {},
      ]),
    ),
    networks: Object.fromEntries(t.networks.map((n) => [n, {}])),
  };
  return HEADER + stringify(doc, { lineWidth: 0 });
}
