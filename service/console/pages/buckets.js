// Buckets, and a browser for the objects in one (upload and download through presigned URLs).
import { h, toast, when, table } from '../lib/dom.js';
import { errorLine, dangerButton, actionForm } from '../lib/forms.js';
import { accessPanel } from './users.js';
import { lockText, versionsPanel } from './versions.js';

export async function bucketsPage(app, params) {
  const bucket = params.get('bucket');
  if (bucket) return bucketBrowser(app, bucket, params.get('prefix') ?? '', params.get('key'));
  const [{ buckets }, { credentials }] = await Promise.all([
    app.api('GET', '/buckets'),
    app.api('GET', '/credentials'),
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

async function bucketBrowser(app, bucket, prefix, detailKey) {
  const b = await app.api('GET', `/buckets/${bucket}`);
  const listing = await app.api(
    'GET',
    `/buckets/${bucket}/objects?delimiter=/&prefix=${encodeURIComponent(prefix)}`,
  );
  const link = (p) => `#/buckets?bucket=${encodeURIComponent(bucket)}&prefix=${encodeURIComponent(p)}`;
  const parts = prefix.split('/').filter(Boolean);
  const crumbs = h(
    'div',
    { class: 'crumbs' },
    h('a', { href: '#/buckets' }, 'Buckets'),
    ' / ',
    h('a', { href: link('') }, bucket),
    parts.map((p, i) => [' / ', h('a', { href: link(parts.slice(0, i + 1).join('/') + '/') }, p)]),
  );
  const status = h('div');
  const file = h('input', { type: 'file', id: 'upload-file' });
  const upload = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = file.files[0];
        if (!f) return;
        status.replaceChildren(h('p', { class: 'muted' }, `Uploading ${f.name}…`));
        try {
          const { url } = await app.presign(bucket, prefix + f.name, 'PUT', b.owner_access_key);
          const res = await fetch(url, {
            method: 'PUT',
            body: f,
            headers: f.type ? { 'content-type': f.type } : {},
          });
          if (!res.ok)
            throw new Error(`upload refused: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
          toast(`Uploaded ${f.name}`);
          await app.render();
        } catch (e) {
          status.replaceChildren(errorLine(e));
        }
      },
    },
    h('label', {}, `Upload into /${prefix}`, file),
    h('button', { type: 'submit' }, 'Upload'),
  );
  const download = async (key) => {
    const { url } = await app.presign(bucket, key, 'GET', b.owner_access_key, 300);
    location.href = url;
  };
  const folderRows = listing.common_prefixes.map((p) =>
    h(
      'tr',
      { class: 'folder' },
      h('td', {}, h('a', { href: link(p) }, '📁 ' + p.slice(prefix.length))),
      h('td', {}),
      h('td', {}),
      h('td', {}),
      h('td', {}),
    ),
  );
  const objectRows = listing.objects.map((o) =>
    h(
      'tr',
      { dataset: { key: o.key } },
      h(
        'td',
        { class: 'wrap' },
        h('a', { href: `${link(prefix)}&key=${encodeURIComponent(o.key)}` }, o.key.slice(prefix.length)),
      ),
      h('td', {}, o.size_human),
      h('td', {}, o.content_type),
      h('td', {}, when(o.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'button',
          { class: 'secondary', onclick: () => download(o.key).catch((e) => toast(String(e))) },
          'Download',
        ),
        dangerButton(
          app,
          'Delete',
          `Delete ${o.key}?`,
          () => app.api('POST', `/buckets/${bucket}/delete`, { keys: [o.key] }),
          'Deleted',
        ),
      ),
    ),
  );
  let details = null;
  if (detailKey) {
    const d = await app.api(
      'GET',
      `/buckets/${bucket}/objects/${detailKey.split('/').map(encodeURIComponent).join('/')}`,
    );
    details = h(
      'div',
      { class: 'panel', id: 'object-details' },
      h('h2', {}, d.key),
      h(
        'p',
        {},
        `${d.size_human} · ${d.content_type} · ETag ${d.etag} · ${d.is_multipart ? `multipart, ${d.part_count} parts` : 'single part'} · updated ${when(d.updated_at)}`,
      ),
      h(
        'p',
        { class: 'muted' },
        `Stored ${d.storage.backend === 'inline' ? 'inline in Postgres' : `in the ${d.storage.backend} backend (${d.storage.blobs} blob${d.storage.blobs === 1 ? '' : 's'})`} · encrypted with ${d.encryption.algorithm}, master key `,
        h('span', { class: 'mono' }, d.encryption.master_key_id),
      ),
      d.retention || d.legal_hold
        ? h('p', { id: 'object-lock' }, 'Locked: ', h('strong', {}, lockText(d.retention, d.legal_hold)))
        : null,
      h('h2', {}, 'Metadata'),
      h('pre', {}, JSON.stringify(d.metadata, null, 2)),
      await versionsPanel(app, bucket, detailKey),
    );
  }
  return [
    h('h1', {}, `Bucket ${bucket}`),
    crumbs,
    h(
      'p',
      { class: 'muted', id: 'bucket-settings' },
      `${b.object_count} objects · ${b.total_size_human} · owner ${b.owner} · versioning ${b.versioning ?? 'off'}`,
      b.object_lock
        ? ` · object lock${b.object_lock.default_retention ? ` (default ${b.object_lock.default_retention.mode}, ${b.object_lock.default_retention.days ? `${b.object_lock.default_retention.days} days` : `${b.object_lock.default_retention.years} years`})` : ''}`
        : '',
      b.lifecycle_rules ? ` · ${b.lifecycle_rules} lifecycle rule${b.lifecycle_rules === 1 ? '' : 's'}` : '',
    ),
    h('div', { class: 'panel' }, upload, status),
    details,
    table(['Name', 'Size', 'Type', 'Modified', ''], [...folderRows, ...objectRows], 'This folder is empty.'),
    await accessPanel(app, bucket, b.owner_user_id),
  ];
}
