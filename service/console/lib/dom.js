// DOM helpers for the console. Elements are built with h(), never from HTML strings, so bucket names,
// keys and metadata can hold anything without being interpreted.
export function h(tag, attrs = {}, ...children) {
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

/** The toast's hide timer: a new message restarts it. */
let toastTimer;

export function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 4000);
}

/** Sizes the browser knows before the API does (files being uploaded), as parse/human-size.ts writes them. */
export function humanSize(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');
export const table = (head, rows, empty = 'Nothing here yet.') =>
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
export const copyButton = (text, label = 'Copy') =>
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
