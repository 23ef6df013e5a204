// Forms and buttons that act through the management API and report failures where they happened.
import { ApiFailure } from './api.js';
import { h } from './dom.js';

export const errorLine = (e) =>
  h(
    'p',
    { class: 'error', role: 'alert' },
    e instanceof ApiFailure ? `${e.body.error || 'Error'}: ${e.message}` : String(e),
  );

/** A destructive action: asks first, then runs and re-renders (act). */
export const dangerButton = (app, label, question, fn, done) =>
  h('button', { class: 'danger', onclick: () => confirm(question) && app.act(fn, done) }, label);

/** An inline form whose submit runs action(formData); a failure is shown under the form, not thrown. */
export function actionForm(action, ...fields) {
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
