// Bucket events: the webhook targets an admin creates for a user (whose buckets name them by ARN in their
// notification configuration), and the messages not yet delivered: pending ones being retried, failed ones
// given up, each with its last error, to send again or drop.
import { copyButton, h, table, when } from '../lib/dom.js';
import { actionForm, dangerButton } from '../lib/forms.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

export async function eventsPage(app, params) {
  const state = params.get('state') ?? '';
  const query = state ? `?state=${encodeURIComponent(state)}` : '';
  const [{ webhooks }, { users }, { messages, next_after }] = await Promise.all([
    /** @type {Promise<Answer<'listWebhooks'>>} */ (app.api('GET', '/webhooks')),
    /** @type {Promise<Answer<'listUsers'>>} */ (app.api('GET', '/users')),
    /** @type {Promise<Answer<'listEventMessages'>>} */ (app.api('GET', `/events${query}`)),
  ]);
  const create = actionForm(
    async (f) => {
      const secret = String(f.get('secret') ?? '');
      const ca = String(f.get('ca_bundle') ?? '').trim();
      await app.api('POST', '/webhooks', {
        name: f.get('name'),
        user: f.get('user'),
        url: f.get('url'),
        auth: f.get('auth'),
        ...(secret ? { secret } : {}),
        ...(ca ? { ca_bundle: ca } : {}),
      });
      await app.render();
    },
    h(
      'label',
      {},
      'Name',
      h('input', { name: 'name', required: true, maxlength: 63, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]*' }),
    ),
    h(
      'label',
      {},
      'For the buckets of',
      h('select', { name: 'user' }, ...users.map((u) => h('option', { value: u.name }, u.name))),
    ),
    h(
      'label',
      {},
      'URL',
      h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://n8n.example/webhook/…' }),
    ),
    h(
      'label',
      {},
      'Signed with',
      h(
        'select',
        { name: 'auth' },
        h('option', { value: 'hmac' }, 'HMAC-SHA256 signature'),
        h('option', { value: 'bearer' }, 'bearer token'),
        h('option', { value: 'none' }, 'nothing'),
      ),
    ),
    h(
      'label',
      {},
      'Secret (16+ characters; shown never again)',
      h('input', { name: 'secret', type: 'password', autocomplete: 'off' }),
    ),
    h('label', {}, 'CA bundle (PEM, for https)', h('textarea', { name: 'ca_bundle', rows: 2 })),
    h('button', { type: 'submit' }, 'Create target'),
  );
  const targetRows = webhooks.map((w) =>
    h(
      'tr',
      { dataset: { webhook: w.name } },
      h('td', {}, w.name),
      h('td', {}, w.user_name),
      h('td', { class: 'mono small' }, w.url),
      h('td', {}, w.auth, w.ca_bundle ? ' \u00b7 own CA' : ''),
      h('td', { class: 'mono small' }, w.arn, ' ', copyButton(w.arn, 'Copy ARN')),
      h('td', {}, when(w.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        dangerButton(
          app,
          'Delete',
          `Delete the target ${w.name}? Its waiting messages are dropped. Buckets that send to it must stop first.`,
          () => app.api('DELETE', `/webhooks/${encodeURIComponent(w.name)}`),
          'Target deleted',
        ),
      ),
    ),
  );
  const messageRows = messages.map((m) =>
    h(
      'tr',
      { dataset: { message: String(m.id), state: m.state } },
      h('td', {}, h('span', { class: m.state === 'failed' ? 'badge off' : 'badge' }, m.state)),
      h('td', {}, m.target),
      h('td', {}, m.event_name),
      h('td', { class: 'mono small' }, `${m.bucket}/${m.key}`),
      h('td', {}, String(m.attempts)),
      h('td', { class: 'small' }, m.last_error ?? ''),
      h('td', {}, when(m.created_at)),
      h(
        'td',
        { class: 'row-actions' },
        h(
          'button',
          {
            class: 'secondary',
            onclick: () => app.act(() => app.api('POST', '/events/retry', { ids: [m.id] }), 'Sent again'),
          },
          'Retry',
        ),
        dangerButton(
          app,
          'Drop',
          'Drop this message? It is never sent.',
          () => app.api('POST', '/events/drop', { ids: [m.id] }),
          'Dropped',
        ),
      ),
    ),
  );
  const failed = messages.some((m) => m.state === 'failed');
  const filter = (label, value) =>
    h(
      'a',
      { href: `#/events${value ? `?state=${value}` : ''}`, class: state === value ? 'active' : '' },
      label,
    );
  return [
    h('h1', {}, 'Events'),
    h(
      'p',
      { class: 'muted' },
      'Buckets send what happens to their objects to webhook targets: a bucket\u2019s owner names a target by its ARN in ',
      'PutBucketNotificationConfiguration. Each message is the S3 event JSON, signed so the receiver can trust it.',
    ),
    h('h2', {}, 'Webhook targets'),
    h('div', { class: 'panel' }, create),
    table(['Name', 'User', 'URL', 'Auth', 'ARN', 'Created', ''], targetRows, 'No webhook targets yet.'),
    h('h2', {}, 'Messages not yet delivered'),
    h(
      'p',
      { class: 'filters' },
      filter('All', ''),
      ' \u00b7 ',
      filter('Pending', 'pending'),
      ' \u00b7 ',
      filter('Failed', 'failed'),
    ),
    failed
      ? h(
          'p',
          {},
          h(
            'button',
            {
              onclick: () =>
                app.act(() => app.api('POST', '/events/retry', {}), 'Failed messages sent again'),
            },
            'Retry all failed',
          ),
          ' ',
          dangerButton(
            app,
            'Drop all failed',
            'Drop every failed message? They are never sent.',
            () => app.api('POST', '/events/drop', {}),
            'Dropped',
          ),
        )
      : '',
    table(
      ['State', 'Target', 'Event', 'Object', 'Attempts', 'Last error', 'Committed', ''],
      messageRows,
      'Every message has been delivered.',
    ),
    next_after ? h('p', { class: 'muted' }, 'More messages wait than are shown; the oldest come first.') : '',
  ];
}
