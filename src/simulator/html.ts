/**
 * The HTML report (`--html report.html`): one self-contained file (inline CSS and inline SVG, no
 * scripts, no fonts, no network references) with the summary, plots of the run, the chaos
 * actions and the settings, every name in words.
 *
 * The plots come from {@link chartKit} (`charts.ts`), the same code that draws the live
 * dashboard: per-second samples as steps, connected agents as stacked areas, agents per node and
 * events as small multiples on one scale, chaos actions as red markers (the only red), and
 * latency distributions that say why they are empty. Every text from the report is HTML-escaped.
 *
 * @module
 */
import { CHART_CSS, charts } from './charts.js';
import type { ChartMarker, PlotRow } from './charts.js';
import { describeLostCause, describeSetting, words } from './labels.js';
import { LatencyHistogram } from './metrics.js';
import type { ChaosEvent, FleetReport } from './report.js';
import { describeChaosEvent } from './report.js';
import { measuredText, verdictHeadline } from './thresholds.js';

const { escapeHtml, formatElapsed, formatLatency, formatNumber } = charts;

/** Design width of the report's charts, in pixels (they shrink with the page). */
const CHART_WIDTH = 860;

/**
 * Chaos actions as chart markers (the report's plots and the live dashboard).
 *
 * @param events - the chaos actions.
 * @returns one marker each, labelled in short.
 */
export function chaosMarkers(events: readonly ChaosEvent[]): ChartMarker[] {
  return events.map((c) => ({ x: c.at, label: describeChaosEvent(c, true) }));
}

/**
 * The report's timeline as rows for the shared time plots (event counts per bucket become rates).
 *
 * @param report - the report.
 * @returns one row per timeline bucket.
 */
export function plotRowsOf(report: FleetReport): PlotRow[] {
  const perSec = 1000 / Math.max(1, report.timelineBucketMs);
  const known = report.events.received !== null;
  return report.timeline.map((p) => ({
    t: p.t,
    connected: p.connected,
    reconnecting: p.reconnecting,
    perNode: p.perNode,
    generated: p.generated * perSec,
    received: known ? p.received * perSec : null,
    dropped: p.dropped * perSec,
  }));
}

/**
 * Why a report has no failovers, in one sentence; `undefined` when it has some.
 *
 * @param report - the report.
 * @returns the reason.
 */
export function whyNoFailovers(report: FleetReport): string | undefined {
  if (report.failover.count > 0) return undefined;
  if (report.connect.count === 0) return 'No failovers: no agent connected, so none could fail over.';
  const reconnects = report.reconnects.total;
  if (reconnects === 0) {
    return report.chaos.length === 0
      ? 'No failovers: no agent lost its connection, and the run had no chaos actions (add e.g. --chaos kill:node1@20s).'
      : 'No failovers: no agent lost its connection during the run, although it had chaos actions (see Chaos below).';
  }
  const n = formatNumber(reconnects);
  return report.config.lb !== undefined
    ? `No failovers: all ${n} reconnections were asked for by the managers (rebalancing), which are not failovers.`
    : `No failovers: all ${n} reconnections went back to the server the agent had before (a failover lands on another server).`;
}

/** What each drop reason means, for the summary. */
const DROP_REASONS: Record<keyof FleetReport['events']['droppedBy'], string> = {
  refused: 'refused by a full buffer',
  evicted: 'evicted from a full buffer by newer events',
  cleared: 'still queued at the drain deadline',
  unwritable: 'too large to encode',
};

function summaryRows(r: FleetReport): [string, string][] {
  const rows: [string, string][] = [];
  const pct = (n: number, of: number): string => (of > 0 ? ` (${((n / of) * 100).toFixed(1)} %)` : '');
  const lat = (s: FleetReport['connect']): string =>
    s.count === 0
      ? 'none'
      : `p50 ${formatLatency(s.p50Ms)} · p90 ${formatLatency(s.p90Ms)} · p99 ${formatLatency(s.p99Ms)} · max ${formatLatency(s.maxMs)} (n=${formatNumber(s.count)})`;
  rows.push(['Agents', formatNumber(r.agents.total)]);
  rows.push(['Connected at the end', `${formatNumber(r.agents.connected)}${pct(r.agents.connected, r.agents.total)}`]);
  rows.push(['Never connected', formatNumber(r.agents.neverConnected)]);
  const e = r.events;
  rows.push(['Events generated', formatNumber(e.generated)]);
  rows.push(['Events accepted by the buffers', `${formatNumber(e.accepted)}${pct(e.accepted, e.generated)}`]);
  rows.push(['Events written to the wire', `${formatNumber(e.written)}${pct(e.written, e.generated)}`]);
  rows.push(['Events received by the managers', e.received === null ? 'unknown (managers not run by agentlink)' : `${formatNumber(e.received)}${pct(e.received, e.written)}`]);
  rows.push(['Events dropped', `${formatNumber(e.dropped)}${pct(e.dropped, e.generated)}`]);
  for (const [reason, n] of Object.entries(e.droppedBy)) if (n > 0) rows.push([`  dropped: ${DROP_REASONS[reason as keyof typeof e.droppedBy]}`, formatNumber(n)]);
  rows.push(['Events lost', r.events.lost === null ? 'unknown' : formatNumber(r.events.lost)]);
  for (const [cause, n] of Object.entries(r.lostExplained)) if (n > 0) rows.push([`  lost: ${describeLostCause(cause)}`, formatNumber(n)]);
  rows.push(['Connect latency', lat(r.connect)]);
  rows.push(['TCP connect latency', lat(r.tcpConnect)]);
  rows.push(['Failover latency', lat(r.failover)]);
  if (r.ackLatency) rows.push(['Keepalive to ACK latency (from the scheduled keepalive)', lat(r.ackLatency)]);
  rows.push(['Reconnections', formatNumber(r.reconnects.total)]);
  rows.push(['Failed connection attempts', formatNumber(r.connectFailures)]);
  for (const [code, n] of Object.entries(r.errors ?? {})) rows.push([`Errors ${code}`, formatNumber(n)]);
  for (const [node, n] of Object.entries(r.distribution).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
    rows.push([`Agents on ${node} at the end`, `${formatNumber(n)}${pct(n, r.agents.connected)}`]);
  }
  for (const l of r.limits.hit) rows.push([`Limit hit: ${l.limit}`, `${formatNumber(l.count)}× — ${l.message}`]);
  rows.push(['Duration', formatElapsed(r.durationMs)]);
  if (r.plannedStartAt !== undefined) rows.push(['Planned start (--start-at)', r.plannedStartAt]);
  rows.push([r.shards.length > 1 ? 'Started (the earliest shard)' : 'Started', r.startedAt]);
  rows.push(['Shards', r.shard.count > 1 ? `${r.shards.join(', ')} of ${r.shard.count}` : 'unsharded']);
  if (r.shards.length > 1) rows.push(['Shards started apart (latest start − earliest)', formatLatency(r.startSkewMs)]);
  rows.push(['agentlink version', r.version]);
  return rows;
}

/** Fields of nested settings that hold milliseconds without saying so in their name. */
const MS_FIELDS = new Set(['initialDelay', 'maxDelay', 'retryInterval', 'tolerance']);

function settingValue(key: string, value: unknown): string {
  if (typeof value === 'number' && (key.endsWith('Ms') || MS_FIELDS.has(key))) return value === 0 ? '0' : formatLatency(value);
  if (key === 'startAt' && typeof value === 'number') return new Date(value).toISOString();
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.length === 0) return 'none';
  if (key === 'target' && typeof value === 'object' && value !== null) {
    const t = value as { kind?: string; nodes?: number; servers?: { host: string; port: number }[]; path?: string };
    if (t.kind === 'cluster') return `embedded mock cluster of ${t.nodes} nodes`;
    if (t.kind === 'managers') return (t.servers ?? []).map((s) => `${s.host}:${s.port}`).join(', ');
    if (t.kind === 'config') return `servers of ${t.path}`;
  }
  if (key === 'shard' && typeof value === 'object' && value !== null) {
    const s = value as { index: number; count: number };
    return s.count > 1 ? `${s.index} of ${s.count}` : 'unsharded';
  }
  if (key === 'chaos' && Array.isArray(value)) {
    return value
      .map((c: { action?: string; node?: string; atMs?: number; forMs?: number }) =>
        `${c.action ?? '?'}${c.node ? ` ${c.node}` : ''} at ${formatElapsed(c.atMs ?? 0)}${c.forMs !== undefined ? ` for ${formatLatency(c.forMs)}` : ''}`,
      )
      .join('; ');
  }
  if (key === 'servers' && Array.isArray(value)) {
    return value
      .map((v: { node?: string; address?: string; port?: number; protocol?: string; maxRetries?: number; retryInterval?: number }) =>
        `${v.node ?? '?'}: ${v.address ?? '?'}:${v.port ?? '?'}/${v.protocol ?? 'tcp'}, ${v.maxRetries ?? '?'} attempts ${formatLatency(v.retryInterval ?? 0)} apart`,
      )
      .join('\n');
  }
  if (key === 'thresholds' && Array.isArray(value)) return value.map((t: { expression?: string }) => t.expression ?? '?').join('\n');
  if (Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null)) {
    return value.map((v) => settingValue('', v)).join('\n');
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${words(k).replace(/ ms$/, '')}: ${settingValue(k, v)}`)
      .join(', ');
  }
  return JSON.stringify(value);
}

function settingsTable(config: Record<string, unknown>): string {
  const rows = Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${escapeHtml(describeSetting(k))}</th><td>${escapeHtml(settingValue(k, v))}</td></tr>`);
  return rows.length === 0 ? '<p>None recorded.</p>' : `<table class="settings">${rows.join('\n')}</table>`;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px auto; max-width: 920px; color: #111827; padding: 0 16px; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.sub { color: #4b5563; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #f3f4f6; vertical-align: top; overflow-wrap: anywhere; }
th { width: 42%; font-weight: 600; color: #374151; }
table.settings td { white-space: pre-line; }
figure { margin: 20px 0; overflow-x: auto; }
/* on a phone a chart keeps a readable size and scrolls sideways inside its figure */
figure svg.chart { min-width: ${Math.round(CHART_WIDTH * 0.82)}px; }
figcaption { font-size: 0.85rem; color: #4b5563; margin-top: 4px; }
.alert { border: 2px solid; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
.alert h2 { margin: 0 0 6px; border: 0; padding: 0; font-size: 1.05rem; }
.alert.fail, .alert.warnings { border-color: #b45309; background: #fffbeb; }
.alert.pass { border-color: #15803d; background: #f0fdf4; }
.alert ul { margin: 0; padding-left: 1.2rem; }
.alert li { margin: 4px 0; overflow-wrap: anywhere; }
table.verdicts th { width: auto; }
table.verdicts th:last-child, td.verdict { white-space: nowrap; overflow-wrap: normal; width: 1%; }
td.verdict { font-weight: 700; }
td.verdict.fail { color: #b45309; }
td.verdict.pass { color: #15803d; }
${CHART_CSS}`;

/** The threshold verdicts and the warnings, for the top of the page; empty when the run has neither. */
function verdictsAndWarnings(r: FleetReport): string {
  const out: string[] = [];
  const v = r.verdicts;
  if (v) {
    const state = v.passed ? 'pass' : 'fail';
    const rows = v.results
      .map(
        (x) =>
          `<tr><td>${escapeHtml(x.threshold)}</td><td>${escapeHtml(measuredText(x))}</td>` +
          `<td class="verdict ${x.pass ? 'pass' : 'fail'}">${x.pass ? 'pass' : 'FAIL'}</td></tr>`,
      )
      .join('');
    out.push(
      `<section class="alert ${state}" id="verdicts" role="${v.passed ? 'status' : 'alert'}"><h2>Thresholds: ${escapeHtml(verdictHeadline(v))}</h2>` +
        `<table class="verdicts"><tr><th>threshold</th><th>measured</th><th>verdict</th></tr>${rows}</table></section>`,
    );
  }
  const warnings = r.warnings ?? [];
  if (warnings.length > 0) {
    out.push(
      `<section class="alert warnings" id="warnings" role="alert"><h2>${warnings.length === 1 ? 'Warning' : `${warnings.length} warnings`}</h2>` +
        `<ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>`,
    );
  }
  return out.join('\n');
}

/** Options of {@link renderHtmlReport}. */
export interface HtmlReportOptions {
  /**
   * Page title.
   * @default 'agentlink fleet report'
   */
  title?: string;
}

/**
 * Renders a report as one self-contained HTML page: the threshold verdicts and the warnings (when
 * there are any) at the top, the summary table, then plots of connected
 * agents (stacked: connected, reconnecting), agents per node and events per second (one panel
 * each, same scale), the failover and connect latency distributions, with the chaos actions
 * marked on the time plots; then the chaos actions and the run's settings.
 *
 * @param report - the report (one run or merged shards).
 * @param options - page title.
 * @returns the HTML text.
 */
export function renderHtmlReport(report: FleetReport, options: HtmlReportOptions = {}): string {
  const title = options.title ?? 'agentlink fleet report';
  const rows = plotRowsOf(report);
  const nodes = new Set<string>();
  for (const p of report.timeline) for (const n of Object.keys(p.perNode)) nodes.add(n);
  for (const n of Object.keys(report.distribution)) nodes.add(n);
  const ctx = {
    markers: chaosMarkers(report.chaos),
    stepMs: report.timelineBucketMs,
    width: CHART_WIDTH,
    nodes: [...nodes].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
  };

  const failoverHist = LatencyHistogram.decode(report.histograms.failover, 'histograms.failover');
  const failover = charts.renderDistributionChart(
    {
      title: 'Failover latency',
      xLabel: 'from the disconnect to the startup ACK on another server',
      yLabel: 'failovers',
      width: CHART_WIDTH,
      emptyMessage: whyNoFailovers(report) ?? 'no failovers',
    },
    failoverHist.bins(30),
    failoverHist.cdf(101),
    'failover',
  );
  const connectHist = LatencyHistogram.decode(report.histograms.connect, 'histograms.connect');
  const connect = charts.renderDistributionChart(
    {
      title: 'Connect latency',
      xLabel: 'from the first attempt to the startup ACK',
      yLabel: 'agents',
      width: CHART_WIDTH,
      emptyMessage: report.agents.total === 0 ? 'No agents in this run.' : 'No agent connected.',
    },
    connectHist.bins(30),
    connectHist.cdf(101),
    'connect',
  );

  const summary = summaryRows(report)
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
<p class="sub">${escapeHtml(`${formatNumber(report.agents.total)} agents · ${formatElapsed(report.durationMs)} · started ${report.startedAt}`)}</p>
${verdictsAndWarnings(report)}
<h2>Summary</h2>
<table>
${summary}
</table>
<h2>Plots</h2>
<p class="sub">Samples are drawn as steps: each value holds for its ${escapeHtml(formatLatency(report.timelineBucketMs))} interval. Red dashed lines are chaos actions.</p>
<figure>${charts.plotConnected(rows, ctx)}</figure>
<figure>${charts.plotPerNode(rows, ctx)}</figure>
<figure>${charts.plotEvents(rows, ctx)}</figure>
<figure>${failover}</figure>
<figure>${connect}</figure>
<h2>Chaos</h2>
${chaosRows}
<h2>Settings</h2>
${settingsTable(report.config)}
</body>
</html>
`;
}
