/**
 * simulate() as a library with thresholds: the `thresholds` and `abortOnFail` options replace the
 * flags' and judge the run into `result.verdicts`; a bad expression is refused before the run.
 */
import { describe, expect, it } from 'vitest';
import { parseSimulateArgs, simulate, ThresholdError } from 'agentlink/simulator';

describe('simulate() thresholds', () => {
  it('judges the thresholds given as options, and ends early on a live one with abortOnFail', async () => {
    const config = parseSimulateArgs(['--agents', '10', '--cluster', '2', '--duration', '30s', '--eps', '10', '--drain', '1s', '--quiet']);
    const result = await simulate(config, { thresholds: ['agents.total==10', 'events.generated<=20'], abortOnFail: true });
    expect(result.problems).toEqual([]);
    expect(result.report.durationMs).toBeLessThan(15_000);
    expect(result.verdicts).toMatchObject({
      passed: false,
      aborted: { threshold: 'events.generated<=20' },
      results: [
        { threshold: 'agents.total==10', pass: true },
        { threshold: 'events.generated<=20', pass: false },
      ],
    });
    expect(result.report.verdicts).toEqual(result.verdicts);
  }, 30_000);

  it('refuses a bad expression given as an option before anything starts', async () => {
    const config = parseSimulateArgs(['--agents', '10', '--cluster', '2', '--duration', '30s', '--quiet']);
    await expect(simulate(config, { thresholds: ['connect.p95 < 5 parsecs'] })).rejects.toBeInstanceOf(ThresholdError);
  });
});
