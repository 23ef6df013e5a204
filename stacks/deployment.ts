/**
 * CofferDeployment: the topology of stacks/topology.ts declared as Pulumi resources — one network,
 * named volumes for the object data and Postgres, the three locally built images run as containers
 * with their secrets uploaded as files, and the PKI nginx serves.
 */
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import type { DeploymentConfig } from './config.js';
import type { S3Credential } from '../service/src/auth/credentials.js';
import { API_KEY_PREFIX, apiKeyDigest } from '../service/src/crypto/api-keys.js';
import { hashPassword } from '../service/src/management/password.js';
import { webhooksDigest } from '../service/src/parse/webhook-targets.js';
import { createPki } from './pki.js';
import {
  ADMIN_USERNAME,
  ARCHIVE_SECRET_FILES,
  endpointOf,
  MONITORING_SECRET_FILES,
  SECRET_FILES,
  SYNC_SECRET_FILES,
  BLOB_STORE_SECRET_FILES,
  topology,
  type HealthcheckSpec,
  type Topology,
} from './topology.js';

export type SecretName = keyof typeof SECRET_FILES;
export type ArchiveSecretName = keyof typeof ARCHIVE_SECRET_FILES;
export type MonitoringSecretName = keyof typeof MONITORING_SECRET_FILES;
export type SyncSecretName = keyof typeof SYNC_SECRET_FILES;
export type BlobStoreSecretName = keyof typeof BLOB_STORE_SECRET_FILES;
type OptionalSecretName = ArchiveSecretName | MonitoringSecretName | SyncSecretName | BlobStoreSecretName;

/** Secret values the stack keeps instead of generating, e.g. carried over from a compose deployment. */
export interface ExistingSecrets {
  postgresUser?: string;
  postgresPassword?: pulumi.Input<string>;
  masterKey?: pulumi.Input<string>;
  /** The gateway's credentials file: a JSON array of {client_id, client_secret, user_name}. */
  credentialsJson?: pulumi.Input<string>;
  ca?: { keyPem: pulumi.Input<string>; certPem: string };
  /** The admin secret file's content, with the plaintext the operator logs in with where known. */
  admin?: { json: pulumi.Input<string>; password?: pulumi.Input<string>; apiKey?: pulumi.Input<string> };
  /** The compliance-archive preset's keys file: {"ingest": {...}, "reader": {...}}. */
  archiveJson?: pulumi.Input<string>;
}

export interface ConsoleLogin {
  username: string;
  password: string;
  managementApiKey: string;
}

export interface CofferDeploymentArgs {
  config: DeploymentConfig;
  existing?: ExistingSecrets;
}

export const seconds = (n: number) => `${n}s`;

export function dockerHealthcheck(h: HealthcheckSpec): docker.types.input.ContainerHealthcheck {
  return {
    tests: h.test,
    interval: seconds(h.intervalSeconds),
    timeout: seconds(h.timeoutSeconds),
    retries: h.retries,
    startPeriod: seconds(h.startPeriodSeconds),
  };
}

/** Docker's names for a compose project's volumes, so `pulumi up` adopts a compose deployment's data. */
export const volumeName = (project: string, volume: string) => `${project}_${volume}`;

export class CofferDeployment extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<string>;
  readonly rootCaPem: pulumi.Output<string>;
  readonly credentials: pulumi.Output<S3Credential[]>;
  /** The console's first admin and the management API key (secret); unknown when carried over without plaintext. */
  readonly consoleLogin: pulumi.Output<ConsoleLogin | undefined>;
  readonly topology: Topology;
  readonly containers: Record<string, docker.Container>;
  /** What each container finds under /run/secrets, by secret name; every value a Pulumi secret. */
  readonly secretFiles: Record<SecretName, pulumi.Output<string>> &
    Partial<Record<OptionalSecretName, pulumi.Output<string>>>;
  /** The compliance-archive preset's ingest and reader keys (secret); undefined without the preset. */
  readonly archiveCredentials: pulumi.Output<string> | undefined;
  /** The key that wraps (a secret output): the backup an operator must keep, and where a rotation starts. */
  readonly masterKey: pulumi.Output<string>;

  constructor(name: string, args: CofferDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('coffer:index:CofferDeployment', name, {}, opts);
    const c = args.config;
    const existing = args.existing ?? {};
    this.topology = topology({
      domain: c.domain,
      httpsPort: c.httpsPort,
      httpPort: c.httpPort,
      region: c.region,
      enforcePayloadVerification: c.enforcePayloadVerification,
      signatureV2: c.signatureV2,
      bucketDefaults: c.bucketDefaults,
      imageTag: c.imageTag,
      tlsMinVersion: c.tlsMinVersion,
      extraHostNames: c.extraHostNames,
      extraIps: c.extraIps,
      preset: c.preset,
      monitoring: c.monitoring,
      monitoringPort: c.monitoringPort,
      syncJobs: c.syncJobs,
      blobStore: c.blobStore,
      gateways: c.gateways,
      externalPostgres: c.databaseUrl !== undefined,
      ...(c.webhooks ? { webhooks: { digest: webhooksDigest(c.webhooks) } } : {}),
    });

    const pki = createPki(
      {
        domain: c.domain,
        extraHostNames: c.extraHostNames,
        extraIps: c.extraIps,
        existingCa: existing.ca && {
          keyPem: pulumi.output(existing.ca.keyPem),
          certPem: existing.ca.certPem,
        },
      },
      this,
    );
    const admin = this.adminIdentity(existing);
    this.consoleLogin = admin.login;
    const archiveJson = c.preset ? this.archiveKeys(existing) : undefined;
    const secrets = {
      ...this.secretValues(existing, c.previousMasterKeys, admin.json, pki.serverCertPem, pki.serverKeyPem),
      ...(c.databaseUrl ? { database_url: pulumi.secret(c.databaseUrl) } : {}),
      ...(c.webhooks ? { webhooks_json: pulumi.secret(c.webhooks) } : {}),
      ...(archiveJson ? { archive_credentials_json: archiveJson } : {}),
      ...(c.monitoring ? { management_api_key: this.scrapeKey(admin.login) } : {}),
      ...(c.syncJobs.length ? { root_crt: pulumi.output(pki.caCertPem) } : {}),
      ...(c.blobStore
        ? {
            blob_store_credentials: pulumi.secret(
              JSON.stringify({
                access_key_id: c.blobStoreAccessKeyId,
                secret_access_key: c.blobStoreSecretAccessKey,
              }) + '\n',
            ),
          }
        : {}),
    };
    this.secretFiles = secrets;
    this.masterKey = pulumi.secret(secrets.master_key.apply((k) => k.split('\n')[0]!));
    this.archiveCredentials = archiveJson;

    const network = new docker.Network(
      'backend',
      { name: `${c.project}_backend`, driver: 'bridge', internal: false },
      { parent: this },
    );
    const hostPaths: Record<string, string | undefined> = {
      ...this.topology.hostDirs,
      'coffer-data': c.dataPath,
      'postgres-data': c.postgresDataPath,
    };
    const volumes = Object.fromEntries(
      this.topology.volumes.map((v) => {
        const hostPath = hostPaths[v];
        const volume = new docker.Volume(
          v,
          {
            name: volumeName(c.project, v),
            driver: 'local',
            // A host directory still appears as a named volume, so the containers and policies see one shape.
            ...(hostPath ? { driverOpts: { type: 'none', o: 'bind', device: hostPath } } : {}),
          },
          // Data outlives the stack: `pulumi destroy` leaves the volumes (and so every object) in place.
          { parent: this, retainOnDelete: true },
        );
        return [v, volume];
      }),
    );

    this.containers = {};
    for (const s of this.topology.services) {
      this.containers[s.name] = new docker.Container(
        s.name,
        {
          name: `${c.project}-${s.name}`,
          image: s.image,
          ...(s.entrypoint ? { entrypoints: s.entrypoint } : {}),
          envs: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
          uploads: s.secrets.map((x) => ({
            file: `/run/secrets/${x.name}`,
            content: secrets[x.name as SecretName | OptionalSecretName]!,
            permissions: '0400',
          })),
          volumes: s.volumes.map((v) => ({ volumeName: volumes[v.volume]!.name, containerPath: v.target })),
          tmpfs: Object.fromEntries(s.tmpfs.map((t) => [t, 'rw,nosuid,nodev,noexec'])),
          ports: s.ports.map((p) => ({
            internal: p.target,
            external: p.published,
            ip: p.hostIp ?? c.bindAddress,
          })),
          healthcheck: dockerHealthcheck(s.healthcheck),
          restart: s.restart,
          networksAdvanced: s.networks.map(() => ({
            name: network.name,
            aliases: [s.name, ...s.networkAliases],
          })),
          // `pulumi up` returns only once the service is healthy, like compose's service_healthy.
          wait: true,
          waitTimeout: 300,
          mustRun: true,
        },
        {
          parent: this,
          dependsOn: s.dependsOn.map((d) => this.containers[d]!),
          // Fixed names and ports: the old container must be gone before its replacement starts.
          deleteBeforeReplace: true,
        },
      );
    }

    this.endpoint = pulumi.output(endpointOf(c));
    this.rootCaPem = pki.caCertPem;
    this.credentials = pulumi.secret(
      pulumi.output(secrets.credentials_json).apply((json) =>
        (JSON.parse(json) as Array<{ client_id: string; client_secret: string }>).map((e) => ({
          accessKeyId: e.client_id,
          secretAccessKey: e.client_secret,
        })),
      ),
    );
    this.registerOutputs({
      endpoint: this.endpoint,
      rootCaPem: this.rootCaPem,
      credentials: this.credentials,
      consoleLogin: this.consoleLogin,
      archiveCredentials: this.archiveCredentials,
    });
  }

  /**
   * The preset's ingest and reader keys. Protected: a stack that drops the preset cannot delete them
   * without the operator first unprotecting them on purpose, so an archive is never undone silently.
   */
  private archiveKeys(existing: ExistingSecrets): pulumi.Output<string> {
    if (existing.archiveJson !== undefined) return pulumi.secret(pulumi.output(existing.archiveJson));
    const key = (role: 'ingest' | 'reader') => {
      const id = new random.RandomString(
        `archive-${role}-key-id`,
        { length: 12, special: false, lower: false, upper: true, numeric: true },
        { parent: this, protect: true },
      );
      const secret = new random.RandomPassword(
        `archive-${role}-secret`,
        { length: 40, special: false },
        { parent: this, protect: true },
      );
      return pulumi
        .all([id.result, secret.result])
        .apply(([i, s]) => ({ client_id: `AKIA${role.toUpperCase()}${i}`, client_secret: s }));
    };
    return pulumi.secret(
      pulumi
        .all([key('ingest'), key('reader')])
        .apply(([ingest, reader]) => JSON.stringify({ ingest, reader }, null, 2) + '\n'),
    );
  }

  /** The first admin, as setup-credentials makes it: a random password and API key, only digests uploaded. */
  private adminIdentity(existing: ExistingSecrets): {
    json: pulumi.Output<string>;
    login: pulumi.Output<ConsoleLogin | undefined>;
  } {
    if (existing.admin) {
      const { json, password, apiKey } = existing.admin;
      const login =
        password && apiKey
          ? pulumi
              .all([password, apiKey])
              .apply(([p, k]) => ({ username: ADMIN_USERNAME, password: p, managementApiKey: k }))
          : pulumi.output(undefined);
      return { json: pulumi.secret(json), login: pulumi.secret(login) };
    }
    const password = new random.RandomPassword(
      'admin-password',
      { length: 24, special: false },
      { parent: this },
    ).result;
    const key = new random.RandomPassword(
      'management-api-key',
      { length: 32, special: false },
      { parent: this },
    ).result;
    // A stored salt keeps the hash, and so the gateway container, unchanged from one `pulumi up` to the next.
    const salt = new random.RandomBytes('admin-password-salt', { length: 16 }, { parent: this }).hex;
    const apiKey = key.apply((k) => API_KEY_PREFIX + k);
    const json = pulumi.all([password, apiKey, salt]).apply(async ([p, k, s]) =>
      JSON.stringify({
        username: ADMIN_USERNAME,
        password_hash: await hashPassword(p, Buffer.from(s, 'hex')),
        api_key_sha256: apiKeyDigest(k),
      }),
    );
    const login = pulumi
      .all([password, apiKey])
      .apply(([p, k]) => ({ username: ADMIN_USERNAME, password: p, managementApiKey: k }));
    return { json: pulumi.secret(json), login: pulumi.secret(login) };
  }

  /** Every value a container receives under /run/secrets, each a Pulumi secret. */
  /** Prometheus scrapes with the management API key: without its plaintext there is nothing to scrape with. */
  private scrapeKey(login: pulumi.Output<ConsoleLogin | undefined>): pulumi.Output<string> {
    return pulumi.secret(
      login.apply((l) => {
        if (!l)
          throw new Error(
            'coffer:monitoring needs the management API key in clear (secrets/management_api_key.txt beside coffer:secretsDir)',
          );
        return l.managementApiKey + '\n';
      }),
    );
  }

  private secretValues(
    existing: ExistingSecrets,
    previousMasterKeys: string[],
    adminJson: pulumi.Output<string>,
    serverCertPem: pulumi.Output<string>,
    serverKeyPem: pulumi.Output<string>,
  ): Record<SecretName, pulumi.Output<string>> {
    const postgresUser = existing.postgresUser ?? 'coffer';
    const postgresPassword =
      existing.postgresPassword ??
      new random.RandomPassword('postgres-password', { length: 32, special: false }, { parent: this }).result;
    const masterKey =
      existing.masterKey ?? new random.RandomBytes('master-key', { length: 32 }, { parent: this }).hex;
    let credentialsJson = existing.credentialsJson;
    if (credentialsJson === undefined) {
      const id = new random.RandomString(
        's3-access-key-id',
        { length: 16, special: false, lower: false, upper: true, numeric: true },
        { parent: this },
      );
      const secret = new random.RandomPassword(
        's3-secret-access-key',
        { length: 40, special: false },
        { parent: this },
      );
      credentialsJson = pulumi
        .all([id.result, secret.result])
        .apply(
          ([i, s]) =>
            JSON.stringify([{ client_id: `AKIA${i}`, client_secret: s, user_name: 'admin' }], null, 2) + '\n',
        );
    }
    return {
      postgres_user: pulumi.secret(postgresUser),
      postgres_password: pulumi.secret(postgresPassword),
      database_url: pulumi.secret(
        pulumi.interpolate`postgres://${encodeURIComponent(postgresUser)}:${pulumi
          .output(postgresPassword)
          .apply(encodeURIComponent)}@postgres:5432/coffer`,
      ),
      credentials_json: pulumi.secret(credentialsJson),
      // The first line wraps; the keys a rotation moves away from follow it and only unwrap.
      master_key: pulumi.secret(
        pulumi.output(masterKey).apply((k) => [k.trim(), ...previousMasterKeys].join('\n') + '\n'),
      ),
      admin_json: adminJson,
      // Public, but delivered like the rest: everything under /run/secrets is handled as a secret.
      server_crt: pulumi.secret(serverCertPem),
      server_key: serverKeyPem,
    };
  }
}
