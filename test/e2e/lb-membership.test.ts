/**
 * `agentlink simulate --cluster 3 --lb haproxy --chaos add:node4@…,remove:node2@…` run as a user
 * runs it: a node that joins during the run is added as a server of the HAProxy backend and receives
 * its share of the agents; a node that leaves is drained and deleted first and leaves no agent
 * behind. The report's chaos records carry the agents per node before and after each change.
 * Two workers: the embedded cluster runs in its own process, so the steps cross its IPC.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { checkBalance } from 'agentlink/testing';
import type { FleetReport } from 'agentlink/simulator';
import { runCli } from '../helpers/cli.js';
import { describeIfLb } from '../helpers/require-lb.js';
import { expectEventIdentities } from '../helpers/event-identities.js';

const work = mkdtempSync(join(tmpdir(), 'agentlink-lb-membership-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const total = (d: Record<string, number>): number => Object.values(d).reduce((a, b) => a + b, 0);

await describeIfLb('haproxy', 'agentlink simulate --lb haproxy: nodes joining and leaving during the run', () => {
  it('node4 joins at 5 s and receives its share of the 90 agents; node2 leaves at 10 s with none left behind', async () => {
    const report = join(work, 'report.json');
    // prettier-ignore
    const run = await runCli([
      'simulate', '--agents', '90', '--cluster', '3', '--lb', 'haproxy', '--duration', '16s', '--workers', '2',
      '--chaos', 'add:node4@5s,remove:node2@10s',
      '--notify', '1s', '--time-reconnect', '3s', '--eps', '1', '--drain', '1s', '--report', report,
    ], { cwd: work, timeout: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const r = JSON.parse(readFileSync(report, 'utf8')) as FleetReport & { lb?: { sessionsPerBackend: Record<string, number>; serverStates: Record<string, string> } };
    const [add, remove] = r.chaos;
    expect(add).toMatchObject({ action: 'add', node: 'node4' });
    expect(add?.error).toBeUndefined();
    expect(add!.balance!.before).toEqual({ node1: 30, node2: 30, node3: 30 });
    const afterAdd = add!.balance!.after;
    expect(total(afterAdd)).toBe(90);
    // 90 over 4 nodes: 22 or 23 each; node4 got its share
    expect(afterAdd.node4).toBeGreaterThanOrEqual(22);
    expect(checkBalance(afterAdd).balanced).toBe(true);
    expect(add!.detail).toMatch(/^24 agents moved to it; /);

    expect(remove).toMatchObject({ action: 'remove', node: 'node2' });
    expect(remove?.error).toBeUndefined();
    expect(remove!.detail).toMatch(/ agents moved off, 0 left behind; /);
    const afterRemove = remove!.balance!.after;
    expect(Object.keys(afterRemove).sort()).toEqual(['node1', 'node3', 'node4']);
    expect(total(afterRemove)).toBe(90);
    expect(checkBalance(afterRemove).balanced).toBe(true);
    // the terminal shows the same numbers as the run goes
    expect(run.stderr).toContain(`s: add node4 (${add!.detail})`);
    expect(run.stderr).toContain(`s: remove node2 (${remove!.detail})`);
    // at the end: every agent connected, HAProxy's backend is node1, node3, node4 with the same counts
    expect(r.agents.connected).toBe(90);
    expect(r.lb?.sessionsPerBackend).toEqual(afterRemove);
    expect(Object.keys(r.lb!.serverStates).sort()).toEqual(['node1', 'node3', 'node4']);
    expectEventIdentities(r.events);
    expect(run.stderr).toContain('embedded cluster of 3 nodes runs in its own process');
    console.log(`balance: before ${JSON.stringify(add!.balance!.before)}; after add ${JSON.stringify(afterAdd)} (${add!.balance!.settledMs} ms); after remove ${JSON.stringify(afterRemove)} (${remove!.balance!.settledMs} ms)`);
  }, 90_000);
});
