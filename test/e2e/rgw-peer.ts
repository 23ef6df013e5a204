import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { GenericContainer, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';

/**
 * Ceph RGW 18.2 from ../shared/peers/rgw (a tool beside the project, not part of it) as a container of a
 * test's network: a real distributed store's S3 gateway over RADOS, for the deployment to keep blobs in.
 */
export const RGW_DIR = path.resolve(import.meta.dirname, '../../../shared/peers/rgw');
const IMAGE = 'peer/rgw:18';
export const RGW_PORT = 7480;

/** Whether the peer is beside this checkout; CI has it, so there its absence is a failure, not a skip. */
export function rgwPeerAvailable(): boolean {
  if (existsSync(path.join(RGW_DIR, 'peer-rgw.sh'))) return true;
  if (process.env.CI) throw new Error(`CI needs the Ceph RGW peer at ${RGW_DIR}, and it is missing`);
  return false;
}

export interface StartedRgw {
  container: StartedTestContainer;
  /** The address the other containers of the network reach it by. */
  internalEndpoint: string;
  endpoint: () => string;
  keys: { accessKeyId: string; secretAccessKey: string };
}

/** Builds the peer's image when this host has none (about a minute), then starts it as `rgw` on the network. */
export async function startRgw(network: StartedNetwork): Promise<StartedRgw> {
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore' });
  } catch {
    execFileSync(path.join(RGW_DIR, 'peer-rgw.sh'), ['build'], { stdio: 'ignore', timeout: 900_000 });
  }
  const keys = {
    accessKeyId: randomBytes(10).toString('hex').toUpperCase(),
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  const container = await new GenericContainer(IMAGE)
    .withNetwork(network)
    .withNetworkAliases('rgw')
    .withEnvironment({
      ACCESS_KEY: keys.accessKeyId,
      SECRET_KEY: keys.secretAccessKey,
      RGW_BIND: '0.0.0.0',
      RGW_PORT: String(RGW_PORT),
      OSD_SIZE_GB: '8',
      OSD_MEMORY_TARGET_MB: '1024',
      RGW_THREADS: '64',
    })
    .withExposedPorts(RGW_PORT)
    .withWaitStrategy(Wait.forLogMessage('[peer-rgw] READY'))
    .withStartupTimeout(300_000)
    .start();
  return {
    container,
    internalEndpoint: `http://rgw:${RGW_PORT}`,
    endpoint: () => `http://localhost:${container.getMappedPort(RGW_PORT)}`,
    keys,
  };
}
