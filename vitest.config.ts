import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

/**
 * Test files whose assertions need a fleet to keep up with short protocol timers (hundreds to a
 * thousand agents with a 1 s notify time and a 3 s time-reconnect, floods, soaks): they run one at
 * a time, after the rest, so no other test file competes with them for the CPU. Everything else
 * mostly waits (timers, child processes, sockets) and runs two files at a time.
 */
const load = [
  'test/e2e/lb-fleet.test.ts',
  'test/e2e/simulate.test.ts',
  'test/e2e/docs.test.ts',
  'test/e2e/demo.test.ts',
  'test/integration/reliability/**/*.test.ts',
  'test/integration/simulator/fleet.test.ts',
  'test/integration/testing/soak.test.ts',
];

const shared = {
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 20_000,
  hookTimeout: 20_000,
  pool: 'forks' as const,
};

export default defineConfig({
  resolve: {
    alias: [
      { find: /^agentlink\/testing$/, replacement: src('testing/index.ts') },
      { find: /^agentlink\/simulator$/, replacement: src('simulator/index.ts') },
      { find: /^agentlink$/, replacement: src('index.ts') },
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: { ...shared, name: 'main', include: ['test/**/*.test.ts'], exclude: load, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { ...shared, name: 'load', include: load, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
