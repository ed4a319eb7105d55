/**
 * `--shard i/n` splits one fleet deterministically: the reports of shards 1/2 and 2/2, merged,
 * give the totals of one run over the whole fleet (same seed, same schedule).
 */
import { describe, expect, it } from 'vitest';
import { mergeReports, parseSimulateArgs } from 'agentlink/simulator';
// simulate() is not in the simulator barrel yet (the lead adds it): import the module directly
import { simulate } from '../../../src/simulator/run.js';

const base = ['--agents', '90', '--cluster', '2', '--duration', '2s', '--eps', '3', '--ramp', '300/s', '--notify', '1s', '--drain', '2s', '--seed', 'shards', '--quiet'];

describe('shards', () => {
  it('two halves merged give the totals of one whole run', async () => {
    const [whole, first, second] = await Promise.all([
      simulate(parseSimulateArgs(base)),
      simulate(parseSimulateArgs([...base, '--shard', '1/2'])),
      simulate(parseSimulateArgs([...base, '--shard', '2/2'])),
    ]);
    for (const r of [whole, first, second]) expect(r.problems).toEqual([]);
    expect(first.report.agents.total).toBe(45);
    expect(second.report.agents.total).toBe(45);

    const merged = mergeReports([first.report, second.report]);
    expect(merged.shards).toEqual([1, 2]);
    expect(merged.agents).toEqual(whole.report.agents);
    expect(merged.agents.total).toBe(90);
    // the event schedule depends only on the seed, the agent index and the duration
    expect(merged.events.sent).toBe(whole.report.events.sent);
    expect(merged.events.sent).toBeGreaterThan(90 * 3);
    expect(merged.events.sent).toBe(merged.events.received! + merged.events.dropped + merged.events.lost!);
    expect(merged.connect.count).toBe(whole.report.connect.count);
    // shard 1 holds the even agent indexes, shard 2 the odd ones: merged, they spread like the whole fleet
    expect(merged.distribution).toEqual(whole.report.distribution);
    expect(whole.report.distribution).toEqual({ node1: 45, node2: 45 });
  }, 30_000);
});
