/**
 * The chaos soak, short, once per delivery mode: 100 agents against three mock managers, each behind
 * a FaultProxy, under 10 s of seeded random faults (node kills and restarts, node hangs, proxy
 * blackholes, latency spikes, frames cut in the middle, forced reconnects), then the same end checks
 * as `npm run soak`: every agent connected, every event delivered in order or dropped or lost with a
 * counted reason, nothing left open; `at-most-once` delivers each event once at most, and
 * `at-least-once` loses none, with duplicates only where an agent resent.
 */
import { describe, expect, it, onTestFailed } from 'vitest';
import { planChaos } from 'agentlink/simulator';
import { deliveryProblems, runChaosSoak } from '../../../bench/reliability/soak.js';

const AGENTS = 100;

describe('chaos soak (short)', () => {
  it('plans the same faults from the same seed and different faults from another', () => {
    const opts = { durationMs: 15_000, nodes: 3, agents: 200, settings: { meanIntervalMs: 500 } };
    const a = planChaos({ ...opts, seed: 'x' });
    expect(planChaos({ ...opts, seed: 'x' })).toEqual(a);
    expect(planChaos({ ...opts, seed: 'y' })).not.toEqual(a);
    expect(a.length).toBeGreaterThan(10);
    expect(new Set(a.map((s) => s.action)).size).toBeGreaterThanOrEqual(5);
    expect(a.every((s, i) => s.atMs < 15_000 && (i === 0 || s.atMs >= a[i - 1]!.atMs))).toBe(true);
  });

  it('fails a run where at-least-once lost an event or an agent got more duplicates than it resent, or at-most-once delivered one twice', () => {
    const clean = { lost: 0, duplicates: 0, agentsOverDuplicated: 0 };
    expect(deliveryProblems('at-least-once', clean)).toEqual([]);
    expect(deliveryProblems('at-least-once', { ...clean, duplicates: 40 })).toEqual([]);
    expect(deliveryProblems('at-least-once', { ...clean, lost: 1 })).toEqual(['at-least-once lost 1 events']);
    expect(deliveryProblems('at-least-once', { ...clean, duplicates: 40, agentsOverDuplicated: 1 })).toHaveLength(1);
    expect(deliveryProblems('at-most-once', { ...clean, lost: 7 })).toEqual([]);
    expect(deliveryProblems('at-most-once', { ...clean, duplicates: 1 })).toHaveLength(1);
  });

  it.each(['at-most-once', 'at-least-once'] as const)('%s: ends with every agent connected, every event accounted for per agent, and nothing left open', async (delivery) => {
    const lines: string[] = [];
    const t0 = Date.now();
    // a failure, a timeout included, shows the run's progress and phases
    onTestFailed(() => console.log(`${delivery} soak, progress:\n${lines.join('\n')}`));
    const report = await runChaosSoak({
      delivery,
      agents: AGENTS,
      durationMs: 12_000,
      // the chaos keeps its 10 s however long a busy machine takes to connect the fleet
      chaosMs: 10_000,
      chaosDelayMs: 1000,
      eps: 2,
      seed: 'soak-short',
      rampPerSecond: 200,
      // timers short enough for 10 s of chaos, long enough that a starved event loop (a busy shared
      // machine) does not time handshakes out faster than they can complete
      client: {
        notifyTime: 1000,
        timeReconnect: 3000,
        handshakeTimeout: 3000,
        connectTimeout: 2000,
        reconnect: { strategy: 'backoff', initialDelay: 200, maxDelay: 1500 },
      },
      chaos: {
        meanIntervalMs: 400,
        killMs: [1000, 4000],
        hangMs: [500, 2500],
        blackholeMs: [500, 2500],
        latencyMs: [50, 300],
        latencyForMs: [500, 2500],
        forceFraction: [0.02, 0.1],
      },
      settleTimeoutMs: 15_000,
      settleQuietMs: 1000,
      drainTimeoutMs: 5000,
      memorySampleMs: 1000,
      forceGc: false,
      progressMs: 2000,
      log: (l) => lines.push(`${Date.now() - t0} ms: ${l}`),
    });
    const e = report.events;
    const summary = {
      problems: report.problems,
      agents: report.agents,
      events: { ...e },
      faults: report.chaos.done,
      leaked: report.resources.leaked,
      sockets: report.resources.sockets,
      pendingTimers: report.resources.pendingTimers,
      timing: report.timing,
      planned: report.chaos.planned,
    };
    if (process.env.AGENTLINK_SOAK_DEBUG) console.log(JSON.stringify({ ...summary, reconnects: report.reconnects, timing: report.timing, proxies: report.proxies, log: report.chaos.log }, null, 1));
    // the chaos did happen, with every kind of fault the plan holds
    expect(report.chaos.log.length, JSON.stringify(summary)).toBeGreaterThan(15);
    for (const a of ['kill', 'blackhole', 'latency', 'force-reconnect'] as const) expect(report.chaos.done[a], a).toBeGreaterThan(0);
    expect(report.reconnects.total).toBeGreaterThan(0);
    expect(report.reconnects.failovers).toBeGreaterThan(0);
    // the faults cut connections with events in flight: counted, or resent
    if (delivery === 'at-most-once') expect(e.unconfirmed).toBeGreaterThan(0);
    else expect(e.retransmitted).toBeGreaterThan(0);

    // every agent connected at the end, on both sides
    expect(report.agents.connectedAtEnd, JSON.stringify(summary)).toBe(AGENTS);
    expect(report.agents.connectedOnManagers).toBe(AGENTS);

    // sent = received + drops + lost, with every agent's loss within its own unconfirmed count
    expect(e.generated).toBeGreaterThan(AGENTS * 2 * 10);
    expect(e.generated, JSON.stringify(summary)).toBe(e.received + e.dropped + e.lost);
    expect(e.lost).toBeGreaterThanOrEqual(0);
    expect(e.lost).toBeLessThanOrEqual(e.unconfirmed);
    expect(e.agentsUnexplained, JSON.stringify(summary)).toBe(0);
    expect(e.outOfOrder).toBe(0);
    if (delivery === 'at-least-once') {
      // nothing lost; a duplicate only where the agent resent, each agent within its own count; the
      // barriers that keep the window small are the cost
      expect(e.lost, JSON.stringify(summary)).toBe(0);
      expect(e.duplicates).toBeLessThanOrEqual(e.retransmitted);
      expect(e.agentsOverDuplicated).toBe(0);
      expect(e.extraKeepalives).toBeGreaterThan(0);
    } else {
      expect(e.duplicates).toBe(0);
      expect(e.retransmitted).toBe(0);
      expect(e.extraKeepalives).toBe(0);
    }

    // no socket, server or timer left
    expect(report.resources.leaked, JSON.stringify({ problems: report.problems, resources: report.resources })).toEqual({});
    expect(report.resources.pendingTimers).toBe(0);
    expect(report.ok, JSON.stringify(summary)).toBe(true);
    // 15 s measured on the shared 2-core machine, 20 to 45 s beside two CPU burners (the first mode slowest)
  }, 90_000);
});
