/**
 * What `down --purge-data` may do: never delete a compliance archive's data (retention binds our own
 * tools too), and delete anyone's data only when the operator confirmed it.
 */
import type { DeployOptions } from './deploy.js';

/** Why the purge must not happen, or undefined when it may (after confirmation). */
export function purgeRefusal(o: Pick<DeployOptions, 'preset'>): string | undefined {
  if (!o.preset) return undefined;
  return (
    `this deployment is a compliance archive (buckets ${o.preset.buckets.join(', ')}, ` +
    `${o.preset.retentionMode} retention of ${o.preset.retentionDays} days): --purge-data would delete data ` +
    'under retention, and is refused; nothing was removed'
  );
}

/**
 * What a purge leaves behind, for the operator to remove or keep on purpose: data kept outside the
 * deployment's volumes (an external Postgres, a remote blob store) is theirs to delete with their tools.
 */
export function leftBehind(
  rcloneConfig: string,
  name: string,
  o: Pick<DeployOptions, 'externalPostgres' | 'blobStore'> = { externalPostgres: false },
): string[] {
  return [
    ...(o.externalPostgres
      ? [
          'the metadata in the external Postgres (secrets/external_database_url.txt): drop its database yourself',
        ]
      : []),
    ...(o.blobStore
      ? [
          `the sealed blobs under ${o.blobStore.endpoint}/${o.blobStore.bucket}/${o.blobStore.prefix}: delete them with the store's tools`,
        ]
      : []),
    'secrets/ (the master key and every credential; a new deployment on new volumes may reuse them)',
    'credentials.json (the backup of those secrets, the master key in clear: keep it offline or delete it)',
    `the rclone remote "${name}" in ${rcloneConfig}`,
    `the aws CLI profile "${name}"`,
  ];
}
