/**
 * vitest configuration for the example tests in examples/ (the project's own vitest.config.ts only
 * collects test/**). Run: npx vitest run --config examples/vitest.config.ts
 *
 * In your own project you need none of this: install agentlink and import it by its package name.
 * The aliases only make `agentlink` and `agentlink/testing` resolve to this repository's sources.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = (p: string) => fileURLToPath(new URL(`../src/${p}`, import.meta.url));

export default defineConfig({
  root,
  resolve: {
    alias: [
      { find: /^agentlink\/testing$/, replacement: src('testing/index.ts') },
      { find: /^agentlink\/simulator$/, replacement: src('simulator/index.ts') },
      { find: /^agentlink$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['examples/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
