/**
 * simulate() as a library: Prometheus metrics during a run, an interrupted run that still reports,
 * a run ready only after its --start-at, and the demo's chaos selectors (busiest node, last killed
 * node, rebalance).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReport, parseSimulateArgs, simulate } from 'agentlink/simulator';
import { expectEventIdentities } from '../../helpers/event-identities.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('simulate()', () => {
  it('serves Prometheus metrics on 127.0.0.1 while the fleet runs', async () => {
    const lines: string[] = [];
    let scraped = '';
    const config = parseSimulateArgs(['--agents', '30', '--cluster', '2', '--duration', '3s', '--eps', '2', '--notify', '1s', '--drain', '1s', '--prometheus', '0', '--quiet']);
    const run = simulate(config, { log: (l) => lines.push(l) });
    let ended = false;
    void run.finally(() => (ended = true)).catch(() => {});
    // scrape until the agents are up, for as long as the run serves (no fixed count of tries)
    while (!ended && !/agentlink_agents_connected 30\b/.test(scraped)) {
      await new Promise((r) => setTimeout(r, 100));
      const url = /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(lines.join('\n'))?.[1];
      if (url) scraped = await fetch(url).then((r) => r.text(), () => '');
    }
    const result = await run;
    expect(scraped).toMatch(/agentlink_agents_connected 30\b/);
    expect(scraped).toMatch(/agentlink_agents_per_node\{node="node1"\} 15\b/);
    for (const c of ['generated', 'accepted', 'written', 'received', 'dropped']) expect(scraped).toMatch(new RegExp(`agentlink_events_${c}_total \\d+`));
    expect(scraped).not.toMatch(/agentlink_events_sent_total/);
    expect(result.problems).toEqual([]);
  }, 20_000);

  it('stops early when the signal aborts and still writes the report', async () => {
    const controller = new AbortController();
    const config = parseSimulateArgs(['--agents', '20', '--cluster', '2', '--duration', '60s', '--eps', '2', '--report', 'aborted.json', '--quiet']);
    setTimeout(() => controller.abort(), 1500);
    const started = Date.now();
    const result = await simulate(config, { cwd: dir, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.interrupted).toBe(true);
    const report = parseReport(JSON.parse(readFileSync(join(dir, 'aborted.json'), 'utf8')));
    expect(report.durationMs).toBeLessThan(5000);
    expect(report.agents.total).toBe(20);
    expectEventIdentities(report.events);
  }, 20_000);

  it('a run ready only after its --start-at starts at once, and its report says how late (planned and actual start, a warning)', async () => {
    const config = parseSimulateArgs(['--agents', '4', '--cluster', '1', '--duration', '500ms', '--drain', '0s', '--quiet', '--start-at', '+0s']);
    // as if getting ready had taken 3 s longer than the lead the shards were given
    config.startAt = Date.now() - 3000;
    const notices: string[] = [];
    const result = await simulate(config, { notice: (l) => notices.push(l), log: () => {} });
    expect(notices.filter((l) => /waiting until/.test(l))).toEqual([]);
    expect(result.report.plannedStartAt).toBe(new Date(config.startAt).toISOString());
    expect(Date.parse(result.report.startedAt) - config.startAt).toBeGreaterThanOrEqual(3000);
    expect(result.report.warnings).toContainEqual(expect.stringMatching(/^the run was ready only [\d.]+ s after --start-at \S+ and started at once, that much late$/));
    expect(result.problems).toEqual([]);
  }, 20_000);

  it('kills the busiest node, restarts it and rebalances, recording each step', async () => {
    const config = parseSimulateArgs([
      ...['--agents', '60', '--cluster', '3', '--duration', '4s', '--eps', '1', '--notify', '1s', '--drain', '1s', '--quiet'],
      ...['--chaos', 'kill:busiest@1s,restart:last-killed@2s,rebalance@2500ms'],
    ]);
    const result = await simulate(config, {
      serverOptions: { maxRetries: 1, retryInterval: 200 },
      rebalance: { chunkDelay: 0 },
    });
    expect(result.problems).toEqual([]);
    const chaos = result.report.chaos;
    expect(chaos.map((c) => c.action)).toEqual(['kill', 'restart', 'rebalance']);
    expect(chaos.every((c) => c.error === undefined)).toBe(true);
    // the restart is of the node killed; every agent it had at the kill failed over, and no other
    // agent did (a rebalance is not a failover). How many it had at 1 s depends on how fast the
    // machine connected the fleet: at most its share of 20 (all 20 on an idle machine)
    expect(chaos[1]!.node).toBe(chaos[0]!.node);
    const killed = chaos[0]!.connected!;
    expect(killed).toBeGreaterThan(0);
    expect(killed).toBeLessThanOrEqual(20);
    expect(result.report.failover.count).toBeGreaterThanOrEqual(killed);
    expect(result.report.failover.count).toBeLessThanOrEqual(20);
    expect(result.report.agents.connected).toBe(60);
  }, 20_000);
});
