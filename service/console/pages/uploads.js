// Multipart uploads in progress, per bucket; abort frees their parts.
import { h, when, table } from '../lib/dom.js';
import { dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function uploadsPage(app, params) {
  const { buckets } = await /** @type {Promise<Answer<'listBuckets'>>} */ (app.api('GET', '/buckets'));
  const bucket = params.get('bucket') ?? buckets[0]?.name;
  const select = h(
    'select',
    { onchange: (ev) => (location.hash = `#/uploads?bucket=${encodeURIComponent(ev.target.value)}`) },
    buckets.map((b) => h('option', { value: b.name, selected: b.name === bucket }, b.name)),
  );
  if (!bucket) return [h('h1', {}, 'Multipart uploads'), h('p', { class: 'muted' }, 'No buckets yet.')];
  const { uploads } = await /** @type {Promise<Answer<'listUploads'>>} */ (
    app.api('GET', `/buckets/${bucket}/uploads`)
  );
  const rows = uploads.map((u) =>
    h(
      'tr',
      {},
      h('td', { class: 'wrap' }, u.object_key),
      h('td', { class: 'mono' }, u.upload_id.slice(0, 16) + '…'),
      h('td', {}, u.initiated_by),
      h('td', {}, u.part_count),
      h('td', {}, u.total_size_human),
      h('td', {}, when(u.initiated_at)),
      h(
        'td',
        {},
        dangerButton(
          app,
          'Abort',
          `Abort the upload of ${u.object_key}?`,
          () => app.api('DELETE', `/buckets/${bucket}/uploads/${encodeURIComponent(u.upload_id)}`),
          'Upload aborted',
        ),
      ),
    ),
  );
  return [
    h('h1', {}, 'Multipart uploads'),
    h('div', { class: 'panel' }, h('label', {}, 'Bucket', select)),
    table(
      ['Key', 'Upload ID', 'Initiated by', 'Parts', 'Size', 'Started', ''],
      rows,
      'No upload in progress.',
    ),
  ];
}
