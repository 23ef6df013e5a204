import type { Knex } from 'knex';
import type { ChangeRecorder } from '../audit/audit-log.js';
import { changing } from '../store/audited.js';

export interface PresignedUrlRecord {
  bucket: string;
  key: string;
  method: string;
  accessKey: string;
  createdBy: number;
  createdAt: Date;
  expiresAt: Date;
}

/** Which presigned URLs admins issued (never the URL or its signature): the console lists the live ones. */
export class PresignedUrlLog {
  constructor(
    private readonly db: Knex,
    /** The issuing request's audit record commits with the URL's row: no URL issued unrecorded. */
    private readonly audit?: ChangeRecorder,
  ) {}

  async record(r: PresignedUrlRecord): Promise<void> {
    const details = [{ bucket: r.bucket, key: r.key }];
    await changing(this.db, this.audit, details, (db) =>
      db('presigned_urls').insert({
        bucket_name: r.bucket,
        object_key: r.key,
        method: r.method,
        access_key: r.accessKey,
        created_by: r.createdBy,
        created_at: r.createdAt,
        expires_at: r.expiresAt,
      }),
    );
  }

  /** Up to 1000 URLs that have not expired, newest first, as the API shows them. */
  async active(now = new Date()) {
    const rows = await this.db('presigned_urls')
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .limit(1000);
    return rows.map((r) => ({
      bucket_name: r.bucket_name,
      object_key: r.object_key,
      method: r.method,
      access_key: r.access_key,
      expires_at: r.expires_at,
      created_at: r.created_at,
    }));
  }
}
