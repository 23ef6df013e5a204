// Usage at a glance: totals, storage per bucket and over time, the last hour's requests, health, the
// background jobs, and how to connect.
import { line, stackedBars } from '../lib/charts.js';
import { copyButton, h, humanSize, table, when } from '../lib/dom.js';
/**
 * @template {import('../lib/api.js').OperationId} Op
 * @typedef {import('../lib/api.js').Answer<Op>} Answer
 */

const card = (label, value, id) =>
  h('div', { class: 'card', id }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));

const ago = (iso) => {
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

function healthPanel(health, jobs) {
  const pg = health.postgres;
  const job = (name) => {
    const j = jobs.find((r) => r.job === name);
    if (!j) return 'has not run yet';
    const what = j.report
      ? Object.entries(j.report)
          .filter(([, n]) => n)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'nothing to do'
      : '';
    return j.outcome === 'ok'
      ? `ran ${ago(j.finished_at)} (${what})`
      : `FAILED ${ago(j.finished_at)}: ${j.error}${j.last_ok_at ? `; last good run ${ago(j.last_ok_at)}` : ''}`;
  };
  const row = (name, ok, text) =>
    h(
      'tr',
      { dataset: { health: name } },
      h('td', {}, name),
      h('td', {}, h('span', { class: `badge ${ok ? 'on' : 'off'}` }, ok ? 'ok' : 'problem')),
      h('td', { class: 'wrap' }, text),
    );
  const collector = jobs.find((r) => r.job === 'collector');
  const lifecycle = jobs.find((r) => r.job === 'lifecycle');
  return h(
    'div',
    { class: 'panel', id: 'health' },
    h('h2', {}, 'Health'),
    table(
      ['Part', 'State', ''],
      [
        row(
          'Gateway',
          true,
          `up ${Math.round(health.gateway.uptime_seconds / 60)} min · Node ${health.gateway.node}`,
        ),
        row(
          'Postgres',
          pg.status === 'ok',
          pg.status === 'ok'
            ? `answers in ${pg.latency_ms.toFixed(1)} ms · ${pg.connections} connections · ${humanSize(pg.database_bytes)} · version ${pg.version}`
            : pg.reason,
        ),
        row('Collector', collector?.outcome !== 'failed', job('collector')),
        row('Lifecycle', lifecycle?.outcome !== 'failed', job('lifecycle')),
      ],
    ),
  );
}

function connectPanel(region) {
  const endpoint = location.origin;
  const snippets = [
    ['aws CLI', `aws --endpoint-url ${endpoint} --region ${region} s3 ls`],
    [
      'rclone',
      `rclone config create coffer s3 provider=Other endpoint=${endpoint} region=${region} access_key_id=AKIA… secret_access_key=…`,
    ],
    [
      'AWS SDK for JavaScript',
      `new S3Client({ endpoint: '${endpoint}', region: '${region}', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } })`,
    ],
    ['boto3', `boto3.client('s3', endpoint_url='${endpoint}', region_name='${region}')`],
  ];
  return h(
    'div',
    { class: 'panel', id: 'connect' },
    h('h2', {}, 'Connect'),
    h('p', {}, 'Endpoint ', h('span', { class: 'mono', id: 'endpoint' }, endpoint), ` · region ${region}`),
    snippets.map(([name, text]) =>
      h(
        'div',
        { class: 'snippet' },
        h('div', { class: 'snippet-head' }, h('strong', {}, name), copyButton(text, `Copy ${name}`)),
        h('pre', {}, text),
      ),
    ),
  );
}

export async function dashboard(app) {
  const [s, activity, health, { buckets }] = await Promise.all([
    /** @type {Promise<Answer<'getStats'>>} */ (app.api('GET', '/stats')),
    /** @type {Promise<Answer<'getActivity'>>} */ (app.api('GET', '/activity')),
    /** @type {Promise<Answer<'getHealth'>>} */ (app.api('GET', '/health')),
    /** @type {Promise<Answer<'listBuckets'>>} */ (app.api('GET', '/buckets')),
  ]);
  const total = (k) => activity.requests.reduce((a, r) => a + r[k], 0);
  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const largest = Math.max(1, ...buckets.map((b) => b.total_size));
  const meter = (value) => {
    const bar = h('span', { class: 'meter-fill' });
    // CSSOM, not a style attribute: the console's CSP allows no inline styles.
    bar.style.width = `${(value / largest) * 100}%`;
    return h('span', { class: 'meter' }, bar);
  };
  return [
    h('h1', {}, 'Dashboard'),
    h(
      'div',
      { class: 'cards' },
      card('Stored', s.total_storage_human, 'stat-storage'),
      card('Objects', s.objects.toLocaleString(), 'stat-objects'),
      card('Buckets', s.buckets, 'stat-buckets'),
      card('Credentials', s.credentials, 'stat-credentials'),
      card('Multipart uploads', s.active_multipart_uploads, 'stat-uploads'),
      card('Active presigned URLs', s.active_presigned_urls, 'stat-presigned'),
    ),
    h(
      'div',
      { class: 'panel', id: 'requests' },
      h('h2', {}, 'S3 requests, last hour'),
      h(
        'p',
        { class: 'muted', id: 'requests-total' },
        `${total('ok').toLocaleString()} answered · ${total('client_error').toLocaleString()} client errors (4xx) · ${total('server_error').toLocaleString()} server errors (5xx)`,
      ),
      stackedBars(
        'Requests per minute: answered, client errors, server errors',
        activity.requests,
        [
          { key: 'ok', label: 'answered', className: 'ok' },
          { key: 'client_error', label: '4xx', className: 'warn' },
          { key: 'server_error', label: '5xx', className: 'bad' },
        ],
        time(activity.requests[0].minute),
        time(activity.requests.at(-1).minute),
      ),
    ),
    h(
      'div',
      { class: 'panel', id: 'storage' },
      h('h2', {}, 'Stored bytes, last 30 days'),
      line(
        'Stored bytes',
        activity.storage.map((p) => ({ at: Date.parse(p.at), value: p.bytes })),
        humanSize,
      ),
    ),
    h(
      'div',
      { class: 'panel', id: 'per-bucket' },
      h('h2', {}, 'Storage per bucket'),
      table(
        ['Bucket', 'Objects', 'Size', ''],
        [...buckets]
          .sort((a, b) => b.total_size - a.total_size)
          .map((b) =>
            h(
              'tr',
              { dataset: { bucket: b.name } },
              h('td', {}, h('a', { href: `#/buckets?bucket=${encodeURIComponent(b.name)}` }, b.name)),
              h('td', {}, b.object_count.toLocaleString()),
              h('td', {}, b.total_size_human),
              h('td', { class: 'meter-cell' }, meter(b.total_size)),
            ),
          ),
        'No bucket yet.',
      ),
    ),
    healthPanel(health, activity.jobs),
    connectPanel(health.region),
    h('p', { class: 'muted' }, `Figures as of ${when(new Date().toISOString())}.`),
  ];
}
