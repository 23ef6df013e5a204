// Uploads from the browser straight to S3 through presigned URLs: one PUT for a small file, a multipart
// upload for a large one (a single PUT stops at 5 GiB), each with its progress bar and a cancel button.
// The queue lives for the whole console session, so navigating away does not stop a transfer.
import { h, humanSize as human } from './dom.js';

const MiB = 1024 * 1024;
/** Files above this go in parts: a part can be retried and sent alongside others. */
export const MULTIPART_ABOVE = 32 * MiB;
const MIN_PART = 16 * MiB;
const PARALLEL_PARTS = 3;
const PARALLEL_FILES = 2;

/** S3 takes at most 10,000 parts: large files get larger parts, in whole MiB. */
export const partSizeFor = (size) => Math.max(MIN_PART, Math.ceil(size / 10_000 / MiB) * MiB);

class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** The S3 error in a response body, as "Code: message", or the HTTP status when there is none. */
function s3Failure(xhr) {
  const doc = new DOMParser().parseFromString(xhr.responseText || '<x/>', 'application/xml');
  const code = doc.querySelector('Error > Code')?.textContent;
  const message = doc.querySelector('Error > Message')?.textContent;
  return new Error(code ? `${code}: ${message ?? ''}` : `HTTP ${xhr.status}`);
}

/**
 * One S3 request with upload progress; rejects with S3's error, or Cancelled when the signal fires.
 * @param {string} method
 * @param {string} url
 * @param {{ body?: Blob | string | null, headers?: Record<string, string>, onProgress?: (sent: number) => void, signal: AbortSignal }} options
 */
function send(method, url, { body = null, headers = {}, onProgress, signal }) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Cancelled());
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    const stop = () => xhr.abort();
    signal.addEventListener('abort', stop, { once: true });
    xhr.onloadend = () => signal.removeEventListener('abort', stop);
    xhr.onload = () => {
      // CompleteMultipartUpload can fail after its 200 status line: the error is in the body.
      if (xhr.status >= 300 || /^<\?xml[^>]*>\s*<Error>/.test(xhr.responseText)) reject(s3Failure(xhr));
      else resolve(xhr);
    };
    xhr.onerror = () => reject(new Error('network error: the gateway could not be reached'));
    xhr.onabort = () => reject(new Cancelled());
    xhr.send(body);
  });
}

const xmlText = (xhr, tag) =>
  new DOMParser().parseFromString(xhr.responseText, 'application/xml').querySelector(tag)?.textContent;

export class TransferQueue {
  /**
   * @param sign (bucket, key, operation, accessKey, extra) => presigned URL string
   * @param onSettled runs when the queue has nothing left to send (the page refreshes its listing)
   */
  constructor(sign, onSettled) {
    this.sign = sign;
    this.onSettled = onSettled;
    this.items = [];
    this.running = 0;
    this.list = h('ul', { class: 'transfer-list' });
    this.overall = h('progress', { id: 'transfers-overall', max: 1, value: 0 });
    this.summary = h('span', { id: 'transfers-summary', class: 'muted' });
    this.panel = h(
      'section',
      { id: 'transfers', class: 'transfers', hidden: true, 'aria-label': 'Uploads' },
      h(
        'div',
        { class: 'transfer-head' },
        h('strong', {}, 'Uploads'),
        this.summary,
        h('button', { class: 'secondary', onclick: () => this.cancelAll() }, 'Cancel all'),
        h('button', { class: 'secondary', onclick: () => this.clearFinished() }, 'Clear finished'),
      ),
      this.overall,
      this.list,
    );
  }

  /** Queues files for bucket; each entry is {file, key}. */
  add(bucket, accessKey, entries) {
    for (const { file, key } of entries) {
      const item = {
        bucket,
        accessKey,
        file,
        key,
        sent: 0,
        state: 'queued',
        controller: new AbortController(),
      };
      item.bar = h('progress', { max: file.size || 1, value: 0 });
      item.status = h('span', { class: 'transfer-state' }, 'queued');
      item.cancel = h('button', { class: 'link', onclick: () => item.controller.abort() }, 'Cancel');
      item.row = h(
        'li',
        { dataset: { key } },
        h('span', { class: 'transfer-name wrap' }, key),
        item.bar,
        item.status,
        item.cancel,
      );
      this.items.push(item);
      this.list.append(item.row);
    }
    this.panel.hidden = false;
    this.refresh();
    this.pump();
  }

  cancelAll() {
    for (const i of this.items) if (i.state === 'queued' || i.state === 'uploading') i.controller.abort();
  }

  clearFinished() {
    this.items = this.items.filter((i) => {
      const finished = !['queued', 'uploading'].includes(i.state);
      if (finished) i.row.remove();
      return !finished;
    });
    this.panel.hidden = this.items.length === 0;
    this.refresh();
  }

  pump() {
    while (this.running < PARALLEL_FILES) {
      const next = this.items.find((i) => i.state === 'queued');
      if (!next) break;
      this.running++;
      this.run(next).finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0) this.onSettled();
      });
    }
  }

  async run(item) {
    if (item.controller.signal.aborted) return this.finish(item, 'cancelled', 'Cancelled');
    item.state = 'uploading';
    this.progress(item, 0);
    try {
      const parts = item.file.size > MULTIPART_ABOVE ? await this.multipart(item) : 0;
      if (!parts) await this.single(item);
      this.finish(item, 'done', parts ? `Uploaded in ${parts} parts` : 'Uploaded');
    } catch (e) {
      if (e instanceof Cancelled) this.finish(item, 'cancelled', 'Cancelled');
      else this.finish(item, 'failed', String(e.message ?? e));
    }
  }

  url(item, operation, extra = {}) {
    return this.sign(item.bucket, item.key, operation, item.accessKey, extra);
  }

  async single(item) {
    await send('PUT', await this.url(item, 'PutObject'), {
      body: item.file,
      headers: item.file.type ? { 'content-type': item.file.type } : {},
      onProgress: (n) => this.progress(item, n),
      signal: item.controller.signal,
    });
  }

  /** Creates the upload, sends its parts a few at a time, completes it; aborts it on any failure. */
  async multipart(item) {
    const signal = item.controller.signal;
    const created = await send('POST', await this.url(item, 'CreateMultipartUpload'), {
      headers: item.file.type ? { 'content-type': item.file.type } : {},
      signal,
    });
    const uploadId = xmlText(created, 'UploadId');
    const partSize = partSizeFor(item.file.size);
    const count = Math.ceil(item.file.size / partSize);
    const sent = new Array(count).fill(0);
    const etags = new Array(count);
    // One part's failure stops the others, so the upload is aborted once, not raced.
    const parts = new AbortController();
    signal.addEventListener('abort', () => parts.abort(), { once: true });
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const n = next++;
        const body = item.file.slice(n * partSize, Math.min(item.file.size, (n + 1) * partSize));
        const url = await this.url(item, 'UploadPart', { upload_id: uploadId, part_number: n + 1 });
        const xhr = await send('PUT', url, {
          body,
          signal: parts.signal,
          onProgress: (done) => {
            sent[n] = done;
            this.progress(
              item,
              sent.reduce((a, b) => a + b, 0),
            );
          },
        });
        sent[n] = body.size;
        etags[n] = xhr.getResponseHeader('etag');
      }
    };
    try {
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL_PARTS, count) }, () =>
          worker().catch((e) => {
            parts.abort();
            throw e;
          }),
        ),
      );
      const xml = `<CompleteMultipartUpload>${etags
        .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`)
        .join('')}</CompleteMultipartUpload>`;
      await send('POST', await this.url(item, 'CompleteMultipartUpload', { upload_id: uploadId }), {
        body: xml,
        headers: { 'content-type': 'application/xml' },
        signal,
      });
      return count;
    } catch (e) {
      // Nothing half-written stays behind: the parts sent so far are freed.
      const abort = await this.url(item, 'AbortMultipartUpload', { upload_id: uploadId }).catch(() => null);
      if (abort) await send('DELETE', abort, { signal: new AbortController().signal }).catch(() => {});
      throw e;
    }
  }

  progress(item, sent) {
    item.sent = sent;
    item.bar.value = sent;
    item.status.textContent = `${human(sent)} of ${human(item.file.size)}`;
    this.refresh();
  }

  finish(item, state, text) {
    item.state = state;
    if (state === 'done') item.bar.value = item.bar.max;
    item.row.dataset.state = state;
    item.status.textContent = text;
    item.cancel.remove();
    this.refresh();
  }

  refresh() {
    const total = this.items.reduce((a, i) => a + i.file.size, 0);
    const sent = this.items.reduce((a, i) => a + (i.state === 'done' ? i.file.size : i.sent), 0);
    const done = this.items.filter((i) => i.state === 'done').length;
    const failed = this.items.filter((i) => i.state === 'failed').length;
    this.overall.max = total || 1;
    this.overall.value = total ? sent : 0;
    this.summary.textContent = `${done} of ${this.items.length} files · ${human(sent)} of ${human(total)}${failed ? ` · ${failed} failed` : ''}`;
  }
}
