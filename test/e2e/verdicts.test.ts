/**
 * `agentlink simulate --threshold` as users run it: the built CLI in a child process, against an
 * embedded cluster. Thresholds met → exit 0; one violated → exit 99 after the report is written,
 * with the verdict table on stdout and the verdicts in the JSON; `--abort-on-fail` ends the run
 * early with 99; a bad expression is one line and exit 2. Fail fast: no agent connected by
 * `--connect-deadline` stops a long run with exit 1 and the most common error codes; an output
 * path that cannot be written is refused before the run.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatClientKeys } from 'agentlink';
import { createReport, FleetMetrics, parseReport, stringifyReport } from 'agentlink/simulator';
import type { FleetReport } from 'agentlink/simulator';
import { expectUsageError, runCli } from '../helpers/cli.js';
import type { CliRun } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-verdicts-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'three.keys'), formatClientKeys([1, 2, 3].map((i) => ({ id: `00${i}`, name: `a${i}`, ip: 'any', key: String(i).repeat(64) }))));

const simulate = (...args: string[]): Promise<CliRun> => runCli(['simulate', '--cluster', '2', '--quiet', ...args], { cwd: dir });
const readReport = (name: string): FleetReport => parseReport(JSON.parse(readFileSync(join(dir, name), 'utf8')), name);
// facts of any run of 20 agents, however loaded the machine is
const MET = ['agents.total==20', 'connect.count<=20', 'events.generated>=1', 'events.written>=1', 'events.accepted>=99%', 'connect.p95<1m', 'events.lost<=100%'];
const thresholds = (list: readonly string[]): string[] => list.flatMap((t) => ['--threshold', t]);


describe('agentlink simulate --threshold (built CLI)', () => {
  it('exits 0 when every threshold is met, with the verdict table and the verdicts in the report', async () => {
    const run = await simulate('--agents', '20', '--duration', '2s', '--drain', '2s', ...thresholds(MET), '--report', 'met.json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const t of MET) expect(run.stdout).toMatch(new RegExp(`│ ${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +│ [^│]+ │ pass +│`));
    expect(run.stdout).toContain(`thresholds: all ${MET.length} passed`);
    const r = readReport('met.json');
    expect(r.verdicts?.passed).toBe(true);
    expect(r.verdicts?.results.map((v) => v.threshold)).toEqual(MET);
    expect(r.verdicts?.results[0]).toMatchObject({ measured: 20, pass: true });
  }, 60_000);

  it('exits 99 when a threshold fails, after writing the report that carries the verdicts', async () => {
    const run = await simulate('--agents', '20', '--duration', '2s', ...thresholds(['agents.total==20', 'agents.connected>100%']), '--report', 'violated.json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(99);
    // no run has more than all its agents connected
    expect(run.stdout).toMatch(/│ agents\.connected>100% +│ [\d.]+ % \(\d+ of 20\) +│ FAIL +│/);
    expect(run.stdout).toContain('thresholds: 1 of 2 failed');
    expect(run.stdout).toContain(`JSON report: ${join(dir, 'violated.json')}`);
    const r = readReport('violated.json');
    expect(r.verdicts).toMatchObject({ passed: false, results: [{ threshold: 'agents.total==20', pass: true }, { threshold: 'agents.connected>100%', pass: false }] });
  }, 60_000);

  it('--abort-on-fail ends the run as soon as a live threshold fails, and exits 99', async () => {
    const run = await simulate('--agents', '20', '--eps', '10', '--duration', '60s', '--drain', '1s', ...thresholds(['events.written<=30', 'connect.p99<10s']), '--abort-on-fail', '--report', 'aborted.json');
    expect(run.code).toBe(99);
    expect(run.stdout).toMatch(/thresholds: run aborted at .+ because events\.written<=30 failed \(--abort-on-fail\)/);
    const r = readReport('aborted.json');
    expect(r.durationMs).toBeLessThan(30_000);
    expect(r.verdicts?.passed).toBe(false);
    expect(r.verdicts?.aborted?.threshold).toBe('events.written<=30');
    expect(r.verdicts?.results.find((v) => v.threshold === 'events.written<=30')?.pass).toBe(false);
  }, 60_000);

  it('refuses a bad expression, an unknown field and a useless --abort-on-fail with one line and exit 2, before running', async () => {
    expectUsageError(await simulate('--agents', '2', '--threshold', 'failover.p99<2h'), /^agentlink simulate: --threshold 'failover\.p99<2h': unknown unit 'h' .*at position 15/);
    expectUsageError(await simulate('--agents', '2', '--threshold', 'failovers.p99<2s'), /'failovers\.p99' is not a report field; known fields: .*failover\.p99/);
    expectUsageError(await simulate('--agents', '2', '--threshold', 'failover.p99<2s', '--abort-on-fail'), /--abort-on-fail needs a --threshold that can be judged during the run/);
  }, 60_000);
});

describe('agentlink simulate fails fast (built CLI)', () => {
  it('stops a 10-minute run when no agent has connected by --connect-deadline, naming the errors, exit 1, report written', async () => {
    // port 9 (discard) has no listener on 127.0.0.1 here: every connection is refused
    const started = Date.now();
    const run = await runCli(
      ['simulate', '--agents', '3', '--manager', '127.0.0.1:9', '--keys', 'three.keys', '--duration', '10m', '--connect-deadline', '1s', '--drain', '0', '--report', 'ff.json', '--quiet'],
      { cwd: dir, timeout: 45_000 },
    );
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^agentlink simulate: no agent connected within --connect-deadline 1s \(the run was stopped\): 3 of 3 failed with ERR_CONNECT \(.*ECONNREFUSED.*\); check that the managers at 127\.0\.0\.1:9 are reachable/);
    expect(run.stdout).toMatch(/│ errors +│ ERR_CONNECT \d+/);
    const r = readReport('ff.json');
    expect(r.durationMs).toBeLessThan(60_000);
    expect(r.errors.ERR_CONNECT).toBeGreaterThanOrEqual(3);
    expect(r.connectFailures).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('refuses an output path it cannot write before the run starts, with one line and exit 2', async () => {
    mkdirSync(join(dir, 'adir'), { recursive: true });
    const missing = await simulate('--agents', '2', '--duration', '10m', '--report', 'no-such-dir/r.json');
    expectUsageError(missing, new RegExp(`^agentlink simulate: --report '${join(dir, 'no-such-dir/r.json')}': the directory ${join(dir, 'no-such-dir')} does not exist; create it first`));
    const directory = await simulate('--agents', '2', '--duration', '10m', '--html', 'adir');
    expectUsageError(directory, /--html '.*adir' is a directory; give a file name/);
  }, 60_000);
});

describe('agentlink simulate says when the numbers are not what was asked for (built CLI)', () => {
  it('clamps --eps above the client buffer rate, with a warning in the summary and the report', async () => {
    const run = await simulate('--agents', '4', '--eps', '1200', '--duration', '1s', '--drain', '2s', '--report', 'clamped.json');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('WARNING: --eps 1200 is above the 500 events/s per agent the client buffer lets out (<client_buffer> events_per_second): clamped to 500');
    const r = readReport('clamped.json');
    expect(r.warnings.some((w) => w.startsWith('--eps 1200 is above'))).toBe(true);
    expect(r.config.eps).toBe(500);
    // 4 agents at 500/s for 1 s, not at 1200/s
    expect(r.events.generated).toBeGreaterThan(1000);
    expect(r.events.generated).toBeLessThanOrEqual(2004);
  }, 60_000);

  it('says loudly when most events were dropped by the buffers', async () => {
    // no manager: every event waits in a buffer and is dropped at the end (no drain)
    const run = await runCli(
      ['simulate', '--agents', '3', '--manager', '127.0.0.1:9', '--keys', 'three.keys', '--eps', '50', '--duration', '1s', '--drain', '0', '--connect-deadline', '0', '--report', 'dropped.json', '--quiet'],
      { cwd: dir },
    );
    expect(run.code).toBe(1);
    const r = readReport('dropped.json');
    // accepted by the buffers, never written, cleared when the agents stopped
    expect(r.events.accepted).toBe(r.events.generated);
    expect(r.events.written).toBe(0);
    expect(r.events.droppedBy.cleared).toBe(r.events.generated);
    expect(r.events.dropped).toBe(r.events.generated);
    expect(run.stdout).toContain(`WARNING: MOST EVENTS WERE DROPPED: 100 % of the events generated (${r.events.generated} of ${r.events.generated}) were dropped by the agents' client buffers`);
    expect(r.warnings[0]).toMatch(/^MOST EVENTS WERE DROPPED: 100 %/);
  }, 60_000);
});

describe('agentlink simulate --json (built CLI)', () => {
  it('prints the final summary as JSON on stdout and the tables on stderr', async () => {
    const run = await simulate('--agents', '4', '--duration', '1s', '--threshold', 'agents.connected>100%', '--report', 'j.json', '--json');
    expect(run.code).toBe(99);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ exitCode: 99, problems: [], agents: { total: 4 }, reportPath: join(dir, 'j.json'), verdicts: { passed: false } });
    expect(summary).not.toHaveProperty('timeline');
    expect(summary).not.toHaveProperty('histograms');
    expect(summary.events).toEqual(readReport('j.json').events);
    expect(run.stderr).toMatch(/│ agents +│ 4 +│/);
    expect(run.stderr).toContain('thresholds: 1 of 1 failed');
    expect(run.stderr).toContain(`JSON report: ${join(dir, 'j.json')}`);
  }, 60_000);

  it('refuses --json with --report - (both would write to stdout)', async () => {
    expectUsageError(await simulate('--agents', '2', '--json', '--report', '-'), /--json and --report - both write to standard output/);
  }, 30_000);
});

describe('agentlink report merge refuses what does not belong together (built CLI)', () => {
  const shard = (name: string, index: number, runId: string, host = 'm1'): string => {
    const report = createReport({
      metrics: new FleetMetrics(),
      startedAt: 0,
      durationMs: 1000,
      config: { target: { kind: 'managers', servers: [{ host, port: 1514 }] } },
      shard: { index, count: 2 },
      agents: { total: 1, connected: 1 },
      distribution: {},
      runId,
    });
    writeFileSync(join(dir, name), stringifyReport(report));
    return name;
  };
  const merge = (...files: string[]): Promise<CliRun> => runCli(['report', 'merge', ...files, '-o', 'merged.json'], { cwd: dir });

  it('merges the shards of one run, and refuses the same shard twice, two runs and two targets with one line and exit 2', async () => {
    const ok = await merge(shard('s1.json', 1, 'run-7'), shard('s2.json', 2, 'run-7'));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(readReport('merged.json')).toMatchObject({ runId: 'run-7', shards: [1, 2] });
    expectUsageError(await merge('s1.json', 's1.json'), /^agentlink report: shard 1\/2 is in both s1\.json and s1\.json: give each shard once$/);
    expectUsageError(await merge('s1.json', shard('other.json', 2, 'run-8')), /^agentlink report: other\.json is from run run-8 but s1\.json is from run run-7: merge the shards of one run/);
    expectUsageError(await merge('s1.json', shard('far.json', 2, 'run-7', 'm2')), /^agentlink report: far\.json ran against .* but s1\.json against .*: merge shards that share one target$/);
  }, 60_000);

  it('gives every run its own id unless --run-id names it', async () => {
    const a = await simulate('--agents', '2', '--duration', '500ms', '--drain', '0', '--report', 'id-a.json');
    const b = await simulate('--agents', '2', '--duration', '500ms', '--drain', '0', '--report', 'id-b.json', '--run-id', 'nightly-1');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(readReport('id-a.json').runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readReport('id-b.json').runId).toBe('nightly-1');
    expectUsageError(await simulate('--agents', '2', '--run-id', 'two words'), /--run-id 'two words' must be 1 to 128 letters/);
  }, 60_000);
});
