/**
 * A simulator that stalls says so: a run whose process is blocked for longer than half the agents'
 * time-reconnect reports the stall and warns that lost connections may be the simulator's own.
 */
import { describe, expect, it } from 'vitest';
import { parseSimulateArgs, simulate } from 'agentlink/simulator';

describe('simulate() and its own event loop', () => {
  it('reports a 2 s stall of its process and warns that the agents’ numbers may be its own', async () => {
    const config = parseSimulateArgs(['--agents', '4', '--cluster', '1', '--duration', '3s', '--time-reconnect', '3s', '--notify', '1s', '--eps', '1', '--drain', '1s', '--quiet']);
    const warnings: string[] = [];
    const stall = setTimeout(() => {
      const until = performance.now() + 2000;
      while (performance.now() < until) {
        // something else holds the simulator's only thread
      }
    }, 1000);
    try {
      const result = await simulate(config, { log: (line) => warnings.push(line) });
      expect(result.report.loopDelay.maxMs).toBeGreaterThanOrEqual(1900);
      const warning = result.report.warnings.find((w) => w.startsWith('the simulator itself stalled for up to '));
      expect(warning).toMatch(/at least half the agents' time-reconnect of 3000 ms/);
      expect(warnings).toContain(warning);
    } finally {
      clearTimeout(stall);
    }
  }, 30_000);
});
