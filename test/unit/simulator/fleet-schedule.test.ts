/**
 * The event schedule of a Fleet depends only on the seed, the agents and `eventsUntil`: a work timer
 * that fires after the end of the schedule (a loaded machine, a late stop) generates nothing past
 * it, so shards and whole runs of one seed send the same number of events.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { Fleet } from 'agentlink/simulator';
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
  return (await stopping).eventsSent;
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

describe('Fleet timeline', () => {
  test("a bucket's t is its start and its counts are the events generated in [t, t + 1 s), exactly", async () => {
    const network = createMemoryNetwork();
    // agents start 0.3 s apart: the rate rises every bucket, so a half-second shift shows
    const fleet = new Fleet({
      indexes: [0, 1, 2, 3, 4, 5, 6, 7],
      identities: [0, 1, 2, 3, 4, 5, 6, 7].map(key),
      servers: [{ address: '10.0.0.1', port: 1514, node: 'node1' }],
      client: { notifyTime: 10_000 },
      transport: network.factory,
      rampPerSecond: 1000 / 300,
      eps: 7,
      seed: 'timeline',
    });
    fleet.start();
    // the generated total just before each bucket boundary (the clock is fake: nothing moves between)
    const before: number[] = [0];
    for (let k = 1; k <= 4; k++) {
      await vi.advanceTimersByTimeAsync(k === 1 ? 999 : 1000);
      before.push(fleet.progress().eventsSent);
    }
    // the sample of bucket 3 (taken at 4000) is in; stop so nothing more is generated
    await vi.advanceTimersByTimeAsync(1);
    const timeline = fleet.metrics.timeline().filter((p) => p.t < 4000);
    const stopping = fleet.stop({ drainTimeout: 0, eventsUntil: 4000 });
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(timeline.map((p) => p.t)).toEqual([0, 1000, 2000, 3000]);
    const perBucket = [1, 2, 3, 4].map((k) => before[k]! - before[k - 1]!);
    expect(timeline.map((p) => p.sent)).toEqual(perBucket);
    // the rate rose: a timeline shifted by half a bucket would not match
    expect(perBucket[3]!).toBeGreaterThan(perBucket[0]!);
  });
});
