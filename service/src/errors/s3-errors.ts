/**
 * S3 errors as values. Every failure the gateway reports to a client is one of these, so the
 * protocol layer can always answer with AWS's code, status and XML body.
 */
import codes from './s3-error-codes.json' with { type: 'json' };

/** AWS's error catalogue as Coffer uses it: code -> [HTTP status, AWS's default message]. It is data, kept as such. */
export const S3_ERRORS = codes as unknown as Record<keyof typeof codes, readonly [number, string]>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

export class S3Error extends Error {
  readonly status: number;
  /** Extra elements AWS adds to some errors (e.g. BucketName, Key, ArgumentName). */
  readonly extra: Record<string, string>;
  /** Response headers S3 sends with this error (a delete marker's x-amz-delete-marker, ...). */
  headers: Record<string, string> = {};

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    extra: Record<string, string> = {},
  ) {
    const [status, defaultMessage] = S3_ERRORS[code];
    super(message ?? defaultMessage);
    this.name = 'S3Error';
    this.status = status;
    this.extra = extra;
  }

  withHeaders(headers: Record<string, string>): this {
    Object.assign(this.headers, headers);
    return this;
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
