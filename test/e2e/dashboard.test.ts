/**
 * The live dashboard (`simulate --dashboard PORT`) in headless Chromium (test/helpers/browser.ts),
 * during a real run with a chaos kill: the page renders its charts with nothing from the network,
 * its numbers move while the run goes on, and once the run ends it shows the report's final
 * numbers. Screenshots (mid-run and final, at 1280 and 420 px) are kept under `.tmp/screenshots/`.
 */
import { statSync } from 'node:fs';
import { get } from 'node:http';
import { expect, it } from 'vitest';
import { parseSimulateArgs, simulate } from 'agentlink/simulator';
import { describeIfBrowser, launchBrowser, openPage, screenshotPath } from '../helpers/browser.js';

/** The sample times the dashboard has sent so far: the `hello` event a new client of `/events` gets. */
function historyTimes(url: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}events`, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /event: hello\ndata: (.*)\n\n/.exec(text);
        if (!m) return;
        req.destroy();
        resolve((JSON.parse(m[1]!) as { history: { t: number }[] }).history.map((h) => h.t));
      });
    });
    req.on('error', reject);
  });
}

const metric = (name: string): string => `Number(document.querySelector('[data-metric="${name}"]').dataset.value || 0)`;

describeIfBrowser('live dashboard in headless Chromium', () => {
  it('renders, its numbers move while the run goes on, and its final state is the JSON report', async () => {
    const browser = await launchBrowser();
    try {
      let seen: (url: string) => void = () => {};
      const urlSeen = new Promise<string>((resolve) => (seen = resolve));
      const run = simulate(
        parseSimulateArgs([
          '--agents', '90', '--cluster', '3', '--duration', '8s', '--chaos', 'kill:node2@3s',
          '--notify', '1s', '--time-reconnect', '3s', '--strategy', 'backoff', '--eps', '2', '--drain', '1s',
          '--dashboard', '0', '--quiet',
        ]),
        {
          log: (line) => {
            const m = /live dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line);
            if (m) seen(m[1]!);
          },
        },
      );
      const url = await Promise.race([urlSeen, run.then(() => Promise.reject(new Error('the run ended without printing the dashboard URL')))]);
      const { page, errors, blocked } = await openPage(browser, 1280, (u) => u.startsWith(url));
      await page.goto(url);

      // numbers move: two samples, then events generated grow
      await page.waitForFunction('Number(document.body.dataset.samples || 0) >= 2', undefined, { timeout: 15_000 });
      const before = Number(await page.evaluate(metric('generated')));
      await page.waitForFunction(`${metric('generated')} > ${before}`, undefined, { timeout: 15_000 });
      expect(errors).toEqual([]);
      // measured in one synchronous step: the page replaces its charts every second
      const sizes = await page.evaluate<Record<string, number>>(`Object.fromEntries(
        ['connected', 'per-node', 'events', 'failovers', 'latency'].map((c) => [c, document.querySelector('svg[data-chart="' + c + '"]')?.getBoundingClientRect().height ?? 0]))`);
      for (const [chart, height] of Object.entries(sizes)) expect(height, `chart ${chart} height`).toBeGreaterThan(100);
      expect(await page.evaluate<number>(`document.querySelectorAll('svg[data-chart="per-node"] g.panel').length`)).toBe(3);
      // each per-second sample is drawn at the end of its second (after the first, taken at the start),
      // so its rates cover the same second as the report's timeline bucket
      const times = await historyTimes(url);
      expect(times.length).toBeGreaterThanOrEqual(3);
      for (const t of times.slice(1)) expect(t % 1000, `sample at ${t} ms`).toBe(0);
      // the chaos kill appears as a marker while the run goes on
      await page.waitForFunction(`document.querySelector('svg[data-chart="connected"] .marker-label')?.textContent === 'kill node2'`, undefined, { timeout: 15_000 });
      await page.screenshot({ path: screenshotPath('dashboard-running-1280.png'), fullPage: true });

      const result = await run;
      const report = result.report;
      await page.waitForFunction("document.body.dataset.state === 'finished'", undefined, { timeout: 15_000 });
      const final = async (key: string): Promise<number> => Number(await page.getAttribute(`[data-final="${key}"]`, 'data-value'));
      expect(await final('connected at the end')).toBe(report.agents.connected);
      expect(await final('events generated')).toBe(report.events.generated);
      expect(await final('events accepted by the buffers')).toBe(report.events.accepted);
      expect(await final('events written to the wire')).toBe(report.events.written);
      expect(await final('events received by the managers')).toBe(report.events.received);
      expect(await final('events dropped')).toBe(report.events.dropped);
      expect(await final('failovers')).toBe(report.failover.count);
      expect(report.failover.count).toBeGreaterThan(0);
      for (const [node, n] of Object.entries(report.distribution)) expect(await final(`agents on ${node} at the end`), node).toBe(n);
      // and the tiles say the same
      expect(Number(await page.evaluate(metric('failovers')))).toBe(report.failover.count);
      expect(Number(await page.evaluate(metric('generated')))).toBe(report.events.generated);
      expect(Number(await page.evaluate(metric('written')))).toBe(report.events.written);
      expect(Number(await page.evaluate(metric('connected')))).toBe(report.agents.connected);

      const finalShot = screenshotPath('dashboard-final-1280.png');
      await page.screenshot({ path: finalShot, fullPage: true });
      expect(statSync(finalShot).size).toBeGreaterThan(10_000);
      await page.setViewportSize({ width: 420, height: 900 });
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);
      await page.screenshot({ path: screenshotPath('dashboard-final-420.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
