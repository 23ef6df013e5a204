// Small SVG charts drawn from data, without a library: the console ships no third-party code.
import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat())
    if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const W = 600;
const H = 160;
const PAD = { left: 56, right: 8, top: 8, bottom: 22 };

/** A frame with the y axis's top and bottom labelled, and the x axis's two ends. */
function frame(label, max, format, first, last, ...marks) {
  return h(
    'figure',
    { class: 'chart' },
    svg(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label },
      svg('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: 'axis' }),
      svg('text', { x: PAD.left - 6, y: PAD.top + 10, 'text-anchor': 'end', class: 'tick' }, format(max)),
      svg('text', { x: PAD.left - 6, y: H - PAD.bottom, 'text-anchor': 'end', class: 'tick' }, format(0)),
      svg('text', { x: PAD.left, y: H - 6, class: 'tick' }, first),
      svg('text', { x: W - PAD.right, y: H - 6, 'text-anchor': 'end', class: 'tick' }, last),
      ...marks,
    ),
    h('figcaption', {}, label),
  );
}

/** Stacked bars, one per slot; `layers` names each stacked value and its CSS class. */
export function stackedBars(label, slots, layers, first, last) {
  const max = Math.max(1, ...slots.map((s) => layers.reduce((a, l) => a + s[l.key], 0)));
  const plotH = H - PAD.top - PAD.bottom;
  const step = (W - PAD.left - PAD.right) / slots.length;
  const bars = slots.flatMap((s, i) => {
    let y = H - PAD.bottom;
    return layers.map((l) => {
      const height = (s[l.key] / max) * plotH;
      y -= height;
      return height > 0
        ? svg(
            'rect',
            { x: PAD.left + i * step + 0.5, y, width: Math.max(1, step - 1), height, class: l.className },
            svg('title', {}, `${l.label}: ${s[l.key]}`),
          )
        : null;
    });
  });
  return frame(label, max, (n) => String(Math.round(n)), first, last, ...bars);
}

/** A line through (time, value) points, with a dot on the newest. */
export function line(label, points, format) {
  if (points.length === 0) return h('p', { class: 'muted' }, `${label}: no samples yet.`);
  const max = Math.max(1, ...points.map((p) => p.value));
  const t0 = points[0].at;
  const span = Math.max(1, points.at(-1).at - t0);
  const x = (t) => PAD.left + ((t - t0) / span) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const lastPoint = points.at(-1);
  const day = (t) => new Date(t).toLocaleDateString();
  return frame(
    label,
    max,
    format,
    day(t0),
    day(lastPoint.at),
    svg('path', { d, class: 'series' }),
    svg('circle', { cx: x(lastPoint.at), cy: y(lastPoint.value), r: 3, class: 'series-dot' }),
  );
}
