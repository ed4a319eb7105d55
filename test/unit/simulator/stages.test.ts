/**
 * Load stages: when each agent starts and stops, and how many events it owes, for the constant
 * schedule and for k6-style ramping stages; `--stage` parsing and its conflicts with other flags.
 */
import { describe, expect, test } from 'vitest';
import { parseSimulateArgs } from 'agentlink/simulator';
import { LoadSchedule, parseStage } from '../../../src/simulator/stages.js';

describe('LoadSchedule', () => {
  test('without stages: the --ramp start times and a constant rate', () => {
    const s = new LoadSchedule({ rampPerSecond: 100, eps: 2 });
    expect(s.startAt(0)).toBe(0);
    expect(s.startAt(250)).toBe(2500);
    expect(s.stopAt(250)).toBe(Infinity);
    expect(s.eventsBy(1500)).toBe(3);
    expect(new LoadSchedule({ rampPerSecond: 0, eps: 0 }).sends).toBe(false);
  });

  test('ramp up, hold, spike, ramp down: agents follow the line, events the stage rates', () => {
    const s = new LoadSchedule({
      rampPerSecond: 500,
      eps: 1,
      stages: [
        { durationMs: 10_000, agents: 100 }, // ramp up at 1 eps
        { durationMs: 20_000, eps: 2 }, // hold at 2 eps
        { durationMs: 5_000, eps: 10 }, // spike
        { durationMs: 10_000, agents: 0, eps: 1 }, // ramp down
      ],
    });
    expect(s.totalMs).toBe(45_000);
    expect(s.stops).toBe(true);
    // agent k starts when the line reaches k + 1 agents
    expect(s.startAt(0)).toBe(100);
    expect(s.startAt(49)).toBe(5000);
    expect(s.startAt(99)).toBe(10_000);
    expect(s.startAt(100)).toBe(Infinity);
    // and stops when it falls to k agents: the last started stops first
    expect(s.stopAt(99)).toBe(35_100);
    expect(s.stopAt(0)).toBe(45_000);
    // events per agent: 10 s at 1, 20 s at 2, 5 s at 10, 10 s at 1
    expect(s.eventsBy(10_000)).toBe(10);
    expect(s.eventsBy(30_000)).toBe(50);
    expect(s.eventsBy(32_500)).toBe(75);
    expect(s.eventsBy(35_000)).toBe(100);
    expect(s.eventsBy(45_000)).toBe(110);
    expect(s.eventsBy(60_000)).toBe(110);
    expect(s.epsAt(31_000)).toBe(10);
  });

  test('stages without agents keep the --ramp; raising the agents after a fall is refused', () => {
    const s = new LoadSchedule({ rampPerSecond: 10, eps: 1, stages: [{ durationMs: 5000, eps: 3 }] });
    expect(s.startAt(20)).toBe(2000);
    expect(s.eventsBy(5000)).toBe(15);
    expect(
      () =>
        new LoadSchedule({
          rampPerSecond: 0,
          eps: 1,
          stages: [
            { durationMs: 1000, agents: 10 },
            { durationMs: 1000, agents: 5 },
            { durationMs: 1000, agents: 8 },
          ],
        }),
    ).toThrow(/^--stage 3 raises the agents to 8 after an earlier stage lowered them/);
  });
});

describe('--stage', () => {
  test('parses DURATION[,agents=N][,eps=N]', () => {
    expect(parseStage('30s,agents=100,eps=2.5', 1)).toEqual({ durationMs: 30_000, agents: 100, eps: 2.5 });
    expect(parseStage('1m', 2)).toEqual({ durationMs: 60_000 });
    expect(() => parseStage('30s,vus=3', 2)).toThrow("--stage 2 '30s,vus=3': 'vus=3' is not agents=N or eps=N");
    expect(() => parseStage('soon,agents=3', 1)).toThrow(/^--stage 1 duration 'soon' is not a duration/);
    expect(() => parseStage('0s', 1)).toThrow(/the duration must be longer than 0/);
  });

  test('the stages set the fleet size and the run length', () => {
    const c = parseSimulateArgs(['--cluster', '2', '--stage', '10s,agents=50', '--stage', '20s,eps=3', '--stage', '5s,agents=0']);
    expect(c.agents).toBe(50);
    expect(c.durationMs).toBe(35_000);
    expect(c.stages).toEqual([{ durationMs: 10_000, agents: 50 }, { durationMs: 20_000, eps: 3 }, { durationMs: 5000, agents: 0 }]);
    expect(() => parseSimulateArgs(['--cluster', '2', '--stage', '10s,agents=50', '--duration', '1m'])).toThrow(/^--duration cannot be used with --stage/);
    expect(() => parseSimulateArgs(['--cluster', '2', '--agents', '40', '--stage', '10s,agents=50'])).toThrow(/^--agents 40 but the stages run at most 50 agents/);
    expect(() => parseSimulateArgs(['--cluster', '2', '--stage', '10s,agents=50', '--ramp', '5/s'])).toThrow(/^--ramp cannot be used with stages that set agents/);
    // chaos must fit in the stages
    expect(() => parseSimulateArgs(['--cluster', '2', '--stage', '10s,agents=5', '--chaos', 'kill:node1@12s'])).toThrow(/is not before the end of the run/);
  });
});
