/**
 * The Pulumi program (Pulumi.yaml → stacks/index.ts): reads and validates the stack config, then
 * declares one CofferDeployment. Stack outputs: endpoint, rootCaPem, credentials (secret), archiveCredentials (secret, with the preset), masterKey (secret: back it up).
 */
import * as pulumi from '@pulumi/pulumi';
import { parseDeploymentConfig, rawConfig } from './config.js';
import { CofferDeployment } from './deployment.js';
import { existingSecrets } from './existing-secrets.js';

const config = parseDeploymentConfig(rawConfig(pulumi.runtime.allConfig(), pulumi.getProject()));
const deployment = new CofferDeployment('coffer', {
  config,
  existing: existingSecrets(config, process.cwd()),
});

export const endpoint = deployment.endpoint;
export const rootCaPem = deployment.rootCaPem;
export const credentials = deployment.credentials;
export const consoleLogin = deployment.consoleLogin;
export const archiveCredentials = deployment.archiveCredentials;
export const masterKey = deployment.masterKey;
