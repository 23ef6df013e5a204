// Users: who owns buckets and receives grants. Each holds access keys; a key rotates without any
// bucket moving (issue a new key, switch the clients, delete the old one).
import { h, table, when } from '../lib/dom.js';
import { actionForm, dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function usersPage(app) {
  const { users } = await /** @type {Promise<Answer<'listUsers'>>} */ (app.api('GET', '/users'));
  const issued = h('div', { id: 'issued' });
  // Shown after the re-render that lists the new key, so into the page now on screen.
  const showSecret = (key) =>
    document
      .getElementById('issued')
      .replaceChildren(
        h(
          'div',
          { class: 'panel' },
          h('strong', {}, 'Access key issued. The secret is shown only this once:'),
          h('p', {}, 'Access key: ', h('span', { class: 'mono', id: 'issued-access-key' }, key.access_key)),
          h('div', { class: 'secret', id: 'issued-secret' }, key.secret_key),
        ),
      );
  const create = actionForm(
    async (f) => {
      await app.api('POST', '/users', { name: f.get('name') });
      await app.render();
    },
    h('label', {}, 'User name', h('input', { name: 'name', required: true, maxlength: 64 })),
    h('button', { type: 'submit' }, 'Create user'),
  );
  const rows = users.map((u) =>
    h(
      'tr',
      { dataset: { user: u.name } },
      h('td', {}, u.name),
      h('td', { class: 'mono small' }, u.canonical_id),
      h(
        'td',
        {},
        ...u.access_keys.map((k) =>
          h(
            'div',
            { class: 'key-line' },
            h('span', { class: 'mono' }, k.access_key),
            k.is_active ? '' : h('span', { class: 'badge off' }, 'disabled'),
            dangerButton(
              app,
              'Delete key',
              `Delete access key ${k.access_key} of ${u.name}? Clients using it stop working; the user's buckets stay.`,
              () => app.api('DELETE', `/credentials/${k.id}`),
              'Key deleted',
            ),
          ),
        ),
      ),
      h('td', {}, String(u.bucket_count)),
      h('td', {}, when(u.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'button',
          {
            class: 'secondary',
            onclick: async () => {
              const key = await /** @type {Promise<Answer<'createUserKey'>>} */ (
                app.api('POST', `/users/${u.id}/keys`, {})
              );
              await app.render();
              showSecret(key);
            },
          },
          'New key',
        ),
        dangerButton(
          app,
          'Delete user',
          `Delete ${u.name} with its keys and grants?`,
          () => app.api('DELETE', `/users/${u.id}`),
          'User deleted',
        ),
      ),
    ),
  );
  return [
    h('h1', {}, 'Users'),
    h(
      'p',
      { class: 'muted' },
      'A user owns buckets, holds access keys and can be granted access to other users\u2019 buckets.',
    ),
    h('div', { class: 'panel' }, create),
    issued,
    table(['Name', 'Canonical ID', 'Access keys', 'Buckets', 'Created', ''], rows),
  ];
}

/** Who else may use a bucket: grants to other users (read, write = new objects only, read-write), by prefix. */
export async function accessPanel(app, bucket, ownerUserId) {
  const [{ grants }, { users }] = await Promise.all([
    /** @type {Promise<Answer<'listGrants'>>} */ (app.api('GET', `/buckets/${bucket}/grants`)),
    /** @type {Promise<Answer<'listUsers'>>} */ (app.api('GET', '/users')),
  ]);
  const others = users.filter((u) => u.id !== ownerUserId);
  const form = actionForm(
    async (f) => {
      await app.api('PUT', `/buckets/${bucket}/grants`, {
        user_id: Number(f.get('user_id')),
        access: f.get('access'),
        prefix: f.get('prefix') ?? '',
      });
      await app.render();
    },
    h(
      'label',
      {},
      'User',
      h('select', { name: 'user_id' }, ...others.map((u) => h('option', { value: u.id }, u.name))),
    ),
    h(
      'label',
      {},
      'Access',
      h(
        'select',
        { name: 'access' },
        h('option', { value: 'read' }, 'read'),
        h('option', { value: 'write' }, 'write (new objects only)'),
        h('option', { value: 'read-write' }, 'read-write'),
      ),
    ),
    h('label', {}, 'Key prefix (optional)', h('input', { name: 'prefix', maxlength: 1024 })),
    h('button', { type: 'submit' }, 'Grant'),
  );
  const rows = grants.map((g) =>
    h(
      'tr',
      { dataset: { grantUser: g.user_name } },
      h('td', {}, g.user_name),
      h('td', {}, g.access),
      h('td', { class: 'mono' }, g.prefix || '(whole bucket)'),
      h('td', {}, when(g.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        dangerButton(
          app,
          'Revoke',
          `Revoke ${g.user_name}'s ${g.access} access to ${bucket}${g.prefix ? `/${g.prefix}` : ''}?`,
          () => app.api('DELETE', `/buckets/${bucket}/grants/${g.id}`),
          'Grant revoked',
        ),
      ),
    ),
  );
  return h(
    'section',
    { class: 'panel', id: 'access' },
    h('h2', {}, 'Access'),
    form,
    table(['User', 'Access', 'Prefix', 'Granted', ''], rows, 'Only the owner has access.'),
  );
}
