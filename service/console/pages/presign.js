// Presigned URLs: issue one for a credential, list the live ones.
import { h, when, table, copyButton } from '../lib/dom.js';
import { errorLine } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function presignPage(app) {
  const [{ buckets }, { urls }] = await Promise.all([
    /** @type {Promise<Answer<'listBuckets'>>} */ (app.api('GET', '/buckets')),
    /** @type {Promise<Answer<'listPresignedUrls'>>} */ (app.api('GET', '/presigned-urls')),
  ]);
  const activeTable = (list) =>
    table(
      ['Method', 'Bucket', 'Key', 'Signed by', 'Expires'],
      list.map((u) =>
        h(
          'tr',
          {},
          h('td', {}, u.method),
          h('td', {}, u.bucket_name),
          h('td', { class: 'wrap' }, u.object_key),
          h('td', { class: 'mono' }, u.access_key),
          h('td', {}, when(u.expires_at)),
        ),
      ),
      'No active presigned URL.',
    );
  const active = h('div', { id: 'presign-active' }, activeTable(urls));
  const result = h('div', { id: 'presign-result' });
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        const bucket = buckets.find((b) => b.name === f.get('bucket'));
        try {
          const r = await app.presign(bucket.name, f.get('key'), bucket.owner_access_key, {
            method: f.get('method'),
            expires_in: Number(f.get('expires')),
          });
          result.replaceChildren(
            h(
              'div',
              { class: 'panel' },
              h('p', {}, `${r.method} URL, valid until ${when(r.expires_at)}:`),
              h('div', { class: 'secret', id: 'presigned-url' }, r.url),
              h('p', {}, copyButton(r.url, 'Copy URL')),
            ),
          );
          active.replaceChildren(
            activeTable(
              (await /** @type {Promise<Answer<'listPresignedUrls'>>} */ (app.api('GET', '/presigned-urls')))
                .urls,
            ),
          );
        } catch (e) {
          result.replaceChildren(errorLine(e));
        }
      },
    },
    h(
      'label',
      {},
      'Bucket',
      h(
        'select',
        { name: 'bucket', required: true },
        buckets.map((b) => h('option', { value: b.name }, b.name)),
      ),
    ),
    h('label', {}, 'Object key', h('input', { name: 'key', required: true, maxlength: 1024 })),
    h(
      'label',
      {},
      'Method',
      h(
        'select',
        { name: 'method' },
        ['GET', 'PUT', 'DELETE'].map((m) => h('option', { value: m }, m)),
      ),
    ),
    h(
      'label',
      {},
      'Expires in (seconds)',
      h('input', { name: 'expires', type: 'number', min: 1, max: 604800, value: 3600 }),
    ),
    h('button', { type: 'submit' }, 'Generate'),
  );
  return [
    h('h1', {}, 'Presigned URLs'),
    h('div', { class: 'panel' }, form),
    result,
    h('h2', {}, 'Active'),
    active,
  ];
}
