/**
 * The thundering herd: 600 real agents, on real sockets, all on node1 of a 3-node mock cluster;
 * node1 is killed. The claim under test is about the agents' reconnect **schedule**: without jitter
 * every agent plans its first attempt on a surviving node at the same moment after it noticed the
 * loss; with full jitter the planned moments spread over the strategy's interval, at about N / D per
 * second. The schedule is what each agent's policy planned (`reconnectScheduled`), so it does not
 * depend on the machine's speed; the arrival times at the surviving nodes do (a loaded machine
 * spreads a flat herd by itself), so they are timing, reported by `npm run soak` and printed here
 * for diagnosis only. What is not timed is asserted too: every agent reconnects to a surviving node.
 *
 * Set AGENTLINK_HERD_DEBUG=1 to print the planned and the arrival curves.
 */
import { describe, expect, it } from 'vitest';
import { measureThunderingHerd, renderHerdCurve } from '../../../bench/reliability/herd.js';
import type { HerdResult } from '../../../bench/reliability/herd.js';

const N = 600;

function show(r: HerdResult): string {
  const p = r.planned;
  const text =
    `${r.label}: planned peak ${p.peakPerBucket}/100 ms, ${p.peakPerSecond}/s (theory ${r.theoryPerSecond ?? '-'}/s); ` +
    `arrivals (timing, not asserted): accepted ${r.accepted}, peak ${r.peakPerBucket}/100 ms, ${r.peakPerSecond}/s; ` +
    `reconnected ${r.reconnected}, ${r.retriedOnSurvivors} retried on a surviving node, back after ${r.recoveredMs} ms`;
  if (process.env.AGENTLINK_HERD_DEBUG) {
    console.log([text, ...renderHerdCurve(p, 40, 'agents planned'), ...renderHerdCurve(r, 40)].join('\n'));
  }
  return text;
}

/** The planned times of every agent; fails when an agent did not notice the loss. */
function plannedOf(r: HerdResult, msg: string): number[] {
  const times = r.plannedMs.filter((t): t is number => t !== null);
  expect(times.length, msg).toBe(N);
  return times.sort((a, b) => a - b);
}

/** The q-quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Not timed: every agent is connected again, to a surviving node, within the (generous) deadline. */
function expectAllBack(r: HerdResult, msg: string): void {
  expect(r.recoveredMs, msg).not.toBeNull();
  expect(r.reconnected, msg).toBe(N);
  // every agent reconnected to a surviving node (a few may need a second try)
  expect(r.accepted, msg).toBeGreaterThanOrEqual(N);
}

describe('thundering herd after a node dies', () => {
  it('backoff with full jitter plans the reconnections uniformly over [0, D], at about N / D per second; without jitter all at once', async () => {
    const D = 3000;
    const flat = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 0 } });
    const spread = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 1 } });
    const msg = `${show(flat)}\n${show(spread)}`;
    for (const r of [flat, spread]) expectAllBack(r, msg);
    // without jitter every agent plans the same moment: one bucket holds the whole herd
    const f = plannedOf(flat, msg);
    expect(new Set(f).size, msg).toBe(1);
    expect(flat.planned.peakPerBucket, msg).toBe(N);
    // with full jitter: within [0, D], the middle 80 % over at least half of it, no second above 2 N / D
    const s = plannedOf(spread, msg);
    expect(s[0]!, msg).toBeGreaterThanOrEqual(0);
    expect(s[N - 1]!, msg).toBeLessThanOrEqual(D);
    expect(quantile(s, 0.9) - quantile(s, 0.1), msg).toBeGreaterThanOrEqual(D * 0.5);
    expect(spread.theoryPerSecond).toBe(N / (D / 1000));
    expect(spread.planned.peakPerSecond, msg).toBeLessThanOrEqual(2 * spread.theoryPerSecond!);
    expect(spread.planned.peakPerBucket, msg).toBeLessThan(flat.planned.peakPerBucket * 0.5);
  }, 180_000);

  it('the wazuh strategy with jitter 1 spreads over [0, 2R] what it plans in one spike at R without it', async () => {
    const R = 2000;
    const flat = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'wazuh', jitter: 0 }, retryInterval: R, maxRetries: 1 });
    const spread = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'wazuh', jitter: 1 }, retryInterval: R, maxRetries: 1 });
    const msg = `${show(flat)}\n${show(spread)}`;
    for (const r of [flat, spread]) expectAllBack(r, msg);
    // without jitter: a retry interval on the dead node, then every agent at the same moment
    expect(new Set(plannedOf(flat, msg)), msg).toEqual(new Set([R]));
    // with jitter 1: a uniform start delay plus a uniform retry wait, each in [0, R]; the sum peaks at N / R per second
    const s = plannedOf(spread, msg);
    expect(s[0]!, msg).toBeGreaterThanOrEqual(0);
    expect(s[N - 1]!, msg).toBeLessThanOrEqual(2 * R);
    expect(quantile(s, 0.9) - quantile(s, 0.1), msg).toBeGreaterThanOrEqual(R);
    expect(spread.theoryPerSecond).toBe(N / (R / 1000));
    expect(spread.planned.peakPerSecond, msg).toBeLessThanOrEqual(2 * spread.theoryPerSecond!);
    expect(spread.planned.peakPerBucket, msg).toBeLessThan(flat.planned.peakPerBucket * 0.5);
  }, 180_000);
});
