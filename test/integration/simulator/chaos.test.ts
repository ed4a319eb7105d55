/**
 * One chaos schedule, written once as `--chaos` text, runs in `simulate --chaos` and in the
 * reliability soak, through the same ChaosRunner against the same embedded cluster (with a
 * FaultProxy in front of every node): every action is done the same way and recorded the same way,
 * and in both the event accounting holds (every loss within the agents' unconfirmed counts).
 */
import { describe, expect, it } from 'vitest';
import { describeChaosEvent, parseChaos, parseSimulateArgs, simulate } from 'agentlink/simulator';
import type { ChaosEvent } from 'agentlink/simulator';
import { runChaosSoak } from '../../../bench/reliability/soak.js';
import { expectEventIdentities } from '../../helpers/event-identities.js';

const SCHEDULE =
  'kill:node1@1s+1500ms,hang:node2@1200ms+800ms,blackhole:node3@1500ms+700ms,latency:node2=100ms@2500ms+500ms,reset:node3@3s,cut:node1=up@3200ms,force-reconnect:20%@3500ms';

const client = {
  handshakeTimeout: 1000,
  connectTimeout: 1000,
  reconnect: { strategy: 'backoff', initialDelay: 200, maxDelay: 1500 },
} as const;

/** What a step did, without the counts of connections that depend on timing. */
const shape = (events: readonly ChaosEvent[]): string[] => events.map((e) => describeChaosEvent(e).replace(/\d+ (connections|told)/, 'N $1'));

const EXPECTED = [
  'kill node1 (down 1500 ms)',
  'hang node2 (800 ms)',
  'blackhole node3 (700 ms)',
  'latency node2 (100 ms for 500 ms)',
  'reset node3 (N connections)',
  'cut node1 (up, N connections armed)',
  'force-reconnect (6 agents picked, N told)',
];

describe('one chaos vocabulary', () => {
  it('runs a --chaos schedule of every fault in simulate, with fault proxies in front of the nodes', async () => {
    const config = parseSimulateArgs(
      ['--agents', '30', '--cluster', '3', '--duration', '5s', '--eps', '2', '--notify', '500ms', '--time-reconnect', '1500ms', '--drain', '2s', '--quiet', '--chaos', SCHEDULE],
    );
    expect(config.chaos).toEqual(parseChaos(SCHEDULE, 3));
    const result = await simulate(config, { client });
    expect(result.problems).toEqual([]);
    expect(shape(result.report.chaos)).toEqual(EXPECTED);
    const e = result.report.events;
    expectEventIdentities(e);
    expect(result.report.lostExplained.unexplained).toBe(0);
    expect(result.report.chaos[0]!.at).toBeGreaterThanOrEqual(1000);
  }, 30_000);

  it('runs the same schedule in the soak, with the soak’s end checks', async () => {
    const report = await runChaosSoak({
      agents: 30,
      durationMs: 6000,
      chaosMs: 4000,
      chaosDelayMs: 300,
      steps: parseChaos(SCHEDULE, 3),
      eps: 2,
      seed: 'vocabulary',
      rampPerSecond: 1000,
      client: { ...client, notifyTime: 500, timeReconnect: 1500 },
      settleTimeoutMs: 15_000,
      settleQuietMs: 500,
      drainTimeoutMs: 2000,
      forceGc: false,
      progressMs: 0,
    });
    expect(shape(report.chaos.log)).toEqual(EXPECTED);
    expect(report.problems).toEqual([]);
    expect(report.events.agentsUnexplained).toBe(0);
  }, 30_000);
});
