// S3 credentials: issue (secret shown once), enable or disable, delete.
import { h, when, table, copyButton } from '../lib/dom.js';
import { errorLine, dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function credentialsPage(app) {
  const { credentials } = await /** @type {Promise<Answer<'listCredentials'>>} */ (
    app.api('GET', '/credentials')
  );
  const created = h('div');
  const form = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const name = new FormData(form).get('user_name');
        try {
          const c = await /** @type {Promise<Answer<'createCredential'>>} */ (
            app.api('POST', '/credentials', name ? { user_name: name } : {})
          );
          await app.render();
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
              app.act(
                () => app.api('PATCH', `/credentials/${c.id}`, { is_active: !c.is_active }),
                c.is_active ? 'Disabled' : 'Enabled',
              ),
          },
          c.is_active ? 'Disable' : 'Enable',
        ),
        dangerButton(
          app,
          'Delete',
          `Delete ${c.access_key}? Clients using it stop working.`,
          () => app.api('DELETE', `/credentials/${c.id}`),
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
