import { describe, expect, test } from 'vitest';
import { ToolError } from '../../../src/index.js';
import { FleetMetrics, LatencyHistogram, mergeTimelines, nextSample } from '../../../src/simulator/metrics.js';
import type { MetricsSnapshot } from '../../../src/simulator/metrics.js';
import { activities, manualClock, runMetrics } from './fixtures.js';

function values(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(((i * 7919) % 50_000) / 13 + (i % 3) * 0.001);
  return out;
}

describe('LatencyHistogram', () => {
  test('a histogram merged from two encoded halves equals one histogram of all the values', () => {
    const all = new LatencyHistogram();
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (const [i, v] of values(5000).entries()) {
      all.record(v);
      (i % 3 === 0 ? a : b).record(v);
    }
    const merged = LatencyHistogram.decode(a.encode());
    merged.merge(LatencyHistogram.decode(b.encode()));
    expect(merged.summary()).toEqual(all.summary());
    expect(merged.count).toBe(5000);
    expect(merged.bins(10)).toEqual(all.bins(10));
    expect(merged.cdf(11)).toEqual(all.cdf(11));
  });

  test('percentiles are in milliseconds with sub-millisecond resolution', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i / 10); // 0.1 ms .. 10 ms
    const s = h.summary();
    expect(s.count).toBe(100);
    expect(s.p50Ms).toBeCloseTo(5, 1);
    expect(s.p99Ms).toBeCloseTo(9.9, 1);
    expect(s.minMs).toBeCloseTo(0.1, 2);
    expect(s.maxMs).toBeCloseTo(10, 1);
  });

  test('an empty histogram summarises to zeros and has no bins', () => {
    const h = new LatencyHistogram();
    expect(h.summary()).toEqual({ count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 });
    expect(h.bins()).toEqual([]);
    expect(h.cdf()).toEqual([]);
    expect(LatencyHistogram.decode(h.encode()).count).toBe(0);
  });

  test('negative values count as zero and NaN is ignored', () => {
    const h = new LatencyHistogram();
    h.record(-5);
    h.record(Number.NaN);
    h.record(Number.POSITIVE_INFINITY);
    expect(h.count).toBe(1);
    expect(h.summary().maxMs).toBe(0);
  });

  test('bins hold every value and the CDF ends at 1', () => {
    const h = new LatencyHistogram();
    for (const v of values(999)) h.record(v);
    const bins = h.bins(7);
    expect(bins).toHaveLength(7);
    expect(bins.reduce((n, b) => n + b.count, 0)).toBe(999);
    const cdf = h.cdf(5);
    expect(cdf.at(-1)?.fraction).toBe(1);
    expect(cdf.map((p) => p.ms)).toEqual([...cdf.map((p) => p.ms)].sort((x, y) => x - y));
  });

  test('decoding text that is not a histogram is a usage error naming the input', () => {
    expect(() => LatencyHistogram.decode('bm90IGEgaGlzdG9ncmFt', 'histograms.failover in a.json')).toThrow(ToolError);
    expect(() => LatencyHistogram.decode('!!!', 'histograms.failover in a.json')).toThrow(/histograms\.failover in a\.json/);
  });
});

/** A snapshot with its histograms decoded (the encoded bytes depend on each histogram's resize history). */
function decoded(s: MetricsSnapshot) {
  const hist = Object.fromEntries(
    Object.entries(s.histograms).map(([k, v]) => {
      const h = LatencyHistogram.decode(v);
      return [k, { summary: h.summary(), bins: h.bins(25) }];
    }),
  );
  return { ...s, histograms: hist };
}

describe('FleetMetrics', () => {
  test('each count goes to the bucket of its own time; a sample sets the gauges of the bucket it is for', () => {
    const clock = manualClock();
    const m = new FleetMetrics({ clock, bucketMs: 1000 });
    clock.advance(999);
    m.countEvents({ eventsGenerated: 10, eventsAccepted: 10, eventsWritten: 9 }); // the last millisecond of bucket 0
    m.countReceived(8);
    clock.advance(1); // 1000: the first of bucket 1000
    m.countEvents({ eventsGenerated: 5, eventsAccepted: 5, eventsWritten: 6 });
    // the sample of bucket 0, taken late (at 1000): gauges for bucket 0, no counts moved
    m.sample({ connected: 3, reconnecting: 1, perNode: { node1: 2, node2: 1 } }, 0);
    m.countEvents({ eventsRefused: 2, eventsDropped: 2 }, 1500);
    m.countReceived(4, 999); // polled late, for bucket 0
    m.sample({ connected: 4, reconnecting: 0, perNode: { node1: 2, node2: 2 } }, 1000);
    clock.advance(1400); // 2400: a bucket nobody sampled keeps the last gauges
    m.countEvents({ eventsGenerated: 1, eventsRefused: 1, eventsDropped: 1 });
    expect(m.timeline()).toEqual([
      { t: 0, connected: 3, reconnecting: 1, generated: 10, accepted: 10, written: 9, dropped: 0, received: 12, perNode: { node1: 2, node2: 1 } },
      { t: 1000, connected: 4, reconnecting: 0, generated: 5, accepted: 5, written: 6, dropped: 2, received: 0, perNode: { node1: 2, node2: 2 } },
      { t: 2000, connected: 4, reconnecting: 0, generated: 1, accepted: 0, written: 0, dropped: 1, received: 0, perNode: { node1: 2, node2: 2 } },
    ]);
    expect(m.counters).toMatchObject({ eventsGenerated: 16, eventsAccepted: 15, eventsWritten: 15, eventsRefused: 3, eventsReceived: 12, eventsDropped: 3 });
  });

  test('samples are taken at the end of each bucket, once per bucket, even when the timer is late', () => {
    expect(nextSample(0, 1000, -1)).toEqual({ delay: 1000, bucket: 0 });
    // fired 30 ms late for bucket 0: the next is bucket 1, at its end
    expect(nextSample(1030, 1000, 0)).toEqual({ delay: 970, bucket: 1 });
    // fired early (999.6): still bucket 1 next, not bucket 0 twice
    expect(nextSample(999.6, 1000, 0)).toEqual({ delay: 1000.4, bucket: 1 });
    // 2.5 buckets late: the buckets gone by are not sampled (they keep the last gauges), bucket 3 is, at its end
    expect(nextSample(3500, 1000, 0)).toEqual({ delay: 500, bucket: 3 });
  });

  test('a reconnect on another server counts as a failover, one on the same server does not', () => {
    const m = new FleetMetrics({ clock: manualClock() });
    m.recordReconnect(1200, true);
    m.recordReconnect(300, false);
    expect(m.counters.reconnects).toBe(2);
    expect(m.histograms.failover.count).toBe(1);
    expect(m.histograms.reconnect.count).toBe(2);
  });

  test('merging the snapshots of two halves of a fleet equals the snapshot of the whole fleet', () => {
    const agents = activities(101);
    const whole = runMetrics(agents).snapshot();
    const merged = FleetMetrics.merge([
      runMetrics(agents.filter((_, i) => i % 2 === 0)).snapshot(),
      runMetrics(agents.filter((_, i) => i % 2 === 1)).snapshot(),
    ]);
    expect(decoded(merged)).toEqual(decoded(whole));
    expect(merged.histograms.failover).not.toBe('');
  });

  test('snapshots with different bucket widths do not merge', () => {
    const a = new FleetMetrics({ bucketMs: 1000 }).snapshot();
    const b = new FleetMetrics({ bucketMs: 500 }).snapshot();
    expect(() => FleetMetrics.merge([a, b])).toThrow(/bucket widths/);
    expect(() => FleetMetrics.merge([])).toThrow(ToolError);
  });

  test('a bucket width that is not positive is refused', () => {
    expect(() => new FleetMetrics({ bucketMs: 0 })).toThrow(/bucketMs/);
  });

  test('timelines merge by summing points with the same time, per node too', () => {
    const p = (t: number, connected: number, perNode: Record<string, number>) => ({ t, connected, reconnecting: 0, generated: 1, accepted: 1, written: 1, dropped: 0, received: 1, perNode });
    expect(mergeTimelines([[p(0, 1, { a: 1 }), p(1000, 2, { a: 2 })], [p(1000, 3, { a: 1, b: 2 }), p(2000, 1, { b: 1 })]])).toEqual([
      p(0, 1, { a: 1 }),
      { ...p(1000, 5, { a: 3, b: 2 }), generated: 2, accepted: 2, written: 2, received: 2 },
      p(2000, 1, { b: 1 }),
    ]);
  });
});
