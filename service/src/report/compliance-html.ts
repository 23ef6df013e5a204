/**
 * The compliance report as one self-contained HTML page (inline style and SVG, no script, nothing
 * fetched), written for an auditor: the answer first, the evidence after it, and print-friendly for PDF.
 */
import { humanSize } from '../parse/human-size.js';
import type { BucketReport, ComplianceData } from './compliance-data.js';

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : '—');
const time = (d: Date | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
const count = (n: number) => n.toLocaleString('en-US');

function table(head: string[], rows: string[][], id: string): string {
  const th = head.map((h) => `<th>${escape(h)}</th>`).join('');
  const body = rows.length
    ? rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')
    : `<tr><td colspan="${head.length}" class="none">none</td></tr>`;
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function lockOf(b: BucketReport): string {
  if (!b.lockMode) return '<span class="warn">off</span>';
  return b.lockDays === undefined ? escape(b.lockMode) : `${escape(b.lockMode)}, ${count(b.lockDays)} days`;
}

/** Stored bytes over time as an SVG step chart; the axis is labelled in the unit of the largest value. */
export function bytesChart(points: Array<{ day: string; bytes: number }>): string {
  if (points.length === 0) return '<p class="none">No data stored yet.</p>';
  const w = 720;
  const h = 220;
  const pad = { l: 70, r: 16, t: 12, b: 36 };
  const max = Math.max(...points.map((p) => p.bytes), 1);
  const first = Date.parse(points[0]!.day);
  const last = Math.max(Date.parse(points.at(-1)!.day), first + 86_400_000);
  const x = (d: string) => pad.l + ((Date.parse(d) - first) / (last - first)) * (w - pad.l - pad.r);
  const y = (b: number) => h - pad.b - (b / max) * (h - pad.t - pad.b);
  let path = `M${pad.l},${y(0)}`;
  let prev = 0;
  for (const p of points) {
    path += ` L${x(p.day).toFixed(1)},${y(prev).toFixed(1)} L${x(p.day).toFixed(1)},${y(p.bytes).toFixed(1)}`;
    prev = p.bytes;
  }
  path += ` L${w - pad.r},${y(prev).toFixed(1)}`;
  const ticks = [0, 0.5, 1]
    .map(
      (f) =>
        `<text x="${pad.l - 6}" y="${y(max * f) + 4}" text-anchor="end">${humanSize(Math.round(max * f))}</text>` +
        `<line x1="${pad.l}" x2="${w - pad.r}" y1="${y(max * f)}" y2="${y(max * f)}" class="grid"/>`,
    )
    .join('');
  const labels =
    `<text x="${pad.l}" y="${h - 12}">${escape(points[0]!.day)}</text>` +
    `<text x="${w - pad.r}" y="${h - 12}" text-anchor="end">${escape(points.at(-1)!.day)}</text>`;
  return `<svg id="stored-bytes" viewBox="0 0 ${w} ${h}" role="img" aria-label="Stored bytes over time, up to ${humanSize(prev)}">
${ticks}${labels}<path d="${path}" class="line"/></svg>`;
}

export function renderComplianceHtml(d: ComplianceData): string {
  const a = d.audit;
  const archive = d.buckets.filter((b) => b.presetKept);
  const verdict = a.verifiedNow.ok
    ? `<p class="ok" id="verdict">The audit chain is intact: ${count(a.verifiedNow.count)} records verified at ${time(d.generatedAt)}.</p>`
    : `<p class="bad" id="verdict">The audit chain is BROKEN at record ${a.verifiedNow.broken!.seq}: ${escape(a.verifiedNow.broken!.reason)}.</p>`;
  const buckets = table(
    [
      'Bucket',
      'Owner',
      'Object lock (default retention)',
      'Versioning',
      'Objects',
      'Versions',
      'Delete markers',
      'Stored',
      'Locked versions',
      'Soonest retain-until',
      'Latest retain-until',
      'Legal holds',
      'Protection',
    ],
    d.buckets.map((b) => [
      `<b>${escape(b.name)}</b>${b.presetKept ? ' <span class="tag">archive</span>' : ''}`,
      escape(b.owner),
      lockOf(b),
      escape(b.versioning),
      count(b.objects),
      count(b.versions),
      count(b.deleteMarkers),
      humanSize(b.bytes),
      count(b.lockedVersions),
      day(b.soonestRetainUntil),
      day(b.latestRetainUntil),
      count(b.legalHolds),
      [
        b.aclsDisabled ? 'ACLs disabled' : '<span class="warn">ACLs honoured</span>',
        b.publicAccessBlocked ? 'public access blocked' : '<span class="warn">public access allowed</span>',
        b.presetKept ? 'settings frozen by the preset' : '',
      ]
        .filter(Boolean)
        .join('; '),
    ]),
    'buckets',
  );
  const refusals = table(
    ['Time', 'Operation', 'Bucket', 'Key', 'Version', 'Principal', 'Access key', 'Source', 'Result'],
    d.refusedDeletions.map((r) => [
      time(r.at),
      escape(r.operation),
      escape(r.bucket ?? ''),
      escape(r.key ?? ''),
      escape(r.versionId ?? ''),
      escape(r.principal ?? ''),
      escape(r.accessKey ?? ''),
      escape(r.source ?? ''),
      escape(r.result),
    ]),
    'refusals',
  );
  const keys = table(
    ['Access key', 'User', 'Status', 'Created'],
    d.keys.map((k) => [
      escape(k.accessKey),
      escape(k.user),
      k.active ? 'active' : 'disabled',
      day(k.createdAt),
    ]),
    'keys',
  );
  const settings = table(
    ['Setting', 'Value'],
    Object.entries(d.settings).map(([k, v]) => [escape(k), escape(v)]),
    'settings',
  );
  const shown =
    d.refusedDeletionCount > d.refusedDeletions.length
      ? ` (the newest ${count(d.refusedDeletions.length)} are listed)`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Coffer compliance report ${day(d.generatedAt)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;margin:2rem auto;max-width:1100px;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border:1px solid #d6d9e0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f1f3f7}td.none{color:#778;font-style:italic}.ok{color:#146c2e;font-weight:600}.bad{color:#b00020;font-weight:700}
.warn{color:#b00020}.tag{background:#e4ecfa;border-radius:3px;padding:0 4px;font-size:11px}.muted{color:#667}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px}dt{font-weight:600}code{font-size:12px;word-break:break-all}
svg{width:100%;max-width:720px;height:auto}svg text{font-size:11px;fill:#445}.grid{stroke:#e3e6ec}.line{fill:none;stroke:#2456b3;stroke-width:2}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table{break-inside:auto}tr{break-inside:avoid}}
</style></head><body>
<h1>Coffer compliance report</h1>
<p class="muted">Generated ${time(d.generatedAt)} · period ${time(d.period.since)} to ${time(d.period.until)}</p>
${verdict}
<p id="summary">${count(archive.length)} archive bucket(s) of ${count(d.buckets.length)};
${count(d.buckets.reduce((n, b) => n + b.versions, 0))} stored versions (${humanSize(d.buckets.reduce((n, b) => n + b.bytes, 0))}),
${count(d.buckets.reduce((n, b) => n + b.lockedVersions, 0))} of them under retention and
${count(d.buckets.reduce((n, b) => n + b.legalHolds, 0))} under legal hold;
${count(d.refusedDeletionCount)} refused deletion(s) in the period.</p>

<h2>Buckets</h2>
${buckets}

<h2>Audit trail</h2>
<dl id="audit">
<dt>Records</dt><dd>${count(a.length)}${a.firstAt ? `, since ${time(a.firstAt)}` : ''}</dd>
<dt>Chain head</dt><dd>${a.head ? `record ${a.head.seq} at ${time(a.head.at)}: <code>${a.head.hash}</code>` : 'no records'}</dd>
<dt>Verified</dt><dd>${a.verifiedNow.ok ? `intact, at ${time(d.generatedAt)}` : `<span class="bad">broken at record ${a.verifiedNow.broken!.seq}</span>`}</dd>
<dt>Last verification before this report</dt><dd>${a.lastVerification ? `${time(a.lastVerification.at)}: ${escape(a.lastVerification.result)}` : 'none recorded'}</dd>
<dt>Retention</dt><dd>records kept at least ${count(a.retentionDays)} days; reads ${a.readsRecorded ? 'recorded' : 'not recorded'}</dd>
</dl>

<h2>Refused deletions in the period</h2>
<p>${count(d.refusedDeletionCount)} request(s) to delete, shorten or lift protection were refused${shown}.</p>
${refusals}

<h2>Stored bytes over time</h2>
<p class="muted">Versions stored now, by the day each was written.</p>
${bytesChart(d.storedBytes)}

<h2>Access keys</h2>
${keys}

<h2>Settings in force</h2>
${settings}
</body></html>
`;
}
