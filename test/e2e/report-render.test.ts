/**
 * The HTML report of a real run, in headless Chromium (test/helpers/browser.ts): at a desktop and
 * a phone width every plot has a size and stays inside the page, chaos labels do not overlap, the
 * page logs no errors and loads nothing, and full-page screenshots are kept under
 * `.tmp/screenshots/` (with the report itself) for a human to look at.
 */
import { statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { LatencyHistogram, parseSimulateArgs, renderHtmlReport, simulate } from 'agentlink/simulator';
import type { FleetReport } from 'agentlink/simulator';
import { describeIfBrowser, launchBrowser, openPage, screenshotPath } from '../helpers/browser.js';

describeIfBrowser('HTML report in headless Chromium', () => {
  let browser: Browser;
  let report: FleetReport;
  let htmlPath: string;

  beforeAll(async () => {
    const result = await simulate(
      parseSimulateArgs([
        '--agents', '150', '--cluster', '3', '--duration', '6s', '--chaos', 'kill:node2@2s,restart:node2@4s',
        '--notify', '1s', '--time-reconnect', '3s', '--strategy', 'backoff', '--eps', '2', '--drain', '1s', '--quiet',
        // one threshold the run meets, one it cannot (a failover takes longer than 1 ms): both verdicts drawn
        '--threshold', 'agents.connected>=90%', '--threshold', 'failover.p99<1ms',
      ]),
    );
    expect(result.problems).toEqual([]);
    report = result.report;
    expect(report.failover.count).toBeGreaterThan(0);
    expect(report.verdicts?.results.map((v) => v.pass)).toEqual([true, false]);
    // kept beside the screenshots, for a human to open
    htmlPath = screenshotPath('report.html');
    writeFileSync(htmlPath, renderHtmlReport(report));
    browser = await launchBrowser();
  }, 60_000);
  afterAll(() => browser?.close());

  for (const width of [1280, 420]) {
    it(`at ${width} px every plot is drawn inside the page, chaos labels do not overlap, no errors`, async () => {
      const { page, errors, blocked } = await openPage(browser, width, (url) => url.startsWith('file:'));
      try {
        await page.goto(pathToFileURL(htmlPath).href);
        for (const chart of ['connected', 'per-node', 'events', 'failover', 'connect']) {
          const box = await page.locator(`svg[data-chart="${chart}"]`).boundingBox();
          expect(box, `plot ${chart}`).not.toBeNull();
          expect(box!.height, `plot ${chart} height`).toBeGreaterThan(100);
          expect(box!.x, `plot ${chart} left`).toBeGreaterThanOrEqual(0);
          // wider than a phone, a chart scrolls inside its figure; the figure stays in the page
          const figure = await page.locator(`figure:has(svg[data-chart="${chart}"])`).boundingBox();
          expect(figure!.x + figure!.width, `figure of ${chart} right edge`).toBeLessThanOrEqual(width);
          // something is drawn: data paths or bars, not only the axes
          expect(await page.locator(`svg[data-chart="${chart}"] g.series`).count(), `plot ${chart} series`).toBeGreaterThan(0);
        }
        // tick labels stay readable (at least 9.5 px high) at both widths
        const tickHeight = await page.locator('svg[data-chart="connected"] .tick').first().evaluate((e) => e.getBoundingClientRect().height);
        expect(tickHeight).toBeGreaterThanOrEqual(9.5);
        // the page does not scroll sideways
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
        // one panel per node, on the same scale
        expect(await page.locator('svg[data-chart="per-node"] g.panel').count()).toBe(3);
        // the chaos labels of one chart do not overlap one another
        const labels = await page.locator('svg[data-chart="connected"] .marker-label').evaluateAll((els) =>
          els.map((e) => {
            const r = e.getBoundingClientRect();
            return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
          }),
        );
        expect(labels).toHaveLength(2);
        const [a, b] = labels;
        const overlap = a!.left < b!.right && b!.left < a!.right && a!.top < b!.bottom && b!.top < a!.bottom;
        expect(overlap, JSON.stringify(labels)).toBe(false);
        // the verdicts come first, above the summary, inside the page
        const verdicts = (await page.locator('#verdicts').boundingBox())!;
        const summary = (await page.locator('h2', { hasText: 'Summary' }).boundingBox())!;
        expect(verdicts.y + verdicts.height).toBeLessThanOrEqual(summary.y);
        expect(verdicts.x + verdicts.width).toBeLessThanOrEqual(width);
        expect(await page.locator('#verdicts h2').innerText()).toBe('Thresholds: 1 of 2 failed');
        expect(await page.locator('#verdicts td.verdict').allInnerTexts()).toEqual(['pass', 'FAIL']);
        // words, not field names
        const text = await page.evaluate<string>('document.body.innerText');
        expect(text).not.toMatch(/\b[a-z]+[A-Z][a-zA-Z]*Ms\b|inFlightOn|timeReconnect|notifyTime/);
        expect(text, 'JSON in the page').not.toMatch(/[{[]"|":/);
        const shot = screenshotPath(`report-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        expect(statSync(shot).size).toBeGreaterThan(10_000);
        expect(errors).toEqual([]);
        expect(blocked).toEqual([]);
      } finally {
        await page.close();
      }
    }, 30_000);
  }

  it('warnings are shown at the top, escaped, at both widths', async () => {
    const dropped = structuredClone(report);
    dropped.warnings = [
      `MOST EVENTS WERE DROPPED: 99.9 % of the events generated (${report.events.generated} of ${report.events.generated}) were dropped by the agents' client buffers`,
      'a node named <img src=x onerror=alert(1)> stays text',
    ];
    const path = screenshotPath('report-warnings.html');
    writeFileSync(path, renderHtmlReport(dropped));
    for (const width of [1280, 420]) {
      const { page, errors, blocked } = await openPage(browser, width, (url) => url.startsWith('file:'));
      try {
        await page.goto(pathToFileURL(path).href);
        const box = (await page.locator('#warnings').boundingBox())!;
        const summary = (await page.locator('h2', { hasText: 'Summary' }).boundingBox())!;
        expect(box.y + box.height).toBeLessThanOrEqual(summary.y);
        expect(box.x + box.width).toBeLessThanOrEqual(width);
        // in the first screenful
        expect(box.y).toBeLessThan(600);
        const items = await page.locator('#warnings li').allInnerTexts();
        expect(items[0]).toMatch(/^MOST EVENTS WERE DROPPED: /);
        expect(items[1]).toBe('a node named <img src=x onerror=alert(1)> stays text');
        expect(await page.locator('img').count()).toBe(0);
        await page.screenshot({ path: screenshotPath(`report-warnings-${width}.png`) });
        expect(errors).toEqual([]);
        expect(blocked).toEqual([]);
      } finally {
        await page.close();
      }
    }
  });

  it('a run without failovers shows, in the failover plot, why it has none', async () => {
    const calm = structuredClone(report);
    calm.failover = { ...calm.failover, count: 0 };
    calm.histograms.failover = new LatencyHistogram().encode();
    calm.reconnects = { ...calm.reconnects, total: 0 };
    calm.chaos = [];
    const path = screenshotPath('report-no-failover.html');
    writeFileSync(path, renderHtmlReport(calm));
    const { page, errors } = await openPage(browser, 1280, (url) => url.startsWith('file:'));
    try {
      await page.goto(pathToFileURL(path).href);
      const chart = page.locator('svg[data-chart="failover"]');
      const text = (await chart.locator('.empty').textContent())!;
      expect(text).toContain('No failovers: no agent lost its connection, and the run had no chaos actions');
      // the reason is drawn inside the chart, not cut off at its edges
      const box = (await chart.boundingBox())!;
      for (const line of await chart.locator('.empty text').all()) {
        const b = (await line.boundingBox())!;
        expect(b.x).toBeGreaterThanOrEqual(box.x);
        expect(b.x + b.width).toBeLessThanOrEqual(box.x + box.width);
      }
      await chart.screenshot({ path: screenshotPath('report-no-failover-1280.png') });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
