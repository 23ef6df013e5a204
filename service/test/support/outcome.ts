import { S3ServiceException } from '@aws-sdk/client-s3';

export interface Outcome {
  /** The S3 error code, or 'OK' when the call succeeded. */
  code: string;
  status: number;
  /** The error's message, for failures. */
  message?: string;
}

/** How an SDK call ended, as S3 reported it: lets tests assert error codes and statuses in one line. */
export async function outcome(
  p: Promise<{ $metadata?: { httpStatusCode?: number } } | unknown>,
): Promise<Outcome> {
  try {
    const out = (await p) as { $metadata?: { httpStatusCode?: number } };
    return { code: 'OK', status: out?.$metadata?.httpStatusCode ?? 200 };
  } catch (err) {
    if (err instanceof S3ServiceException)
      return { code: err.name, status: err.$metadata.httpStatusCode ?? 0, message: err.message };
    throw err;
  }
}
