/**
 * Sealed blobs as objects in a bucket of a remote S3-compatible store (Ceph RGW, another Coffer, AWS): a
 * blob is written as a multipart upload started by create(), so an abandoned write is an incomplete
 * upload the collector can list and abort; commit() completes it, and only the completed object is
 * readable. The store only ever sees sealed bytes. Its SDK retries what is safe to retry.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { NETWORK_ERRNOS, StoreUnavailableError } from '../errors/store-unavailable.js';
import { BLOB_NAME, type BlobBackend, type BlobEntry, type BlobSink, type BlobSource } from './backend.js';

export interface S3BackendSettings {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Keys of the bucket's blobs start with this (several deployments may share one bucket). */
  prefix?: string;
}

/** Parts are at least S3's 5 MiB minimum; a blob smaller than one part goes up as its only part. */
const PART_SIZE = 8 * 1024 * 1024;
/** Parts of one blob uploading at once: two keep the link busy while the next part is sealed. */
const PARTS_IN_FLIGHT = 2;

export class S3Backend implements BlobBackend {
  readonly kind = 's3';
  readonly describe: string;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly settings: S3BackendSettings) {
    this.prefix = settings.prefix ?? 'blobs/';
    this.describe = `${new URL(settings.endpoint).origin}/${settings.bucket}/${this.prefix}`;
    this.client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: true,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      // A store that stops answering fails the request (503) instead of holding it forever.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
      // Sealed bytes carry their own authentication; the store's checksums are its own business.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    // Outermost, so it sees what is left once the SDK's own retries gave up.
    this.client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (err) {
          throw unavailable(err);
        }
      },
      { step: 'initialize', name: 'storeUnavailable' },
    );
  }

  private key(name: string): string {
    return this.prefix + name;
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
    } catch (err) {
      throw new Error(`the blob store's bucket ${this.describe} cannot be reached: ${describeError(err)}`);
    }
  }

  async create(name?: string): Promise<BlobSink> {
    if (name !== undefined) {
      if (!BLOB_NAME.test(name)) throw new Error(`${name} is not a blob name`);
      if (await this.exists(name)) throw new Error(`blob ${name} already exists`);
    }
    const blob = name ?? randomBytes(16).toString('hex');
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.settings.bucket, Key: this.key(blob) }),
    );
    return new S3Sink(this.client, this.settings.bucket, this.key(blob), blob, UploadId!);
  }

  private async exists(name: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async open(name: string, expectedLength: number): Promise<BlobSource> {
    if (!BLOB_NAME.test(name)) throw new Error(`${name} is not a blob name`);
    const head = await this.client.send(
      new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }),
    );
    if (head.ContentLength !== expectedLength)
      throw new Error(`blob ${name} holds ${head.ContentLength} bytes, not the ${expectedLength} expected`);
    return new S3Source(this.client, this.settings.bucket, this.key(name), head.ETag, expectedLength);
  }

  async delete(name: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
  }

  async *list(): AsyncIterable<BlobEntry> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: this.prefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(this.prefix.length);
        if (BLOB_NAME.test(name)) yield { name, pending: false, modifiedMs: o.LastModified!.getTime() };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.settings.bucket,
          Prefix: this.prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of page.Uploads ?? []) {
        const name = u.Key!.slice(this.prefix.length);
        if (BLOB_NAME.test(name)) yield { name, pending: true, modifiedMs: u.Initiated!.getTime() };
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async discard(entry: BlobEntry): Promise<void> {
    if (!entry.pending) return this.delete(entry.name);
    const page = await this.client.send(
      new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: this.key(entry.name) }),
    );
    for (const u of page.Uploads ?? [])
      if (u.Key === this.key(entry.name))
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
  }
}

/**
 * Parts go up while the next one fills (at most PARTS_IN_FLIGHT at once), so a large blob streams at the
 * store's speed rather than one round trip per part; memory stays at a few parts per blob.
 */
class S3Sink implements BlobSink {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private done = false;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    readonly name: string,
    private readonly uploadId: string,
  ) {}

  async write(pieces: Buffer[]): Promise<void> {
    this.check();
    for (const p of pieces) {
      this.buffered.push(p);
      this.bufferedBytes += p.length;
    }
    while (this.bufferedBytes >= PART_SIZE) {
      const all = Buffer.concat(this.buffered);
      const rest = all.subarray(PART_SIZE);
      this.buffered = rest.length ? [rest] : [];
      this.bufferedBytes = rest.length;
      await this.start(all.subarray(0, PART_SIZE));
    }
  }

  /** Starts one part's upload, first waiting for a slot. */
  private async start(body: Buffer): Promise<void> {
    while (this.inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(this.inFlight);
    this.check();
    const PartNumber = this.parts.length + 1;
    const part: CompletedPart = { PartNumber };
    this.parts.push(part);
    const upload = this.client
      .send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber,
          Body: body,
          ContentLength: body.length,
        }),
      )
      .then(
        ({ ETag }) => void (part.ETag = ETag),
        (err: unknown) => void (this.failure ??= err),
      )
      .finally(() => this.inFlight.delete(upload));
    this.inFlight.add(upload);
  }

  /** A part that failed fails the blob at the next call. */
  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  async commit(): Promise<void> {
    if (this.bufferedBytes > 0 || this.parts.length === 0) await this.start(Buffer.concat(this.buffered));
    this.buffered = [];
    this.bufferedBytes = 0;
    await Promise.all(this.inFlight);
    this.check();
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.parts },
      }),
    );
    this.done = true;
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.buffered = [];
    await Promise.all(this.inFlight);
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId }))
      .catch(() => undefined);
  }
}

/**
 * Sequential reads (a whole-object GET reads batch after batch) come from one streaming GET to the end of
 * the blob rather than a ranged GET each; a read elsewhere starts another stream there.
 */
class S3Source implements BlobSource {
  private stream?: { body: Readable; chunks: AsyncIterator<Buffer> };
  /** Where the open stream is: the next byte it yields. */
  private position = 0;
  private pending?: Buffer;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly etag: string | undefined,
    private readonly length: number,
  ) {}

  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    const buf = into && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    if (length === 0) return buf;
    if (offset + length > this.length) throw new Error(`blob ${this.key} is shorter than the range asked`);
    if (!this.stream || offset !== this.position) await this.streamFrom(offset);
    const { chunks } = this.stream!;
    let done = 0;
    while (done < length) {
      let chunk = this.pending;
      this.pending = undefined;
      if (!chunk) {
        const next = await chunks.next().catch((err: unknown) => {
          this.stop();
          throw unavailable(err);
        });
        if (next.done) throw new Error(`blob ${this.key} is truncated`);
        chunk = next.value;
      }
      const take = Math.min(chunk.length, length - done);
      chunk.copy(buf, done, 0, take);
      done += take;
      if (take < chunk.length) this.pending = chunk.subarray(take);
    }
    this.position = offset + length;
    return buf;
  }

  private async streamFrom(offset: number): Promise<void> {
    this.stop();
    // IfMatch: a blob replaced under the same name (it never is) would fail here rather than mix bytes.
    const got = await this.client.send(
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: this.key,
        Range: `bytes=${offset}-${this.length - 1}`,
        IfMatch: this.etag,
      }),
    );
    const body = got.Body as Readable;
    this.stream = { body, chunks: body[Symbol.asyncIterator]() };
    this.position = offset;
  }

  /** Ends the open stream; what it had not sent yet is not read (its connection is dropped). */
  private stop(): void {
    this.stream?.body.destroy();
    this.stream = undefined;
    this.pending = undefined;
  }

  async close(): Promise<void> {
    this.stop();
  }
}

/** A failure after the SDK's retries that means the store is not answering, as a StoreUnavailableError. */
function unavailable(err: unknown): unknown {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const down =
    (status !== undefined && status >= 500) ||
    (e.code !== undefined && NETWORK_ERRNOS.has(e.code)) ||
    e.name === 'TimeoutError' ||
    e.name === 'RequestTimeout';
  return down ? new StoreUnavailableError(`the blob store does not answer: ${describeError(err)}`) : err;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return e.$metadata?.httpStatusCode
    ? `${e.name} (HTTP ${e.$metadata.httpStatusCode})`
    : (e.message ?? String(err));
}
