import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { $ } from 'zx';
import { topology, type TopologyOptions } from '../../stacks/topology.js';
import { debianMirror } from './apt-mirror.js';
import { inputsDigest } from './build-inputs.js';
import { fail, step } from './exec.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const BASE_IMAGE = 'debian:trixie-slim';
const q = $({ quiet: true, nothrow: true });

export async function imageExists(ref: string): Promise<boolean> {
  return (await q`docker image inspect ${ref}`).exitCode === 0;
}

/**
 * The one Debian base every image builds FROM: pulled where a registry answers, otherwise bootstrapped
 * with debootstrap and imported under the same tag (air-gapped sites, and this project's CI).
 */
export async function ensureBaseImage(mirrorOverride?: string): Promise<string> {
  if (await imageExists(BASE_IMAGE)) return 'present';
  const mirror = mirrorOverride ?? (await debianMirror(process.env));
  step(`pulling ${BASE_IMAGE}`);
  if ((await $({ quiet: true, nothrow: true, timeout: '120s' })`docker pull ${BASE_IMAGE}`).exitCode === 0)
    return 'pulled';
  if ((await q`command -v debootstrap`).exitCode !== 0) {
    fail(`${BASE_IMAGE} cannot be pulled and debootstrap is not installed (apt-get install debootstrap)`);
  }
  if (process.getuid?.() !== 0)
    fail(`${BASE_IMAGE} cannot be pulled; bootstrapping it with debootstrap needs root`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'coffer-rootfs-'));
  try {
    step(`no registry: bootstrapping ${BASE_IMAGE} with debootstrap from ${mirror} (about a minute)`);
    const boot = await $({
      quiet: true,
      nothrow: true,
    })`debootstrap --variant=minbase trixie ${dir} ${mirror}`;
    if (boot.exitCode !== 0)
      fail(`debootstrap failed: ${boot.stderr.trim().split('\n').pop() ?? boot.exitCode}`);
    await rm(path.join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    await rm(path.join(dir, 'var/lib/apt/lists'), { recursive: true, force: true });
    await mkdir(path.join(dir, 'var/lib/apt/lists/partial'), { recursive: true });
    await mkdir(path.join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
    const imported = await $({
      quiet: true,
      nothrow: true,
    })`tar -C ${dir} -c . | docker import --change ${'CMD ["bash"]'} - ${BASE_IMAGE}`;
    if (imported.exitCode !== 0) fail(`docker import failed: ${imported.stderr.trim()}`);
    return 'bootstrapped';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The gateway's runtime dependencies at the exact versions the lockfile resolved. */
async function pinnedRuntimeDeps(): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'service/package.json'), 'utf8'));
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const out: Record<string, string> = {};
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    const entry = lock.packages?.[`node_modules/${name}`] ?? lock.packages?.[`service/node_modules/${name}`];
    if (!entry?.version) fail(`package-lock.json has no resolved version for ${name}; run npm install`);
    out[name] = entry.version;
  }
  return out;
}

/**
 * Stages the gateway image's context: compiled code plus production node_modules installed on the host
 * (the build itself cannot reach the npm registry). Reinstalls only when the pinned dependencies change.
 */
async function stageGateway(): Promise<string> {
  const stage = path.join(ROOT, '.coffer-build', 'gateway');
  const app = path.join(stage, 'app');
  await mkdir(app, { recursive: true });
  const deps = await pinnedRuntimeDeps();
  const manifest = JSON.stringify(
    { name: 'coffer-gateway', private: true, type: 'module', dependencies: deps },
    null,
    2,
  );
  const manifestPath = path.join(app, 'package.json');
  const current = existsSync(manifestPath) ? await readFile(manifestPath, 'utf8') : '';
  if (current !== manifest || !existsSync(path.join(app, 'node_modules'))) {
    step('installing the gateway runtime dependencies for the image');
    await rm(path.join(app, 'node_modules'), { recursive: true, force: true });
    await writeFile(manifestPath, manifest);
    const r = await $({
      quiet: true,
      nothrow: true,
      cwd: app,
    })`npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock --loglevel=error`;
    if (r.exitCode !== 0)
      fail(`npm install for the gateway image failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  await rm(path.join(app, 'dist'), { recursive: true, force: true });
  await cp(path.join(ROOT, 'service/dist'), path.join(app, 'dist'), { recursive: true });
  // The console's static files sit beside dist/, where the compiled gateway looks for them.
  await rm(path.join(app, 'console'), { recursive: true, force: true });
  await cp(path.join(ROOT, 'service/console'), path.join(app, 'console'), { recursive: true });
  await cp(path.join(ROOT, 'service/Dockerfile'), path.join(stage, 'Dockerfile'));
  await rm(path.join(stage, 'docker'), { recursive: true, force: true });
  await cp(path.join(ROOT, 'service/docker'), path.join(stage, 'docker'), { recursive: true });
  return stage;
}

const INPUTS_LABEL = 'coffer.inputs';

/** What the gateway's compiled code is made from: tsc's output is a function of these. */
const COMPILE_INPUTS = [
  'service/src',
  'service/tsconfig.build.json',
  'tsconfig.base.json',
  'package-lock.json',
];

/**
 * Compiles the gateway unless service/dist is what compiling the current sources gave last time: the
 * stamp names both the sources and the output, so a dist built since from other sources is rebuilt.
 */
async function compileGateway(): Promise<void> {
  const stampFile = path.join(ROOT, '.coffer-build', 'dist-inputs');
  const dist = path.join(ROOT, 'service/dist');
  const sources = await inputsDigest(COMPILE_INPUTS.map((p) => path.join(ROOT, p)));
  const stamp = existsSync(stampFile) ? await readFile(stampFile, 'utf8') : '';
  if (existsSync(dist) && stamp === `${sources} ${await inputsDigest([dist])}`) return;
  step('compiling the gateway');
  const build = await $({ quiet: true, nothrow: true, cwd: ROOT })`npm run build --silent`;
  if (build.exitCode !== 0) fail(`compiling the gateway failed:\n${build.stdout}${build.stderr}`);
  await mkdir(path.dirname(stampFile), { recursive: true });
  await writeFile(stampFile, `${sources} ${await inputsDigest([dist])}`);
}

async function builtFrom(image: string): Promise<string | undefined> {
  const r = await q`docker image inspect --format ${'{{json .Config.Labels}}'} ${image}`;
  if (r.exitCode !== 0) return undefined;
  const labels = JSON.parse(r.stdout.trim() || 'null') as Record<string, string> | null;
  return labels?.[INPUTS_LABEL];
}

/**
 * Builds the images the topology names, from the shared Debian base. An image whose label says it
 * was built from the same context and base is kept as it is: rebuilding it would give it a new id, and
 * compose would then recreate a running container for nothing.
 */
export async function buildImages(options: Partial<TopologyOptions> = {}): Promise<void> {
  await ensureBaseImage();
  const base = (await q`docker image inspect --format ${'{{.Id}}'} ${BASE_IMAGE}`).stdout.trim();
  await compileGateway();
  let gatewayStage: string | undefined;
  const built = new Set<string>();
  for (const s of topology(options).services) {
    // Several sync services share one image, built from the gateway's staged context.
    if (built.has(s.image)) continue;
    built.add(s.image);
    const context =
      s.buildContext === 'service'
        ? (gatewayStage ??= await stageGateway())
        : path.join(ROOT, s.buildContext);
    const digest = await inputsDigest([context], [base]);
    if ((await builtFrom(s.image)) === digest) {
      step(`${s.image} is up to date`);
      continue;
    }
    step(`building ${s.image}`);
    const r =
      await q`docker build --pull=false --label ${`${INPUTS_LABEL}=${digest}`} -t ${s.image} ${context}`;
    if (r.exitCode !== 0)
      fail(`docker build of ${s.image} failed:\n${r.stderr.split('\n').slice(-15).join('\n')}`);
  }
}
