/**
 * `agentlink simulate --scenario FILE` as a user runs it: the commented example in examples/ runs
 * to the end with exit code 0 and reports the configuration the file gave (with a flag given on
 * the command line over it); a bad file ends with exit code 2 and one line naming the field.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReport } from 'agentlink/simulator';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const example = join(root, 'examples', 'scenario.yaml');
const dir = mkdtempSync(join(tmpdir(), 'agentlink-scenario-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agentlink simulate --scenario', () => {
  it('runs examples/scenario.yaml and reports the configuration it gave', async () => {
    const run = await runCli(['simulate', '--scenario', example, '--report', 'r.json', '--quiet'], { cwd: dir, timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = parseReport(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')), 'r.json');
    expect(report.config).toMatchObject({ scenario: example, agents: 60, durationMs: 8000, strategy: 'backoff', notifyTimeMs: 2000, timeReconnectMs: 6000, workload: 'mixed', seed: 'example' });
    expect(report.config.stages).toEqual([
      { durationMs: 2000, agents: 60, eps: 2 },
      { durationMs: 3000 },
      { durationMs: 1000, eps: 10 },
      { durationMs: 2000, agents: 0, eps: 2 },
    ]);
    expect(report.config.chaos).toEqual([{ action: 'kill', node: 'node1', atMs: 3000, forMs: 2000 }]);
    expect(report.chaos.map((c) => [c.action, c.node, c.detail])).toEqual([['kill', 'node1', 'down 2000 ms']]);
    expect(report.events.generated).toBeGreaterThan(0);
    // the file's thresholds were judged (exit code 0: they passed)
    expect(report.verdicts?.results.map((v) => [v.threshold, v.pass])).toEqual([
      ['agents.neverConnected==0', true],
      ['events.dropped==0', true],
      ['connect.p99<5s', true],
    ]);
    expect(report.agents.total).toBe(60);
    expect(report.agents.neverConnected).toBe(0);
  }, 90_000);

  it('refuses a bad field with exit code 2 and one line naming the file, line and field', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'agents: 10\ntarget:\n  cluster: 2\neps: lots\n');
    const run = await runCli(['simulate', '--scenario', 'bad.yaml'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("agentlink simulate: scenario 'bad.yaml' line 4, field 'eps': --eps 'lots' must be a number from 0 to 1000000, e.g. --eps 1.5\n");
  });
});
