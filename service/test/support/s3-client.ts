import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/** The SDK v3 client every suite uses: path style in us-east-1, against one endpoint with one credential. */
export function pathStyleClient(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, ...extra });
}
