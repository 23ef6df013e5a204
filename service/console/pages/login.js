// Log in, with the authenticator code when the account has two-step verification.
import { h } from '../lib/dom.js';
import { errorLine } from '../lib/forms.js';

export function loginPage(app, needTotp = false, values = {}) {
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
          await app.login(body);
          if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
          app.render();
        } catch (e) {
          if (e.body?.error === 'TotpRequired') return app.show(loginPage(app, true, body));
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
