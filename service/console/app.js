// Coffer console: a hash-routed page over the management API. DOM is built with h(), never from
// HTML strings, so bucket names, keys and metadata can hold anything without being interpreted.
const API = '/_coffer/api/v1';
const main = document.getElementById('main');
let session = null;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity))
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

class ApiFailure extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (session && method !== 'GET') headers['x-csrf-token'] = session.csrf_token;
  const res = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const data = res.headers.get('content-type')?.includes('json') ? await res.json() : {};
  if (res.status === 401 && data.error === 'SessionExpired') {
    session = null;
    render();
  }
  if (!res.ok) throw new ApiFailure(res.status, data);
  return data;
}

function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 4000);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const errorLine = (e) =>
  h(
    'p',
    { class: 'error', role: 'alert' },
    e instanceof ApiFailure ? `${e.body.error || 'Error'}: ${e.message}` : String(e),
  );
const table = (head, rows, empty = 'Nothing here yet.') =>
  rows.length
    ? h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              head.map((x) => h('th', {}, x)),
            ),
          ),
          h('tbody', {}, rows),
        ),
      )
    : h('p', { class: 'muted' }, empty);
const copyButton = (text, label = 'Copy') =>
  h(
    'button',
    {
      class: 'secondary',
      type: 'button',
      onclick: async () => {
        await navigator.clipboard.writeText(text).catch(() => {});
        toast('Copied');
      },
    },
    label,
  );

/** A destructive action: asks first, then runs and re-renders (act). */
const dangerButton = (label, question, fn, done) =>
  h('button', { class: 'danger', onclick: () => confirm(question) && act(fn, done) }, label);

/** An inline form whose submit runs action(formData); a failure is shown under the form, not thrown. */
function actionForm(action, ...fields) {
  const error = h('div');
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        error.replaceChildren();
        try {
          await action(new FormData(form));
        } catch (e) {
          error.replaceChildren(errorLine(e));
        }
      },
    },
    ...fields,
  );
  return h('div', {}, form, error);
}

function route() {
  const [page, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { page: page || 'dashboard', params: new URLSearchParams(query) };
}

// ---------------------------------------------------------------- login
function loginPage(needTotp = false, values = {}) {
  const error = h('div');
  const totp = h('input', {
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: 6,
    placeholder: '123456',
  });
  const form = h(
    'form',
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        const f = new FormData(form);
        const body = { username: f.get('username'), password: f.get('password') };
        if (f.get('totp')) body.totp_code = f.get('totp');
        error.replaceChildren();
        try {
          session = await api('POST', '/auth/login', body);
          if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
          render();
        } catch (e) {
          if (e.body?.error === 'TotpRequired') return main.replaceChildren(loginPage(true, body));
          error.append(errorLine(e));
          if (e.body?.restriction_state)
            error.append(h('p', { class: 'muted', id: 'restriction' }, e.body.restriction_state));
        }
      },
    },
    h(
      'label',
      {},
      'Username',
      h('input', {
        name: 'username',
        autocomplete: 'username',
        required: true,
        value: values.username ?? '',
      }),
    ),
    h(
      'label',
      {},
      'Password',
      h('input', {
        name: 'password',
        type: 'password',
        autocomplete: 'current-password',
        required: true,
        value: values.password ?? '',
      }),
    ),
    needTotp ? h('label', {}, 'Authenticator code', totp) : null,
    h('button', { type: 'submit' }, needTotp ? 'Verify' : 'Log in'),
    error,
  );
  if (needTotp) queueMicrotask(() => totp.focus());
  return h('div', { class: 'login panel' }, h('h1', {}, 'Coffer console'), form);
}

// ---------------------------------------------------------------- pages
async function dashboard() {
  const s = await api('GET', '/stats');
  const card = (label, value, id) =>
    h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
  return [
    h('h1', {}, 'Dashboard'),
    h(
      'div',
      { class: 'cards' },
      card('Stored', s.total_storage_human, 'stat-storage'),
      card('Objects', s.objects.toLocaleString(), 'stat-objects'),
      card('Buckets', s.buckets, 'stat-buckets'),
      card('Credentials', s.credentials, 'stat-credentials'),
      card('Multipart uploads', s.active_multipart_uploads, 'stat-uploads'),
      card('Active presigned URLs', s.active_presigned_urls, 'stat-presigned'),
    ),
  ];
}

async function credentialsPage() {
  const { credentials } = await api('GET', '/credentials');
  const created = h('div');
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const name = new FormData(form).get('user_name');
        try {
          const c = await api('POST', '/credentials', name ? { user_name: name } : {});
          await render();
          document
            .getElementById('created')
            .replaceChildren(
              h(
                'div',
                { class: 'panel' },
                h('strong', {}, 'Credential created. The secret is shown only this once:'),
                h('p', {}, 'Access key: ', h('span', { class: 'mono', id: 'new-access-key' }, c.access_key)),
                h('div', { class: 'secret', id: 'new-secret' }, c.secret_key),
                h('p', {}, copyButton(c.secret_key, 'Copy secret')),
              ),
            );
        } catch (e) {
          created.replaceChildren(errorLine(e));
        }
      },
    },
    h('label', {}, 'User name (optional)', h('input', { name: 'user_name', maxlength: 128 })),
    h('button', { type: 'submit' }, 'Create credential'),
  );
  created.id = 'created';
  const rows = credentials.map((c) =>
    h(
      'tr',
      { dataset: { accessKey: c.access_key } },
      h('td', {}, c.id),
      h('td', { class: 'mono' }, c.access_key),
      h('td', {}, c.user_name ?? ''),
      h(
        'td',
        {},
        h('span', { class: `badge ${c.is_active ? 'on' : 'off'}` }, c.is_active ? 'active' : 'disabled'),
      ),
      h('td', {}, when(c.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'button',
          {
            class: 'secondary',
            onclick: () =>
              act(
                () => api('PATCH', `/credentials/${c.id}`, { is_active: !c.is_active }),
                c.is_active ? 'Disabled' : 'Enabled',
              ),
          },
          c.is_active ? 'Disable' : 'Enable',
        ),
        dangerButton(
          'Delete',
          `Delete ${c.access_key}? Clients using it stop working.`,
          () => api('DELETE', `/credentials/${c.id}`),
          'Deleted',
        ),
      ),
    ),
  );
  return [
    h('h1', {}, 'Credentials'),
    h('div', { class: 'panel' }, form),
    created,
    table(['ID', 'Access key', 'User', 'Status', 'Created', ''], rows),
  ];
}

async function act(fn, done) {
  try {
    await fn();
    toast(done);
    await render();
  } catch (e) {
    toast(e instanceof ApiFailure ? `${e.body.error}: ${e.message}` : String(e));
  }
}

async function presign(bucket, key, method, accessKey, expires = 900) {
  return api('POST', '/presigned-urls', {
    bucket_name: bucket,
    object_key: key,
    method,
    access_key: accessKey,
    expires_in: expires,
  });
}

async function bucketsPage(params) {
  const bucket = params.get('bucket');
  if (bucket) return bucketBrowser(bucket, params.get('prefix') ?? '', params.get('key'));
  const [{ buckets }, { credentials }] = await Promise.all([
    api('GET', '/buckets'),
    api('GET', '/credentials'),
  ]);
  const form = actionForm(
    async (f) => {
      await api('POST', '/buckets', { name: f.get('name'), owner_id: Number(f.get('owner_id')) });
      toast('Bucket created');
      await render();
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
          'Delete',
          `Delete bucket ${b.name}? It must be empty.`,
          () => api('DELETE', `/buckets/${b.name}`),
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

async function bucketBrowser(bucket, prefix, detailKey) {
  const b = await api('GET', `/buckets/${bucket}`);
  const listing = await api(
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
          const { url } = await presign(bucket, prefix + f.name, 'PUT', b.owner_access_key);
          const res = await fetch(url, {
            method: 'PUT',
            body: f,
            headers: f.type ? { 'content-type': f.type } : {},
          });
          if (!res.ok)
            throw new Error(`upload refused: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
          toast(`Uploaded ${f.name}`);
          await render();
        } catch (e) {
          status.replaceChildren(errorLine(e));
        }
      },
    },
    h('label', {}, `Upload into /${prefix}`, file),
    h('button', { type: 'submit' }, 'Upload'),
  );
  const download = async (key) => {
    const { url } = await presign(bucket, key, 'GET', b.owner_access_key, 300);
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
          'Delete',
          `Delete ${o.key}?`,
          () => api('POST', `/buckets/${bucket}/delete`, { keys: [o.key] }),
          'Deleted',
        ),
      ),
    ),
  );
  let details = null;
  if (detailKey) {
    const d = await api(
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
      h('h2', {}, 'Metadata'),
      h('pre', {}, JSON.stringify(d.metadata, null, 2)),
    );
  }
  return [
    h('h1', {}, `Bucket ${bucket}`),
    crumbs,
    h('p', { class: 'muted' }, `${b.object_count} objects · ${b.total_size_human} · owner ${b.owner}`),
    h('div', { class: 'panel' }, upload, status),
    details,
    table(['Name', 'Size', 'Type', 'Modified', ''], [...folderRows, ...objectRows], 'This folder is empty.'),
  ];
}

async function uploadsPage(params) {
  const { buckets } = await api('GET', '/buckets');
  const bucket = params.get('bucket') ?? buckets[0]?.name;
  const select = h(
    'select',
    { onchange: (ev) => (location.hash = `#/uploads?bucket=${encodeURIComponent(ev.target.value)}`) },
    buckets.map((b) => h('option', { value: b.name, selected: b.name === bucket }, b.name)),
  );
  if (!bucket) return [h('h1', {}, 'Multipart uploads'), h('p', { class: 'muted' }, 'No buckets yet.')];
  const { uploads } = await api('GET', `/buckets/${bucket}/uploads`);
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
          'Abort',
          `Abort the upload of ${u.object_key}?`,
          () => api('DELETE', `/buckets/${bucket}/uploads/${encodeURIComponent(u.upload_id)}`),
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

async function presignPage() {
  const [{ buckets }, { urls }] = await Promise.all([api('GET', '/buckets'), api('GET', '/presigned-urls')]);
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
          const r = await presign(
            bucket.name,
            f.get('key'),
            f.get('method'),
            bucket.owner_access_key,
            Number(f.get('expires')),
          );
          result.replaceChildren(
            h(
              'div',
              { class: 'panel' },
              h('p', {}, `${r.method} URL, valid until ${when(r.expires_at)}:`),
              h('div', { class: 'secret', id: 'presigned-url' }, r.url),
              h('p', {}, copyButton(r.url, 'Copy URL')),
            ),
          );
          active.replaceChildren(activeTable((await api('GET', '/presigned-urls')).urls));
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

async function accountPage() {
  const s = await api('GET', '/auth/session');
  const state = h(
    'p',
    {},
    `Signed in as ${s.username}. Two-step verification is `,
    h(
      'span',
      { class: `badge ${s.totp_enabled ? 'on' : 'off'}`, id: 'totp-state' },
      s.totp_enabled ? 'enabled' : 'off',
    ),
    '.',
  );
  if (s.totp_enabled) return [h('h1', {}, 'Account'), h('div', { class: 'panel' }, state)];
  const area = h('div');
  const start = h(
    'button',
    {
      id: 'totp-enroll',
      onclick: async () => {
        try {
          const e = await api('POST', '/auth/totp/enroll');
          const form = actionForm(
            async (f) => {
              await api('POST', '/auth/totp/confirm', { code: f.get('code') });
              toast('Two-step verification enabled');
              await render();
            },
            h(
              'label',
              {},
              'Code from the app',
              h('input', {
                name: 'code',
                inputmode: 'numeric',
                pattern: '[0-9]{6}',
                maxlength: 6,
                required: true,
              }),
            ),
            h('button', { type: 'submit' }, 'Confirm'),
          );
          area.replaceChildren(
            h(
              'div',
              { class: 'panel qr' },
              h('p', {}, 'Scan with an authenticator app, or enter the secret by hand:'),
              h('img', { alt: 'TOTP QR code', src: 'data:image/svg+xml;base64,' + btoa(e.qr_svg) }),
              h('p', { class: 'mono', id: 'totp-secret' }, e.secret),
              h('p', { class: 'mono muted', id: 'totp-uri' }, e.otpauth_uri),
              form,
            ),
          );
        } catch (err) {
          area.replaceChildren(errorLine(err));
        }
      },
    },
    'Set up two-step verification',
  );
  return [h('h1', {}, 'Account'), h('div', { class: 'panel' }, state, start), area];
}

const PAGES = {
  dashboard,
  credentials: credentialsPage,
  buckets: bucketsPage,
  uploads: uploadsPage,
  presign: presignPage,
  account: accountPage,
};

// A slow page must not overwrite the one navigated to after it: only the newest render may paint.
let generation = 0;

async function render() {
  const mine = ++generation;
  const top = document.getElementById('top');
  if (!session) {
    try {
      session = await api('GET', '/auth/session');
    } catch {
      top.hidden = true;
      main.replaceChildren(loginPage());
      return;
    }
  }
  top.hidden = false;
  document.getElementById('who').textContent = session.username;
  const { page, params } = route();
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.page === page);
  try {
    const content = [await (PAGES[page] ?? dashboard)(params)].flat().filter(Boolean);
    if (mine === generation) main.replaceChildren(...content);
  } catch (e) {
    if (session && mine === generation)
      main.replaceChildren(h('h1', {}, 'Something went wrong'), errorLine(e));
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/auth/logout').catch(() => {});
  session = null;
  location.hash = '';
  render();
});
window.addEventListener('hashchange', render);
render();
