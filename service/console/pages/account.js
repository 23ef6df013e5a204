// The signed-in admin (two-step verification, password) and the other admins, each with their own TOTP.
import { h, toast, table, when } from '../lib/dom.js';
import { errorLine, actionForm, dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

function passwordPanel(app) {
  const form = actionForm(
    async (f) => {
      if (f.get('new_password') !== f.get('repeat')) throw new Error('The two new passwords differ');
      await app.api('POST', '/auth/password', {
        current_password: f.get('current_password'),
        new_password: f.get('new_password'),
      });
      form.querySelector('form').reset();
      toast('Password changed; your other sessions have ended');
    },
    h(
      'label',
      {},
      'Current password',
      h('input', {
        name: 'current_password',
        type: 'password',
        required: true,
        autocomplete: 'current-password',
      }),
    ),
    h(
      'label',
      {},
      'New password',
      h('input', {
        name: 'new_password',
        type: 'password',
        required: true,
        minlength: 12,
        autocomplete: 'new-password',
      }),
    ),
    h(
      'label',
      {},
      'Repeat new password',
      h('input', {
        name: 'repeat',
        type: 'password',
        required: true,
        minlength: 12,
        autocomplete: 'new-password',
      }),
    ),
    h('button', { type: 'submit' }, 'Change password'),
  );
  return h('div', { class: 'panel' }, h('h2', {}, 'Password'), form);
}

async function adminsPanel(app, me) {
  const { admins } = await /** @type {Promise<Answer<'listAdmins'>>} */ (app.api('GET', '/admins'));
  const add = actionForm(
    async (f) => {
      await app.api('POST', '/admins', { username: f.get('username'), password: f.get('password') });
      toast(`Admin ${f.get('username')} added: they set up their own two-step verification after signing in`);
      await app.render();
    },
    h('label', {}, 'Admin name', h('input', { name: 'username', required: true, maxlength: 64 })),
    h(
      'label',
      {},
      'First password',
      h('input', {
        name: 'password',
        type: 'password',
        required: true,
        minlength: 12,
        autocomplete: 'new-password',
      }),
    ),
    h('button', { type: 'submit' }, 'Add admin'),
  );
  const rows = admins.map((a) =>
    h(
      'tr',
      { dataset: { admin: a.username } },
      h('td', {}, a.username, a.username === me ? h('span', { class: 'muted' }, ' (you)') : null),
      h(
        'td',
        {},
        h(
          'span',
          { class: `badge ${a.totp_enabled ? 'on' : 'off'}` },
          a.totp_enabled ? 'two-step on' : 'two-step off',
        ),
      ),
      h('td', {}, a.created_by ?? 'setup'),
      h('td', {}, when(a.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        a.username === me
          ? null
          : [
              a.totp_enabled
                ? dangerButton(
                    app,
                    'Reset two-step',
                    `Reset ${a.username}'s two-step verification? They enroll again at their next sign-in.`,
                    () => app.api('DELETE', `/admins/${a.id}/totp`),
                    'Two-step verification reset',
                  )
                : null,
              dangerButton(
                app,
                'Remove',
                `Remove admin ${a.username}? Their sessions and API keys stop working.`,
                () => app.api('DELETE', `/admins/${a.id}`),
                'Admin removed',
              ),
            ],
      ),
    ),
  );
  return h(
    'div',
    { class: 'panel', id: 'admins' },
    h('h2', {}, 'Admins'),
    add,
    table(['Name', 'Two-step', 'Added by', 'Added', ''], rows),
  );
}

export async function accountPage(app) {
  const s = await /** @type {Promise<Answer<'getSession'>>} */ (app.api('GET', '/auth/session'));
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
  const rest = async () => [passwordPanel(app), await adminsPanel(app, s.username)];
  if (s.totp_enabled) return [h('h1', {}, 'Account'), h('div', { class: 'panel' }, state), ...(await rest())];
  const area = h('div');
  const start = h(
    'button',
    {
      id: 'totp-enroll',
      onclick: async () => {
        try {
          const e = await /** @type {Promise<Answer<'enrollTotp'>>} */ (app.api('POST', '/auth/totp/enroll'));
          const form = actionForm(
            async (f) => {
              await app.api('POST', '/auth/totp/confirm', { code: f.get('code') });
              toast('Two-step verification enabled');
              await app.render();
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
  return [h('h1', {}, 'Account'), h('div', { class: 'panel' }, state, start), area, ...(await rest())];
}
