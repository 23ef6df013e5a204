// The objects in one bucket: folders, every key reachable past 1,000 (Load more), a prefix search,
// sorting, selection for bulk delete and download, new folders, uploads (files, folders, drag and drop,
// through the session's transfer queue) and one object's details.
import { h, toast, when } from '../lib/dom.js';
import { errorLine, dangerButton, actionForm } from '../lib/forms.js';
import { accessPanel } from './users.js';
import { lockText, versionsPanel } from './versions.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

const enc = encodeURIComponent;
const objectPath = (key) => key.split('/').map(enc).join('/');

/** Every key under a folder, page by page (bulk actions on a folder act on all of it). */
async function keysUnder(app, bucket, folder) {
  const keys = [];
  let marker = null;
  do {
    const page = await /** @type {Promise<Answer<'listObjects'>>} */ (
      app.api(
        'GET',
        `/buckets/${bucket}/objects?prefix=${enc(folder)}${marker ? `&marker=${enc(marker)}` : ''}`,
      )
    );
    keys.push(...page.objects.map((o) => o.key));
    marker = page.next_marker;
  } while (marker);
  return keys;
}

/** Files dropped on the page, folders walked, each with its path below the drop. */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  const out = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: entry.fullPath.replace(/^\//, '') });
      return;
    }
    const reader = entry.createReader();
    // readEntries hands out a directory in batches until it returns none.
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const e of batch) await walk(e);
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

const SORTS = {
  name: (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  size: (a, b) => a.size - b.size,
  modified: (a, b) => Date.parse(a.created_at) - Date.parse(b.created_at),
};

export async function bucketBrowser(app, bucket, params) {
  const prefix = params.get('prefix') ?? '';
  const search = params.get('search') ?? '';
  const detailKey = params.get('key');
  const listPrefix = prefix + search;
  // The bucket's settings and the first page of this folder in one call.
  const b = await /** @type {Promise<Answer<'getBucket'>>} */ (
    app.api('GET', `/buckets/${bucket}?delimiter=/&prefix=${enc(listPrefix)}`)
  );
  const link = (p, extra = '') => `#/buckets?bucket=${enc(bucket)}&prefix=${enc(p)}${extra}`;
  const state = {
    // A folder's own marker object ("reports/") is the folder, not a file in it.
    objects: b.objects.filter((o) => o.key !== prefix),
    folders: b.common_prefixes,
    next: b.next_marker,
    sort: 'name',
    descending: false,
    selected: new Set(),
  };

  const parts = prefix.split('/').filter(Boolean);
  const crumbs = h(
    'div',
    { class: 'crumbs' },
    h('a', { href: '#/buckets' }, 'Buckets'),
    ' / ',
    h('a', { href: link('') }, bucket),
    parts.map((p, i) => [' / ', h('a', { href: link(parts.slice(0, i + 1).join('/') + '/') }, p)]),
  );

  const sign = async (key, method, expires = 900) =>
    (await app.presign(bucket, key, b.owner_access_key, { method, expires_in: expires })).url;
  const download = async (keys) => {
    for (const key of keys) {
      const a = h('a', { href: await sign(key, 'GET', 300), download: key.split('/').pop() });
      document.body.append(a);
      a.click();
      a.remove();
      // Browsers drop all but one of several downloads started in the same instant.
      if (keys.length > 1) await new Promise((r) => setTimeout(r, 400));
    }
  };
  const upload = (files) => {
    if (!b.owner_access_key)
      return toast(`${b.owner} has no access key: create one on the Users page to upload from here`);
    app.transfers.add(
      bucket,
      b.owner_access_key,
      files.map(({ file, path }) => ({ file, key: prefix + path })),
    );
  };

  // Uploads: files, a whole folder, or anything dropped on the panel.
  const fileInput = h('input', {
    type: 'file',
    id: 'upload-files',
    multiple: true,
    onchange: () => {
      upload([...fileInput.files].map((file) => ({ file, path: file.name })));
      fileInput.value = '';
    },
  });
  const folderInput = h('input', {
    type: 'file',
    id: 'upload-folder',
    webkitdirectory: true,
    onchange: () => {
      upload([...folderInput.files].map((file) => ({ file, path: file.webkitRelativePath || file.name })));
      folderInput.value = '';
    },
  });
  const newFolder = actionForm(
    async (f) => {
      const name = String(f.get('folder')).replace(/^\/+|\/+$/g, '');
      if (!name) return;
      const res = await fetch(await sign(`${prefix}${name}/`, 'PUT'), { method: 'PUT', body: '' });
      if (!res.ok) throw new Error(`the folder was refused: HTTP ${res.status}`);
      toast(`Folder ${name}/ created`);
      location.hash = link(`${prefix}${name}/`);
    },
    h('label', {}, 'New folder', h('input', { name: 'folder', required: true, maxlength: 255 })),
    h('button', { type: 'submit', class: 'secondary' }, 'Create folder'),
  );
  const drop = h(
    'div',
    {
      class: 'panel dropzone',
      id: 'dropzone',
      ondragover: (ev) => {
        ev.preventDefault();
        drop.classList.add('over');
      },
      ondragleave: () => drop.classList.remove('over'),
      ondrop: async (ev) => {
        ev.preventDefault();
        drop.classList.remove('over');
        upload(await droppedFiles(ev.dataTransfer));
      },
    },
    h(
      'div',
      { class: 'upload-row' },
      h('label', {}, `Upload files into /${prefix}`, fileInput),
      h('label', {}, 'Upload a folder', folderInput),
      newFolder,
    ),
    h('p', { class: 'muted' }, 'Or drop files and folders here. Files above 32 MiB are sent in parts.'),
  );

  const searchForm = h(
    'form',
    {
      class: 'inline',
      role: 'search',
      onsubmit: (ev) => {
        ev.preventDefault();
        const term = String(new FormData(ev.target).get('search') ?? '');
        location.hash = link(prefix, term ? `&search=${enc(term)}` : '');
      },
    },
    h(
      'label',
      {},
      'Name starts with',
      h('input', { name: 'search', value: search, type: 'search', maxlength: 1024 }),
    ),
    h('button', { type: 'submit', class: 'secondary' }, 'Search'),
    search ? h('a', { href: link(prefix) }, 'Clear') : null,
  );

  // The listing: rows are rebuilt from state on every sort, selection and page loaded.
  const tbody = h('tbody');
  const count = h('p', { class: 'muted', id: 'listing-count' });
  const more = h('button', { class: 'secondary', id: 'load-more' }, 'Load more');
  const bulkText = h('span', { id: 'selected-count' });
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all' });
  const bulkDownload = h('button', { class: 'secondary' }, 'Download selected');
  const bulkDelete = h('button', { class: 'danger' }, 'Delete selected');
  const sortButtons = {};

  const entries = () => {
    const order = (cmp) => (a, b2) => (state.descending ? -cmp(a, b2) : cmp(a, b2));
    const folders = state.folders.map((p) => ({ key: p, folder: true }));
    const objects = [...state.objects].sort(order(SORTS[state.sort]));
    return [...(state.sort === 'name' ? folders.sort(order(SORTS.name)) : folders), ...objects];
  };
  const check = (key) =>
    h('input', {
      type: 'checkbox',
      'aria-label': `Select ${key.slice(prefix.length)}`,
      checked: state.selected.has(key),
      onchange: (ev) => {
        if (ev.target.checked) state.selected.add(key);
        else state.selected.delete(key);
        paintBulk();
      },
    });
  // Each row is built once; sorting and paging move the same elements (1,000s of rows stay quick).
  const rows = new Map();
  const row = (e) => {
    if (!rows.has(e.key)) rows.set(e.key, buildRow(e));
    return rows.get(e.key);
  };
  const buildRow = (e) =>
    e.folder
      ? h(
          'tr',
          { class: 'folder', dataset: { prefix: e.key } },
          h('td', {}, check(e.key)),
          h('td', {}, h('a', { href: link(e.key) }, '📁 ' + e.key.slice(prefix.length))),
          h('td', {}),
          h('td', {}),
          h('td', {}),
          h('td', {}),
        )
      : h(
          'tr',
          { dataset: { key: e.key } },
          h('td', {}, check(e.key)),
          h(
            'td',
            { class: 'wrap' },
            h('a', { href: `${link(prefix)}&key=${enc(e.key)}` }, e.key.slice(prefix.length)),
          ),
          h('td', { class: 'size' }, e.size_human),
          h('td', {}, e.content_type),
          h('td', {}, when(e.created_at)),
          h(
            'td',
            { class: 'row-actions' },
            h(
              'button',
              { class: 'secondary', onclick: () => download([e.key]).catch((err) => toast(String(err))) },
              'Download',
            ),
            dangerButton(
              app,
              'Delete',
              `Delete ${e.key}?`,
              () => app.api('POST', `/buckets/${bucket}/delete`, { keys: [e.key] }),
              'Deleted',
            ),
          ),
        );
  const paintBulk = () => {
    const n = state.selected.size;
    bulkText.textContent = n ? `${n} selected` : 'None selected';
    bulkDownload.disabled = bulkDelete.disabled = n === 0;
    selectAll.checked = n > 0 && n === state.objects.length + state.folders.length;
  };
  const paint = () => {
    tbody.replaceChildren(...entries().map(row));
    for (const [name, btn] of Object.entries(sortButtons))
      btn.textContent = `${btn.dataset.label}${name === state.sort ? (state.descending ? ' ▼' : ' ▲') : ''}`;
    const loaded = `${state.objects.length.toLocaleString()} object${state.objects.length === 1 ? '' : 's'}${state.folders.length ? ` and ${state.folders.length.toLocaleString()} folder${state.folders.length === 1 ? '' : 's'}` : ''}`;
    count.textContent = state.next
      ? `${loaded} loaded; there are more${search ? ' matching' : ' in this folder'}.`
      : `${loaded}${search ? ` starting with "${search}"` : ''}.`;
    more.hidden = !state.next;
    paintBulk();
  };
  const sortHeader = (name, label) => {
    sortButtons[name] = h(
      'button',
      {
        class: 'link sort',
        dataset: { label },
        onclick: () => {
          state.descending = state.sort === name ? !state.descending : false;
          state.sort = name;
          paint();
        },
      },
      label,
    );
    return h('th', {}, sortButtons[name]);
  };

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await /** @type {Promise<Answer<'listObjects'>>} */ (
        app.api(
          'GET',
          `/buckets/${bucket}/objects?delimiter=/&prefix=${enc(listPrefix)}&marker=${enc(state.next)}`,
        )
      );
      state.objects.push(...page.objects.filter((o) => o.key !== prefix));
      state.folders.push(...page.common_prefixes);
      state.next = page.next_marker;
      paint();
    } catch (e) {
      toast(String(e.message ?? e));
    } finally {
      more.disabled = false;
    }
  });
  selectAll.addEventListener('change', () => {
    state.selected = new Set(selectAll.checked ? [...state.folders, ...state.objects.map((o) => o.key)] : []);
    // Cached rows keep their own checkboxes: set them to the new selection.
    for (const [key, tr] of rows) tr.querySelector('input[type=checkbox]').checked = state.selected.has(key);
    paintBulk();
  });
  const chosenKeys = async () => {
    const chosen = [...state.selected];
    const folders = chosen.filter((k) => state.folders.includes(k));
    const under = await Promise.all(folders.map((f) => keysUnder(app, bucket, f)));
    return [...chosen.filter((k) => !folders.includes(k)), ...under.flat()];
  };
  bulkDownload.addEventListener('click', async () => {
    try {
      const keys = (await chosenKeys()).filter((k) => !k.endsWith('/'));
      toast(`Downloading ${keys.length} file${keys.length === 1 ? '' : 's'}`);
      await download(keys);
    } catch (e) {
      toast(String(e.message ?? e));
    }
  });
  bulkDelete.addEventListener('click', async () => {
    try {
      const keys = await chosenKeys();
      if (!confirm(`Delete ${keys.length} object${keys.length === 1 ? '' : 's'}? This cannot be undone.`))
        return;
      let deleted = 0;
      const refused = [];
      for (let i = 0; i < keys.length; i += 1000) {
        const r = await /** @type {Promise<Answer<'deleteObjects'>>} */ (
          app.api('POST', `/buckets/${bucket}/delete`, { keys: keys.slice(i, i + 1000) })
        );
        deleted += r.deleted.length;
        refused.push(...r.refused);
      }
      toast(
        `Deleted ${deleted} object${deleted === 1 ? '' : 's'}` +
          (refused.length ? `; ${refused.length} kept (${refused[0].error}: ${refused[0].message})` : ''),
      );
      await app.render();
    } catch (e) {
      toast(String(e.message ?? e));
    }
  });

  const listing = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { id: 'objects' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, selectAll),
          sortHeader('name', 'Name'),
          sortHeader('size', 'Size'),
          h('th', {}, 'Type'),
          sortHeader('modified', 'Modified'),
          h('th', {}),
        ),
      ),
      tbody,
    ),
  );
  paint();

  const empty = !state.objects.length && !state.folders.length;
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
    drop,
    detailKey ? await objectDetails(app, bucket, detailKey) : null,
    h(
      'div',
      { class: 'listing-bar' },
      searchForm,
      h('div', { class: 'bulk' }, bulkText, bulkDownload, bulkDelete),
    ),
    ...(empty
      ? [
          h(
            'p',
            { class: 'muted' },
            search ? `Nothing here starts with "${search}".` : 'This folder is empty.',
          ),
        ]
      : [listing, count, more]),
    await accessPanel(app, bucket, b.owner_user_id),
  ];
}

/** One object: what it is, its checksums, lock and encryption (never where its bytes are on disk). */
async function objectDetails(app, bucket, key) {
  let d;
  try {
    d = await /** @type {Promise<Answer<'getObject'>>} */ (
      app.api('GET', `/buckets/${bucket}/objects/${objectPath(key)}`)
    );
  } catch (e) {
    return h('div', { class: 'panel', id: 'object-details' }, errorLine(e));
  }
  const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  const checksums = Object.entries(d.checksums ?? {});
  return h(
    'div',
    { class: 'panel', id: 'object-details' },
    h('h2', {}, d.key),
    h(
      'dl',
      { class: 'facts' },
      fact('Size', `${d.size_human} (${d.size.toLocaleString()} bytes)`),
      fact('Type', d.content_type),
      fact('ETag', h('span', { class: 'mono' }, d.etag)),
      fact('Parts', d.is_multipart ? `multipart, ${d.part_count} parts` : 'single part'),
      fact('Updated', when(d.updated_at)),
      d.version_id ? fact('Version', h('span', { class: 'mono' }, d.version_id)) : null,
      checksums.map(([alg, value]) =>
        fact(
          `${alg === 'md5' ? 'MD5' : alg.toUpperCase()}${d.checksum_type && alg !== 'md5' ? ` (${d.checksum_type.toLowerCase().replace('_', ' ')})` : ''}`,
          h('span', { class: 'mono checksum', dataset: { algorithm: alg } }, value),
        ),
      ),
      fact(
        'Encryption',
        h(
          'span',
          {},
          `${d.encryption.algorithm}, master key `,
          h('span', { class: 'mono' }, d.encryption.master_key_id),
        ),
      ),
      fact(
        'Stored',
        d.storage.backend === 'inline'
          ? 'inline in Postgres'
          : `${d.storage.backend} backend, ${d.storage.blobs} blob${d.storage.blobs === 1 ? '' : 's'}`,
      ),
      d.retention || d.legal_hold
        ? fact('Locked', h('strong', { id: 'object-lock' }, lockText(d.retention, d.legal_hold)))
        : fact('Locked', 'no'),
    ),
    Object.keys(d.metadata).length
      ? [h('h2', {}, 'Metadata'), h('pre', {}, JSON.stringify(d.metadata, null, 2))]
      : null,
    Object.keys(d.tags).length ? [h('h2', {}, 'Tags'), h('pre', {}, JSON.stringify(d.tags, null, 2))] : null,
    await versionsPanel(app, bucket, key),
  );
}
