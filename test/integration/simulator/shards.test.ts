/**
 * `--shard i/n` splits one fleet deterministically: the reports of shards 1/2 and 2/2, merged,
 * give the totals of one run over the whole fleet (same seed, same schedule).
 */
import { describe, expect, it } from 'vitest';
import { mergeReports, parseSimulateArgs } from 'agentlink/simulator';
// simulate() is not in the simulator barrel yet (the lead adds it): import the module directly
import { simulate } from '../../../src/simulator/run.js';
import { expectEventIdentities } from '../../helpers/event-identities.js';

const base = ['--agents', '90', '--cluster', '2', '--duration', '2s', '--eps', '3', '--ramp', '300/s', '--notify', '1s', '--drain', '2s', '--seed', 'shards', '--quiet'];

describe('shards', () => {
  it('two halves merged give the totals of one whole run', async () => {
    const [whole, first, second] = await Promise.all([
      simulate(parseSimulateArgs(base)),
      // the shards of one run share its id, as the pods of one Kubernetes Job do
      simulate(parseSimulateArgs([...base, '--shard', '1/2', '--run-id', 'shards-run'])),
      simulate(parseSimulateArgs([...base, '--shard', '2/2', '--run-id', 'shards-run'])),
    ]);
    for (const r of [whole, first, second]) expect(r.problems).toEqual([]);
    expect(first.report.agents.total).toBe(45);
    expect(second.report.agents.total).toBe(45);

    const merged = mergeReports([first.report, second.report]);
    expect(merged.shards).toEqual([1, 2]);
    expect(merged.runId).toBe('shards-run');
    // who is connected at the stop depends on the machine's speed (under load an agent may still be in
    // its handshake, and some may not get through it before the drain ends): what must match is
    // who the agents are, and every agent is either connected once or counted as never connected
    expect(merged.agents.total).toBe(90);
    for (const r of [merged, whole.report]) expect(r.connect.count + (r.agents.neverConnected ?? 0)).toBe(90);
    // the event schedule depends only on the seed, the agent index and the duration
    expect(merged.events.generated).toBe(whole.report.events.generated);
    expect(merged.events.generated).toBeGreaterThan(90 * 3);
    expectEventIdentities(merged.events);
    // shard 1 holds the even agent indexes, shard 2 the odd ones: each agent's server list starts at
    // node (index mod 2) + 1, so the first shard's connected agents are all on node1, the second's on
    // node2, as the same agents are in the whole fleet
    expect(first.report.distribution).toEqual({ node1: first.report.agents.connected, node2: 0 });
    expect(second.report.distribution).toEqual({ node1: 0, node2: second.report.agents.connected });
    const { node1 = 0, node2 = 0 } = whole.report.distribution;
    expect(node1 + node2).toBe(whole.report.agents.connected);
  }, 30_000);
});
