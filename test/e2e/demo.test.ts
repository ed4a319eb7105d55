/**
 * `npm start` as README.md promises it: `agentlink demo` (the built CLI, in an empty directory)
 * runs 300 agents against an embedded 3-node cluster, kills the busiest node, restarts it,
 * rebalances, ends with exit code 0 and leaves report.json and report.html in the current directory.
 * With HAProxy installed it runs behind it (`--lb auto`), as it would on a user's machine with it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReport } from 'agentlink/simulator';
import { runCli } from '../helpers/cli.js';
import { expectEventIdentities } from '../helpers/event-identities.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-demo-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agentlink demo (npm start)', () => {
  it('runs its 300 agents through a kill, a restart and a rebalance, exits 0 and writes report.json and report.html here', async () => {
    const run = await runCli(['demo', '--quiet'], { cwd: dir, timeout: 150_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/came back empty/);
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    const r = parseReport(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')), 'report.json');
    expect(r.agents.total).toBe(300);
    expect(r.agents.neverConnected).toBe(0);
    // the demo's schedule ran, in order: kill the busiest node at 10 s, restart it at 20 s, rebalance at 24 s
    expect(r.chaos.map((c) => c.action)).toEqual(['kill', 'restart', 'rebalance']);
    expect(r.chaos[1]!.node).toBe(r.chaos[0]!.node);
    expect(r.chaos[0]!.at).toBeGreaterThanOrEqual(10_000);
    expect(r.chaos.every((c) => c.error === undefined && c.skipped === undefined)).toBe(true);
    expect(r.durationMs).toBeGreaterThanOrEqual(36_000);
    expect(r.config.chaos).toHaveLength(3);
    expectEventIdentities(r.events);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<svg');
  }, 160_000);
});
