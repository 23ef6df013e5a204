import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it, vi } from 'vitest';
import { parseDeploymentConfig, rawConfig } from '../../stacks/config.js';
import { installMocks, resolve } from '../support/pulumi-mocks.js';

describe('stacks/index.ts, the program `pulumi up` runs', () => {
  it('reads the stack config and exports endpoint, root CA and secret credentials', async () => {
    const mocks = await installMocks();
    pulumi.runtime.setAllConfig(
      { 'coffer:domain': 's3.lan', 'coffer:httpsPort': '9443', 'aws:region': 'x' },
      [],
    );
    const program = await import('../../stacks/index.js');
    expect(await resolve(program.endpoint)).toBe('https://s3.lan:9443');
    expect(await pulumi.isSecret(program.credentials)).toBe(true);
    expect(await resolve(program.rootCaPem)).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // The program exports no container; wait for the engine (here the mocks) to see nginx registered.
    const nginx = await vi.waitFor(() => {
      const r = mocks.records.find((x) => x.name === 'nginx');
      if (!r) throw new Error('nginx is not registered yet');
      return r;
    });
    expect(nginx.props.envs).toContain('S3_DOMAIN=s3.lan');
  });

  it('refuses bad config before declaring anything, naming the key', () => {
    pulumi.runtime.setAllConfig({ 'coffer:httpsPort': 'https', 'coffer:tlsMinVersion': '1.1' }, []);
    expect(() => parseDeploymentConfig(rawConfig(pulumi.runtime.allConfig(), pulumi.getProject()))).toThrow(
      /coffer:httpsPort must be a port number 1-65535 \(got "https"\)\n {2}- coffer:tlsMinVersion must be one of 1\.2, 1\.3/,
    );
  });
});
