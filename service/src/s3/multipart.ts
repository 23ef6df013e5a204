import { isChecksumAlgorithm, type ChecksumAlgorithm } from '../integrity/checksums.js';
import { isCrc } from '../integrity/crc-combine.js';
import { integerIn } from '../parse/integer.js';
import { MAX_PARTS, type CompletePart } from '../store/multipart.js';
import {
  bucketOf,
  headerOf,
  initiatorOf,
  ownerXml,
  xmlResponse,
  type S3Context,
  type S3Response,
} from './context.js';
import {
  intParam,
  lockFrom,
  newObjectFields,
  partNumberOf,
  tagsFromHeader,
  versionHeader,
  writeConditionOf,
} from './object-request.js';
import { S3Error } from '../errors/s3-errors.js';
import { newObjectAcl } from './acl.js';
import { s3UrlEncode } from './list.js';
import { digesting } from '../integrity/digesting.js';
import { copySource, MAX_COPY_SIZE } from './copy.js';
import type { Body } from './payload.js';
import { documentBody, objectBody } from './request-body.js';
import { isoDate, parseXmlRoot, toXml } from './xml.js';

const CHECKSUM_FIELDS: Record<ChecksumAlgorithm, string> = {
  crc32: 'ChecksumCRC32',
  crc32c: 'ChecksumCRC32C',
  crc64nvme: 'ChecksumCRC64NVME',
  sha1: 'ChecksumSHA1',
  sha256: 'ChecksumSHA256',
};

export async function createMultipartUpload(ctx: S3Context): Promise<S3Response> {
  const alg = headerOf(ctx, 'x-amz-checksum-algorithm')?.toLowerCase();
  if (alg !== undefined && !isChecksumAlgorithm(alg)) {
    throw new S3Error('InvalidRequest', `Checksum algorithm ${alg} is not supported.`);
  }
  const type = headerOf(ctx, 'x-amz-checksum-type')?.toUpperCase() ?? (alg ? 'COMPOSITE' : undefined);
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT') {
    throw new S3Error('InvalidRequest', `Unknown checksum type ${type}.`);
  }
  if (type && !alg)
    throw new S3Error('InvalidRequest', 'x-amz-checksum-type requires x-amz-checksum-algorithm.');
  if (type === 'FULL_OBJECT' && alg && !isCrc(alg)) {
    throw new S3Error(
      'InvalidRequest',
      `The FULL_OBJECT checksum type cannot be used with the ${alg} checksum algorithm.`,
    );
  }
  const uploadId = await ctx.multipart.create(bucketOf(ctx), {
    key: ctx.key!,
    initiator: initiatorOf(ctx),
    ...newObjectFields(ctx),
    acl: newObjectAcl(ctx),
    checksumAlgorithm: alg,
    checksumType: type as 'COMPOSITE' | 'FULL_OBJECT' | undefined,
    tags: tagsFromHeader(ctx),
    lock: lockFrom(ctx),
  });
  const headers: Record<string, string> = {};
  if (alg) {
    headers['x-amz-checksum-algorithm'] = alg.toUpperCase();
    headers['x-amz-checksum-type'] = 'COMPOSITE';
  }
  return xmlResponse(
    toXml('InitiateMultipartUploadResult', { Bucket: ctx.bucket, Key: ctx.key, UploadId: uploadId }),
    200,
    headers,
  );
}

/** Stores one part from a byte stream: the request's body (UploadPart) or a copy source's range. */
function storePart(ctx: S3Context, body: Body) {
  return ctx.multipart.uploadPart(bucketOf(ctx), {
    key: ctx.key!,
    uploadId: ctx.query.get('uploadId')!,
    partNumber: partNumberOf(ctx),
    body: body.chunks,
    size: body.length,
    finalize: body.finalize,
  });
}

export async function uploadPart(ctx: S3Context): Promise<S3Response> {
  const digests = await storePart(ctx, objectBody(ctx));
  const headers: Record<string, string> = { etag: digests.etag };
  for (const [alg, v] of Object.entries(digests.checksums)) headers[`x-amz-checksum-${alg}`] = v;
  return { status: 200, headers };
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export async function completeMultipartUpload(ctx: S3Context): Promise<S3Response> {
  const uploadId = ctx.query.get('uploadId')!;
  const xml = await documentBody(ctx, 4 * 1024 * 1024, { ignoreChecksumHeaders: true });
  const doc = parseXmlRoot(xml, 'CompleteMultipartUpload') as Record<string, unknown> | undefined;
  if (!doc || typeof doc !== 'object') throw new S3Error('MalformedXML');
  const raw = doc.Part === undefined ? [] : Array.isArray(doc.Part) ? doc.Part : [doc.Part];
  const parts: CompletePart[] = raw.map((p: Record<string, unknown>) => {
    const n = text(p?.PartNumber);
    const etag = text(p?.ETag);
    const partNumber = n === undefined ? undefined : integerIn(n.trim());
    if (partNumber === undefined || etag === undefined) throw new S3Error('MalformedXML');
    const checksum = Object.values(CHECKSUM_FIELDS)
      .map((f) => text(p[f]))
      .find((v) => v !== undefined);
    return { partNumber, etag, checksum };
  });
  const expected: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const alg of Object.keys(CHECKSUM_FIELDS) as ChecksumAlgorithm[]) {
    const v = headerOf(ctx, `x-amz-checksum-${alg}`);
    if (v !== undefined) expected[alg] = v;
  }
  const info = await ctx.multipart.complete(
    bucketOf(ctx),
    ctx.key!,
    uploadId,
    parts,
    writeConditionOf(ctx),
    expected,
  );
  const body: Record<string, string | undefined> = {
    Location: `/${ctx.bucket}/${encodeURI(ctx.key!)}`,
    Bucket: ctx.bucket,
    Key: ctx.key,
    ETag: info.etag,
  };
  const headers: Record<string, string> = versionHeader(ctx, info.versionId);
  for (const [alg, v] of Object.entries(info.checksums)) {
    body[CHECKSUM_FIELDS[alg as ChecksumAlgorithm]] = v;
    body.ChecksumType = info.checksumType ?? 'FULL_OBJECT';
    headers['x-amz-checksum-type'] = body.ChecksumType;
    headers[`x-amz-checksum-${alg}`] = v;
  }
  return xmlResponse(toXml('CompleteMultipartUploadResult', body), 200, headers);
}

export async function abortMultipartUpload(ctx: S3Context): Promise<S3Response> {
  await ctx.multipart.abort(bucketOf(ctx), ctx.key!, ctx.query.get('uploadId')!);
  return { status: 204 };
}

export async function listParts(ctx: S3Context): Promise<S3Response> {
  const uploadId = ctx.query.get('uploadId')!;
  const maxParts = intParam(ctx, 'max-parts', 1000, 0, 1000);
  const marker = intParam(ctx, 'part-number-marker', 0, 0, MAX_PARTS);
  const { upload, parts, isTruncated } = await ctx.multipart.listParts(bucketOf(ctx), ctx.key!, uploadId, {
    marker,
    maxParts,
  });
  const alg = upload.checksum_algorithm;
  return xmlResponse(
    toXml('ListPartsResult', {
      Bucket: ctx.bucket,
      Key: ctx.key,
      UploadId: uploadId,
      Initiator: ownerXml(ctx, upload.initiator),
      Owner: ownerXml(ctx, upload.initiator),
      StorageClass: 'STANDARD',
      PartNumberMarker: marker,
      NextPartNumberMarker: parts.length ? parts[parts.length - 1]!.part_number : marker,
      MaxParts: maxParts,
      IsTruncated: isTruncated,
      ChecksumAlgorithm: alg ? alg.toUpperCase() : undefined,
      ChecksumType: alg ? (upload.checksum_type ?? 'COMPOSITE') : undefined,
      Part: parts.map((p) => ({
        PartNumber: p.part_number,
        LastModified: isoDate(p.last_modified),
        ETag: p.etag,
        Size: Number(p.size),
        ...(alg && p.checksum ? { [CHECKSUM_FIELDS[alg]]: p.checksum } : {}),
      })),
    }),
  );
}

export async function listMultipartUploads(ctx: S3Context): Promise<S3Response> {
  const maxUploads = intParam(ctx, 'max-uploads', 1000, 0, 1000);
  const encoding = ctx.query.get('encoding-type');
  if (encoding !== undefined && encoding !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
    });
  }
  const enc = encoding ? s3UrlEncode : (s: string) => s;
  const prefix = ctx.query.get('prefix') ?? '';
  const delimiter = ctx.query.get('delimiter') ?? '';
  const keyMarker = ctx.query.get('key-marker') ?? '';
  const uploadIdMarker = ctx.query.get('upload-id-marker') ?? '';
  const r = await ctx.multipart.listUploads(bucketOf(ctx), {
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  });
  return xmlResponse(
    toXml('ListMultipartUploadsResult', {
      Bucket: ctx.bucket,
      KeyMarker: enc(keyMarker),
      UploadIdMarker: uploadIdMarker,
      NextKeyMarker: r.isTruncated && r.nextKeyMarker !== undefined ? enc(r.nextKeyMarker) : undefined,
      NextUploadIdMarker: r.isTruncated ? (r.nextUploadIdMarker ?? '') : undefined,
      Prefix: enc(prefix),
      Delimiter: delimiter ? enc(delimiter) : undefined,
      MaxUploads: maxUploads,
      EncodingType: encoding,
      IsTruncated: r.isTruncated,
      Upload: r.uploads.map((u) => ({
        Key: enc(u.key),
        UploadId: u.uploadId,
        Initiator: ownerXml(ctx, u.initiator),
        Owner: ownerXml(ctx, u.initiator),
        StorageClass: 'STANDARD',
        Initiated: isoDate(u.initiated),
      })),
      CommonPrefixes: r.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}

export async function uploadPartCopy(ctx: S3Context): Promise<S3Response> {
  const { source: src, sourceHeaders } = await copySource(ctx);
  const size = src.info.size;
  let start = 0;
  let end = size - 1;
  const range = headerOf(ctx, 'x-amz-copy-source-range');
  if (range !== undefined) {
    const m = /^bytes=(\d+)-(\d+)$/.exec(range.trim());
    if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) >= size) {
      throw new S3Error(
        'InvalidArgument',
        'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        {
          ArgumentName: 'x-amz-copy-source-range',
        },
      );
    }
    start = Number(m[1]);
    end = Number(m[2]);
  }
  if (end - start + 1 > MAX_COPY_SIZE) throw new S3Error('EntityTooLarge');
  const digests = await storePart(ctx, digesting(ctx.store.readObject(src, start, end), [], end - start + 1));
  return xmlResponse(
    toXml('CopyPartResult', { LastModified: isoDate(new Date()), ETag: digests.etag }),
    200,
    sourceHeaders,
  );
}
