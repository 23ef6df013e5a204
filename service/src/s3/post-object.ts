/**
 * POST Object: an upload from an HTML form (multipart/form-data), authenticated by the signed policy
 * among its fields rather than by the request's headers, then authorized as any PutObject.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { checkPostPolicy, parsePostPolicy, verifyPostSignature } from '../auth/post-policy.js';
import { S3Error } from '../errors/s3-errors.js';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../integrity/checksums.js';
import { digesting } from '../integrity/digesting.js';
import { newObjectAcl } from './acl.js';
import { bucketOf, principalOf, xmlResponse, type S3Context, type S3Response } from './context.js';
import {
  MAX_OBJECT_TAGS,
  checkKey,
  newObjectFields,
  versionHeader,
  writeConditionOf,
} from './object-request.js';
import { MAX_SINGLE_PUT } from './payload.js';
import { parseTaggingXml } from './tagging.js';
import { toXml } from './xml.js';

/** AWS's bound on the fields before the file. */
const MAX_PRE_DATA = 20 * 1024;

const malformedForm = () => new S3Error('MalformedPOSTRequest');

interface Form {
  fields: Map<string, string>;
  file: Readable;
  filename: string;
}

/** Reads the fields up to the file, and hands the file over as a stream; fields after it are ignored, as on AWS. */
function readForm(raw: IncomingMessage): Promise<Form> {
  return new Promise((resolve, reject) => {
    let bb: InstanceType<typeof Busboy>;
    try {
      bb = new Busboy({
        headers: raw.headers as never,
        limits: { fieldSize: MAX_PRE_DATA, files: 1, fields: 200 },
      });
    } catch {
      reject(malformedForm());
      return;
    }
    const fields = new Map<string, string>();
    let size = 0;
    let settled = false;
    const fail = (err: S3Error) => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    bb.on('field', (name: string, value: string, nameTruncated: boolean, valueTruncated: boolean) => {
      size += name.length + value.length;
      if (valueTruncated || nameTruncated || size > MAX_PRE_DATA)
        fail(new S3Error('MaxPostPreDataLengthExceededError'));
      const lower = name.toLowerCase();
      if (!fields.has(lower)) fields.set(lower, value);
    });
    bb.on('file', (_name: string, file: Readable, filename: string) => {
      if (settled) return void file.resume();
      settled = true;
      resolve({ fields, file, filename });
    });
    bb.on('finish', () => fail(new S3Error('IncorrectNumberOfFilesInPostRequest')));
    bb.on('error', () => fail(malformedForm()));
    raw.pipe(bb);
  });
}

/** The form's fields as the headers a PutObject would carry, so one set of rules reads both. */
function fieldsAsHeaders(fields: Map<string, string>): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of fields) {
    if (name === 'acl') headers['x-amz-acl'] = value;
    else if (
      /^(content-type|cache-control|content-disposition|content-encoding|content-language|expires)$/.test(
        name,
      ) ||
      name.startsWith('x-amz-meta-')
    )
      headers[name] = value;
    else if (name.startsWith('x-amz-checksum-') || name.startsWith('x-amz-object-lock-'))
      headers[name] = value;
  }
  return headers;
}

export async function postObject(ctx: S3Context): Promise<S3Response> {
  const bucket = bucketOf(ctx);
  const form = await readForm(ctx.raw);
  const { fields } = form;
  const signed = verifyPostSignature(fields, {
    credentials: ctx.signers,
    region: ctx.settings.region,
    signatureV2: ctx.settings.signatureV2,
  });
  let range: { min: number; max: number } | undefined;
  if (signed.policy !== undefined)
    range = checkPostPolicy(parsePostPolicy(signed.policy), fields, bucket.name, new Date());
  const template = fields.get('key');
  if (template === undefined)
    throw new S3Error(
      'InvalidArgument',
      "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
      { ArgumentName: 'key' },
    );
  const key = template.replace(/\$\{filename\}/g, form.filename);
  checkKey(key);
  // The user who signed the form's policy, or nobody for an unsigned form.
  const principal = principalOf(signed.accessKeyId, ctx.signers);
  const grant = await ctx.authorizeAs(principal, { action: 's3:PutObject', bucket: bucket.name, key });
  // The rest of the write reads the form as a PutObject's headers, as the authorized principal.
  const raw = Object.create(ctx.raw, { headers: { value: fieldsAsHeaders(fields) } }) as IncomingMessage;
  const put: S3Context = { ...ctx, raw, key, grant };
  const checksum = CHECKSUM_ALGORITHMS.find((a) => fields.has(`x-amz-checksum-${a}`));
  const body = sizedDigest(form.file, range ?? { min: 0, max: MAX_SINGLE_PUT }, checksum, fields);
  const tagging = fields.get('tagging');
  const info = await ctx.store.putObject(bucket, {
    key,
    ...newObjectFields(put),
    tags: tagging === undefined ? undefined : parseTaggingXml(tagging, MAX_OBJECT_TAGS),
    acl: newObjectAcl(put),
    condition: writeConditionOf(put),
    body: body.chunks,
    finalize: body.finalize,
  });
  const location = `${ctx.raw.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${ctx.raw.headers.host}/${encodeURIComponent(bucket.name)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const headers = { etag: info.etag, location, ...versionHeader(put, info.versionId) };
  const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
  if (redirect && /^https?:\/\//i.test(redirect)) {
    const target = new URL(redirect);
    target.searchParams.set('bucket', bucket.name);
    target.searchParams.set('key', key);
    target.searchParams.set('etag', info.etag);
    return { status: 303, headers: { ...headers, location: target.toString() } };
  }
  const status = fields.get('success_action_status');
  if (status === '201')
    return xmlResponse(
      toXml('PostResponse', { Location: location, Bucket: bucket.name, Key: key, ETag: info.etag }),
      201,
      headers,
    );
  return { status: status === '200' ? 200 : 204, headers };
}

/** The file's bytes, held to the policy's content-length-range, with its MD5 and the checksum the form declared. */
function sizedDigest(
  file: Readable,
  range: { min: number; max: number },
  checksum: ChecksumAlgorithm | undefined,
  fields: Map<string, string>,
) {
  let size = 0;
  async function* bounded(): AsyncGenerator<Buffer> {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > range.max)
        throw new S3Error('EntityTooLarge', undefined, { MaxSizeAllowed: String(range.max) });
      yield chunk;
    }
  }
  const digested = digesting(bounded(), checksum ? [checksum] : []);
  return {
    chunks: digested.chunks,
    async finalize() {
      const out = await digested.finalize();
      if (size < range.min)
        throw new S3Error('EntityTooSmall', undefined, { MinSizeAllowed: String(range.min) });
      if (checksum && out.checksums[checksum] !== fields.get(`x-amz-checksum-${checksum}`))
        throw new S3Error(
          'BadDigest',
          `The ${checksum.toUpperCase()} you specified did not match the calculated checksum.`,
        );
      return out;
    },
  };
}
