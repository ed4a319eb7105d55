/**
 * The charts of the HTML report and of the live dashboard: one small SVG renderer (text in, SVG
 * markup out, no DOM and no dependency) that runs in Node for the report and in the browser for
 * the dashboard.
 *
 * Everything lives inside {@link chartKit}, a function that uses nothing from outside its own body,
 * so the dashboard page inlines its source (`chartKit.toString()`) and both draw with the same code.
 * Keep it that way: no imports, no module-level constants used inside it (the browser test of the
 * dashboard fails with a `ReferenceError` otherwise).
 *
 * What the charts do so that they tell the truth:
 * - per-second samples are drawn as steps (a value holds for its whole second), never as slopes;
 * - series that can overlap are stacked areas (parts of a whole: connected + reconnecting, agents
 *   per node) or small multiples on one shared scale (events generated / received / dropped), and
 *   lines on one chart are drawn widest first, so a line exactly on top of another still shows;
 * - the palette has no red: red is only the chaos markers;
 * - an empty chart says why it is empty.
 *
 * The file is longer than the house's ~700 lines because {@link chartKit} must stay one
 * self-contained function (the dashboard inlines its source): split, the browser would need a
 * second renderer or a bundler.
 *
 * @module
 */
import type { LatencyHistogram } from './metrics.js';

/** One series of a chart. */
export interface ChartSeries {
  /** Legend label. */
  name: string;
  /** `[x, y]` points in x order. */
  points: [number, number][];
  /** Colour; picked from the palette (which has no red) when absent. */
  color?: string;
  /** SVG `stroke-dasharray`, for a dashed line. */
  dash?: string;
  /** Text after the name in a small-multiple panel's title (`12,345 in total`). */
  note?: string;
}

/** A labelled vertical line across a time chart (a chaos action). */
export interface ChartMarker {
  /** Position on the x axis. */
  x: number;
  /** Label drawn above the plot. */
  label: string;
}

/** Settings common to every chart. */
export interface ChartOptions {
  /** Chart title (also the SVG `<title>`). */
  title: string;
  /** X axis label. */
  xLabel: string;
  /** Y axis label. */
  yLabel: string;
  /**
   * Width in pixels (the SVG scales with its container; this sets the text-to-plot proportions).
   * @default 820
   */
  width?: number;
  /**
   * Height of the plot area in pixels (of each panel, for small multiples).
   * @default 200 (90 per panel for small multiples)
   */
  plotHeight?: number;
  /** Formats x tick labels. */
  formatX?: (x: number) => string;
  /** Formats y tick labels. */
  formatY?: (y: number) => string;
  /**
   * Most points drawn per series; longer series are averaged over consecutive chunks, so a
   * day-long run still gives a small file.
   * @default 1500
   */
  maxPoints?: number;
  /**
   * Draw the series as steps, each value holding for this many x units (the sample interval) or
   * until the next point; absent: straight lines between points.
   */
  step?: number;
  /** End of the x axis (e.g. the run's duration); default: the last point (plus one step). */
  xMax?: number;
  /** Lowest top of the y axis (so a flat zero series still has a scale). @default 1 */
  yMin?: number;
  /** The y values are counts: ticks only at whole numbers (no "0.5 failovers"). */
  integerY?: boolean;
  /** What an empty chart says instead of a plot. @default 'no data' */
  emptyMessage?: string;
}

/** One bar of a distribution: values in `[fromMs, toMs)`. */
export interface ChartBin {
  /** Lower bound, in milliseconds. */
  fromMs: number;
  /** Upper bound, in milliseconds. */
  toMs: number;
  /** How many values fell in the bin. */
  count: number;
}

/** One point of a cumulative distribution. */
export interface ChartCdfPoint {
  /** The value, in milliseconds. */
  ms: number;
  /** Fraction of values at or below `ms`, 0 to 1. */
  fraction: number;
}

/**
 * One sample of a run for the time plots the report and the dashboard share: the gauges at the
 * sample and the event rates over the interval that starts at `t`.
 */
export interface PlotRow {
  /** Start of the interval, in milliseconds since the start of the run. */
  t: number;
  /** Agents connected. */
  connected: number;
  /** Agents connecting or reconnecting. */
  reconnecting: number;
  /** Connected agents per node. */
  perNode: Record<string, number>;
  /** Events the workload generated, per second. */
  generated: number;
  /** Events the managers received, per second; `null` when unknown (managers that are not ours). */
  received: number | null;
  /** Events the agents' buffers dropped, per second. */
  dropped: number;
}

/** Context of the shared time plots. */
export interface PlotContext {
  /** Chaos markers. */
  markers: ChartMarker[];
  /** The sample interval in milliseconds (each row holds for it). */
  stepMs: number;
  /** End of the time axis in milliseconds; default: the last row plus one step. */
  xMax?: number;
  /** Chart width in pixels. @default 820 */
  width?: number;
  /** Nodes to draw (in this order) for the agents-per-node plot; default: every node in the rows. */
  nodes?: string[];
  /** Event totals for the events plot's notes; default: the rates summed over the rows' intervals. */
  totals?: { generated: number; received: number | null; dropped: number };
}

/** What {@link chartKit} returns: the chart renderers and the helpers they use. */
export interface ChartKit {
  /** The series colours (no red: red marks chaos). */
  palette: readonly string[];
  /** The chaos marker colour. */
  markerColor: string;
  /** Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`). */
  escapeHtml(text: string): string;
  /** "Nice" ticks (steps of 1, 2 or 5 times a power of ten) covering `[min, max]`, ascending; the last is at least `max`. */
  niceTicks(min: number, max: number, count?: number): number[];
  /** Reduces a series to at most `max` points (at least 2) by averaging consecutive chunks (x of the chunk's first point). */
  thinPoints(points: readonly [number, number][], max: number): [number, number][];
  /** Milliseconds since the start as `m:ss` (`h:mm:ss` from one hour). */
  formatElapsed(ms: number): string;
  /** A latency: `850 ms`, `1.25 s`. */
  formatLatency(ms: number): string;
  /** A count with thousands separators; `12.3k`, `4.5M` above 10,000 when `short`. */
  formatNumber(n: number, short?: boolean): string;
  /** Lines on one plot (widest drawn first, so overlapping lines stay visible). */
  renderLineChart(opts: ChartOptions, series: readonly ChartSeries[], markers?: readonly ChartMarker[], kind?: string): string;
  /** Stacked areas: each series is a band on top of the previous ones (they must share their x values). */
  renderStackedChart(opts: ChartOptions, series: readonly ChartSeries[], markers?: readonly ChartMarker[], kind?: string): string;
  /** One small panel per series, on one shared x and y scale. */
  renderSmallMultiples(opts: ChartOptions, series: readonly ChartSeries[], markers?: readonly ChartMarker[], kind?: string): string;
  /** Bars per bin and, when given, the cumulative fraction as a line on a 0–100 % right axis. */
  renderDistributionChart(opts: ChartOptions, bins: readonly ChartBin[], cdf?: readonly ChartCdfPoint[], kind?: string): string;
  /** Connected and reconnecting agents over time, stacked. */
  plotConnected(rows: readonly PlotRow[], ctx: PlotContext): string;
  /** Connected agents per node over time, one panel per node. */
  plotPerNode(rows: readonly PlotRow[], ctx: PlotContext): string;
  /** Events generated, received and dropped per second over time, one panel each. */
  plotEvents(rows: readonly PlotRow[], ctx: PlotContext): string;
}

/**
 * Builds the chart renderers. Self-contained (see the module comment): the dashboard page runs
 * `(${chartKit.toString()})()` in the browser.
 *
 * @returns the renderers.
 */
export function chartKit(): ChartKit {
  // colour-blind friendly, no red and no pink (red marks chaos)
  const palette = ['#2563eb', '#d97706', '#0d9488', '#7c3aed', '#0891b2', '#65a30d', '#92400e', '#475569', '#4338ca', '#a16207'];
  const markerColor = '#dc2626';
  const NUMBER = new Intl.NumberFormat('en-US');
  const PAD = { left: 70, right: 52, bottom: 46 };
  const LINE = 18;

  function escapeHtml(text: string): string {
    return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  function niceTicks(min: number, max: number, count = 5): number[] {
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

  function chunkSize(length: number, max: number): number {
    const limit = Math.max(2, Math.floor(max));
    return length <= limit ? 1 : Math.ceil(length / limit);
  }

  function thinPoints(points: readonly [number, number][], max: number): [number, number][] {
    const k = chunkSize(points.length, max);
    if (k === 1) return points.map((p) => [p[0], p[1]]);
    const out: [number, number][] = [];
    for (let i = 0; i < points.length; i += k) {
      const chunk = points.slice(i, i + k);
      out.push([chunk[0]![0], chunk.reduce((n, p) => n + p[1], 0) / chunk.length]);
    }
    return out;
  }

  function formatElapsed(ms: number): string {
    const total = Math.round(ms / 1000);
    const two = (n: number): string => String(n).padStart(2, '0');
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    return h > 0 ? `${h}:${two(m)}:${two(total % 60)}` : `${m}:${two(total % 60)}`;
  }

  function formatLatency(ms: number): string {
    if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`;
    return `${Number(ms.toPrecision(3))} ms`;
  }

  function formatNumber(n: number, short = false): string {
    const a = Math.abs(n);
    if (short && a >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
    if (short && a >= 1e4) return `${Number((n / 1e3).toPrecision(3))}k`;
    if (Number.isInteger(n)) return NUMBER.format(n);
    return NUMBER.format(Number(n.toPrecision(a >= 100 ? 5 : 3)));
  }

  const tickNumber = (n: number): string => formatNumber(n, true);
  const f1 = (n: number): string => String(Math.round(n * 10) / 10);
  const textWidth = (s: string, px: number): number => s.length * px * 0.6;
  const colorOf = (s: ChartSeries, i: number): string => s.color ?? palette[i % palette.length]!;

  interface Frame {
    left: number;
    right: number;
    top: number;
    bottom: number;
    x0: number;
    x1: number;
    y1: number;
    sx: (x: number) => number;
    sy: (y: number) => number;
  }

  function frameAt(left: number, right: number, top: number, bottom: number, x0: number, x1: number, y1: number): Frame {
    const dx = x1 > x0 ? x1 - x0 : 1;
    const dy = y1 > 0 ? y1 : 1;
    return {
      left,
      right,
      top,
      bottom,
      x0,
      x1,
      y1,
      sx: (x) => left + ((Math.min(Math.max(x, x0), x1) - x0) / dx) * (right - left),
      sy: (y) => bottom - (Math.min(Math.max(y, 0), dy) / dy) * (bottom - top),
    };
  }

  interface LegendItem {
    name: string;
    color: string;
    dash?: string | undefined;
    area?: boolean;
  }

  /** Places legend items in rows that fit the width (never drops one). */
  function legendRows(items: readonly LegendItem[], width: number): LegendItem[][] {
    const rows: LegendItem[][] = [];
    let row: LegendItem[] = [];
    let x = PAD.left;
    for (const it of items) {
      const w = 26 + textWidth(it.name, 12) + 18;
      if (row.length > 0 && x + w > width - 8) {
        rows.push(row);
        row = [];
        x = PAD.left;
      }
      row.push(it);
      x += w;
    }
    if (row.length > 0) rows.push(row);
    return rows;
  }

  function drawLegend(rows: readonly LegendItem[][], y0: number): string {
    const parts: string[] = [];
    for (const [r, row] of rows.entries()) {
      let x = PAD.left;
      const y = y0 + r * LINE;
      for (const it of row) {
        const dash = it.dash ? ` stroke-dasharray="${escapeHtml(it.dash)}"` : '';
        parts.push(
          it.area
            ? `<rect x="${x}" y="${y - 6}" width="18" height="12" fill="${it.color}" fill-opacity="0.55" stroke="${it.color}"/>`
            : `<line x1="${x}" x2="${x + 18}" y1="${y}" y2="${y}" stroke="${it.color}" stroke-width="3"${dash}/>`,
        );
        parts.push(`<text class="legend" x="${x + 24}" y="${y}" dominant-baseline="middle">${escapeHtml(it.name)}</text>`);
        x += 26 + textWidth(it.name, 12) + 18;
      }
    }
    return `<g class="legend-items">${parts.join('')}</g>`;
  }

  /** Assigns each marker label a row so that labels of one row do not overlap. */
  function markerRows(list: readonly ChartMarker[], sx: (x: number) => number, x0: number, x1: number): { m: ChartMarker; row: number }[] {
    const ends: number[] = [];
    const out: { m: ChartMarker; row: number }[] = [];
    for (const m of [...list].sort((a, b) => a.x - b.x)) {
      if (m.x < x0 || m.x > x1) continue;
      const start = sx(m.x) + 3;
      let row = ends.findIndex((end) => end < start);
      if (row === -1) row = ends.length;
      ends[row] = start + textWidth(m.label, 11) + 8;
      out.push({ m, row });
    }
    return out;
  }

  function drawMarkerLines(f: Frame, placed: readonly { m: ChartMarker }[]): string {
    return placed
      .map(({ m }) => {
        const x = f1(f.sx(m.x));
        return `<line class="marker-line" x1="${x}" x2="${x}" y1="${f.top}" y2="${f.bottom}" stroke="${markerColor}" stroke-width="1.5" stroke-dasharray="5 4"><title>${escapeHtml(m.label)}</title></line>`;
      })
      .join('');
  }

  function drawMarkerLabels(f: Frame, placed: readonly { m: ChartMarker; row: number }[], y0: number): string {
    return placed
      .map(({ m, row }) => {
        const x = f.sx(m.x);
        const y = y0 + row * 14;
        return (
          `<g class="marker"><title>${escapeHtml(m.label)}</title>` +
          `<line x1="${f1(x)}" x2="${f1(x)}" y1="${y + 4}" y2="${f.top}" stroke="${markerColor}" stroke-width="1" stroke-dasharray="2 3"/>` +
          `<text x="${f1(x + 3)}" y="${y}" class="marker-label">${escapeHtml(m.label)}</text></g>`
        );
      })
      .join('');
  }

  function drawAxes(f: Frame, opts: ChartOptions, xTicks: readonly number[], yTicks: readonly number[], xLabels: boolean): string {
    const fx = opts.formatX ?? tickNumber;
    const fy = opts.formatY ?? tickNumber;
    const parts: string[] = [];
    for (const t of yTicks) {
      const y = f1(f.sy(t));
      parts.push(`<line class="grid" x1="${f.left}" x2="${f.right}" y1="${y}" y2="${y}"/>`);
      parts.push(`<text class="tick" x="${f.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(fy(t))}</text>`);
    }
    for (const t of xTicks) {
      const x = f1(f.sx(t));
      parts.push(`<line class="tickmark" x1="${x}" x2="${x}" y1="${f.bottom}" y2="${f.bottom + 5}"/>`);
      if (xLabels) parts.push(`<text class="tick" x="${x}" y="${f.bottom + 18}" text-anchor="middle">${escapeHtml(fx(t))}</text>`);
    }
    parts.push(`<line class="axis" x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}"/>`);
    parts.push(`<line class="axis" x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.bottom}"/>`);
    return parts.join('');
  }

  function svgOpen(width: number, height: number, title: string, kind: string): string {
    return (
      `<svg class="chart" data-chart="${escapeHtml(kind)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">` +
      `<title>${escapeHtml(title)}</title>` +
      `<text class="title" x="${PAD.left}" y="18">${escapeHtml(title)}</text>`
    );
  }

  function emptyChart(opts: ChartOptions, kind: string): string {
    const width = opts.width ?? 820;
    const height = 28 + (opts.plotHeight ?? 120) + PAD.bottom;
    const f = frameAt(PAD.left, width - PAD.right, 28, height - PAD.bottom, 0, 1, 1);
    const message = opts.emptyMessage ?? 'no data';
    // long reasons wrap over a few lines, centred in the plot
    const words = message.split(' ');
    const lines: string[] = [];
    let line = '';
    const maxChars = Math.max(20, Math.floor((f.right - f.left - 20) / textWidth('x', 14)));
    for (const w of words) {
      if (line !== '' && line.length + 1 + w.length > maxChars) {
        lines.push(line);
        line = w;
      } else line = line === '' ? w : `${line} ${w}`;
    }
    if (line !== '') lines.push(line);
    const cy = (f.top + f.bottom) / 2 - ((lines.length - 1) * LINE) / 2;
    const text = lines
      .map((l, i) => `<text class="nodata" x="${f1((f.left + f.right) / 2)}" y="${f1(cy + i * LINE)}" text-anchor="middle">${escapeHtml(l)}</text>`)
      .join('');
    return `${svgOpen(width, height, opts.title, kind)}${drawAxes(f, opts, [], [], false)}<g class="empty">${text}</g>${axisLabels(f, opts, height)}</svg>`;
  }

  function axisLabels(f: Frame, opts: ChartOptions, height: number): string {
    return (
      `<text class="label" x="${f1((f.left + f.right) / 2)}" y="${height - 8}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>` +
      `<text class="label" transform="translate(16 ${f1((f.top + f.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(opts.yLabel)}</text>`
    );
  }

  interface Prepared {
    series: (ChartSeries & { color: string; hold: number })[];
    x0: number;
    x1: number;
  }

  /** Thins the series and finds the x range (steps extend the last point by one step). */
  function prepare(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[]): Prepared {
    const maxPoints = opts.maxPoints ?? 1500;
    const out = series.map((s, i) => {
      const k = chunkSize(s.points.length, maxPoints);
      return { ...s, points: thinPoints(s.points, maxPoints), color: colorOf(s, i), hold: opts.step !== undefined ? opts.step * k : 0 };
    });
    const xs: number[] = [];
    for (const s of out) for (const p of s.points) xs.push(p[0] + s.hold);
    for (const m of markers) xs.push(m.x);
    const x0 = Math.min(0, ...series.flatMap((s) => s.points.map((p) => p[0])));
    const x1 = opts.xMax ?? Math.max(x0 + 1, ...xs);
    return { series: out, x0, x1: Math.max(x1, x0 + 1) };
  }

  /** The vertices of a series: steps (each value holds until the next point) or straight segments. */
  function vertices(points: readonly [number, number][], hold: number, stepped: boolean): [number, number][] {
    if (!stepped) return points.map((p) => [p[0], p[1]]);
    const out: [number, number][] = [];
    for (const [i, p] of points.entries()) {
      const next = points[i + 1];
      out.push([p[0], p[1]], [next ? next[0] : p[0] + hold, p[1]]);
    }
    return out;
  }

  function pathOf(f: Frame, vs: readonly [number, number][]): string {
    return vs.map((v, i) => `${i === 0 ? 'M' : 'L'}${f1(f.sx(v[0]))} ${f1(f.sy(v[1]))}`).join('');
  }

  function xTicksFor(x0: number, x1: number, width: number): number[] {
    const count = Math.max(2, Math.min(10, Math.floor((width - PAD.left - PAD.right) / 80)));
    return niceTicks(x0, x1, count).filter((t) => t >= x0 && t <= x1);
  }

  function yTop(opts: ChartOptions, max: number, count: number): number[] {
    const top = Math.max(opts.yMin ?? 1, max) * 1.05;
    const ticks = niceTicks(0, top, count);
    if (opts.integerY !== true || ticks.length < 2 || ticks[1]! - ticks[0]! >= 1) return ticks;
    return Array.from({ length: Math.ceil(top) + 1 }, (_, i) => i);
  }

  /** Header layout: title, legend rows, marker label rows; returns the y of each and the plot top. */
  function header(legend: readonly LegendItem[][], markerRowCount: number): { legendY: number; markerY: number; top: number } {
    const legendY = 38;
    const markerY = legendY + legend.length * LINE + (legend.length > 0 ? 2 : -8);
    const top = markerY + markerRowCount * 14 + 6;
    return { legendY, markerY, top };
  }

  function renderLineChart(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'line'): string {
    if (series.every((s) => s.points.length === 0)) return emptyChart(opts, kind);
    const width = opts.width ?? 820;
    const prep = prepare(opts, series, markers);
    const stepped = opts.step !== undefined;
    const yTicks = yTop(opts, Math.max(...prep.series.flatMap((s) => s.points.map((p) => p[1]))), 5);
    const legend = legendRows(prep.series.map((s) => ({ name: s.name, color: s.color, dash: s.dash })), width);
    const probe = frameAt(PAD.left, width - PAD.right, 0, 1, prep.x0, prep.x1, 1);
    const placed = markerRows(markers, probe.sx, prep.x0, prep.x1);
    const h = header(legend, placed.reduce((n, p) => Math.max(n, p.row + 1), 0));
    const height = h.top + (opts.plotHeight ?? 200) + PAD.bottom;
    const f = frameAt(PAD.left, width - PAD.right, h.top, height - PAD.bottom, prep.x0, prep.x1, yTicks.at(-1)!);
    // widest first: a line drawn exactly on top of another leaves the wider one showing at its sides
    const n = prep.series.length;
    const lines = prep.series
      .map((s, i) => {
        if (s.points.length === 0) return '';
        const w = n > 1 ? 2 + (n - 1 - i) * 1.5 : 2;
        const dash = s.dash ? ` stroke-dasharray="${escapeHtml(s.dash)}"` : '';
        const dot = s.points.length === 1 && !stepped ? `<circle cx="${f1(f.sx(s.points[0]![0]))}" cy="${f1(f.sy(s.points[0]![1]))}" r="3" fill="${s.color}"/>` : '';
        return `<g class="series"><title>${escapeHtml(s.name)}</title><path d="${pathOf(f, vertices(s.points, s.hold, stepped))}" fill="none" stroke="${s.color}" stroke-width="${w}" stroke-opacity="${n > 1 ? 0.9 : 1}" stroke-linejoin="round"${dash}/>${dot}</g>`;
      })
      .join('');
    return (
      `${svgOpen(width, height, opts.title, kind)}${drawLegend(legend, h.legendY)}${drawMarkerLabels(f, placed, h.markerY)}` +
      `${drawAxes(f, opts, xTicksFor(prep.x0, prep.x1, width), yTicks, true)}${lines}${drawMarkerLines(f, placed)}${axisLabels(f, opts, height)}</svg>`
    );
  }

  function renderStackedChart(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'stacked'): string {
    if (series.every((s) => s.points.length === 0)) return emptyChart(opts, kind);
    const width = opts.width ?? 820;
    const prep = prepare(opts, series, markers);
    const stepped = opts.step !== undefined;
    const length = Math.max(...prep.series.map((s) => s.points.length));
    const base = prep.series.find((s) => s.points.length === length)!;
    const tops: number[][] = [];
    let below = new Array<number>(length).fill(0);
    for (const s of prep.series) {
      const top = below.map((b, i) => b + (s.points[i]?.[1] ?? 0));
      tops.push(top);
      below = top;
    }
    const yTicks = yTop(opts, Math.max(...below), 5);
    const legend = legendRows(prep.series.map((s) => ({ name: s.name, color: s.color, area: true })), width);
    const probe = frameAt(PAD.left, width - PAD.right, 0, 1, prep.x0, prep.x1, 1);
    const placed = markerRows(markers, probe.sx, prep.x0, prep.x1);
    const h = header(legend, placed.reduce((n, p) => Math.max(n, p.row + 1), 0));
    const height = h.top + (opts.plotHeight ?? 200) + PAD.bottom;
    const f = frameAt(PAD.left, width - PAD.right, h.top, height - PAD.bottom, prep.x0, prep.x1, yTicks.at(-1)!);
    const xs = base.points.map((p) => p[0]);
    const bands = prep.series
      .map((s, j) => {
        const upper = vertices(xs.map((x, i) => [x, tops[j]![i]!]), base.hold, stepped);
        const lower = vertices(xs.map((x, i) => [x, j === 0 ? 0 : tops[j - 1]![i]!]), base.hold, stepped).reverse();
        const d = `${pathOf(f, [...upper, ...lower])}Z`;
        return `<g class="series"><title>${escapeHtml(s.name)}</title><path d="${d}" fill="${s.color}" fill-opacity="0.55" stroke="${s.color}" stroke-width="1.5"/></g>`;
      })
      .join('');
    return (
      `${svgOpen(width, height, opts.title, kind)}${drawLegend(legend, h.legendY)}${drawMarkerLabels(f, placed, h.markerY)}` +
      `${drawAxes(f, opts, xTicksFor(prep.x0, prep.x1, width), yTicks, true)}${bands}${drawMarkerLines(f, placed)}${axisLabels(f, opts, height)}</svg>`
    );
  }

  function renderSmallMultiples(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'multiples'): string {
    if (series.length === 0 || series.every((s) => s.points.length === 0)) return emptyChart(opts, kind);
    const width = opts.width ?? 820;
    const prep = prepare(opts, series, markers);
    const stepped = opts.step !== undefined;
    const yTicks = yTop(opts, Math.max(...prep.series.flatMap((s) => s.points.map((p) => p[1]))), 3);
    const probe = frameAt(PAD.left, width - PAD.right, 0, 1, prep.x0, prep.x1, 1);
    const placed = markerRows(markers, probe.sx, prep.x0, prep.x1);
    const h = header([], placed.reduce((n, p) => Math.max(n, p.row + 1), 0));
    const plotH = opts.plotHeight ?? 90;
    const panelGap = 30;
    const xTicks = xTicksFor(prep.x0, prep.x1, width);
    const parts: string[] = [];
    let top = h.top + 4;
    let first: Frame | undefined;
    for (const [i, s] of prep.series.entries()) {
      const panelTop = top + LINE;
      const f = frameAt(PAD.left, width - PAD.right, panelTop, panelTop + plotH, prep.x0, prep.x1, yTicks.at(-1)!);
      first ??= f;
      const last = i === prep.series.length - 1;
      const d = s.points.length > 0 ? pathOf(f, vertices(s.points, s.hold, stepped)) : '';
      const area = d !== '' ? `${d}L${f1(f.sx(s.points.at(-1)![0] + s.hold))} ${f.bottom}L${f1(f.sx(s.points[0]![0]))} ${f.bottom}Z` : '';
      parts.push(
        `<g class="panel" data-series="${escapeHtml(s.name)}">` +
          `<text class="panel-title" x="${PAD.left}" y="${top + 11}"><tspan fill="${s.color}">■</tspan> ${escapeHtml(s.name)}` +
          `${s.note ? `<tspan class="note"> — ${escapeHtml(s.note)}</tspan>` : ''}</text>` +
          drawAxes(f, opts, xTicks, yTicks, last) +
          (d !== ''
            ? `<g class="series"><title>${escapeHtml(s.name)}</title><path d="${area}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>` +
              `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"/></g>`
            : `<text class="nodata" x="${f1((f.left + f.right) / 2)}" y="${f1((f.top + f.bottom) / 2)}" text-anchor="middle">no samples</text>`) +
          drawMarkerLines(f, placed) +
          '</g>',
      );
      top = f.bottom + (last ? 0 : panelGap);
    }
    const height = top + PAD.bottom;
    const labelFrame = frameAt(PAD.left, width - PAD.right, h.top + LINE, top, prep.x0, prep.x1, 1);
    return (
      `${svgOpen(width, height, opts.title, kind)}${drawMarkerLabels(first!, placed, h.markerY)}${parts.join('')}` +
      `${axisLabels(labelFrame, opts, height)}</svg>`
    );
  }

  function renderDistributionChart(opts: ChartOptions, bins: readonly ChartBin[], cdf: readonly ChartCdfPoint[] = [], kind = 'distribution'): string {
    if (bins.length === 0 || bins.every((b) => b.count === 0)) return emptyChart(opts, kind);
    const width = opts.width ?? 820;
    const lo = bins[0]!.fromMs;
    const hi = Math.max(bins.at(-1)!.toMs, lo + 0.001);
    const yTicks = yTop({ integerY: true, ...opts }, Math.max(...bins.map((b) => b.count)), 5);
    const items: LegendItem[] = [{ name: `${opts.yLabel} per bin`, color: palette[0]!, area: true }];
    if (cdf.length > 0) items.push({ name: 'cumulative % (right axis)', color: palette[1]! });
    const legend = legendRows(items, width);
    const h = header(legend, 0);
    const height = h.top + (opts.plotHeight ?? 200) + PAD.bottom;
    const fmt = { ...opts, formatX: opts.formatX ?? formatLatency };
    const f = frameAt(PAD.left, width - PAD.right, h.top, height - PAD.bottom, lo, hi, yTicks.at(-1)!);
    const xTicks = niceTicks(lo, hi, Math.max(2, Math.floor((width - PAD.left - PAD.right) / 90))).filter((t) => t >= lo && t <= hi);
    const bars = bins
      .map((b) => {
        const x = f.sx(b.fromMs);
        const w = Math.max(1, f.sx(b.toMs) - x - 1);
        const y = f.sy(b.count);
        const tip = `${formatLatency(b.fromMs)} – ${formatLatency(b.toMs)}: ${formatNumber(b.count)}`;
        return `<rect x="${f1(x)}" y="${f1(y)}" width="${f1(w)}" height="${f1(f.bottom - y)}" fill="${palette[0]}" fill-opacity="0.7"><title>${escapeHtml(tip)}</title></rect>`;
      })
      .join('');
    let cdfPath = '';
    if (cdf.length > 0) {
      const sy = (fr: number): number => f.bottom - fr * (f.bottom - f.top);
      const d = cdf.map((p, i) => `${i === 0 ? 'M' : 'L'}${f1(f.sx(p.ms))} ${f1(sy(p.fraction))}`).join('');
      const ticks = [0, 0.25, 0.5, 0.75, 1]
        .map((t) => `<text class="tick" x="${f.right + 4}" y="${f1(sy(t))}" dominant-baseline="middle">${t * 100}%</text>`)
        .join('');
      cdfPath = `<g class="series"><title>cumulative</title><path d="${d}" fill="none" stroke="${palette[1]}" stroke-width="2"/>${ticks}</g>`;
    }
    return `${svgOpen(width, height, opts.title, kind)}${drawLegend(legend, h.legendY)}${drawAxes(f, fmt, xTicks, yTicks, true)}${bars}${cdfPath}${axisLabels(f, opts, height)}</svg>`;
  }

  const timeAxis = { xLabel: 'time since start (m:ss)', formatX: formatElapsed };

  function plotConnected(rows: readonly PlotRow[], ctx: PlotContext): string {
    return renderStackedChart(
      { title: 'Connected agents', yLabel: 'agents', ...timeAxis, step: ctx.stepMs, integerY: true, width: ctx.width ?? 820, ...(ctx.xMax !== undefined ? { xMax: ctx.xMax } : {}) },
      [
        { name: 'connected', points: rows.map((r) => [r.t, r.connected]), color: palette[0]! },
        { name: 'connecting or reconnecting', points: rows.map((r) => [r.t, r.reconnecting]), color: palette[1]! },
      ],
      ctx.markers,
      'connected',
    );
  }

  function plotPerNode(rows: readonly PlotRow[], ctx: PlotContext): string {
    const nodes = ctx.nodes ?? [...new Set(rows.flatMap((r) => Object.keys(r.perNode)))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    return renderSmallMultiples(
      {
        title: 'Agents per node (one panel per node, same scale)',
        yLabel: 'connected agents',
        ...timeAxis,
        step: ctx.stepMs,
        integerY: true,
        width: ctx.width ?? 820,
        plotHeight: nodes.length > 6 ? 60 : 80,
        emptyMessage: 'no agent connected to any node',
        ...(ctx.xMax !== undefined ? { xMax: ctx.xMax } : {}),
      },
      nodes.map((n, i) => {
        const last = rows.at(-1)?.perNode[n] ?? 0;
        return { name: n, points: rows.map((r): [number, number] => [r.t, r.perNode[n] ?? 0]), color: palette[i % palette.length]!, note: `${formatNumber(last)} at the end` };
      }),
      ctx.markers,
      'per-node',
    );
  }

  function plotEvents(rows: readonly PlotRow[], ctx: PlotContext): string {
    const total = (pick: (r: PlotRow) => number, known?: number | null): number => {
      if (known !== undefined && known !== null) return known;
      let sum = 0;
      for (const [i, r] of rows.entries()) sum += pick(r) * (((rows[i + 1]?.t ?? r.t + ctx.stepMs) - r.t) / 1000);
      return Math.round(sum);
    };
    const series: ChartSeries[] = [{ name: 'generated by the workload', points: rows.map((r) => [r.t, r.generated]), color: palette[0]!, note: `${formatNumber(total((r) => r.generated, ctx.totals?.generated))} in total` }];
    if (rows.length === 0 || rows.some((r) => r.received !== null)) {
      series.push({ name: 'received by the managers', points: rows.map((r) => [r.t, r.received ?? 0]), color: palette[2]!, note: `${formatNumber(total((r) => r.received ?? 0, ctx.totals?.received))} in total` });
    }
    series.push({ name: 'dropped by the agents (never written)', points: rows.map((r) => [r.t, r.dropped]), color: palette[7]!, note: `${formatNumber(total((r) => r.dropped, ctx.totals?.dropped))} in total` });
    return renderSmallMultiples(
      {
        title: rows.some((r) => r.received !== null) || rows.length === 0 ? 'Events per second' : 'Events per second (received: unknown, the managers are not agentlink’s)',
        yLabel: 'events per second',
        ...timeAxis,
        step: ctx.stepMs,
        width: ctx.width ?? 820,
        emptyMessage: 'no samples',
        ...(ctx.xMax !== undefined ? { xMax: ctx.xMax } : {}),
      },
      series,
      ctx.markers,
      'events',
    );
  }

  return {
    palette,
    markerColor,
    escapeHtml,
    niceTicks,
    thinPoints,
    formatElapsed,
    formatLatency,
    formatNumber,
    renderLineChart,
    renderStackedChart,
    renderSmallMultiples,
    renderDistributionChart,
    plotConnected,
    plotPerNode,
    plotEvents,
  };
}

/** The chart renderers, built once for Node (the report). */
export const charts: ChartKit = chartKit();

/** CSS for the chart classes (shared by the report and the dashboard pages). */
export const CHART_CSS = `
svg.chart { max-width: 100%; height: auto; background: #fff; display: block; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .axis, svg .tickmark { stroke: #6b7280; stroke-width: 1; }
svg text { font-family: inherit; fill: #374151; }
svg .tick { font-size: 12px; }
svg .label { font-size: 12px; fill: #4b5563; }
svg .title { font-size: 15px; font-weight: 600; fill: #111827; }
svg .panel-title { font-size: 13px; font-weight: 600; fill: #111827; }
svg .panel-title .note { font-weight: 400; fill: #4b5563; }
svg .legend { font-size: 12px; }
svg .marker-label { font-size: 11px; font-weight: 600; fill: ${charts.markerColor}; }
svg .nodata { font-size: 14px; fill: #6b7280; }
`;

/**
 * Escapes text for HTML element content and attribute values (`&`, `<`, `>`, `"`, `'`).
 *
 * @param text - any text.
 * @returns the escaped text.
 */
export function escapeHtml(text: string): string {
  return charts.escapeHtml(text);
}

/**
 * "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) covering `[min, max]`.
 *
 * @param min - lowest value.
 * @param max - highest value.
 * @param count - about how many ticks.
 * @returns the tick values, ascending; the last is at least `max`.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  return charts.niceTicks(min, max, count);
}

/**
 * Reduces a series to at most `max` points by averaging consecutive chunks (x of the chunk's first point).
 *
 * @param points - `[x, y]` points in x order.
 * @param max - the most points to keep, at least 2.
 * @returns the points, or the averaged chunks.
 */
export function thinPoints(points: readonly [number, number][], max: number): [number, number][] {
  return charts.thinPoints(points, max);
}

/**
 * Formats milliseconds since the start as `m:ss` (`h:mm:ss` from one hour).
 *
 * @param ms - milliseconds.
 * @returns the label.
 */
export function formatElapsed(ms: number): string {
  return charts.formatElapsed(ms);
}

/**
 * Renders lines on one plot as an inline SVG element; lines are drawn widest first, so a line
 * exactly on top of another leaves the other showing. With `opts.step`, each point holds its
 * value for one step (per-second samples).
 *
 * @param opts - title, labels, size, tick formats, step.
 * @param series - the lines.
 * @param markers - vertical markers (chaos actions).
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderLineChart(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'line'): string {
  return charts.renderLineChart(opts, series, markers, kind);
}

/**
 * Renders series as stacked areas (parts of a whole: each band sits on the previous ones), as an
 * inline SVG element. The series must share their x values.
 *
 * @param opts - title, labels, size, tick formats, step.
 * @param series - the bands, bottom first.
 * @param markers - vertical markers (chaos actions).
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderStackedChart(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'stacked'): string {
  return charts.renderStackedChart(opts, series, markers, kind);
}

/**
 * Renders one small panel per series, on one shared x and y scale, as one inline SVG element.
 *
 * @param opts - title, labels, size (`plotHeight` per panel), tick formats, step.
 * @param series - one panel each, top to bottom.
 * @param markers - vertical markers (chaos actions), drawn in every panel.
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderSmallMultiples(opts: ChartOptions, series: readonly ChartSeries[], markers: readonly ChartMarker[] = [], kind = 'multiples'): string {
  return charts.renderSmallMultiples(opts, series, markers, kind);
}

/**
 * Renders a latency distribution: bars per bin and, when given, the cumulative fraction as a line
 * on a 0–100 % right axis. With no values it says `opts.emptyMessage`.
 *
 * @param opts - title, labels, size, and what to say when empty.
 * @param bins - the bins (from {@link LatencyHistogram.bins}).
 * @param cdf - cumulative points (from {@link LatencyHistogram.cdf}).
 * @param kind - a `data-chart` tag for the SVG element.
 * @returns the `<svg>` markup.
 */
export function renderDistributionChart(opts: ChartOptions, bins: readonly ChartBin[], cdf: readonly ChartCdfPoint[] = [], kind = 'distribution'): string {
  return charts.renderDistributionChart(opts, bins, cdf, kind);
}
