/**
 * `agentlink simulate` end to end: the built CLI (bin/agentlink.js, compiled by the vitest global
 * setup) runs a fleet against an embedded cluster with a node killed and restarted, and the JSON
 * report must account for every agent and every event. Bad input must end with one line and exit
 * code 2, never a stack trace.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatClientKeys } from 'agentlink';
import { parseReport } from 'agentlink/simulator';
import type { FleetReport } from 'agentlink/simulator';
import { expectUsageError, startCli } from '../helpers/cli.js';
import { expectEventIdentities } from '../helpers/event-identities.js';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin', 'agentlink.js');
const dir = mkdtempSync(join(tmpdir(), 'agentlink-simulate-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir, timeout, env: { ...process.env, AGENTLINK_DEBUG: '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function readJson(name: string): FleetReport {
  return parseReport(JSON.parse(readFileSync(join(dir, name), 'utf8')), name);
}

/**
 * Runs `agentlink simulate --duration 0 --out FILE` until a line of its time series meets `done`,
 * then interrupts it as a user would (Ctrl-C): the run ends with exit code 130 and writes its
 * reports. The test waits for what it needs to have happened, not for a fixed time.
 */
async function runUntil(args: string[], series: string, done: (line: { t: number; connected: number; eventsGenerated: number }) => boolean): Promise<Run> {
  const child = startCli(args, { cwd: dir });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const path = join(dir, series);
  const reached = (): boolean =>
    existsSync(path) &&
    readFileSync(path, 'utf8')
      .split('\n')
      .some((l) => l !== '' && done(JSON.parse(l) as { t: number; connected: number; eventsGenerated: number }));
  try {
    const deadline = Date.now() + 100_000;
    while (!reached() && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(reached(), `${series} never met the condition; stderr: ${stderr}`).toBe(true);
  } finally {
    child.kill('SIGINT');
  }
  const code = await exited;
  expect(code).toBe(130);
  // the interrupt is acknowledged, and nothing else went wrong
  expect(stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^agentlink: SIGINT received, stopping/)]);
  return { code: code ?? -1, stdout, stderr };
}

describe('agentlink simulate (built CLI)', () => {
  it('keeps 1000 agents connected through a node kill and restart and accounts for every event', async () => {
    // the run lasts until the fleet is whole again after the restart, however long this machine
    // takes to connect 1000 agents, then the user interrupts it
    const run = await runUntil(
      [
        'simulate',
        '--agents', '1000',
        '--cluster', '3',
        '--duration', '0',
        '--chaos', 'kill:node1@4s,restart:node1@8s',
        '--notify', '1s',
        '--time-reconnect', '3s',
        '--strategy', 'backoff',
        '--eps', '0.5',
        '--out', 'r.ndjson',
        '--report', 'r.json',
        '--html', 'r.html',
        '--quiet',
      ],
      'r.ndjson',
      (line) => line.t >= 10_000 && line.connected === 1000,
    );
    expect(run.stdout).toContain(`JSON report: ${join(dir, 'r.json')}`);
    const r = readJson('r.json');

    expect(r.agents).toEqual({ total: 1000, connected: 1000, neverConnected: 0 });
    // every agent node1 had when it was killed failed over; no other agent did (agent i starts at
    // node i mod 3 + 1: 334 can be on node1). How many were on it at 4 s depends on how fast the
    // machine connected the fleet, so the count is the kill's, not a fixed one
    const kill = r.chaos[0]!;
    expect(kill.connected).toBeGreaterThan(0);
    expect(kill.connected).toBeLessThanOrEqual(334);
    expect(r.failover.count).toBeGreaterThanOrEqual(kill.connected!);
    expect(r.failover.count).toBeLessThanOrEqual(334);
    expect(r.reconnects.total).toBeGreaterThanOrEqual(r.failover.count);
    expect(Object.values(r.distribution).reduce((a, b) => a + b, 0)).toBe(1000);
    // they stay on the node they failed over to: node1 comes back empty
    expect(r.distribution.node1).toBe(0);

    const e = r.events;
    expect(e.generated).toBeGreaterThan(1000);
    expect(e.received).not.toBeNull();
    expect(e.lost).not.toBeNull();
    expectEventIdentities(e);
    expect(r.lostExplained.unexplained).toBe(0);
    expect(r.lostExplained.inFlightOnLostConnections ?? 0).toBe(e.lost);

    expect(r.chaos.map((c) => `${c.action}:${c.node}`)).toEqual(['kill:node1', 'restart:node1']);
    expect(r.chaos[0]!.at).toBeGreaterThanOrEqual(4000);
    expect(r.chaos[0]!.at).toBeLessThan(6000);
    expect(r.limits.hit).toEqual([]);
    // the timeline shows the dip: fewer than 1000 connected right after the kill, per node counts add up
    const afterKill = r.timeline.find((p) => p.t >= Math.floor(kill.at / 1000) * 1000 && p.t <= kill.at + 1000 && p.perNode.node1 === 0);
    expect(afterKill).toBeDefined();
    for (const p of r.timeline) expect(Object.values(p.perNode).reduce((a, b) => a + b, 0)).toBe(p.connected);
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(html).toContain('<svg');
  }, 120_000);

  it('runs the fleet over two worker processes with the cluster in a process of its own', async () => {
    // the run lasts until the whole fleet is connected and has sent 1000 events, however long the
    // machine takes to connect 600 agents, then the user interrupts it (the report is still written)
    await runUntil(
      ['simulate', '--agents', '600', '--cluster', '2', '--workers', '2', '--duration', '0', '--notify', '1s', '--eps', '1', '--ramp', '1000/s', '--out', 'w.ndjson', '--report', 'w.json', '--quiet'],
      'w.ndjson',
      (line) => line.connected === 600 && line.eventsGenerated > 1000,
    );
    const r = readJson('w.json');
    expect(r.config.workers).toBe(2);
    expect(r.agents).toEqual({ total: 600, connected: 600, neverConnected: 0 });
    expect(r.distribution).toEqual({ node1: 300, node2: 300 });
    expect(r.connect.count).toBe(600);
    expectEventIdentities(r.events);
    expect(r.events.generated).toBeGreaterThan(1000);
  }, 120_000);

  it('fails with one line and exit code 1 when no agent can reach the managers', async () => {
    writeFileSync(join(dir, 'two.keys'), formatClientKeys([
      { id: '001', name: 'a1', ip: 'any', key: 'a'.repeat(64) },
      { id: '002', name: 'a2', ip: 'any', key: 'b'.repeat(64) },
    ]));
    // port 9 (discard) has no listener on 127.0.0.1 here: connections are refused
    const run = await cli(['simulate', '--agents', '2', '--manager', '127.0.0.1:9', '--keys', 'two.keys', '--duration', '1500ms', '--drain', '0', '--quiet']);
    expect(run.code).toBe(1);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^agentlink simulate: no agent connected within 1500ms: 2 of 2 failed with ERR_CONNECT .*127\.0\.0\.1:9/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('names the open-file limit when the process runs out of descriptors, and still reports', async () => {
    const run = await new Promise<Run>((resolve) => {
      const cmd = `ulimit -n 300 && exec "${process.execPath}" "${bin}" simulate --agents 400 --cluster 2 --duration 3s --eps 0 --report limit.json --quiet`;
      execFile('/bin/sh', ['-c', cmd], { cwd: dir, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      });
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^agentlink simulate: system limit hit \d+ times \(open-files\): EMFILE: the per-process open-file limit \(ulimit -n\) was reached.*\(ERR_RESOURCE_LIMIT\)$/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const r = readJson('limit.json');
    expect(r.limits.hit.map((l) => l.limit)).toEqual(['open-files']);
    expect(r.agents.total).toBe(400);
  }, 30_000);

  it('rejects bad input with one line and exit code 2', async () => {
    writeFileSync(join(dir, 'short.keys'), formatClientKeys([{ id: '001', name: 'a1', ip: 'any', key: 'a'.repeat(64) }]));
    const runs = await Promise.all([
      cli(['simulate', '--agents', '10', '--cluster', '3', '--duratoin', '5s']),
      cli(['simulate', '--agents', '10', '--cluster', '3', '--duration', 'five']),
      cli(['simulate', '--agents', '10', '--manager', '127.0.0.1:1514', '--keys', 'short.keys']),
      cli(['simulate', '--agents', '10', '--manager', '127.0.0.1:1514', '--keys', 'missing.keys']),
      cli(['simulate', '--agents', '10', '--config', 'missing.conf', '--keys', 'short.keys']),
      cli(['simulate', '--agents', '10', '--cluster', '2', '--workload', 'nope.jsonl']),
      cli(['demo', '--agnets', '5']),
    ]);
    expectUsageError(runs[0]!, /unknown flag '--duratoin'; did you mean --duration\?/);
    expectUsageError(runs[1]!, /--duration 'five' is not a duration/);
    expectUsageError(runs[2]!, /--keys 'short\.keys' holds 1 agent identity but --agents is 10; lower --agents to 1, or give a file with 10 entries the managers know/);
    expectUsageError(runs[3]!, /--keys 'missing\.keys': cannot read the file \(ENOENT\)/);
    expectUsageError(runs[4]!, /--config 'missing\.conf': cannot read the file \(ENOENT\)/);
    expectUsageError(runs[5]!, /--workload 'nope\.jsonl': cannot read the file/);
    expectUsageError(runs[6]!, /unknown flag '--agnets'; did you mean --agents\?/);
  }, 30_000);
});
