/**
 * The HTML report (`--html report.html`): one self-contained file (inline CSS and inline SVG, no
 * scripts, no fonts, no network references) with plots of the run and a summary table.
 *
 * The charts are drawn by a small SVG renderer in this module: line charts with axes, ticks,
 * legend and labelled vertical markers (the chaos actions), and a bar chart with an optional
 * cumulative line. Every text that comes from the report is HTML-escaped.
 *
 * @module
 */
import { LatencyHistogram } from './metrics.js';
import type { CdfPoint, LatencyBin } from './metrics.js';
import type { FleetReport } from './report.js';
import { describeChaosEvent } from './report.js';

/**
 * Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`).
 *
 * @param text - any text.
 * @returns the escaped text.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d', '#dc2626'];
const MARKER_COLOR = '#dc2626';

/** One line of a {@link renderLineChart}. */
export interface ChartSeries {
  /** Legend label. */
  name: string;
  /** `[x, y]` points in x order. */
  points: [number, number][];
  /** Stroke colour; picked from a palette when absent. */
  color?: string;
  /** SVG `stroke-dasharray`, for a dashed line. */
  dash?: string;
}

/** A labelled vertical line across a chart (a chaos action). */
export interface ChartMarker {
  /** Position on the x axis. */
  x: number;
  /** Label drawn at the top of the line. */
  label: string;
}

/** Common chart settings. */
export interface ChartOptions {
  /** Chart title (also the SVG `<title>`). */
  title: string;
  /** X axis label. */
  xLabel: string;
  /** Y axis label. */
  yLabel: string;
  /**
   * Width in pixels.
   * @default 820
   */
  width?: number;
  /**
   * Height in pixels.
   * @default 300
   */
  height?: number;
  /** Formats x tick labels. */
  formatX?: (x: number) => string;
  /** Formats y tick labels. */
  formatY?: (y: number) => string;
  /**
   * Most points drawn per line; longer series are averaged over consecutive chunks, so a
   * day-long run still gives a small file.
   * @default 1500
   */
  maxPoints?: number;
}

/**
 * Reduces a series to at most `max` points by averaging consecutive chunks (x of the chunk's first point).
 *
 * @param points - `[x, y]` points in x order.
 * @param max - the most points to keep, at least 2.
 * @returns the points, or the averaged chunks.
 */
export function thinPoints(points: readonly [number, number][], max: number): [number, number][] {
  const limit = Math.max(2, Math.floor(max));
  if (points.length <= limit) return points.map((p) => [p[0], p[1]]);
  const k = Math.ceil(points.length / limit);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += k) {
    const chunk = points.slice(i, i + k);
    out.push([chunk[0]![0], chunk.reduce((n, p) => n + p[1], 0) / chunk.length]);
  }
  return out;
}

const MARGIN = { top: 56, right: 48, bottom: 48, left: 70 };

/**
 * "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) covering `[min, max]`.
 *
 * @param min - lowest value.
 * @param max - highest value.
 * @param count - about how many ticks.
 * @returns the tick values, ascending; the last is at least `max`.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max <= min) max = min + 1;
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmtNumber(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((n / 1e3).toPrecision(3))}k`;
  return String(Number(n.toPrecision(4)));
}

/**
 * Formats milliseconds since the start as `m:ss`.
 *
 * @param ms - milliseconds.
 * @returns the label.
 */
export function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function fmtLatency(ms: number): string {
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`;
  return `${Number(ms.toPrecision(3))} ms`;
}

const f1 = (n: number): string => String(Math.round(n * 10) / 10);

interface Frame {
  w: number;
  h: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  sx: (x: number) => number;
  sy: (y: number) => number;
}

function frame(opts: ChartOptions, x0: number, x1: number, y0: number, y1: number): Frame {
  const w = opts.width ?? 820;
  const h = opts.height ?? 300;
  const pw = w - MARGIN.left - MARGIN.right;
  const ph = h - MARGIN.top - MARGIN.bottom;
  const dx = x1 > x0 ? x1 - x0 : 1;
  const dy = y1 > y0 ? y1 - y0 : 1;
  return {
    w,
    h,
    x0,
    x1,
    y0,
    y1,
    sx: (x) => MARGIN.left + ((x - x0) / dx) * pw,
    sy: (y) => MARGIN.top + ph - ((y - y0) / dy) * ph,
  };
}

function axes(f: Frame, opts: ChartOptions, xTicks: number[], yTicks: number[]): string {
  const fx = opts.formatX ?? fmtNumber;
  const fy = opts.formatY ?? fmtNumber;
  const left = MARGIN.left;
  const right = f.w - MARGIN.right;
  const top = MARGIN.top;
  const bottom = f.h - MARGIN.bottom;
  const parts: string[] = [];
  for (const t of yTicks) {
    const y = f1(f.sy(t));
    parts.push(`<line class="grid" x1="${left}" x2="${right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(fy(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = f1(f.sx(t));
    parts.push(`<line class="tickmark" x1="${x}" x2="${x}" y1="${bottom}" y2="${bottom + 5}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${bottom + 18}" text-anchor="middle">${escapeHtml(fx(t))}</text>`);
  }
  parts.push(`<line class="axis" x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}"/>`);
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"/>`);
  parts.push(`<text class="label" x="${(left + right) / 2}" y="${f.h - 8}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`);
  parts.push(
    `<text class="label" transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(opts.yLabel)}</text>`,
  );
  return parts.join('');
}

function legend(f: Frame, items: { name: string; color: string; dash?: string | undefined }[]): string {
  let x = MARGIN.left;
  const y = 38;
  const parts: string[] = [];
  for (const it of items) {
    const dash = it.dash ? ` stroke-dasharray="${escapeHtml(it.dash)}"` : '';
    parts.push(`<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${it.color}" stroke-width="3"${dash}/>`);
    parts.push(`<text class="legend" x="${x + 24}" y="${y}" dominant-baseline="middle">${escapeHtml(it.name)}</text>`);
    x += 24 + Math.max(40, it.name.length * 7) + 18;
    if (x > f.w - 120) break;
  }
  return `<g class="legend-items">${parts.join('')}</g>`;
}

function markers(f: Frame, list: readonly ChartMarker[]): string {
  const top = MARGIN.top;
  const bottom = f.h - MARGIN.bottom;
  const parts: string[] = [];
  for (const [i, m] of list.entries()) {
    if (m.x < f.x0 || m.x > f.x1) continue;
    const x = f1(f.sx(m.x));
    const ly = top + 12 + (i % 3) * 13;
    parts.push(
      `<g class="marker"><title>${escapeHtml(m.label)}</title>` +
        `<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" stroke="${MARKER_COLOR}" stroke-width="1.5" stroke-dasharray="5 4"/>` +
        `<text x="${Number(x) + 4}" y="${ly}" fill="${MARKER_COLOR}" class="marker-label">${escapeHtml(m.label)}</text></g>`,
    );
  }
  return parts.join('');
}

function svgOpen(f: Frame, title: string, kind: string): string {
  return (
    `<svg class="chart" data-chart="${escapeHtml(kind)}" viewBox="0 0 ${f.w} ${f.h}" width="${f.w}" height="${f.h}" role="img">` +
    `<title>${escapeHtml(title)}</title>` +
    `<text class="title" x="${MARGIN.left}" y="18">${escapeHtml(title)}</text>`
  );
}

function noData(f: Frame): string {
  return `<text class="nodata" x="${f.w / 2}" y="${f.h / 2}" text-anchor="middle">no data</text>`;
}

/**
 * Renders a line chart as an inline SVG element.
 *
 * @param opts - title, labels, size and tick formats.
 * @param series - the lines.
 * @param markerList - vertical markers (chaos actions).
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderLineChart(opts: ChartOptions, series: readonly ChartSeries[], markerList: readonly ChartMarker[] = [], kind = 'line'): string {
  const all = series.flatMap((s) => s.points);
  const xs = [...all.map((p) => p[0]), ...markerList.map((m) => m.x)];
  if (all.length === 0) {
    const f = frame(opts, 0, 1, 0, 1);
    return `${svgOpen(f, opts.title, kind)}${axes(f, opts, [], [])}${noData(f)}</svg>`;
  }
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(...xs);
  const yMax = Math.max(1, ...all.map((p) => p[1]));
  const yTicks = niceTicks(0, yMax * 1.05, 5);
  const f0 = frame(opts, xMin, xMax, 0, yTicks.at(-1) ?? yMax);
  const xTicks = niceTicks(xMin, xMax, 8).filter((t) => t >= xMin && t <= xMax);
  const maxPoints = opts.maxPoints ?? 1500;
  const colored = series.map((s, i) => ({ ...s, points: thinPoints(s.points, maxPoints), color: s.color ?? PALETTE[i % PALETTE.length]! }));
  const lines = colored
    .map((s) => {
      if (s.points.length === 0) return '';
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(f0.sx(p[0]))} ${f1(f0.sy(p[1]))}`).join('');
      const dash = s.dash ? ` stroke-dasharray="${escapeHtml(s.dash)}"` : '';
      const dot =
        s.points.length === 1 ? `<circle cx="${f1(f0.sx(s.points[0]![0]))}" cy="${f1(f0.sy(s.points[0]![1]))}" r="3" fill="${s.color}"/>` : '';
      return `<g class="series"><title>${escapeHtml(s.name)}</title><path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>${dot}</g>`;
    })
    .join('');
  return `${svgOpen(f0, opts.title, kind)}${axes(f0, opts, xTicks, yTicks)}${lines}${markers(f0, markerList)}${legend(f0, colored)}</svg>`;
}

/**
 * Renders a latency distribution: bars per bin and, when given, the cumulative fraction as a line
 * on a 0–100 % right axis.
 *
 * @param opts - title, labels and size.
 * @param bins - the bins (from {@link LatencyHistogram.bins}).
 * @param cdf - cumulative points (from {@link LatencyHistogram.cdf}).
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderDistributionChart(opts: ChartOptions, bins: readonly LatencyBin[], cdf: readonly CdfPoint[] = [], kind = 'distribution'): string {
  if (bins.length === 0) {
    const f = frame(opts, 0, 1, 0, 1);
    return `${svgOpen(f, opts.title, kind)}${axes(f, opts, [], [])}${noData(f)}</svg>`;
  }
  const lo = bins[0]!.fromMs;
  const hi = Math.max(bins.at(-1)!.toMs, lo + 0.001);
  const yTicks = niceTicks(0, Math.max(1, ...bins.map((b) => b.count)) * 1.05, 5);
  const f = frame({ ...opts, formatX: opts.formatX ?? fmtLatency }, lo, hi, 0, yTicks.at(-1)!);
  const xTicks = niceTicks(lo, hi, 6).filter((t) => t >= lo && t <= hi);
  const bars = bins
    .map((b) => {
      const x = f.sx(b.fromMs);
      const w = Math.max(1, f.sx(b.toMs) - x - 1);
      const y = f.sy(b.count);
      const tip = `${fmtLatency(b.fromMs)} – ${fmtLatency(b.toMs)}: ${b.count}`;
      return `<rect x="${f1(x)}" y="${f1(y)}" width="${f1(w)}" height="${f1(f.sy(0) - y)}" fill="${PALETTE[0]}" fill-opacity="0.75"><title>${escapeHtml(tip)}</title></rect>`;
    })
    .join('');
  let cdfPath = '';
  const items: { name: string; color: string; dash?: string }[] = [{ name: `${opts.yLabel} per bin`, color: PALETTE[0]! }];
  if (cdf.length > 0) {
    const top = MARGIN.top;
    const bottom = f.h - MARGIN.bottom;
    const sy = (fr: number): number => bottom - fr * (bottom - top);
    const d = cdf.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(f.sx(p.ms))} ${f1(sy(p.fraction))}`).join('');
    const right = f.w - MARGIN.right;
    const ticks = [0, 0.25, 0.5, 0.75, 1]
      .map((t) => `<text class="tick" x="${right + 4}" y="${f1(sy(t))}" dominant-baseline="middle">${t * 100}%</text>`)
      .join('');
    cdfPath = `<g class="series"><title>cumulative</title><path d="${d}" fill="none" stroke="${PALETTE[2]}" stroke-width="2"/>${ticks}</g>`;
    items.push({ name: 'cumulative %', color: PALETTE[2]! });
  }
  return `${svgOpen(f, opts.title, kind)}${axes(f, { ...opts, formatX: opts.formatX ?? fmtLatency }, xTicks, yTicks)}${bars}${cdfPath}${legend(f, items)}</svg>`;
}

function markersOf(report: FleetReport): ChartMarker[] {
  return report.chaos.map((c) => ({ x: c.at, label: describeChaosEvent(c, true) }));
}

const NUMBER = new Intl.NumberFormat('en-US');

function summaryRows(r: FleetReport): [string, string][] {
  const rows: [string, string][] = [];
  const pct = (n: number, of: number): string => (of > 0 ? ` (${((n / of) * 100).toFixed(1)} %)` : '');
  const lat = (s: FleetReport['connect']): string =>
    s.count === 0 ? 'none' : `p50 ${fmtLatency(s.p50Ms)} · p90 ${fmtLatency(s.p90Ms)} · p99 ${fmtLatency(s.p99Ms)} · max ${fmtLatency(s.maxMs)} (n=${NUMBER.format(s.count)})`;
  rows.push(['Agents', NUMBER.format(r.agents.total)]);
  rows.push(['Connected at end', `${NUMBER.format(r.agents.connected)}${pct(r.agents.connected, r.agents.total)}`]);
  rows.push(['Never connected', NUMBER.format(r.agents.neverConnected)]);
  rows.push(['Events sent', NUMBER.format(r.events.sent)]);
  rows.push(['Events received', r.events.received === null ? 'unknown (managers not run by agentlink)' : `${NUMBER.format(r.events.received)}${pct(r.events.received, r.events.sent)}`]);
  rows.push(['Events dropped', NUMBER.format(r.events.dropped)]);
  rows.push(['Events lost', r.events.lost === null ? 'unknown' : NUMBER.format(r.events.lost)]);
  for (const [cause, n] of Object.entries(r.lostExplained)) if (n > 0) rows.push([`  lost: ${cause}`, NUMBER.format(n)]);
  rows.push(['Connect latency', lat(r.connect)]);
  rows.push(['TCP connect latency', lat(r.tcpConnect)]);
  rows.push(['Failover latency', lat(r.failover)]);
  rows.push(['Reconnects', NUMBER.format(r.reconnects.total)]);
  rows.push(['Failed connection attempts', NUMBER.format(r.connectFailures)]);
  for (const [node, n] of Object.entries(r.distribution).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    rows.push([`Agents on ${node} at end`, `${NUMBER.format(n)}${pct(n, r.agents.connected)}`]);
  }
  for (const l of r.limits.hit) rows.push([`Limit hit: ${l.limit}`, `${NUMBER.format(l.count)}× — ${l.message}`]);
  rows.push(['Duration', formatElapsed(r.durationMs)]);
  rows.push(['Started', r.startedAt]);
  rows.push(['Shards', r.shard.count > 1 ? `${r.shards.join(', ')} of ${r.shard.count}` : 'unsharded']);
  rows.push(['agentlink version', r.version]);
  return rows;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 900px; color: #111827; padding: 0 16px; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.sub { color: #6b7280; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #f3f4f6; vertical-align: top; }
th { width: 38%; font-weight: 600; color: #374151; }
figure { margin: 16px 0; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .axis, svg .tickmark { stroke: #6b7280; stroke-width: 1; }
svg text { font-family: inherit; fill: #374151; }
svg .tick { font-size: 11px; }
svg .label { font-size: 12px; fill: #4b5563; }
svg .title { font-size: 14px; font-weight: 600; }
svg .legend { font-size: 12px; }
svg .marker-label { font-size: 11px; font-weight: 600; fill: ${MARKER_COLOR}; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .nodata { font-size: 14px; fill: #9ca3af; }
pre { background: #f9fafb; padding: 12px; overflow-x: auto; font-size: 0.8rem; }
`;

/** Options of {@link renderHtmlReport}. */
export interface HtmlReportOptions {
  /**
   * Page title.
   * @default 'agentlink fleet report'
   */
  title?: string;
}

/**
 * Renders a report as one self-contained HTML page: summary table, then plots of connected
 * agents, agents per node, failover and connect latency distributions, and events sent vs
 * received, with the chaos actions marked on the time plots, and the run's settings.
 *
 * @param report - the report (one run or merged shards).
 * @param options - page title.
 * @returns the HTML text.
 */
export function renderHtmlReport(report: FleetReport, options: HtmlReportOptions = {}): string {
  const title = options.title ?? 'agentlink fleet report';
  const tl = report.timeline;
  const mk = markersOf(report);
  const perSec = 1000 / Math.max(1, report.timelineBucketMs);
  const time = { xLabel: 'time since start (m:ss)', formatX: formatElapsed };

  const connected = renderLineChart(
    { title: 'Connected agents over time', yLabel: 'agents', ...time },
    [
      { name: 'connected', points: tl.map((p) => [p.t, p.connected]) },
      { name: 'reconnecting', points: tl.map((p) => [p.t, p.reconnecting]), dash: '6 3' },
    ],
    mk,
    'connected',
  );

  const nodes = new Set<string>();
  for (const p of tl) for (const n of Object.keys(p.perNode)) nodes.add(n);
  for (const n of Object.keys(report.distribution)) nodes.add(n);
  const nodeList = [...nodes].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const perNode = renderLineChart(
    { title: 'Agents per node over time', yLabel: 'connected agents', ...time },
    nodeList.map((n) => ({ name: n, points: tl.map((p): [number, number] => [p.t, p.perNode[n] ?? 0]) })),
    mk,
    'per-node',
  );

  const failoverHist = LatencyHistogram.decode(report.histograms.failover, 'histograms.failover');
  const failover = renderDistributionChart(
    { title: 'Failover latency distribution', xLabel: 'disconnect to ACK on another server', yLabel: 'failovers' },
    failoverHist.bins(30),
    failoverHist.cdf(101),
    'failover',
  );
  const connectHist = LatencyHistogram.decode(report.histograms.connect, 'histograms.connect');
  const connect = renderDistributionChart(
    { title: 'Connect latency distribution', xLabel: 'first attempt to startup ACK', yLabel: 'agents' },
    connectHist.bins(30),
    connectHist.cdf(101),
    'connect',
  );

  const eventSeries: ChartSeries[] = [{ name: 'sent/s', points: tl.map((p) => [p.t, p.sent * perSec]) }];
  if (report.events.received !== null) eventSeries.push({ name: 'received/s', points: tl.map((p) => [p.t, p.received * perSec]), dash: '6 3' });
  eventSeries.push({ name: 'dropped/s', points: tl.map((p) => [p.t, p.dropped * perSec]), color: PALETTE[9]! });
  const events = renderLineChart({ title: 'Events sent vs received over time', yLabel: 'events per second', ...time }, eventSeries, mk, 'events');

  const rows = summaryRows(report)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const chaosRows =
    report.chaos.length === 0
      ? '<p>No chaos actions.</p>'
      : `<table><tr><th>at</th><th>action</th></tr>${report.chaos
          .map((c) => `<tr><th>${escapeHtml(formatElapsed(c.at))}</th><td>${escapeHtml(describeChaosEvent(c))}</td></tr>`)
          .join('')}</table>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="sub">${escapeHtml(`${NUMBER.format(report.agents.total)} agents · ${formatElapsed(report.durationMs)} · started ${report.startedAt}`)}</p>
<h2>Summary</h2>
<table>
${rows}
</table>
<h2>Plots</h2>
<figure>${connected}</figure>
<figure>${perNode}</figure>
<figure>${failover}</figure>
<figure>${events}</figure>
<figure>${connect}</figure>
<h2>Chaos</h2>
${chaosRows}
<h2>Settings</h2>
<pre>${escapeHtml(JSON.stringify(report.config, null, 2))}</pre>
</body>
</html>
`;
}
