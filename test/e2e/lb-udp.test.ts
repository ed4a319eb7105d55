/**
 * UDP behind a balancer, as a user gets there: `agentlink simulate --lb haproxy --protocol udp` is
 * refused with advice to use nginx, and the run the advice leads to (`--lb nginx --protocol udp`:
 * nginx `stream` with `listen … udp`) carries every agent's handshake, keepalives and events
 * through nginx to the embedded cluster's UDP nodes, spread over the nodes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { FleetReport } from 'agentlink/simulator';
import { runCli } from '../helpers/cli.js';
import { describeIfLb } from '../helpers/require-lb.js';
import { expectEventIdentities } from '../helpers/event-identities.js';

const work = mkdtempSync(join(tmpdir(), 'agentlink-lb-udp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

await describeIfLb('nginx', 'agentlink simulate --protocol udp behind a balancer', () => {
  it('refuses HAProxy for UDP with advice to use nginx, and the nginx run it points to delivers every event', async () => {
    const common = ['simulate', '--agents', '60', '--cluster', '3', '--protocol', 'udp', '--duration', '6s', '--notify', '1s', '--eps', '2', '--drain', '2s'];
    const refused = await runCli([...common, '--lb', 'haproxy'], { cwd: work });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--lb haproxy balances TCP only; for UDP use --lb nginx');

    const report = join(work, 'udp.json');
    const run = await runCli([...common, '--lb', 'nginx', '--report', report], { cwd: work, timeout: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('nginx balances the agents over the 3 nodes');
    const r = JSON.parse(readFileSync(report, 'utf8')) as FleetReport & { lb?: { kind: string } };
    expect(r.lb?.kind).toBe('nginx');
    expect(r.config.protocol).toBe('udp');
    expect(r.agents.connected).toBe(60);
    // nginx least_conn over UDP sessions: every node carries agents
    expect(Object.keys(r.distribution).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const n of Object.values(r.distribution)) expect(n).toBeGreaterThanOrEqual(10);
    expect(Object.values(r.distribution).reduce((a, b) => a + b, 0)).toBe(60);
    expect(r.events.generated).toBeGreaterThan(500);
    expectEventIdentities(r.events);
    expect(r.events.lost).toBe(0);
    console.log(`UDP through nginx: distribution ${JSON.stringify(r.distribution)}, generated ${r.events.generated}, written ${r.events.written}, received ${r.events.received}, dropped ${r.events.dropped}`);
  }, 90_000);
});
