// Buckets; one bucket's objects are in objects.js.
import { h, toast, when, table } from '../lib/dom.js';
import { dangerButton, actionForm } from '../lib/forms.js';
import { bucketBrowser } from './objects.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function bucketsPage(app, params) {
  const bucket = params.get('bucket');
  if (bucket) return bucketBrowser(app, bucket, params);
  const [{ buckets }, { credentials }] = await Promise.all([
    /** @type {Promise<Answer<'listBuckets'>>} */ (app.api('GET', '/buckets')),
    /** @type {Promise<Answer<'listCredentials'>>} */ (app.api('GET', '/credentials')),
  ]);
  const form = actionForm(
    async (f) => {
      await app.api('POST', '/buckets', { name: f.get('name'), owner_id: Number(f.get('owner_id')) });
      toast('Bucket created');
      await app.render();
    },
    h(
      'label',
      {},
      'Bucket name',
      h('input', {
        name: 'name',
        required: true,
        minlength: 3,
        maxlength: 63,
        pattern: '[a-z0-9.\\-]+',
        // Browsers show the title when the pattern refuses a name: the rules, not just "match the format".
        title: '3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit',
        placeholder: 'my-bucket',
      }),
    ),
    h(
      'label',
      {},
      'Owner',
      h(
        'select',
        { name: 'owner_id', required: true },
        credentials
          .filter((c) => c.is_active)
          .map((c) =>
            h('option', { value: c.id }, c.user_name ? `${c.user_name} (${c.access_key})` : c.access_key),
          ),
      ),
    ),
    h('button', { type: 'submit' }, 'Create bucket'),
  );
  const rows = buckets.map((b) =>
    h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/buckets?bucket=${encodeURIComponent(b.name)}` }, b.name)),
      h('td', {}, b.owner),
      h('td', {}, b.region),
      h('td', {}, b.object_count),
      h('td', {}, b.total_size_human),
      h('td', {}, when(b.created_at)),
      h(
        'td',
        {},
        dangerButton(
          app,
          'Delete',
          `Delete bucket ${b.name}? It must be empty.`,
          () => app.api('DELETE', `/buckets/${b.name}`),
          'Bucket deleted',
        ),
      ),
    ),
  );
  return [
    h('h1', {}, 'Buckets'),
    h('div', { class: 'panel' }, form),
    table(['Name', 'Owner', 'Region', 'Objects', 'Size', 'Created', ''], rows),
  ];
}
