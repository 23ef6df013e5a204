/** The running deployment as an rclone S3 remote: its endpoint, first credential and root CA. */
import path from 'node:path';
import { endpointOf, requireAnswering, type DeployOptions } from './deploy.js';
import type { S3Remote } from '../../service/src/transfer/rclone.js';
import { readCredentials } from './secrets.js';

export async function deploymentRemote(root: string, o: DeployOptions): Promise<S3Remote> {
  const endpoint = endpointOf(o);
  await requireAnswering(endpoint);
  const [cred] = await readCredentials(root);
  return {
    endpoint,
    accessKeyId: cred!.client_id,
    secretAccessKey: cred!.client_secret,
    caFile: path.join(root, 'secrets', 'root.crt'),
  };
}
