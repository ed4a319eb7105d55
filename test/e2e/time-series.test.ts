/**
 * `agentlink simulate --out FILE.ndjson` as a user runs it: the per-second time series is in the
 * file while the run is still going (a line a second), and an interrupted run keeps every line.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-series-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []);

describe('agentlink simulate --out', () => {
  it('writes a line a second while the run goes on', async () => {
    const out = join(dir, 'series.ndjson');
    const child = startCli(['simulate', '--agents', '10', '--cluster', '2', '--duration', '0', '--eps', '2', '--out', 'series.ndjson', '--quiet'], { cwd: dir });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // the run lasts until interrupted: lines must appear before it ends
      const deadline = Date.now() + 30_000;
      const ready = (): boolean => {
        const l = lines(out);
        return l.length >= 3 && (JSON.parse(l[l.length - 1]!) as { connected: number }).connected === 10;
      };
      while (!ready() && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(child.exitCode).toBeNull();
      expect(ready()).toBe(true);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(130);
    const points = lines(out).map((l) => JSON.parse(l) as { t: number; connected: number; reconnecting: number; eventsGenerated: number; eventsAccepted: number; eventsWritten: number; eventsDropped: number; eventsReceived: number | null; perNode: Record<string, number> });
    expect(points.length).toBeGreaterThanOrEqual(3);
    for (const [i, p] of points.entries()) {
      expect(Object.keys(p).sort()).toEqual(['connected', 'eventsAccepted', 'eventsDropped', 'eventsGenerated', 'eventsPerSec', 'eventsReceived', 'eventsWritten', 'perNode', 't', 'reconnecting'].sort());
      // a line is one second of the run: t is its start
      expect(p.t % 1000).toBe(0);
      if (i > 0) {
        expect(p.t).toBeGreaterThan(points[i - 1]!.t);
        for (const k of ['eventsGenerated', 'eventsAccepted', 'eventsWritten'] as const) expect(p[k]).toBeGreaterThanOrEqual(points[i - 1]![k]);
      }
    }
    const last = points[points.length - 1]!;
    expect(last.connected).toBe(10);
    expect(Object.keys(last.perNode).sort()).toEqual(['node1', 'node2']);
    expect(last.eventsGenerated).toBeGreaterThan(0);
    expect(last.eventsWritten).toBeGreaterThan(0);
    // during the run each count is at most the one before it (the rest is still queued)
    expect(last.eventsAccepted).toBeLessThanOrEqual(last.eventsGenerated);
    expect(last.eventsWritten).toBeLessThanOrEqual(last.eventsAccepted);
  }, 60_000);
});
