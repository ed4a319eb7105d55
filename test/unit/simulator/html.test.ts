import { describe, expect, test } from 'vitest';
import { charts, escapeHtml, niceTicks, renderLineChart, renderStackedChart, thinPoints } from '../../../src/simulator/charts.js';
import { renderHtmlReport, whyNoFailovers } from '../../../src/simulator/html.js';
import { describeLostCause, describeSetting } from '../../../src/simulator/labels.js';
import { createReport } from '../../../src/simulator/report.js';
import type { FleetReport } from '../../../src/simulator/report.js';
import { activities, runMetrics } from './fixtures.js';

function sampleReport(distribution: Record<string, number> = { node1: 10, node2: 12, node9: 8 }): FleetReport {
  return createReport({
    metrics: runMetrics(activities(30)),
    startedAt: Date.UTC(2026, 0, 1),
    durationMs: 5000,
    config: { agents: 30, target: { kind: 'cluster', nodes: 3 } },
    agents: { total: 30, connected: 30 },
    distribution,
    chaos: [
      { at: 2000, action: 'kill', node: 'node1' },
      { at: 4000, action: 'restart', node: 'node1' },
    ],
  });
}

function emptyReport(): FleetReport {
  return createReport({ metrics: runMetrics([], 0), startedAt: 0, durationMs: 0, config: {}, agents: { total: 0, connected: 0 }, distribution: {} });
}

const svgs = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];

describe('renderHtmlReport', () => {
  test('the report is one self-contained file without network references or scripts', () => {
    const html = renderHtmlReport(sampleReport());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toContain('http');
    expect(html).not.toMatch(/\ssrc\s*=/i);
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html.match(/<html/g)).toHaveLength(1);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });

  test('it contains the plots as titled SVG charts: connected, per node, events, failover and connect distributions', () => {
    const html = renderHtmlReport(sampleReport());
    const titles = svgs(html).map((s) => /^<svg[^>]*><title>([^<]*)<\/title>/.exec(s)?.[1]);
    expect(titles).toEqual(['Connected agents', 'Agents per node (one panel per node, same scale)', 'Events per second', 'Failover latency', 'Connect latency']);
    const failover = svgs(html)[3]!;
    expect(failover.match(/<rect /g)!.length).toBeGreaterThan(0);
    expect(failover).toContain('cumulative');
  });

  test('agents per node are small multiples: one panel per node, every panel on one y scale', () => {
    const perNode = svgs(renderHtmlReport(sampleReport()))[1]!;
    const panels = perNode.split('<g class="panel"').slice(1);
    expect(panels.map((p) => /data-series="([^"]*)"/.exec(p)![1])).toEqual(['node1', 'node2', 'node3', 'node9']);
    // y tick labels are right-aligned at the axis; x tick labels (only under the last panel) are centred
    const topTicks = panels.map((p) => [...p.matchAll(/<text class="tick"[^>]*text-anchor="end"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]));
    expect(topTicks[0]!.length).toBeGreaterThan(2);
    for (const t of topTicks) expect(t).toEqual(topTicks[0]);
    expect(perNode).toContain('8 at the end');
  });

  test('a node added during the run (chaos add:node4@5s) has its panel, in node order, zero before it joined', () => {
    const r = sampleReport({ node1: 10, node2: 12, node3: 8 });
    // node4 joins at 3 s and takes agents; the first samples, and the distribution at the end (taken
    // from another view), do not name it
    r.timeline = r.timeline.map((p) => {
      const perNode = Object.fromEntries(Object.entries(p.perNode).filter(([n]) => n !== 'node9'));
      return p.t >= 3000 ? { ...p, perNode: { ...perNode, node4: 5 } } : { ...p, perNode };
    });
    expect(Object.keys(r.timeline[0]!.perNode)).not.toContain('node4');
    const perNode = svgs(renderHtmlReport(r))[1]!;
    const panels = perNode.split('<g class="panel"').slice(1);
    expect(panels.map((p) => /data-series="([^"]*)"/.exec(p)![1])).toEqual(['node1', 'node2', 'node3', 'node4']);
    const node4 = panels[3]!;
    expect(node4).toContain('5 at the end');
    // its step line starts at 0 and rises to 5 at 3 s: two distinct y values
    const ys = new Set([.../<path d="([^"]*)" fill="none"/.exec(node4)![1]!.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => m[1]));
    expect(ys.size).toBe(2);
    // the dashboard draws the same panels from its samples alone (no node list given)
    const rows = r.timeline.map((p) => ({ t: p.t, connected: p.connected, reconnecting: p.reconnecting, perNode: p.perNode, generated: 0, received: 0, dropped: 0 }));
    const live = charts.plotPerNode(rows, { markers: [], stepMs: 1000 });
    expect([...live.matchAll(/<g class="panel" data-series="([^"]*)"/g)].map((m) => m[1])).toEqual(['node1', 'node2', 'node3', 'node4']);
  });

  test('events generated, received and dropped are separate panels, so equal rates do not hide one another', () => {
    const events = svgs(renderHtmlReport(sampleReport()))[2]!;
    expect([...events.matchAll(/data-series="([^"]*)"/g)].map((m) => m[1])).toEqual([
      'generated by the workload',
      'received by the managers',
      'dropped by the agents (never written)',
    ]);
  });

  test('connected and reconnecting agents are stacked areas: the band tops add up', () => {
    const svg = renderStackedChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 400 }, [
      { name: 'a', points: [[0, 10], [1, 10]] },
      { name: 'b', points: [[0, 10], [1, 10]] },
    ]);
    const paths = [...svg.matchAll(/<path d="([^"]*)" fill="/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(2);
    const ys = (d: string): number[] => [...d.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
    // the second band's top is above the first band's top (same values, stacked, not overlapping)
    expect(Math.min(...ys(paths[1]!))).toBeLessThan(Math.min(...ys(paths[0]!)));
  });

  test('per-second samples are drawn as steps: each value holds until the next sample', () => {
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 400, step: 1000 }, [{ name: 's', points: [[0, 0], [1000, 10], [2000, 5]] }]);
    const d = /<path d="([^"]*)"/.exec(svg)![1]!;
    const v = [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(v).toHaveLength(6);
    // pairs: a horizontal run per sample, then a vertical jump
    for (let i = 0; i < v.length; i += 2) expect(v[i]![1]).toBe(v[i + 1]![1]);
    for (let i = 1; i < v.length - 1; i += 2) expect(v[i]![0]).toBe(v[i + 1]![0]);
  });

  test('series colours never use the chaos-marker red, and only markers are red', () => {
    expect(charts.palette).not.toContain(charts.markerColor);
    // red or pink: hue within 20° of pure red, and saturated
    const isRed = (hex: string): boolean => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max !== r || max - min < 0.3) return false;
      const hue = (60 * (g - b)) / (max - min);
      return hue < 20 && hue > -40;
    };
    expect(isRed(charts.markerColor)).toBe(true);
    expect(charts.palette.filter(isRed)).toEqual([]);
    const html = renderHtmlReport(sampleReport());
    const reds = html.match(new RegExp(charts.markerColor, 'g')) ?? [];
    const markerUses = (html.match(/class="marker-line"|<g class="marker">/g) ?? []).length;
    expect(reds.length).toBeGreaterThan(0);
    expect(reds.length).toBeLessThanOrEqual(markerUses + 1); // +1: the CSS rule of the marker labels
  });

  test('an empty failover histogram says why it is empty', () => {
    const report = sampleReport();
    report.histograms.failover = emptyReport().histograms.failover;
    report.failover = { ...report.failover, count: 0 };
    report.reconnects = { ...report.reconnects, total: 0 };
    report.chaos = [];
    const reason = whyNoFailovers(report)!;
    expect(reason).toMatch(/no agent lost its connection, and the run had no chaos actions/);
    const failover = svgs(renderHtmlReport(report))[3]!;
    expect(failover).toContain('class="empty"');
    expect(failover).toContain('chaos actions');
    report.chaos = [{ at: 1000, action: 'kill', node: 'node1' }];
    expect(whyNoFailovers(report)).toMatch(/although it had chaos actions/);
    report.reconnects = { ...report.reconnects, total: 4 };
    expect(whyNoFailovers(report)).toMatch(/all 4 reconnections went back to the server the agent had before/);
    report.config = { ...report.config, lb: 'haproxy' };
    expect(whyNoFailovers(report)).toMatch(/asked for by the managers/);
    report.connect = { ...report.connect, count: 0 };
    expect(whyNoFailovers(report)).toMatch(/no agent connected/);
  });

  test('the summary names the event counts as the report does, with each drop reason', () => {
    const report = sampleReport();
    const e = report.events;
    const html = renderHtmlReport(report);
    const n = (x: number): string => x.toLocaleString('en-US');
    expect(html).toContain(`<tr><th>Events generated</th><td>${n(e.generated)}</td></tr>`);
    expect(html).toMatch(new RegExp(`<tr><th>Events accepted by the buffers</th><td>${n(e.accepted)} \\(`));
    expect(html).toMatch(new RegExp(`<tr><th>Events written to the wire</th><td>${n(e.written)} \\(`));
    expect(html).toMatch(new RegExp(`<tr><th>Events dropped</th><td>${n(e.dropped)} \\(`));
    expect(e.droppedBy.refused).toBeGreaterThan(0);
    expect(html).toContain(`<th>  dropped: refused by a full buffer</th><td>${n(e.droppedBy.refused)}</td>`);
    expect(html).not.toMatch(/Events sent/);
  });

  test('the summary lists errors by code', () => {
    const report = sampleReport();
    report.errors = { ERR_CONNECT: 120, ERR_SERVER_SILENT: 3 };
    const html = renderHtmlReport(report);
    expect(html).toContain('<tr><th>Errors ERR_CONNECT</th><td>120</td></tr>');
    expect(html).toContain('<tr><th>Errors ERR_SERVER_SILENT</th><td>3</td></tr>');
    expect(html).toMatch(/<th>Keepalive to ACK latency \(from the scheduled keepalive\)<\/th><td>(none|p50 )/);
  });

  test('the summary gives the planned start, and a merged report how far apart its shards started', () => {
    const one = sampleReport();
    expect(renderHtmlReport(one)).not.toContain('Planned start');
    expect(renderHtmlReport(one)).not.toContain('Shards started apart');
    one.plannedStartAt = '2026-12-06T18:00:00.000Z';
    one.config.startAt = Date.parse('2026-12-06T18:00:00Z');
    const html = renderHtmlReport(one);
    expect(html).toContain('<tr><th>Planned start (--start-at)</th><td>2026-12-06T18:00:00.000Z</td></tr>');
    expect(html).toContain('<tr><th>planned start (--start-at)</th><td>2026-12-06T18:00:00.000Z</td></tr>');
    const merged = { ...sampleReport(), shard: { index: 1, count: 2 }, shards: [1, 2], startSkewMs: 1840 };
    expect(renderHtmlReport(merged)).toContain('<tr><th>Shards started apart (latest start − earliest)</th><td>1.84 s</td></tr>');
    expect(renderHtmlReport(merged)).toContain('<th>Started (the earliest shard)</th>');
  });

  test('the verdicts and the warnings come first, above the summary, escaped', () => {
    const report = sampleReport();
    report.warnings = ['MOST EVENTS WERE DROPPED: 99.9 % of the events generated (999 of 1000) were dropped', 'node <script>alert(1)</script> & co'];
    report.verdicts = {
      passed: false,
      results: [
        { threshold: 'agents.connected>=99%', measured: 100, shown: '100 % (30 of 30)', pass: true },
        { threshold: 'events.dropped==0', measured: 999, shown: '999', pass: false },
        { threshold: 'ackLatency.p99<1s', measured: null, shown: 'none', pass: false, note: 'not measured in this run' },
      ],
      aborted: { threshold: 'events.dropped==0', atMs: 2100 },
    };
    const html = renderHtmlReport(report);
    const top = html.slice(html.indexOf('<body>'), html.indexOf('<h2>Summary</h2>'));
    expect(top).toContain('<h2>Thresholds: run aborted at 2.10 s because events.dropped==0 failed (--abort-on-fail)</h2>');
    const rows = [...top.matchAll(/<tr><td>([^<]*)<\/td><td>([^<]*)<\/td><td class="verdict (pass|fail)">([^<]*)<\/td><\/tr>/g)].map((m) => [m[1], m[2], m[3], m[4]]);
    expect(rows).toEqual([
      ['agents.connected&#62;=99%', '100 % (30 of 30)', 'pass', 'pass'],
      ['events.dropped==0', '999', 'fail', 'FAIL'],
      ['ackLatency.p99&#60;1s', 'none (not measured in this run)', 'fail', 'FAIL'],
    ]);
    expect(top).toContain('<h2>2 warnings</h2>');
    expect(top).toContain('<li>MOST EVENTS WERE DROPPED: 99.9 % of the events generated (999 of 1000) were dropped</li>');
    expect(top).toContain('<li>node &#60;script&#62;alert(1)&#60;/script&#62; &#38; co</li>');
    expect(html).not.toContain('<script>');
    // a run without thresholds or warnings has neither box
    const plain = renderHtmlReport(sampleReport());
    expect(plain).not.toMatch(/id="verdicts"|id="warnings"/);
    report.verdicts = { passed: true, results: [report.verdicts.results[0]!] };
    expect(renderHtmlReport(report)).toContain('<h2>Thresholds: all 1 passed</h2>');
  });

  test('field names become words: lost causes and settings', () => {
    const report = sampleReport();
    report.lostExplained = { inFlightOnLostConnections: 7 };
    report.config = { notifyTimeMs: 5000, timeReconnectMs: 20_000, someNewFieldMs: 3 };
    const html = renderHtmlReport(report);
    expect(html).toContain('lost: in flight on lost connections (written, never confirmed)');
    expect(html).not.toContain('inFlightOnLostConnections');
    expect(html).toContain('<th>keepalive period (--notify)</th><td>5 s</td>');
    expect(html).toContain('<th>server silence before reconnecting (--time-reconnect)</th><td>20 s</td>');
    expect(html).toContain('<th>some new field</th><td>3 ms</td>');
    report.config = {
      servers: [{ address: '10.0.0.1', port: 1514, protocol: 'tcp', node: 'node1', maxRetries: 5, retryInterval: 10_000 }],
      reconnect: { strategy: 'backoff', initialDelay: 1000, maxDelay: 60_000, factor: 2 },
      buffer: { disabled: false, queueSize: 5000, tolerance: 15_000 },
    };
    const nested = renderHtmlReport(report);
    expect(nested).toContain('<td>node1: 10.0.0.1:1514/tcp, 5 attempts 10 s apart</td>');
    expect(nested).toContain('<td>strategy: backoff, initial delay: 1 s, max delay: 60 s, factor: 2</td>');
    expect(nested).toContain('<td>disabled: no, queue size: 5000, tolerance: 15 s</td>');
    expect(nested).not.toMatch(/<td>[[{]/);
    report.config = {
      thresholds: [{ expression: 'failover.p99<2s', field: 'failover.p99', op: '<', value: 2000, unit: 'ms' }],
      stages: [{ durationMs: 30_000, agents: 1000 }, { durationMs: 60_000, eps: 2 }],
      connectDeadlineMs: 15_000,
    };
    const more = renderHtmlReport(report);
    expect(more).toContain('<th>thresholds (--threshold)</th><td>failover.p99&#60;2s</td>');
    expect(more).toContain('<th>load stages (--stage)</th><td>duration: 30 s, agents: 1000\nduration: 60 s, eps: 2</td>');
    expect(more).toContain('<th>deadline for the first connection (--connect-deadline)</th><td>15 s</td>');
    expect(describeLostCause('droppedByBuffer')).toBe('dropped by the agents’ buffers');
    expect(describeSetting('prometheusHost')).toBe('Prometheus address (--prometheus-host)');
  });

  test('chaos actions are drawn as labelled vertical markers on every time plot', () => {
    const html = renderHtmlReport(sampleReport());
    const timePlots = svgs(html).filter((s) => /data-chart="(connected|per-node|events)"/.test(s));
    expect(timePlots).toHaveLength(3);
    for (const svg of timePlots) {
      const marks = svg.match(/<g class="marker">[\s\S]*?<\/g>/g) ?? [];
      expect(marks).toHaveLength(2);
      expect(marks[0]).toContain('>kill node1</text>');
      expect(marks[1]).toContain('>restart node1</text>');
      expect(marks[0]).toMatch(/<line x1="([\d.]+)" x2="\1" y1="\d+" y2="\d+"/);
    }
  });

  test('node names and settings are escaped, so a <script> in a node name stays text', () => {
    const report = sampleReport({ '<script>alert(1)</script>': 3, 'a&b"c': 1 });
    report.config = { note: '</pre><script>x</script>' };
    report.chaos.push({ at: 3000, action: 'kill', node: '<img onerror=x>' });
    const html = renderHtmlReport(report, { title: 'T <b>' });
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html).toContain('a&#38;b&#34;c');
  });

  test('a run with nothing recorded still renders every chart, saying there is no data', () => {
    const html = renderHtmlReport(emptyReport());
    expect(svgs(html)).toHaveLength(5);
    expect(html.match(/class="empty"/g)).toHaveLength(5);
    expect(html).toContain('No failovers: no agent connected, so none could fail over.');
    expect(html).toContain('No agents in this run.');
  });
});

describe('chart helpers', () => {
  test('nice ticks are round steps covering the range', () => {
    expect(niceTicks(0, 97, 5)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 0, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  test('long series are averaged down to at most maxPoints points', () => {
    const points = Array.from({ length: 10_000 }, (_, i): [number, number] => [i, i % 2 === 0 ? 0 : 10]);
    const thin = thinPoints(points, 100);
    expect(thin).toHaveLength(100);
    expect(thin[0]).toEqual([0, 5]);
    expect(thin[99]).toEqual([9900, 5]);
    expect(thinPoints([[1, 2]], 100)).toEqual([[1, 2]]);
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', maxPoints: 50 }, [{ name: 's', points }]);
    expect(/<path d="([^"]*)"/.exec(svg)![1]!.match(/[ML]/g)).toHaveLength(50);
  });

  test('a line chart scales points into the plot area', () => {
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 200, plotHeight: 56 }, [{ name: 's', points: [[0, 0], [10, 100]] }]);
    const d = /<path d="M([\d.]+) ([\d.]+)L([\d.]+) ([\d.]+)"/.exec(svg)!;
    const [x0, y0, x1, y1] = d.slice(1).map(Number);
    expect(x0).toBe(70); // left margin
    expect(x1).toBe(200 - 52); // right edge of the plot
    expect(y0).toBeGreaterThan(y1!); // higher values are drawn higher
    expect(escapeHtml(`<&>"'`)).toBe('&#60;&#38;&#62;&#34;&#39;');
  });
});
