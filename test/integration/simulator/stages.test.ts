/**
 * A staged run through simulate(): the agents ramp up, hold while the rate rises, and ramp down;
 * the events follow the stages' rates (open model: by the schedule, not by what the managers
 * answer), and every event is accounted for.
 */
import { describe, expect, it } from 'vitest';
import { parseSimulateArgs } from 'agentlink/simulator';
import { simulate } from '../../../src/simulator/run.js';
import { expectEventIdentities } from '../../helpers/event-identities.js';

const staged = (workers: number) =>
  parseSimulateArgs([
    ...['--cluster', '2', '--notify', '1s', '--drain', '1s', '--quiet', '--seed', 'stages', '--workers', String(workers)],
    // 0 -> 20 agents in 1 s at 2 eps; hold 2 s at 6 eps; 20 -> 0 agents in 1 s at 2 eps
    ...['--stage', '1s,agents=20,eps=2', '--stage', '2s,eps=6', '--stage', '1s,agents=0,eps=2'],
  ]);

describe('simulate() with stages', () => {
  let inProcessGenerated: number | undefined;

  it('ramps the agents up and down and sends each stage its rate', async () => {
    const config = staged(1);
    expect(config.durationMs).toBe(4000);
    const { report, problems } = await simulate(config);
    inProcessGenerated = report.events.generated;
    expect(problems).toEqual([]);
    expect(report.agents.total).toBe(20);
    expect(report.agents.neverConnected).toBe(0);
    // agent k runs from (k+1)/20 s to 3 + (20-k)/20 s: it owes 14 + (38 - 4k)/20 events, 280 in all,
    // each agent within one event of its share (its phase)
    expect(report.events.generated).toBeGreaterThanOrEqual(260);
    expect(report.events.generated).toBeLessThanOrEqual(300);
    expectEventIdentities(report.events);
    // the hold sends 20 agents x 6 eps = 120 a second; at the ramps' 2 eps, 20 agents send at most 40
    expect(Math.max(...report.timeline.map((p) => p.generated))).toBeGreaterThan(80);
  }, 30_000);

  it('split over two worker processes, sends what the whole fleet sends (each worker runs its share of every stage)', async () => {
    const { report, problems } = await simulate(staged(2));
    expect(problems).toEqual([]);
    expect(report.config.workers).toBe(2);
    expect(report.agents.total).toBe(20);
    expect(report.agents.neverConnected).toBe(0);
    // the schedule depends only on the seed, the agents and the stages: the same events, whoever runs them
    expect(report.events.generated).toBe(inProcessGenerated ?? (await simulate(staged(1))).report.events.generated);
    expectEventIdentities(report.events);
    expect(Math.max(...report.timeline.map((p) => p.generated))).toBeGreaterThan(80);
    // the last stage took every agent away: none is connected at the end
    expect(report.agents.connected).toBe(0);
  }, 30_000);
});
