// The signed-in admin: two-step verification enrolment.
import { h, toast } from '../lib/dom.js';
import { errorLine, actionForm } from '../lib/forms.js';

export async function accountPage(app) {
  const s = await app.api('GET', '/auth/session');
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
          const e = await app.api('POST', '/auth/totp/enroll');
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
  return [h('h1', {}, 'Account'), h('div', { class: 'panel' }, state, start), area];
}
