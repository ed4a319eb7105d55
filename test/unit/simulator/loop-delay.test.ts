/**
 * The simulator's own event-loop delay: measured, merged as the worst of its processes, and turned
 * into a warning when it is large enough to make the agents' numbers the simulator's.
 */
import { describe, expect, it } from 'vitest';
import { LoopDelayMonitor, loopDelayWarning, mergeLoopDelays } from '../../../src/simulator/loop-delay.js';
import { createReport, mergeReports, parseReport } from 'agentlink/simulator';
import { FleetMetrics } from 'agentlink/simulator';

function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the simulator's loop busy with something else
  }
}

describe('LoopDelayMonitor', () => {
  it('sees a stall of the loop as its max, and reads zeros when never started', async () => {
    expect(new LoopDelayMonitor().stop()).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    const m = new LoopDelayMonitor();
    m.start();
    await new Promise((r) => setTimeout(r, 100));
    block(300);
    await new Promise((r) => setTimeout(r, 100));
    const d = m.stop();
    // the monitor ticks every 20 ms: a 300 ms block makes one tick at least 280 ms late
    expect(d.maxMs).toBeGreaterThanOrEqual(250);
    expect(d.p50Ms).toBeLessThanOrEqual(d.p99Ms);
    expect(d.p99Ms).toBeLessThanOrEqual(d.maxMs);
  });
});

describe('mergeLoopDelays and loopDelayWarning', () => {
  it('takes the worst process for each figure', () => {
    expect(mergeLoopDelays([{ p50Ms: 1, p99Ms: 40, maxMs: 90 }, { p50Ms: 3, p99Ms: 20, maxMs: 500 }])).toEqual({ p50Ms: 3, p99Ms: 40, maxMs: 500 });
    expect(mergeLoopDelays([])).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('warns of a stall of half the time-reconnect, of a high p99, and not of a loop that kept up', () => {
    expect(loopDelayWarning({ p50Ms: 2, p99Ms: 80, maxMs: 1499 }, 3000)).toBeUndefined();
    expect(loopDelayWarning({ p50Ms: 2, p99Ms: 80, maxMs: 1500 }, 3000)).toMatch(
      /^the simulator itself stalled for up to 1500 ms .*half the agents' time-reconnect of 3000 ms: some lost connections, failovers and latencies may be the simulator's/,
    );
    expect(loopDelayWarning({ p50Ms: 20, p99Ms: 250, maxMs: 400 }, 60_000)).toMatch(/^the simulator's event loop ran up to 250 ms late \(p99; max 400 ms\): latencies and rates include that delay; run fewer agents per process \(--workers N\)/);
  });
});

describe('the report carries it', () => {
  const base = { metrics: new FleetMetrics(), startedAt: Date.parse('2026-12-06T10:00:00Z'), durationMs: 1000, config: {}, agents: { total: 1, connected: 1 }, distribution: {} };

  it('a merged report has the worst of its shards; a report without the field reads as zeros', () => {
    const a = createReport({ ...base, shard: { index: 1, count: 2 }, loopDelay: { p50Ms: 1, p99Ms: 30, maxMs: 70 } });
    const b = createReport({ ...base, shard: { index: 2, count: 2 }, loopDelay: { p50Ms: 2, p99Ms: 10, maxMs: 900 } });
    expect(mergeReports([a, b]).loopDelay).toEqual({ p50Ms: 2, p99Ms: 30, maxMs: 900 });
    const old = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
    delete old.loopDelay;
    expect(parseReport(old).loopDelay).toEqual({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
    expect(() => parseReport({ ...old, loopDelay: { p50Ms: 0, p99Ms: -1, maxMs: 0 } })).toThrow(/loopDelay\.p99Ms is missing or not a non-negative number/);
  });
});
