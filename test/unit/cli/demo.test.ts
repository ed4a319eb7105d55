/**
 * The demo's chaos is an ordinary `--chaos` schedule: `agentlink demo` parses it with the simulate
 * flags and hands it to the same run (and so to the same ChaosRunner) as `agentlink simulate --chaos`.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { parseChaos } from 'agentlink/simulator';
import type { SimulateConfig } from 'agentlink/simulator';
import { DEMO_CHAOS, run } from '../../../src/cli/demo.js';
import { testIo } from './helpers.js';

const seen = vi.hoisted(() => ({ config: undefined as unknown, extra: undefined as unknown }));
vi.mock('../../../src/cli/simulate.js', () => ({
  runSimulation: (_command: string, config: unknown, _io: unknown, extra: unknown) => {
    seen.config = config;
    seen.extra = extra;
    return Promise.resolve(0);
  },
}));

afterEach(() => {
  seen.config = undefined;
  seen.extra = undefined;
});

describe('agentlink demo', () => {
  test('runs its chaos as --chaos steps: kill the busiest node at 10 s, restart it at 20 s, rebalance at 24 s', async () => {
    const io = testIo();
    expect(await run(['--lb', 'none', '--quiet'], io)).toBe(0);
    const config = seen.config as SimulateConfig;
    expect(config.chaos).toEqual(parseChaos(DEMO_CHAOS, 3));
    expect(config.chaos).toEqual([
      { action: 'kill', node: 'busiest', atMs: 10_000 },
      { action: 'restart', node: 'last-killed', atMs: 20_000 },
      { action: 'rebalance', atMs: 24_000 },
    ]);
    // no second way in: the chaos reaches simulate() only through the flags
    expect(seen.extra).not.toHaveProperty('chaos');
  });
});
