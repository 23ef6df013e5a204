// Coffer console: a hash-routed page over the management API. Each page is a module in pages/; this
// one holds the session, routes, and gives every page the same `app` handle (api, render, act, ...).
import { ApiClient, ApiFailure } from './lib/api.js';
import { h, toast } from './lib/dom.js';
import { errorLine } from './lib/forms.js';
import { accountPage } from './pages/account.js';
import { auditPage } from './pages/audit.js';
import { bucketsPage } from './pages/buckets.js';
import { credentialsPage } from './pages/credentials.js';
import { dashboard } from './pages/dashboard.js';
import { eventsPage } from './pages/events.js';
import { loginPage } from './pages/login.js';
import { presignPage } from './pages/presign.js';
import { uploadsPage } from './pages/uploads.js';
import { usersPage } from './pages/users.js';
import { TransferQueue } from './lib/transfers.js';
/**
 * @template {import('./lib/api.js').OperationId} Op
 * @typedef {import('./lib/api.js').Answer<Op>} Answer
 */

const PAGES = {
  dashboard,
  users: usersPage,
  credentials: credentialsPage,
  buckets: bucketsPage,
  uploads: uploadsPage,
  presign: presignPage,
  events: eventsPage,
  audit: auditPage,
  account: accountPage,
};

function route() {
  const [page, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { page: page || 'dashboard', params: new URLSearchParams(query) };
}

function startConsole() {
  const main = document.getElementById('main');
  const client = new ApiClient(() => render());
  // A slow page must not overwrite the one navigated to after it: only the newest render may paint.
  let generation = 0;

  const app = {
    api: (method, path, body) => client.call(method, path, body),
    render,
    show: (...content) => main.replaceChildren(...content),
    async login(body) {
      client.session = await /** @type {Promise<Answer<'login'>>} */ (
        client.call('POST', '/auth/login', body)
      );
      if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
      await render();
    },
    /** Runs an action, reports it, and re-renders; a failure becomes a toast. */
    async act(fn, done) {
      try {
        await fn();
        toast(done);
        await render();
      } catch (e) {
        toast(e instanceof ApiFailure ? `${e.body.error}: ${e.message}` : String(e));
      }
    },
    /** A presigned URL signed by accessKey: `request` names a method or an operation (and expires_in). */
    presign: (bucket, key, accessKey, request) =>
      /** @type {Promise<Answer<'createPresignedUrl'>>} */ (
        client.call('POST', '/presigned-urls', {
          bucket_name: bucket,
          object_key: key,
          access_key: accessKey,
          expires_in: 900,
          ...request,
        })
      ),
  };
  // Uploads outlive the page they started on; the listing refreshes when the queue is done.
  app.transfers = new TransferQueue(
    async (bucket, key, operation, accessKey, extra) =>
      (await app.presign(bucket, key, accessKey, { operation, ...extra })).url,
    () => render(),
  );
  document.body.append(app.transfers.panel);

  async function render() {
    const mine = ++generation;
    const top = document.getElementById('top');
    if (!client.session) {
      try {
        client.session = await /** @type {Promise<Answer<'getSession'>>} */ (
          client.call('GET', '/auth/session')
        );
      } catch {
        top.hidden = true;
        main.replaceChildren(loginPage(app));
        return;
      }
    }
    top.hidden = false;
    document.getElementById('who').textContent = client.session.username;
    const { page, params } = route();
    for (const a of document.querySelectorAll('nav a'))
      a.classList.toggle('active', /** @type {HTMLElement} */ (a).dataset.page === page);
    try {
      const content = [await (PAGES[page] ?? dashboard)(app, params)].flat().filter(Boolean);
      if (mine === generation) main.replaceChildren(...content);
    } catch (e) {
      if (client.session && mine === generation)
        main.replaceChildren(h('h1', {}, 'Something went wrong'), errorLine(e));
    }
  }

  document.getElementById('logout').addEventListener('click', async () => {
    await client.call('POST', '/auth/logout').catch(() => {});
    client.session = null;
    location.hash = '';
    render();
  });
  window.addEventListener('hashchange', render);
  render();
}

startConsole();
