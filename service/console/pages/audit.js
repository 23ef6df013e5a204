// The audit trail: newest first, filtered by who, what, where and outcome; "Older" pages on.
import { h, table, when } from '../lib/dom.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

const FILTERS = [
  ['principal', 'Who', 'e.g. alice or admin:admin'],
  ['operation', 'Operation', 'e.g. PutObject'],
  ['bucket', 'Bucket', ''],
  ['result', 'Result starts with', 'e.g. 403'],
  ['since', 'Since', 'e.g. 2026-11-01'],
];

export async function auditPage(app, params) {
  const query = new URLSearchParams();
  for (const [name] of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  if (params.get('before')) query.set('before', params.get('before'));
  query.set('limit', '50');
  const { records, next_before: nextBefore } = await /** @type {Promise<Answer<'listAuditRecords'>>} */ (
    app.api('GET', `/audit?${query}`)
  );
  const form = h(
    'form',
    {
      class: 'inline',
      id: 'audit-filter',
      onsubmit: (ev) => {
        ev.preventDefault();
        const chosen = new URLSearchParams();
        for (const [name, value] of new FormData(ev.target))
          if (String(value).trim()) chosen.set(name, String(value));
        location.hash = `#/audit?${chosen}`;
      },
    },
    FILTERS.map(([name, label, hint]) =>
      h('label', {}, label, h('input', { name, value: params.get(name) ?? '', placeholder: hint })),
    ),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const rows = records.map((r) =>
    h(
      'tr',
      { dataset: { seq: r.seq } },
      h('td', { class: 'mono' }, r.seq),
      h('td', {}, when(r.at)),
      h('td', {}, r.principal ?? '—', r.access_key ? h('div', { class: 'muted mono' }, r.access_key) : null),
      h('td', {}, r.source ?? ''),
      h('td', {}, r.operation),
      h(
        'td',
        { class: 'wrap' },
        [r.bucket, r.key].filter(Boolean).join('/'),
        r.version_id ? ` (${r.version_id})` : '',
      ),
      h('td', { class: /^[45]|^no/.test(r.result) ? 'error' : '' }, r.result),
      h('td', {}, r.bytes),
    ),
  );
  const older = new URLSearchParams(query);
  older.delete('limit');
  if (nextBefore) older.set('before', String(nextBefore));
  return [
    h('h1', {}, 'Audit trail'),
    h(
      'p',
      { class: 'muted' },
      'Every change and every refusal, chained record to record: npm run audit -- verify checks that none was altered or removed.',
    ),
    h('div', { class: 'panel' }, form),
    h(
      'div',
      { id: 'audit-records' },
      table(
        ['#', 'Time', 'Who', 'From', 'Operation', 'Object', 'Result', 'Bytes'],
        rows,
        'No record matches.',
      ),
    ),
    nextBefore ? h('a', { href: `#/audit?${older}`, class: 'button secondary' }, 'Older') : null,
  ];
}
