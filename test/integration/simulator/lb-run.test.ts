/**
 * simulate() with a real balancer in front of the embedded cluster (`--lb`): the agents see one
 * server, the per-node counts come from the cluster, a killed node's agents fail over through the
 * balancer, and a rebalance after the restart evens the nodes out again.
 */
import { expect, it } from 'vitest';
import { parseSimulateArgs } from 'agentlink/simulator';
// simulate() is not in the simulator barrel yet (the lead adds it): import the module directly
import { simulate } from '../../../src/simulator/run.js';
import { describeIfLb } from '../../helpers/require-lb.js';
import { expectEventIdentities } from '../../helpers/event-identities.js';

await describeIfLb('haproxy', 'simulate() behind HAProxy', () => {
  it('fails a killed node over through HAProxy and rebalances onto it after its restart', async () => {
    const result = await simulate(
      parseSimulateArgs([
        '--agents', '90', '--cluster', '3', '--lb', 'haproxy', '--duration', '10s',
        '--chaos', 'kill:node1@2s,restart:node1@4s,rebalance@7s',
        '--notify', '1s', '--time-reconnect', '3s', '--eps', '1', '--drain', '1s', '--quiet',
      ]),
      // an attempt that fails before the first ACK waits retryInterval (Wazuh: 10 s) before the next
      // one: on a loaded machine some agents are still in their handshake when node1 dies at 2 s, so
      // a short interval lets them connect well before the rebalance at 7 s
      { rebalance: { chunkDelay: 0 }, serverOptions: { retryInterval: 500 } },
    );
    expect(result.problems).toEqual([]);
    const r = result.report;
    expect(r.agents.connected).toBe(90);
    // the balancer's own view, read before the fleet stopped
    const lb = (r as typeof r & { lb?: { kind: string; sessionsPerBackend: Record<string, number> } }).lb;
    expect(lb?.kind).toBe('haproxy');
    expect(r.distribution).toEqual({ node1: 30, node2: 30, node3: 30 });
    expect(lb?.sessionsPerBackend).toEqual({ node1: 30, node2: 30, node3: 30 });
    // HAProxy marks node1 UP again after two health checks (1 s apart), before the rebalance at 7 s,
    // which moves node1's share (30) onto it: reconnections, not failovers. The agents on node1 when
    // it died failed over: all of its 30 on an idle machine, fewer when some were still connecting
    const rebalance = r.chaos.find((c) => c.action === 'rebalance');
    expect(rebalance?.detail).toBe('30 agents told to reconnect');
    expect(r.failover.count).toBeGreaterThan(0);
    expect(r.failover.count).toBeLessThanOrEqual(30);
    expect(r.reconnects.total).toBe(r.failover.count + 30);
    // per-node counts come from the cluster, not from the agents (which only see the balancer)
    for (const p of r.timeline) expect(Object.keys(p.perNode).every((n) => /^node[123]$/.test(n))).toBe(true);
    expect(r.timeline.some((p) => p.perNode.node1 === 0 && p.t >= 2000 && p.t < 4000)).toBe(true);
    expectEventIdentities(r.events);
  }, 30_000);
});
