import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { $ } from 'zx';
import {
  BUCKET_DEFAULTS,
  DEFAULT_OPTIONS,
  gatewayNames,
  MAX_GATEWAYS,
  topology,
  type BucketDefaults,
  type TopologyOptions,
} from '../../stacks/topology.js';
import {
  ARCHIVE_DEFAULTS,
  archivePresetProblems,
  archiveWeakening,
  PRESETS,
  type ArchivePreset,
  type ArchiveRetentionMode,
} from '../../service/src/parse/archive-preset.js';
import type { BlobStore } from '../../service/src/parse/blob-store.js';
import type { SyncJob } from '../../service/src/parse/sync-job.js';
import { parseBlobStoreUrl } from './blob-store.js';
import { renderCompose } from './compose.js';
import { fail, OperatorError } from './exec.js';
import { ROOT } from './images.js';
import { setupCredentials, type SetupResult } from './secrets.js';

/** The compose project (container, network and volume names) unless --project names another. */
export const DEFAULT_PROJECT = 'coffer';
const PROJECT_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** A compose file and the project it runs as: two deployments on one host differ in both. */
export interface ComposeTarget {
  file: string;
  project: string;
  /** The gateway replicas' service names: a change of secret recreates every one of them. */
  gateways: string[];
  /** Metadata in a Postgres the operator runs: no postgres service to exec into or start. */
  externalPostgres: boolean;
}

export interface DeployOptions {
  /** The compose project, and the name of the rclone remote and aws profile (--project). */
  project: string;
  domain: string;
  httpsPort: number;
  httpPort: number;
  extraHostNames: string[];
  extraIps: string[];
  /** Accept Signature Version 2 (--sigv2 on|off). */
  signatureV2: boolean;
  /** What new buckets start with (--bucket-defaults current|legacy). */
  bucketDefaults: BucketDefaults;
  /** --preset compliance-archive, with its buckets and retention; kept for good once given. */
  preset?: ArchivePreset;
  /** Prometheus with Coffer's alert rules (--with-monitoring, --without-monitoring) on 127.0.0.1:monitoringPort. */
  monitoring: boolean;
  monitoringPort: number;
  /** Scheduled syncs the deployment runs (npm run sync -- ... --install NAME). */
  syncJobs: SyncJob[];
  /** Sealed blobs in a remote S3-compatible store (--blob-store), not on the data volume. */
  blobStore?: BlobStore;
  /** Gateway replicas behind nginx (--gateways N). */
  gateways: number;
  /** Metadata in a Postgres the operator runs (--database-url-file), kept once given. */
  externalPostgres: boolean;
  /** Webhook targets declared in secrets/webhooks.json (--webhooks-file), until --without-webhooks. */
  webhooks?: { digest: string };
}

/** Where `up` and `setup-credentials` keep the settings they were given, beside secrets/. */
export const SETTINGS_FILE = 'deployment.json';

/** The settings a previous command persisted; {} when none were. */
export function savedSettings(root: string): Partial<DeployOptions> {
  const file = path.join(root, SETTINGS_FILE);
  if (!existsSync(file)) return {};
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<DeployOptions>;
    if (typeof data !== 'object' || data === null) throw new Error('not an object');
    return data;
  } catch (err) {
    fail(
      `${SETTINGS_FILE} cannot be read (${(err as Error).message}): fix it or remove it and pass the settings again`,
    );
  }
}

/** Persists the settings so that every later command (up, login, status, rclone-config) uses them. */
export async function saveSettings(root: string, o: DeployOptions): Promise<void> {
  await writeFile(path.join(root, SETTINGS_FILE), JSON.stringify(o, null, 2) + '\n', { mode: 0o644 });
}

/** Options from the command line, then the environment, then what was persisted, then the defaults. */
export function deployOptions(argv: Record<string, unknown>, root: string = ROOT): DeployOptions {
  const saved = savedSettings(root);
  const port = (v: unknown, def: number, name: string) => {
    const n = v === undefined ? def : Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      fail(`--${name} must be a port number (got ${String(v)})`);
    return n;
  };
  const list = (v: unknown, def: string[] | undefined) =>
    v === undefined ? (def ?? []) : (Array.isArray(v) ? v : [v]).map(String);
  const project = String(argv.project ?? process.env.COFFER_PROJECT ?? saved.project ?? DEFAULT_PROJECT);
  if (!PROJECT_NAME.test(project))
    fail(`--project must be a lower-case name of at most 31 letters, digits and hyphens (got ${project})`);
  const o: DeployOptions = {
    project,
    domain: String(argv.domain ?? process.env.COFFER_DOMAIN ?? saved.domain ?? DEFAULT_OPTIONS.domain),
    httpsPort: port(
      argv['https-port'] ?? process.env.COFFER_HTTPS_PORT ?? saved.httpsPort,
      DEFAULT_OPTIONS.httpsPort,
      'https-port',
    ),
    httpPort: port(
      argv['http-port'] ?? process.env.COFFER_HTTP_PORT ?? saved.httpPort,
      DEFAULT_OPTIONS.httpPort,
      'http-port',
    ),
    extraHostNames: list(argv.host, saved.extraHostNames),
    extraIps: list(argv.ip, saved.extraIps),
    signatureV2: onOff(argv.sigv2, saved.signatureV2 ?? DEFAULT_OPTIONS.signatureV2),
    bucketDefaults: oneOf(argv['bucket-defaults'], saved.bucketDefaults ?? DEFAULT_OPTIONS.bucketDefaults),
    ...orFail(() => presetOptions(argv, saved.preset)),
    monitoring: monitoringOption(argv, saved.monitoring ?? DEFAULT_OPTIONS.monitoring),
    monitoringPort: port(
      argv['monitoring-port'] ?? saved.monitoringPort,
      DEFAULT_OPTIONS.monitoringPort,
      'monitoring-port',
    ),
    syncJobs: saved.syncJobs ?? [],
    gateways: gatewayCount(argv.gateways, saved.gateways ?? DEFAULT_OPTIONS.gateways),
    externalPostgres:
      argv['database-url-file'] !== undefined || (saved.externalPostgres ?? DEFAULT_OPTIONS.externalPostgres),
    // The digest is the kept file's, taken again by up (scripts/lib/webhooks.ts) before anything runs.
    ...(webhooksWanted(argv, saved.webhooks !== undefined)
      ? { webhooks: saved.webhooks ?? { digest: '' } }
      : {}),
    ...(argv['blob-store'] !== undefined
      ? {
          blobStore: orFail(() =>
            parseBlobStoreUrl(String(argv['blob-store']), argv['blob-store-region'] as string | undefined),
          ),
        }
      : saved.blobStore
        ? { blobStore: saved.blobStore }
        : {}),
  };
  if (argv['blob-store-region'] !== undefined && argv['blob-store'] === undefined)
    fail('--blob-store-region needs --blob-store');
  // Saved as what runs: the preset turns these off whatever was set before.
  return o.preset ? { ...o, signatureV2: false, bucketDefaults: 'current' } : o;
}

/** --gateways N: how many gateway replicas nginx balances across. */
function gatewayCount(v: unknown, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_GATEWAYS)
    fail(`--gateways must be a whole number from 1 to ${MAX_GATEWAYS} (got ${String(v)})`);
  return n;
}

/**
 * --preset compliance-archive and its options. Once a deployment is an archive it stays one: a later
 * `up` keeps the saved preset, and refuses to drop it, shrink its retention, leave a bucket out, turn
 * COMPLIANCE into GOVERNANCE, or turn on what the preset turns off.
 */
export function presetOptions(
  argv: Record<string, unknown>,
  saved: ArchivePreset | undefined,
): { preset?: ArchivePreset } {
  const asked = argv.preset;
  const tuning = ['archive-buckets', 'retention-days', 'retention-mode'].filter((k) => argv[k] !== undefined);
  if (asked !== undefined && asked !== 'none' && !(PRESETS as readonly unknown[]).includes(asked))
    refuse(`--preset must be ${PRESETS.join(', ')} or none (got ${String(asked)})`);
  if (asked === 'none') {
    if (saved)
      refuse(
        'this deployment is a compliance archive (deployment.json): --preset none would drop the protection its data was stored under, and is refused',
      );
    if (tuning.length) refuse(`--${tuning[0]} needs --preset compliance-archive`);
    return {};
  }
  if (asked === undefined && !saved) {
    if (tuning.length) refuse(`--${tuning[0]} needs --preset compliance-archive`);
    return {};
  }
  const base = saved ?? ARCHIVE_DEFAULTS;
  const days = argv['retention-days'];
  const preset: ArchivePreset = {
    buckets:
      argv['archive-buckets'] === undefined
        ? base.buckets
        : String(argv['archive-buckets'])
            .split(',')
            .map((b) => b.trim())
            .filter(Boolean),
    retentionMode: (argv['retention-mode'] === undefined
      ? base.retentionMode
      : String(argv['retention-mode']).toUpperCase()) as ArchiveRetentionMode,
    retentionDays: days === undefined ? base.retentionDays : /^\d+$/.test(String(days)) ? Number(days) : NaN,
  };
  const [problem] = archivePresetProblems(preset);
  if (problem) refuse(`--preset compliance-archive: ${problem}`);
  const weaker = saved ? archiveWeakening(saved, preset) : [];
  if (weaker.length) refuse(`refused: ${weaker.join('; ')}; a compliance archive is never weakened`);
  if (argv.sigv2 === 'on')
    refuse('--sigv2 on contradicts --preset compliance-archive, which turns SigV2 off');
  if (argv['bucket-defaults'] === 'legacy')
    refuse('--bucket-defaults legacy contradicts --preset compliance-archive, which disables ACLs');
  return { preset };
}

/** --webhooks-file FILE declares webhook targets; kept until --without-webhooks. */
function webhooksWanted(argv: Record<string, unknown>, saved: boolean): boolean {
  if (argv['webhooks-file'] !== undefined && argv['without-webhooks'])
    fail('--webhooks-file and --without-webhooks contradict each other');
  if (argv['without-webhooks']) return false;
  return argv['webhooks-file'] !== undefined || saved;
}

function monitoringOption(argv: Record<string, unknown>, saved: boolean): boolean {
  if (argv['with-monitoring'] && argv['without-monitoring'])
    fail('--with-monitoring and --without-monitoring contradict each other');
  if (argv['with-monitoring']) return true;
  if (argv['without-monitoring']) return false;
  return saved;
}

function onOff(v: unknown, def: boolean): boolean {
  if (v === undefined) return def;
  if (v === 'on') return true;
  if (v === 'off') return false;
  fail(`--sigv2 must be on or off (got ${String(v)})`);
}

function oneOf(v: unknown, def: BucketDefaults): BucketDefaults {
  if (v === undefined) return def;
  if ((BUCKET_DEFAULTS as readonly unknown[]).includes(v)) return v as BucketDefaults;
  fail(`--bucket-defaults must be ${BUCKET_DEFAULTS.join(' or ')} (got ${String(v)})`);
}

const refuse = (message: string): never => {
  throw new OperatorError(message);
};

/** Library code refuses with an OperatorError; a script says it in one line and stops. */
function orFail<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof OperatorError) fail(err.message);
    throw err;
  }
}

export { endpointOf } from '../../stacks/topology.js';

/**
 * The compose file for these options: the checked-in one for the defaults, otherwise one rendered from
 * the same topology into .coffer-build/ (secrets paths stay relative to the repository).
 */
export async function composeFile(o: DeployOptions): Promise<ComposeTarget> {
  return {
    file: await composeFilePath(o),
    project: o.project,
    gateways: gatewayNames(o.gateways),
    externalPostgres: o.externalPostgres,
  };
}

async function composeFilePath(o: DeployOptions): Promise<string> {
  const opts: Partial<TopologyOptions> = { ...o };
  const isDefault =
    o.domain === DEFAULT_OPTIONS.domain &&
    o.httpsPort === DEFAULT_OPTIONS.httpsPort &&
    o.httpPort === DEFAULT_OPTIONS.httpPort &&
    o.extraHostNames.length === 0 &&
    o.extraIps.length === 0 &&
    o.signatureV2 === DEFAULT_OPTIONS.signatureV2 &&
    o.bucketDefaults === DEFAULT_OPTIONS.bucketDefaults &&
    !o.preset &&
    !o.monitoring &&
    o.syncJobs.length === 0 &&
    !o.blobStore &&
    o.gateways === DEFAULT_OPTIONS.gateways &&
    !o.externalPostgres;
  if (isDefault) return path.join(ROOT, 'docker-compose.yaml');
  const dir = path.join(ROOT, '.coffer-build');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'docker-compose.yaml');
  await writeFile(
    file,
    renderCompose(topology(opts)).replaceAll('file: ./secrets/', `file: ${path.join(ROOT, 'secrets')}/`),
  );
  return file;
}

/** Compose v2 (`docker compose`) where present, Debian's docker-compose 1.29 otherwise. */
export async function composeCommand(): Promise<string[]> {
  if ((await $({ quiet: true, nothrow: true })`docker compose version`).exitCode === 0)
    return ['docker', 'compose'];
  if ((await $({ quiet: true, nothrow: true })`docker-compose version`).exitCode === 0)
    return ['docker-compose'];
  fail('neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)');
}

export async function compose(
  target: ComposeTarget,
  args: string[],
  opts: { quiet?: boolean; input?: string } = {},
) {
  const [cmd, ...pre] = await composeCommand();
  // Not quiet means the operator watches compose itself (status tables, followed logs).
  const io = opts.quiet === false ? { stdio: 'inherit' as const } : { quiet: true };
  const input = opts.input === undefined ? {} : { input: opts.input };
  return $({
    ...io,
    ...input,
    nothrow: true,
    cwd: ROOT,
  })`${cmd} ${pre} -p ${target.project} -f ${target.file} ${args}`;
}

export async function requireDocker(): Promise<void> {
  if ((await $({ quiet: true, nothrow: true })`command -v docker`).exitCode !== 0) {
    fail('docker is not installed (Debian: apt-get install docker.io docker-compose)');
  }
  if ((await $({ quiet: true, nothrow: true })`docker info`).exitCode !== 0) {
    fail('the Docker engine is not reachable (start it: systemctl start docker, or dockerd &)');
  }
}

export async function volumeExists(name: string): Promise<boolean> {
  return (await $({ quiet: true, nothrow: true })`docker volume inspect ${name}`).exitCode === 0;
}

/** Waits until every container of the project reports healthy; names the one that does not. */
export async function waitHealthy(file: ComposeTarget, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await containerStates(file);
    if (states.length > 0 && states.every((c) => c.health === 'healthy')) return;
    // A service that keeps dying will not get healthy by waiting: say why now.
    if (states.some((c) => c.crashing)) fail(`a service keeps failing: ${await diagnose(file, states)}`);
    if (Date.now() > deadline) {
      fail(
        `not healthy after ${timeoutMs / 1000}s: ${(await diagnose(file, states)) || 'no containers'} (npm run logs shows more)`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Recreates the gateway replicas one after another, each healthy before the next goes, so the others keep
 * serving. Returns compose's last line when one could not be recreated.
 */
export async function recreateGateways(target: ComposeTarget): Promise<string | undefined> {
  for (const name of target.gateways) {
    const r = await compose(target, ['up', '-d', '--no-deps', '--force-recreate', name]);
    if (r.exitCode !== 0) return r.stderr.trim().split('\n').pop() ?? `exit code ${r.exitCode}`;
    await waitHealthy(target);
  }
  return undefined;
}

interface ContainerState {
  id: string;
  name: string;
  status: string;
  health: string;
  /** Exited, or restarted more than once: it will not get healthy by waiting. */
  crashing: boolean;
}

/**
 * The project's containers, as `compose ps -q [service]` lists them (one-off `run` containers left out),
 * asked of the engine by compose's labels: docker-compose 1.29 takes seconds per call on a busy host.
 */
export async function projectContainers(target: ComposeTarget, service?: string): Promise<string[]> {
  const filters = [
    `label=com.docker.compose.project=${target.project}`,
    'label=com.docker.compose.oneoff=False',
    ...(service ? [`label=com.docker.compose.service=${service}`] : []),
  ].flatMap((f) => ['--filter', f]);
  const r = await $({ quiet: true, nothrow: true })`docker ps -a -q ${filters}`;
  return r.stdout.trim().split('\n').filter(Boolean);
}

/**
 * `compose exec -T service args` without compose: docker exec in the service's first container, with
 * `input` on stdin. Fails as compose does (exit 1, a message) when the service has no container.
 */
export async function composeExec(
  target: ComposeTarget,
  service: string,
  args: string[],
  opts: { quiet?: boolean; input?: string } = {},
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const [id] = await projectContainers(target, service);
  if (!id) return { exitCode: 1, stdout: '', stderr: `no container of ${service} is running` };
  const io = opts.quiet === false ? { stdio: 'inherit' as const } : { quiet: true };
  const input = opts.input === undefined ? {} : { input: opts.input };
  const interactive = opts.input === undefined ? [] : ['-i'];
  return $({ ...io, ...input, nothrow: true })`docker exec ${interactive} ${id} ${args}`;
}

async function containerStates(file: ComposeTarget): Promise<ContainerState[]> {
  const ids = await projectContainers(file);
  return Promise.all(
    ids.map(async (id) => {
      const r = await $({
        quiet: true,
        nothrow: true,
      })`docker inspect --format ${'{{.RestartCount}} {{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}'} ${id}`;
      const [restarts = '0', name = id, status = '', health = ''] = r.stdout.trim().split(' ');
      return {
        id,
        name: name.replace(/^\//, ''),
        status,
        health,
        crashing: status === 'exited' || Number(restarts) >= 2,
      };
    }),
  );
}

/** Fails, naming the command that starts it, when no container of the deployment is running. */
export async function requireRunning(project: string): Promise<void> {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`docker ps -q --filter ${'label=com.docker.compose.project=' + project}`;
  if (r.exitCode === 0 && r.stdout.trim() === '')
    fail('the deployment is not running; start it with npm run up');
}

/** Fails, naming the command that starts it, when nothing listens at the endpoint (whatever engine runs it). */
export async function requireAnswering(endpoint: string): Promise<void> {
  const url = new URL(endpoint);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const answered = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: url.hostname, port, timeout: 5000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
  if (!answered)
    fail(`nothing answers at ${endpoint}: the deployment is not running; start it with npm run up`);
}

/** The first volume of this deployment that already exists, if any: its data depends on the secrets. */
export async function existingDataVolume(project: string): Promise<string | undefined> {
  if ((await $({ quiet: true, nothrow: true })`docker info`).exitCode !== 0) return undefined;
  for (const v of [`${project}_postgres-data`, `${project}_coffer-data`]) if (await volumeExists(v)) return v;
  return undefined;
}

/** The bundled Postgres's volume, when the project has one. */
export async function bundledPostgresVolume(project: string): Promise<string | undefined> {
  const v = `${project}_postgres-data`;
  return (await volumeExists(v)) ? v : undefined;
}

/**
 * Which services are not healthy and the last thing each one logged: when the gateway refuses to start,
 * the operator reads its one-line reason, not that nginx (which waits for it) did not come up. Services
 * that keep dying are named alone, since the others are unhealthy only because of them.
 */
export async function diagnose(file: ComposeTarget, states?: ContainerState[]): Promise<string> {
  const unhealthy = (states ?? (await containerStates(file))).filter((c) => c.health !== 'healthy');
  const crashing = unhealthy.filter((c) => c.crashing);
  const named = crashing.length ? crashing : unhealthy;
  const lines = await Promise.all(
    named.map(async (c) => {
      const logs = await $({ quiet: true, nothrow: true })`docker logs --tail 20 ${c.id}`;
      const last = `${logs.stdout}\n${logs.stderr}`
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .pop();
      return `${c.name} ${c.status}${c.health ? ` ${c.health}` : ''}${last ? ` (last log line: ${last})` : ''}`;
    }),
  );
  return lines.join('; ');
}

/** secrets/ for this deployment as up and restore make it: what is there is kept, what is missing made. */
export async function deploymentSecrets(
  root: string,
  o: DeployOptions,
  existingData?: string,
): Promise<SetupResult> {
  return setupCredentials({
    root,
    domain: o.domain,
    extraHosts: o.extraHostNames,
    extraIps: o.extraIps,
    force: false,
    existingData,
    archive: o.preset !== undefined,
  });
}
