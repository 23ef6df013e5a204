import { createHash } from 'node:crypto';
import { newUploadId } from '../crypto/opaque-id.js';
import type { Knex } from 'knex';
import { recordsAfter, type ChangeDetails } from '../audit/audit-log.js';
import { createChecksum, type ChecksumAlgorithm } from '../integrity/checksums.js';
import { combineParts, isCrc } from '../integrity/crc-combine.js';
import type { Sealer } from '../blobs/sealer.js';
import { S3Error } from '../errors/s3-errors.js';
import { retentionOf } from './object-lock.js';
import { headerColumns, lockColumns, type HeaderColumns } from './rows.js';
import type { Store } from './store.js';
import { dropUploads } from './trash.js';
import { normalizeEtag } from './etags.js';
import { commonPrefixOf } from './listing.js';
import type {
  Acl,
  Bucket,
  LayoutPart,
  ObjectHeaders,
  ObjectInfo,
  ObjectLockInput,
  RetentionMode,
  WriteCondition,
} from './types.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface UploadRow extends HeaderColumns {
  upload_id: string;
  bucket_id: string | number;
  key: Buffer;
  initiator: string;
  initiated_at: Date;
  user_metadata: Record<string, string>;
  checksum_algorithm: ChecksumAlgorithm | null;
  checksum_type: string | null;
  tags: Record<string, string> | null;
  acl: Acl | null;
  retain_mode: RetentionMode | null;
  retain_until: Date | null;
  legal_hold: boolean;
}

export interface PartRow {
  upload_id: string;
  part_number: number;
  size: string | number;
  etag: string;
  checksum: string | null;
  blob_id: string;
  wrapped_key: Buffer;
  segment_size: number;
  last_modified: Date;
}

export interface CreateUploadInput extends ObjectHeaders {
  key: string;
  /** Who started the upload, as ListMultipartUploads reports it. */
  initiator: string;
  /** Retention and legal hold asked at CreateMultipartUpload, applied when Complete creates the version. */
  lock?: ObjectLockInput;
  userMetadata: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: 'COMPOSITE' | 'FULL_OBJECT';
  tags?: Record<string, string>;
  /** The object's ACL, applied when Complete creates it. */
  acl?: Acl;
}

export interface UploadPartInput {
  key: string;
  uploadId: string;
  partNumber: number;
  body: AsyncIterable<Buffer>;
  /** The body's length when the request declared it: sealing then needs no look-ahead. */
  size?: number;
  finalize(): Promise<{ etag: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }>;
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksum?: string;
}

export interface UploadListing {
  uploads: Array<{ key: string; uploadId: string; initiator: string; initiated: Date }>;
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

/** How long a completed upload's answer is kept for retries. */
const COMPLETED_KEPT_MS = 24 * 3600 * 1000;

/** The multipart ETag a list of part ETags produces: MD5 of their binary MD5s, then the part count. */
function multipartEtag(partEtags: string[]): string {
  const md5s = Buffer.concat(partEtags.map((e) => Buffer.from(normalizeEtag(e).replace(/"/g, ''), 'hex')));
  return `"${createHash('md5').update(md5s).digest('hex')}-${partEtags.length}"`;
}

/**
 * Multipart uploads. Each part is sealed as its own blob with the same durability protocol as an
 * object; Complete commits, in one transaction, the object row listing those blobs and the removal
 * of the upload, so a crash leaves either the upload or the object, never a torn object.
 */
export class Multipart {
  constructor(
    private readonly db: Knex,
    private readonly sealer: Sealer,
    private readonly store: Store,
  ) {}

  async create(bucket: Bucket, input: CreateUploadInput): Promise<string> {
    // Refused now, not at Complete: lock settings on a bucket without object lock.
    this.store.lockFor(bucket, input.lock);
    const uploadId = newUploadId();
    await this.store.changing([{ key: input.key }], (db) =>
      db('uploads').insert({
        upload_id: uploadId,
        bucket_id: bucket.id,
        key: Buffer.from(input.key, 'utf8'),
        initiator: input.initiator,
        ...headerColumns(input),
        user_metadata: JSON.stringify(input.userMetadata),
        checksum_algorithm: input.checksumAlgorithm ?? null,
        checksum_type: input.checksumAlgorithm ? (input.checksumType ?? 'COMPOSITE') : null,
        tags: JSON.stringify(input.tags ?? {}),
        acl: input.acl ? JSON.stringify(input.acl) : null,
        ...lockColumns(input.lock),
      }),
    );
    return uploadId;
  }

  /** The upload, checked against the bucket and key the request names. */
  async upload(bucket: Bucket, key: string, uploadId: string, db: Knex = this.db): Promise<UploadRow> {
    const row: UploadRow | undefined = await db('uploads')
      .where({ upload_id: uploadId, bucket_id: bucket.id, key: Buffer.from(key, 'utf8') })
      .first();
    if (!row) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return row;
  }

  async uploadPart(
    bucket: Bucket,
    input: UploadPartInput,
  ): Promise<{ etag: string; checksums: Partial<Record<ChecksumAlgorithm, string>> }> {
    const upload = await this.upload(bucket, input.key, input.uploadId);
    // Parts are always files: an object row references them by blob id.
    const { sealed, digests } = await this.sealer.seal(input.body, input.finalize, {
      inline: false,
      size: input.size,
    });
    if (upload.checksum_algorithm && !digests.checksums[upload.checksum_algorithm]) {
      await this.sealer.remove(sealed.location.blobId!);
      throw new S3Error(
        'InvalidRequest',
        `This upload uses ${upload.checksum_algorithm.toUpperCase()} checksums; the part must carry one.`,
      );
    }
    const row = {
      upload_id: input.uploadId,
      part_number: input.partNumber,
      size: sealed.size,
      etag: digests.etag,
      checksum: upload.checksum_algorithm ? digests.checksums[upload.checksum_algorithm]! : null,
      blob_id: sealed.location.blobId!,
      wrapped_key: sealed.wrappedKey,
      segment_size: sealed.segmentSize,
      last_modified: new Date(),
    };
    let replaced: string[];
    try {
      // A re-uploaded part replaces the earlier one; its blob is trash in the same commit.
      const result = await this.store.committing([{ key: input.key, bytes: sealed.size }], ([audit]) =>
        this.db.raw(
          `WITH old AS (SELECT blob_id FROM parts WHERE upload_id = ? AND part_number = ? FOR UPDATE),
             ins AS (?),
             trash AS (INSERT INTO blob_trash (blob_id) SELECT blob_id FROM old ON CONFLICT DO NOTHING)${audit ? ', audited AS (?)' : ''}
           SELECT ARRAY(SELECT blob_id FROM old) AS replaced`,
          [
            input.uploadId,
            input.partNumber,
            this.db('parts').insert(row).onConflict(['upload_id', 'part_number']).merge(),
            ...(audit ? [recordsAfter(this.db, [audit], 'old')] : []),
          ],
        ),
      );
      replaced = result.rows[0].replaced as string[];
    } catch (err) {
      await this.sealer.remove(sealed.location.blobId!).catch(() => undefined);
      // The upload was completed or aborted while this part streamed in.
      if ((err as { code?: string }).code === '23503')
        throw new S3Error('NoSuchUpload', undefined, { UploadId: input.uploadId });
      throw err;
    }
    await this.store.trash.free(replaced);
    return digests;
  }

  async complete(
    bucket: Bucket,
    key: string,
    uploadId: string,
    requested: CompletePart[],
    condition?: WriteCondition,
    /** Checksums of the whole object the client sent with Complete, checked against those computed. */
    expected: Partial<Record<ChecksumAlgorithm, string>> = {},
  ): Promise<ObjectInfo> {
    if (requested.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
    for (let i = 1; i < requested.length; i++) {
      if (requested[i]!.partNumber <= requested[i - 1]!.partNumber) throw new S3Error('InvalidPartOrder');
    }
    try {
      return await this.completeOnce(bucket, key, uploadId, requested, condition, expected);
    } catch (err) {
      if (!(err instanceof S3Error && err.code === 'NoSuchUpload')) throw err;
      const done = await this.completedBefore(bucket, key, uploadId, requested);
      if (!done) throw err;
      return done;
    }
  }

  /**
   * A retried Complete of an upload that already completed with the same parts gets the answer the
   * first one got, as AWS answers it; any other list of parts still finds no such upload.
   */
  private async completedBefore(
    bucket: Bucket,
    key: string,
    uploadId: string,
    requested: CompletePart[],
  ): Promise<ObjectInfo | undefined> {
    const row = await this.db('completed_uploads')
      .where({ upload_id: uploadId, bucket_id: bucket.id, key: Buffer.from(key, 'utf8') })
      .first();
    if (!row || row.etag !== multipartEtag(requested.map((p) => p.etag))) return undefined;
    return {
      key,
      size: Number(row.size),
      etag: row.etag,
      lastModified: row.completed_at,
      userMetadata: {},
      checksums: row.checksums,
      checksumType: row.checksum_type ?? undefined,
      partsCount: row.parts_count,
      versionId: row.version_id ?? undefined,
    };
  }

  private async completeOnce(
    bucket: Bucket,
    key: string,
    uploadId: string,
    requested: CompletePart[],
    condition: WriteCondition | undefined,
    expected: Partial<Record<ChecksumAlgorithm, string>>,
  ): Promise<ObjectInfo> {
    let freed: string[] = [];
    // The new object's audit record commits with it, in this transaction.
    const info = await this.store.committing([{ key }], ([audit]) =>
      this.db.transaction(async (trx) => {
        await trx('uploads').where({ upload_id: uploadId }).forUpdate().first();
        const upload = await this.upload(bucket, key, uploadId, trx);
        const rows: PartRow[] = await trx('parts').where({ upload_id: uploadId }).orderBy('part_number');
        const byNumber = new Map(rows.map((r) => [r.part_number, r]));
        const layout: LayoutPart[] = [];
        requested.forEach((p, i) => {
          const part = byNumber.get(p.partNumber);
          if (!part || part.etag !== normalizeEtag(p.etag)) {
            throw new S3Error('InvalidPart', undefined, { PartNumber: String(p.partNumber), ETag: p.etag });
          }
          if (p.checksum !== undefined && part.checksum !== null && p.checksum !== part.checksum) {
            throw new S3Error(
              'InvalidPart',
              `The checksum of part ${p.partNumber} does not match the uploaded part.`,
            );
          }
          if (i < requested.length - 1 && Number(part.size) < MIN_PART_SIZE) {
            throw new S3Error('EntityTooSmall', undefined, {
              ProposedSize: String(part.size),
              MinSizeAllowed: String(MIN_PART_SIZE),
              PartNumber: String(p.partNumber),
            });
          }
          layout.push({
            partNumber: part.part_number,
            size: Number(part.size),
            etag: part.etag,
            blobId: part.blob_id,
            wrappedKey: part.wrapped_key.toString('base64'),
            segmentSize: part.segment_size,
            checksum: part.checksum ?? undefined,
          });
        });
        const etag = multipartEtag(layout.map((p) => p.etag));
        const checksums: ObjectInfo['checksums'] = {};
        const fullObject = upload.checksum_type === 'FULL_OBJECT';
        const alg = upload.checksum_algorithm;
        if (alg && layout.every((p) => p.checksum)) {
          checksums[alg] =
            fullObject && isCrc(alg)
              ? combineParts(
                  alg,
                  layout.map((p) => ({ checksum: p.checksum!, size: p.size })),
                )
              : await compositeChecksum(
                  alg,
                  layout.map((p) => p.checksum!),
                );
        }
        if (alg && expected[alg] !== undefined && checksums[alg] !== expected[alg]) {
          throw new S3Error(
            'BadDigest',
            `The ${alg.toUpperCase()} you specified did not match the calculated checksum.`,
          );
        }
        const now = new Date();
        const size = layout.reduce((n, p) => n + p.size, 0);
        const committed = await this.store.commitObject(
          bucket,
          {
            bucket_id: upload.bucket_id,
            key: upload.key,
            size,
            etag,
            last_modified: now,
            content_type: upload.content_type,
            content_encoding: upload.content_encoding,
            content_disposition: upload.content_disposition,
            content_language: upload.content_language,
            cache_control: upload.cache_control,
            expires: upload.expires,
            user_metadata: JSON.stringify(upload.user_metadata ?? {}),
            tags: JSON.stringify(upload.tags ?? {}),
            acl: upload.acl ? JSON.stringify(upload.acl) : null,
            checksums: JSON.stringify(checksums),
            checksum_type: alg ? (fullObject ? 'FULL_OBJECT' : 'COMPOSITE') : null,
            blob_id: null,
            inline_data: null,
            wrapped_key: Buffer.alloc(0),
            segment_size: 0,
            layout: JSON.stringify(layout),
            // The version is created now: the bucket's default retention applies unless the upload asked its own.
            ...lockColumns(
              this.store.lockFor(bucket, {
                retention: retentionOf({ ...upload, legal_hold: upload.legal_hold }),
                legalHold: upload.legal_hold,
              }),
            ),
          },
          trx,
          condition,
        );
        freed = committed.replaced;
        // Parts uploaded but not listed are not part of the object: their blobs become trash with this commit.
        const used = new Set(layout.map((p) => p.blobId));
        const unused = rows.map((r) => r.blob_id).filter((b) => !used.has(b));
        if (unused.length)
          await trx('blob_trash')
            .insert(unused.map((blob_id) => ({ blob_id })))
            .onConflict()
            .ignore();
        freed.push(...unused);
        await trx('uploads').where({ upload_id: uploadId }).delete();
        await trx('completed_uploads')
          .where('completed_at', '<', new Date(now.getTime() - COMPLETED_KEPT_MS))
          .delete();
        await trx('completed_uploads').insert({
          upload_id: uploadId,
          bucket_id: upload.bucket_id,
          key: upload.key,
          etag,
          size,
          checksums: JSON.stringify(checksums),
          checksum_type: alg ? (fullObject ? 'FULL_OBJECT' : 'COMPOSITE') : null,
          parts_count: layout.length,
          completed_at: now,
          version_id: committed.versionId,
        });
        if (audit) await trx('audit_log').insert({ ...audit, bytes: size, version_id: committed.versionId });
        return {
          key,
          size,
          etag,
          lastModified: now,
          userMetadata: upload.user_metadata ?? {},
          checksums,
          checksumType: fullObject ? ('FULL_OBJECT' as const) : ('COMPOSITE' as const),
          partsCount: layout.length,
          versionId: committed.versionId,
        };
      }),
    );
    await this.store.trash.free(freed);
    return info;
  }

  async abort(bucket: Bucket, key: string, uploadId: string): Promise<void> {
    await this.upload(bucket, key, uploadId);
    if (!(await this.drop(uploadId, [{ key }])))
      throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
  }

  /** One page of an upload's parts: those numbered above `page.marker`, at most `page.maxParts`. */
  async listParts(
    bucket: Bucket,
    key: string,
    uploadId: string,
    page: { marker: number; maxParts: number },
  ): Promise<{ upload: UploadRow; parts: PartRow[]; isTruncated: boolean }> {
    const { marker, maxParts } = page;
    const upload = await this.upload(bucket, key, uploadId);
    const rows: PartRow[] = await this.db('parts')
      .where({ upload_id: uploadId })
      .where('part_number', '>', marker)
      .orderBy('part_number')
      .limit(maxParts + 1);
    return { upload, parts: rows.slice(0, maxParts), isTruncated: rows.length > maxParts };
  }

  async listUploads(
    bucket: Bucket,
    opts: {
      prefix: string;
      delimiter: string;
      keyMarker: string;
      uploadIdMarker: string;
      maxUploads: number;
    },
  ): Promise<UploadListing> {
    const rows: UploadRow[] = await this.db('uploads')
      .where({ bucket_id: bucket.id })
      .orderBy([{ column: 'key' }, { column: 'initiated_at' }, { column: 'upload_id' }]);
    const out: UploadListing = { uploads: [], commonPrefixes: [], isTruncated: false };
    let count = 0;
    for (const r of rows) {
      const k = r.key.toString('utf8');
      if (!k.startsWith(opts.prefix)) continue;
      const cmp = Buffer.compare(r.key, Buffer.from(opts.keyMarker, 'utf8'));
      if (
        opts.keyMarker &&
        (cmp < 0 || (cmp === 0 && (!opts.uploadIdMarker || r.upload_id <= opts.uploadIdMarker)))
      )
        continue;
      const cp = commonPrefixOf(k, opts.prefix, opts.delimiter);
      if (cp !== undefined) {
        if (out.commonPrefixes.at(-1) === cp) continue;
        if (count === opts.maxUploads) return { ...out, isTruncated: true };
        out.commonPrefixes.push(cp);
        out.nextKeyMarker = cp;
        out.nextUploadIdMarker = undefined;
        count++;
        continue;
      }
      if (count === opts.maxUploads) return { ...out, isTruncated: true };
      out.uploads.push({ key: k, uploadId: r.upload_id, initiator: r.initiator, initiated: r.initiated_at });
      out.nextKeyMarker = k;
      out.nextUploadIdMarker = r.upload_id;
      count++;
    }
    return out;
  }

  /**
   * Removes an upload and queues its parts' blobs as trash in one transaction, then frees them.
   * False when the upload was already gone (a racing Complete or Abort won).
   */
  /** Drops an upload and its parts; false when it is gone already. `audited`: the request's record with it. */
  private async drop(uploadId: string, audited: ChangeDetails[] = []): Promise<boolean> {
    const gone = new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    const freed = await this.store
      .changing(audited, (db) =>
        db.transaction(async (trx) => {
          // Locking the upload first means a racing Complete or Abort either finished or waits for us.
          if (!(await trx('uploads').where({ upload_id: uploadId }).forUpdate().first('upload_id')))
            throw gone; // nothing dropped: no record commits either
          return dropUploads(trx, { upload_id: uploadId });
        }),
      )
      .catch((err: unknown) => {
        if (err === gone) return undefined;
        throw err;
      });
    if (!freed) return false;
    await this.store.trash.free(freed);
    return true;
  }

  /** Aborts uploads older than the cutoff: their parts are storage no one can reach. */
  async abortStale(olderThan: Date): Promise<number> {
    // A bucket whose lifecycle aborts incomplete uploads decides for itself (lifecycle-worker.ts).
    const stale: Array<{ upload_id: string }> = await this.db('uploads')
      .select('upload_id')
      .where('initiated_at', '<', olderThan)
      .whereNotExists((q) =>
        q
          .select(this.db.raw('1'))
          .from('buckets as b')
          .whereRaw('b.id = uploads.bucket_id')
          .whereRaw('jsonb_path_exists(b.lifecycle, ?::jsonpath)', [
            '$.rules[*] ? (@.enabled == true && exists(@.abortIncompleteMultipartUploadDays))',
          ]),
      );
    let n = 0;
    for (const { upload_id } of stale) if (await this.drop(upload_id)) n++;
    return n;
  }
}

/** AWS's composite checksum: the checksum of the concatenated binary part checksums, suffixed with the part count. */
export async function compositeChecksum(algorithm: ChecksumAlgorithm, parts: string[]): Promise<string> {
  const c = createChecksum(algorithm);
  c.update(Buffer.concat(parts.map((p) => Buffer.from(p, 'base64'))));
  return `${await c.digest()}-${parts.length}`;
}
