/**
 * A staged run through simulate(): the agents ramp up, hold while the rate rises, and ramp down;
 * the events follow the stages' rates (open model: by the schedule, not by what the managers
 * answer), and every event is accounted for.
 */
import { describe, expect, it } from 'vitest';
import { parseSimulateArgs } from 'agentlink/simulator';
import { simulate } from '../../../src/simulator/run.js';

describe('simulate() with stages', () => {
  it('ramps the agents up and down and sends each stage its rate', async () => {
    const config = parseSimulateArgs([
      ...['--cluster', '2', '--notify', '1s', '--drain', '1s', '--quiet', '--seed', 'stages'],
      // 0 -> 20 agents in 1 s at 2 eps; hold 2 s at 6 eps; 20 -> 0 agents in 1 s at 2 eps
      ...['--stage', '1s,agents=20,eps=2', '--stage', '2s,eps=6', '--stage', '1s,agents=0,eps=2'],
    ]);
    expect(config.durationMs).toBe(4000);
    const { report, problems } = await simulate(config);
    expect(problems).toEqual([]);
    expect(report.agents.total).toBe(20);
    expect(report.agents.neverConnected).toBe(0);
    // agent k runs from (k+1)/20 s to 3 + (20-k)/20 s: it owes 14 + (38 - 4k)/20 events, 280 in all,
    // each agent within one event of its share (its phase)
    expect(report.events.sent).toBeGreaterThanOrEqual(260);
    expect(report.events.sent).toBeLessThanOrEqual(300);
    expect(report.events.sent).toBe(report.events.received! + report.events.dropped + report.events.lost!);
    // the hold sends 20 agents x 6 eps = 120 a second; at the ramps' 2 eps, 20 agents send at most 40
    expect(Math.max(...report.timeline.map((p) => p.sent))).toBeGreaterThan(80);
  }, 30_000);
});
