/**
 * The embedded cluster is the chaos target, in this process and in a cluster process of its own:
 * with `faultPaths` the agents connect through a FaultProxy per node, and every chaos operation
 * (path faults, hang, connection resets, forced reconnects, kill and restart) reaches the nodes and
 * proxies, over IPC too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ToolError } from 'agentlink';
import { Fleet, simulatedIdentities, startEmbeddedCluster } from 'agentlink/simulator';
import type { EmbeddedCluster } from 'agentlink/simulator';

const open: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c();
});

async function connectedFleet(cluster: EmbeddedCluster, n: number): Promise<Fleet> {
  const indexes = Array.from({ length: n }, (_, i) => i);
  const fleet = new Fleet({ indexes, identities: simulatedIdentities(indexes, 'host'), servers: cluster.servers, rampPerSecond: 0, client: { notifyTime: 500 } });
  open.push(() => fleet.stop({ drainTimeout: 0 }));
  fleet.start();
  await fleet.waitForConnected(n, 10_000);
  return fleet;
}

describe.each([false, true])('startEmbeddedCluster (forked: %s)', (forked) => {
  it('puts a fault proxy in front of every node, and the chaos operations reach proxies and nodes', async () => {
    const keys = simulatedIdentities([0, 1, 2, 3, 4, 5], 'host');
    const cluster = await startEmbeddedCluster({ nodes: 3, keys, faultPaths: true, forked });
    open.push(() => cluster.close());
    expect(cluster.nodes).toEqual(['node1', 'node2', 'node3']);
    expect(cluster.agents).toBe(6);
    expect(cluster.faultPaths).toBe(true);
    expect(cluster.servers.map((s) => s.node)).toEqual(['node1', 'node2', 'node3']);
    // the agents reach the proxies, not the nodes' own ports
    expect(cluster.servers.map((s) => s.port)).not.toEqual(cluster.directServers.map((s) => s.port));

    const fleet = await connectedFleet(cluster, 6);
    expect(await cluster.distribution()).toEqual({ node1: 2, node2: 2, node3: 2 });
    const stats = await cluster.faultPathStats();
    expect(Object.keys(stats)).toEqual(['node1', 'node2', 'node3']);
    expect(stats.node1!.connections).toBe(2);

    expect(await cluster.pathFault('node1', { kind: 'latency', ms: 50 })).toBe(2);
    expect(await cluster.pathFault('node1', { kind: 'latency', ms: 0 })).toBe(2);
    expect(await cluster.pathFault('node2', { kind: 'reset' })).toBe(2);
    expect((await cluster.faultPathStats()).node2!.resets).toBe(2);
    await fleet.waitForConnected(6, 10_000);

    await cluster.hang('node3', true);
    await cluster.hang('node3', false);
    expect(await cluster.resetConnections('node3')).toBe(2);
    await fleet.waitForConnected(6, 10_000);

    // agents 0 and 3 start at node1; both are told, wherever they are
    expect(await cluster.forceReconnect([0, 3])).toBe(2);
    await cluster.kill('node1');
    expect((await cluster.distribution()).node1).toBe(0);
    await cluster.restart('node1');
    // hang and reset leave a node that is down alone
    await cluster.kill('node2');
    await cluster.hang('node2', true);
    expect(await cluster.resetConnections('node2')).toBe(0);
  }, 30_000);
});

describe('startEmbeddedCluster', () => {
  it('refuses fault proxies over UDP, and a clock or event hook for a forked cluster', async () => {
    const keys = simulatedIdentities([0], 'host');
    await expect(startEmbeddedCluster({ nodes: 1, keys, faultPaths: true, protocol: 'udp' })).rejects.toThrow(ToolError);
    await expect(startEmbeddedCluster({ nodes: 1, keys, forked: true, onEvent: () => undefined })).rejects.toThrow(/in this process only/);
  });

  it('without fault proxies the agents reach the nodes, and a path fault says what is missing', async () => {
    const cluster = await startEmbeddedCluster({ nodes: 2, keys: simulatedIdentities([0, 1], 'host') });
    open.push(() => cluster.close());
    expect(cluster.faultPaths).toBe(false);
    expect(cluster.servers).toEqual(cluster.directServers);
    await expect(cluster.pathFault('node1', { kind: 'reset' })).rejects.toThrow(/no fault proxy in front of node1/);
    expect(await cluster.faultPathStats()).toEqual({});
  });
});
