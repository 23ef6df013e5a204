import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../scripts/lib/free-port.js';
import { createTestEnv, startGatewayProcess, type GatewayProcess, type TestEnv } from '../support/gateway.js';
import { pathStyleClient } from '../support/s3-client.js';

/**
 * The gateway in its own process, so its memory is its own: a part far larger than the gateway's whole
 * footprint must stream through it to disk, never be held in memory.
 */
const MiB = 1024 * 1024;
const PART = 384 * MiB;
const WARM_UP = 32 * MiB;
let env: TestEnv;
let gateway: GatewayProcess;
let s3: S3Client;

beforeAll(async () => {
  env = await createTestEnv();
  gateway = await startGatewayProcess(env.env, await freePort());
  s3 = pathStyleClient(gateway.endpoint, env.creds[0]!);
  await s3.send(new CreateBucketCommand({ Bucket: 'stream' }));
});

afterAll(async () => {
  s3?.destroy();
  await gateway?.stop('SIGTERM');
  await env?.stop();
});

/** The gateway's peak resident memory so far (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe('streaming', () => {
  it('writes a 384 MiB part without holding it: memory does not grow with the part', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'stream', Key: 'big' }));
    const block = randomBytes(MiB);
    const upload = async (PartNumber: number, size: number) => {
      const body = Readable.from(
        (function* () {
          for (let i = 0; i < size / MiB; i++) yield block;
        })(),
      );
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: 'stream',
          Key: 'big',
          UploadId,
          PartNumber,
          Body: body,
          ContentLength: size,
        }),
      );
      return { PartNumber, ETag: part.ETag };
    };
    // A first, smaller part brings up what a large upload keeps for good (digest threads, buffers in flight).
    const first = await upload(1, WARM_UP);
    const settled = await peakRss(gateway.process.pid!);
    const second = await upload(2, PART);
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'stream',
        Key: 'big',
        UploadId,
        MultipartUpload: { Parts: [first, second] },
      }),
    );
    expect((await s3.send(new HeadObjectCommand({ Bucket: 'stream', Key: 'big' }))).ContentLength).toBe(
      WARM_UP + PART,
    );
    const peak = await peakRss(gateway.process.pid!);
    const grew = `peak RSS ${Math.round(settled / MiB)} MiB after ${WARM_UP / MiB} MiB, ${Math.round(peak / MiB)} MiB after ${PART / MiB} MiB more`;
    // Held, the part alone would add 384 MiB; the fixed cost (threads, a runtime's own baseline) is not measured.
    expect(peak - settled, grew).toBeLessThan(PART * 0.25);
  });
});
