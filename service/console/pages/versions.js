// The versions of one object: restore an old one (copied over the key), delete one for good (refused,
// with the reason, while object lock protects it).
import { h, table, when } from '../lib/dom.js';
import { dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

const objectPath = (key) => key.split('/').map(encodeURIComponent).join('/');

/** A one-line account of a version's lock, e.g. "COMPLIANCE until 2027-01-01 · legal hold". */
export function lockText(retention, legalHold) {
  const parts = [];
  if (retention) parts.push(`${retention.mode} until ${when(retention.until)}`);
  if (legalHold) parts.push('legal hold');
  return parts.join(' · ');
}

export async function versionsPanel(app, bucket, key) {
  const { versioning, versions } = await /** @type {Promise<Answer<'listObjectVersions'>>} */ (
    app.api('GET', `/buckets/${bucket}/versions/${objectPath(key)}`)
  );
  if (!versioning) return null;
  const rows = versions.map((v) =>
    h(
      'tr',
      { dataset: { versionId: v.version_id } },
      h('td', { class: 'mono' }, v.version_id),
      h('td', {}, v.delete_marker ? 'delete marker' : v.is_latest ? 'current' : ''),
      h('td', {}, v.delete_marker ? '' : String(v.size)),
      h('td', {}, when(v.last_modified)),
      h('td', { class: 'lock' }, lockText(v.retention, v.legal_hold)),
      h(
        'td',
        { class: 'row-actions' },
        v.delete_marker || v.is_latest
          ? null
          : h(
              'button',
              {
                class: 'secondary',
                onclick: () =>
                  app.act(
                    () =>
                      app.api('POST', `/buckets/${bucket}/versions/${objectPath(key)}`, {
                        version_id: v.version_id,
                      }),
                    'Version restored',
                  ),
              },
              'Restore',
            ),
        dangerButton(
          app,
          'Delete version',
          `Delete version ${v.version_id} of ${key} for good?`,
          () =>
            app.api(
              'DELETE',
              `/buckets/${bucket}/versions/${objectPath(key)}?version_id=${encodeURIComponent(v.version_id)}`,
            ),
          'Version deleted',
        ),
      ),
    ),
  );
  return h(
    'div',
    { class: 'panel', id: 'object-versions' },
    h('h2', {}, 'Versions'),
    table(['Version', '', 'Size', 'Modified', 'Lock', ''], rows),
  );
}
