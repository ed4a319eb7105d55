/**
 * Headless Chromium for the tests of the HTML report and the live dashboard: Debian's `chromium`
 * package driven by playwright-core (no browser download). A missing Chromium skips the suite with
 * a visible reason ("SKIPPED: /usr/bin/chromium not found (apt-get install chromium)"); with
 * `AGENTLINK_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs it) it is a failure.
 *
 * Screenshots go to `.tmp/screenshots/` (or `AGENTLINK_SCREENSHOT_DIR`), kept after the run for a
 * human to look at.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { describe, it } from 'vitest';

/** The Chromium binary (`AGENTLINK_CHROMIUM` overrides). */
export const CHROMIUM = process.env.AGENTLINK_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots are kept. */
export const SCREENSHOT_DIR = process.env.AGENTLINK_SCREENSHOT_DIR ?? fileURLToPath(new URL('../../.tmp/screenshots/', import.meta.url));

/**
 * `describe` that runs only where Chromium is installed. Missing: the suite is skipped and its name
 * says why (and a warning is printed), or, with `AGENTLINK_REQUIRE_BROWSER=1`, it holds one failing
 * test that gives the reason.
 *
 * @param name - the suite name.
 * @param body - the suite.
 */
export function describeIfBrowser(name: string, body: () => void): void {
  const reason = existsSync(CHROMIUM) ? '' : `${CHROMIUM} not found (apt-get install chromium, or set AGENTLINK_CHROMIUM)`;
  if (reason === '') describe(name, body);
  else if (process.env.AGENTLINK_REQUIRE_BROWSER === '1') {
    describe(name, () => {
      it('requires Chromium (AGENTLINK_REQUIRE_BROWSER=1)', () => {
        throw new Error(`${reason}; AGENTLINK_REQUIRE_BROWSER=1 makes a missing browser a failure`);
      });
    });
  } else {
    console.warn(`[agentlink] ${name}: SKIPPED: ${reason}`);
    describe.skip(`${name} (SKIPPED: ${reason})`, body);
  }
}

/**
 * Starts headless Chromium with nothing that reaches the network on its own.
 *
 * @returns the browser; close it.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * Opens a page that records console errors and page errors, and aborts every request that does
 * not go to `allowed` (the page must work without the network).
 *
 * @param browser - the browser.
 * @param width - viewport width in pixels.
 * @param allowed - which URLs may load.
 * @returns the page, the errors seen so far (a live array), and the requests that were blocked.
 */
export async function openPage(browser: Browser, width: number, allowed: (url: string) => boolean): Promise<{ page: Page; errors: string[]; blocked: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  const blocked: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed(url)) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  return { page, errors, blocked };
}

/**
 * A path for a screenshot, creating the directory.
 *
 * @param name - file name (`report-1280.png`).
 * @returns the absolute path.
 */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return join(SCREENSHOT_DIR, name);
}
