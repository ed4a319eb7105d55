/**
 * The thundering herd: 600 agents all on node1 of a 3-node mock cluster; node1 is killed and every
 * connection node2 and node3 accept is counted per 100 ms until every agent is back. Jitter must
 * spread the herd: the peak bucket with jitter stays under half the peak without it, and with the
 * `backoff` strategy (initial delay D, full jitter) no second brings more than twice N / D.
 *
 * Set AGENTLINK_HERD_DEBUG=1 to print the curves.
 */
import { describe, expect, it } from 'vitest';
import { measureThunderingHerd, renderHerdCurve } from '../../../bench/reliability/herd.js';
import type { HerdResult } from '../../../bench/reliability/herd.js';

const N = 600;

function show(r: HerdResult): string {
  const text = `${r.label}: accepted ${r.accepted}, peak ${r.peakPerBucket}/100 ms, ${r.peakPerSecond}/s (theory ${r.theoryPerSecond ?? '-'}/s), back after ${r.recoveredMs} ms`;
  if (process.env.AGENTLINK_HERD_DEBUG) console.log([text, ...renderHerdCurve(r, 40)].join('\n'));
  return text;
}

describe('thundering herd after a node dies', () => {
  it('backoff with full jitter spreads the reconnections at about N / D per second; without jitter they come at once', async () => {
    const D = 3000;
    const flat = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 0 } });
    const spread = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 1 } });
    const msg = `${show(flat)}\n${show(spread)}`;
    for (const r of [flat, spread]) {
      expect(r.recoveredMs, msg).not.toBeNull();
      // every agent reconnected to a surviving node (a few may need a second try)
      expect(r.accepted, msg).toBeGreaterThanOrEqual(N);
      expect(r.perNode.node2, msg).toBeGreaterThanOrEqual(N);
    }
    // without jitter most of the herd arrives within one second (far above N / D)
    expect(flat.peakPerSecond, msg).toBeGreaterThan((1.5 * N) / (D / 1000));
    // with full jitter: the peak bucket is well below the no-jitter peak, and no second above 2 N / D
    expect(spread.peakPerBucket, msg).toBeLessThan(flat.peakPerBucket * 0.5);
    expect(spread.theoryPerSecond).toBe(N / (D / 1000));
    expect(spread.peakPerSecond, msg).toBeLessThanOrEqual(2 * spread.theoryPerSecond!);
    // and it takes about D to be over, not much less
    expect(spread.recoveredMs!, msg).toBeGreaterThan(D * 0.7);
  }, 60_000);

  it('the wazuh strategy with jitter 1 spreads what arrives in one spike without it', async () => {
    const R = 2000;
    const flat = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'wazuh', jitter: 0 }, retryInterval: R, maxRetries: 1 });
    const spread = await measureThunderingHerd({ agents: N, reconnect: { strategy: 'wazuh', jitter: 1 }, retryInterval: R, maxRetries: 1 });
    const msg = `${show(flat)}\n${show(spread)}`;
    for (const r of [flat, spread]) {
      expect(r.recoveredMs, msg).not.toBeNull();
      expect(r.accepted, msg).toBeGreaterThanOrEqual(N);
    }
    // without jitter nobody arrives before the retry interval, then everyone at once
    expect(flat.buckets.slice(0, Math.floor((R * 0.9) / 100)).reduce((a, b) => a + b, 0), msg).toBe(0);
    expect(spread.peakPerBucket, msg).toBeLessThan(flat.peakPerBucket * 0.5);
    expect(spread.peakPerSecond, msg).toBeLessThanOrEqual(2 * spread.theoryPerSecond!);
  }, 60_000);
});
