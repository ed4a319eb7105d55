import { describe, expect, test } from 'vitest';
import { escapeHtml, niceTicks, renderHtmlReport, renderLineChart, thinPoints } from '../../../src/simulator/html.js';
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

  test('it contains the four required plots as titled SVG charts, plus the connect distribution', () => {
    const html = renderHtmlReport(sampleReport());
    const titles = svgs(html).map((s) => /^<svg[^>]*><title>([^<]*)<\/title>/.exec(s)?.[1]);
    expect(titles).toEqual([
      'Connected agents over time',
      'Agents per node over time',
      'Failover latency distribution',
      'Events sent vs received over time',
      'Connect latency distribution',
    ]);
    const failover = svgs(html)[2]!;
    expect(failover.match(/<rect /g)!.length).toBeGreaterThan(0);
    expect(failover).toContain('cumulative');
    const perNode = svgs(html)[1]!;
    for (const n of ['node1', 'node2', 'node3', 'node9']) expect(perNode).toContain(`<title>${n}</title>`);
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
    const empty = createReport({
      metrics: runMetrics([], 0),
      startedAt: 0,
      durationMs: 0,
      config: {},
      agents: { total: 0, connected: 0 },
      distribution: {},
    });
    const html = renderHtmlReport(empty);
    expect(svgs(html)).toHaveLength(5);
    expect(html.match(/no data/g)!.length).toBeGreaterThanOrEqual(4);
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
    const svg = renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', width: 200, height: 150 }, [{ name: 's', points: [[0, 0], [10, 100]] }]);
    const d = /<path d="M([\d.]+) ([\d.]+)L([\d.]+) ([\d.]+)"/.exec(svg)!;
    const [x0, y0, x1, y1] = d.slice(1).map(Number);
    expect(x0).toBe(70); // left margin
    expect(x1).toBe(200 - 48); // right edge of the plot
    expect(y0).toBeGreaterThan(y1!); // higher values are drawn higher
    expect(escapeHtml(`<&>"'`)).toBe('&#60;&#38;&#62;&#34;&#39;');
  });
});
