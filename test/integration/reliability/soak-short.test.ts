/**
 * The chaos soak, short: 200 agents against three mock managers, each behind a FaultProxy, under
 * about 15 s of seeded random faults (node kills and restarts, node hangs, proxy blackholes, latency
 * spikes, resets, frames cut in the middle, forced reconnects), then the same end checks as
 * `npm run soak`: every agent connected, every event delivered once and in order or dropped or
 * lost with a counted reason, nothing left open.
 */
import { describe, expect, it } from 'vitest';
import { planChaos } from 'agentlink/simulator';
import { runChaosSoak } from '../../../bench/reliability/soak.js';

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

  it('ends with every agent connected, every event accounted for per agent, and nothing left open', async () => {
    const lines: string[] = [];
    const report = await runChaosSoak({
      agents: 200,
      durationMs: 17_000,
      // the chaos keeps its 15 s however long a busy machine takes to connect the fleet
      chaosMs: 15_000,
      chaosDelayMs: 1000,
      eps: 2,
      seed: 'soak-short',
      rampPerSecond: 1000,
      client: {
        notifyTime: 500,
        timeReconnect: 1500,
        handshakeTimeout: 1000,
        connectTimeout: 1000,
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
      progressMs: 0,
      log: (l) => lines.push(l),
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
    // the chaos did happen, with every kind of fault
    expect(report.chaos.log.length, JSON.stringify(summary)).toBeGreaterThan(15);
    for (const a of ['kill', 'blackhole', 'latency', 'force-reconnect'] as const) expect(report.chaos.done[a], a).toBeGreaterThan(0);
    expect(report.reconnects.total).toBeGreaterThan(0);
    expect(report.reconnects.failovers).toBeGreaterThan(0);
    expect(e.unconfirmed).toBeGreaterThan(0);

    // every agent connected at the end, on both sides
    expect(report.agents.connectedAtEnd, JSON.stringify(summary)).toBe(200);
    expect(report.agents.connectedOnManagers).toBe(200);

    // sent = received + drops + lost, with every agent's loss within its own unconfirmed count
    expect(e.sent).toBeGreaterThan(200 * 2 * 10);
    expect(e.sent, JSON.stringify(summary)).toBe(e.received + e.dropped + e.lost);
    expect(e.lost).toBeGreaterThanOrEqual(0);
    expect(e.lost).toBeLessThanOrEqual(e.unconfirmed);
    expect(e.agentsUnexplained, JSON.stringify(summary)).toBe(0);
    expect(e.outOfOrder).toBe(0);

    // no socket, server or timer left
    expect(report.resources.leaked, JSON.stringify({ problems: report.problems, resources: report.resources })).toEqual({});
    expect(report.resources.pendingTimers).toBe(0);
    expect(report.ok, JSON.stringify(summary)).toBe(true);
  }, 60_000);
});
