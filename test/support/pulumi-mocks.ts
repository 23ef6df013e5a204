/**
 * @pulumi/pulumi runtime mocks for the stack tests: every registered resource is recorded with its
 * inputs, the outputs a provider would add, and the secret outputs its options declare, in the shape
 * the policy pack's stack validation receives.
 */
import * as pulumi from '@pulumi/pulumi';
import type { ResourceRecord } from '../../policies/model.js';

const pem = (label: string, name: string) =>
  `-----BEGIN ${label}-----\n${Buffer.from(`mock ${label} for ${name}`).toString('base64')}\n-----END ${label}-----\n`;

/** What each provider computes, enough for the program's outputs to resolve. */
function providerOutputs(type: string, name: string): Record<string, unknown> {
  switch (type) {
    case 'tls:index/privateKey:PrivateKey':
      return { privateKeyPem: pem('PRIVATE KEY', name), publicKeyPem: pem('PUBLIC KEY', name) };
    case 'tls:index/selfSignedCert:SelfSignedCert':
    case 'tls:index/locallySignedCert:LocallySignedCert':
      return { certPem: pem('CERTIFICATE', name) };
    case 'tls:index/certRequest:CertRequest':
      return { certRequestPem: pem('CERTIFICATE REQUEST', name) };
    case 'random:index/randomPassword:RandomPassword':
      return { result: `mock-password-${name}-0123456789abcdef` };
    case 'random:index/randomString:RandomString':
      return { result: 'MOCK0123456789AB' };
    case 'random:index/randomBytes:RandomBytes':
      return { hex: 'ab'.repeat(32), base64: Buffer.alloc(32, 0xab).toString('base64') };
    default:
      return {};
  }
}

/** The SDK's marker for a secret value on the wire to the engine (and so to these mocks). */
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE = '1b47061264138c4ac30d75fd1eb44270';

/**
 * Plain values as stack policies see them, plus the property paths that arrived as secrets
 * (`uploads[1].content`), so tests can tell what the engine would encrypt in state.
 */
function unwrapSecrets(value: unknown, at: string, secretPaths: string[]): unknown {
  if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, secretPaths));
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_VALUE) {
      secretPaths.push(at);
      return unwrapSecrets(o.value, at, []);
    }
    return Object.fromEntries(
      Object.entries(o).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, secretPaths)]),
    );
  }
  return value;
}

export interface MockRecord extends ResourceRecord {
  secretPaths: string[];
  /** Declared with `protect: true`: the engine refuses to delete it until unprotected. */
  protect: boolean;
}

export interface MockRecorder {
  records: MockRecord[];
  /** Pass as `transformations` so each child's declared secret outputs are recorded. */
  transformation: pulumi.ResourceTransformation;
  reset(): void;
  find(type: string, name: string): MockRecord;
}

export async function installMocks(): Promise<MockRecorder> {
  const records: MockRecord[] = [];
  const secretOutputs = new Map<string, string[]>();
  const protectedResources = new Set<string>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const secretPaths: string[] = [];
        const inputs = unwrapSecrets(args.inputs, '', secretPaths) as Record<string, unknown>;
        const state = { ...inputs, ...providerOutputs(args.type, args.name) };
        records.push({
          type: args.type,
          name: args.name,
          props: state,
          secretPaths,
          additionalSecretOutputs: secretOutputs.get(`${args.type}::${args.name}`) ?? [],
          protect: protectedResources.has(`${args.type}::${args.name}`),
        });
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs,
    },
    'coffer',
    'test',
    false,
  );
  return {
    records,
    transformation: (args) => {
      secretOutputs.set(
        `${args.type}::${args.name}`,
        (args.opts as pulumi.CustomResourceOptions).additionalSecretOutputs ?? [],
      );
      if (args.opts.protect) protectedResources.add(`${args.type}::${args.name}`);
      return undefined;
    },
    reset: () => {
      records.length = 0;
      secretOutputs.clear();
      protectedResources.clear();
    },
    find(type, name) {
      const r = records.find((x) => x.type === type && x.name === name);
      if (!r) throw new Error(`no ${type} named ${name} was registered`);
      return r;
    },
  };
}

export const resolve = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((r) => o.apply(r));
