/**
 * The event schedule of a Fleet depends only on the seed, the agents and `eventsUntil`: a work timer
 * that fires after the end of the schedule (a loaded machine, a late stop) generates nothing past
 * it, so shards and whole runs of one seed send the same number of events.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Fleet } from 'agentlink/simulator';
import type { Stage } from 'agentlink/simulator';
import { createMemoryNetwork } from 'agentlink/testing';

const key = (i: number) => ({ id: String(i + 1).padStart(3, '0'), name: `a${i}`, ip: 'any', key: 'k'.repeat(64) });

async function sentAfter(opts: { eventsUntil?: number; runMs: number; stopAt?: number }): Promise<number> {
  const network = createMemoryNetwork();
  const fleet = new Fleet({
    indexes: [0, 1, 2, 3],
    identities: [0, 1, 2, 3].map(key),
    // nobody listens there: the events wait in the agents' buffers, which is all this test needs
    servers: [{ address: '10.0.0.1', port: 1514, node: 'node1' }],
    client: { notifyTime: 10_000 },
    transport: network.factory,
    rampPerSecond: 10,
    eps: 5,
    seed: 'schedule',
    ...(opts.eventsUntil !== undefined ? { eventsUntil: opts.eventsUntil } : {}),
  });
  fleet.start();
  await vi.advanceTimersByTimeAsync(opts.runMs);
  const stopping = fleet.stop({ drainTimeout: 0, ...(opts.stopAt !== undefined ? { eventsUntil: opts.stopAt } : {}) });
  await vi.advanceTimersByTimeAsync(1000);
  return (await stopping).eventsGenerated;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Fleet event schedule', () => {
  test('work ticks after eventsUntil generate nothing more: the count is the schedule up to it', async () => {
    // stopped exactly at 2 s: the reference count of the schedule up to 2 s
    const exact = await sentAfter({ runMs: 2000, stopAt: 2000 });
    // ran 1.5 s longer (ticks every 100 ms past the end), stopped late
    const late = await sentAfter({ eventsUntil: 2000, runMs: 3500 });
    const uncapped = await sentAfter({ runMs: 3500 });
    expect(exact).toBeGreaterThan(4 * 5);
    expect(late).toBe(exact);
    expect(uncapped).toBeGreaterThan(exact);
  });
});

/** A fleet of the given agents whose events wait in their buffers (nobody listens), on the fake clock. */
function quietFleet(indexes: number[], opts: { tickMs?: number; rampPerSecond?: number; stages?: Stage[] } = {}): Fleet {
  return new Fleet({
    indexes,
    identities: indexes.map(key),
    servers: [{ address: '10.0.0.1', port: 1514, node: 'node1' }],
    client: { notifyTime: 10_000 },
    transport: createMemoryNetwork().factory,
    rampPerSecond: opts.rampPerSecond ?? 1000 / 300,
    eps: 7,
    seed: 'timeline',
    ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
    ...(opts.stages ? { stages: opts.stages } : {}),
  });
}

/** Runs fleets together for `ms`, stops them at `ms`, and returns each one's events per timeline bucket. */
async function generatedPerBucket(fleets: Fleet[], ms: number): Promise<number[][]> {
  for (const f of fleets) f.start(Date.now());
  await vi.advanceTimersByTimeAsync(ms);
  const stopping = Promise.all(fleets.map((f) => f.stop({ drainTimeout: 0, eventsUntil: ms })));
  await vi.advanceTimersByTimeAsync(1000);
  await stopping;
  return fleets.map((f) => f.metrics.timeline().filter((p) => p.t < ms).map((p) => p.generated));
}

const sum = (rows: number[][]): number[] => rows[0]!.map((_, i) => rows.reduce((n, r) => n + (r[i] ?? 0), 0));

describe('Fleet timeline', () => {
  test("a bucket's t is its start and its counts are the events due in [t, t + 1 s), exactly", async () => {
    // agents start 0.3 s apart: the rate rises every bucket, so a half-second shift shows
    const fleet = quietFleet([0, 1, 2, 3, 4, 5, 6, 7]);
    fleet.start();
    // the work ticks (every 100 ms) fall on the bucket boundaries: the total generated at each
    // boundary is what was due by it
    const at: number[] = [0];
    for (let k = 1; k <= 4; k++) {
      await vi.advanceTimersByTimeAsync(1000);
      at.push(fleet.progress().eventsGenerated);
    }
    const timeline = fleet.metrics.timeline().filter((p) => p.t < 4000);
    const stopping = fleet.stop({ drainTimeout: 0, eventsUntil: 4000 });
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(timeline.map((p) => p.t)).toEqual([0, 1000, 2000, 3000]);
    const perBucket = [1, 2, 3, 4].map((k) => at[k]! - at[k - 1]!);
    expect(timeline.map((p) => p.generated)).toEqual(perBucket);
    // the rate rose: a timeline shifted by half a bucket would not match
    expect(perBucket[3]!).toBeGreaterThan(perBucket[0]!);
  });

  test('work ticks that straddle the bucket boundaries count each event in the bucket it was due in', async () => {
    const [aligned] = await generatedPerBucket([quietFleet([0, 1, 2, 3, 4, 5, 6, 7])], 4000);
    const [straddling] = await generatedPerBucket([quietFleet([0, 1, 2, 3, 4, 5, 6, 7], { tickMs: 300 })], 4000);
    expect(straddling).toEqual(aligned);
  });

  test('stages split over two workers: each half starts its agents and sends its events as in the whole fleet, bucket by bucket', async () => {
    const all = Array.from({ length: 20 }, (_, i) => i);
    // 0 -> 20 agents in 1 s at 2 eps; hold 2 s at 6 eps; 20 -> 0 agents in 1 s at 2 eps (test/integration/simulator/stages.test.ts)
    const stages: Stage[] = [
      { durationMs: 1000, agents: 20, eps: 2 },
      { durationMs: 2000, eps: 6 },
      { durationMs: 1000, agents: 0, eps: 2 },
    ];
    const [whole] = await generatedPerBucket([quietFleet(all, { stages })], 4000);
    const halves = await generatedPerBucket(
      [0, 1].map((w) => quietFleet(all.filter((_, pos) => pos % 2 === w), { stages, tickMs: w === 0 ? 100 : 130 })),
      4000,
    );
    expect(whole!.reduce((a, b) => a + b, 0)).toBe(280);
    expect(sum(halves)).toEqual(whole);
    // each half has half the agents of each stage, so about half of each bucket's events
    for (const [i, n] of whole!.entries()) for (const h of halves) expect(Math.abs(h[i]! - n / 2)).toBeLessThanOrEqual(10);
  });
});
