/**
 * startBalancerForCluster with the simulator's own embedded cluster (the shape `agentlink simulate
 * --cluster N --lb haproxy|nginx` hands it): frontends over the nodes and authd, the report section,
 * and the usage errors found before any program starts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../src/index.js';
import { startEmbeddedCluster } from '../../src/simulator/cluster-host.js';
import { simulatedIdentities } from '../../src/simulator/identities.js';
import { startBalancerForCluster } from '../../src/simulator/lb.js';
import { describeIfLb } from '../helpers/require-lb.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('startBalancerForCluster usage errors (found before any program starts)', () => {
  const cluster = { servers: [{ address: '127.0.0.1', port: 1514, node: 'node1' }] };

  it('rejects a rebalancer with nginx, which has no runtime API', async () => {
    await expect(startBalancerForCluster('nginx', cluster, { rebalance: { cluster: { agentsOnNode: () => [], reconnectAgents: () => 0 } } })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringContaining('nginx has none'),
    });
  });

  it('rejects UDP nodes, an empty node list, a node name no balancer accepts and an unknown kind', async () => {
    await expect(startBalancerForCluster('haproxy', { servers: [{ address: '127.0.0.1', port: 1514, node: 'node1', protocol: 'udp' }] })).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: expect.stringContaining('TCP only'),
    });
    await expect(startBalancerForCluster('haproxy', { servers: [] })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(startBalancerForCluster('nginx', { servers: () => [{ address: '127.0.0.1', port: 1514, name: 'node 1; bind' }] })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(startBalancerForCluster('envoy' as 'haproxy', cluster)).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(startBalancerForCluster('haproxy', cluster, { connections: -1 })).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('connections') });
  });

  it('names the Debian package when the program is missing', async () => {
    await expect(startBalancerForCluster('haproxy', cluster, { haproxy: { binary: '/nonexistent/agentlink/haproxy' } })).rejects.toMatchObject({
      code: 'ERR_EXTERNAL_PROGRAM',
      message: expect.stringContaining('apt-get install haproxy'),
    });
  });
});

for (const kind of ['haproxy', 'nginx'] as const) {
  await describeIfLb(kind, `startBalancerForCluster('${kind}') in front of the simulator's embedded cluster`, () => {
    it('proxies the events and enrollment frontends to the nodes and authd, and reports its section', async () => {
      const keys = simulatedIdentities([0, 1, 2, 3, 4, 5], `lb-sim-${kind}`);
      const cluster = await startEmbeddedCluster({ nodes: 3, keys, authd: true });
      cleanups.push(() => cluster.close());
      const lb = await startBalancerForCluster(kind, cluster, { checkIntervalMs: 500, connections: 5000 });
      cleanups.push(() => lb.stop());
      // sized for the fleet: HAProxy's maxconn, nginx's worker_connections (two per proxied connection)
      if (kind === 'haproxy') expect(lb.haproxy!.config).toContain('maxconn 5100');
      else expect(lb.nginx!.config).toContain('worker_connections 10256;');
      expect(lb.kind).toBe(kind);
      expect(lb.nodes).toEqual(['node1', 'node2', 'node3']);
      expect(lb.eventsServer.address).toBe('127.0.0.1');
      expect(lb.enrollmentServer?.port).toBeGreaterThan(0);
      expect(lb.rebalancer).toBeUndefined();

      const agents = keys.map(
        (agent) =>
          new AgentClient({ agent, servers: [{ ...lb.eventsServer }], notifyTime: 1000, reconnect: { strategy: 'backoff', initialDelay: 100, maxDelay: 500 } }),
      );
      cleanups.push(() => Promise.all(agents.map((a) => a.stop({ drainTimeout: 0 }))));
      await Promise.all(agents.map((a) => a.start()));
      // least connections: two agents per node
      await waitFor(async () => JSON.stringify(await cluster.distribution()) === JSON.stringify({ node1: 2, node2: 2, node3: 2 }), 5000, 'two agents per node');

      // a new agent enrolls through the balancer's enrollment frontend, then connects through the events frontend
      const enrolled = new AgentClient({
        servers: [{ ...lb.eventsServer }],
        enrollment: { enabled: true, managerAddress: lb.enrollmentServer!.address, port: lb.enrollmentServer!.port, agentName: `lb-sim-${kind}`, delayAfterEnrollment: 50 },
      });
      cleanups.push(() => enrolled.stop({ drainTimeout: 0 }));
      await enrolled.start();
      expect(enrolled.identity?.name).toBe(`lb-sim-${kind}`);
      await waitFor(async () => Object.values(await cluster.distribution()).reduce((a, b) => a + b, 0) === 7, 5000, 'seven agents on the nodes');

      const report = await lb.report();
      expect(report).toMatchObject({
        kind,
        balance: kind === 'haproxy' ? 'leastconn' : 'least_conn',
        eventsServer: `127.0.0.1:${lb.eventsServer.port}`,
        enrollmentServer: `127.0.0.1:${lb.enrollmentServer!.port}`,
      });
      if (kind === 'haproxy') {
        expect(report.sessionsPerBackend).toEqual(await cluster.distribution());
        expect(report.serverStates).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
      } else {
        expect(report.sessionsPerBackend).toBeNull();
        expect(report.serverStates).toBeNull();
      }
      await lb.stop();
      await lb.stop(); // idempotent
      // the balancer is gone: the agents lose their connections
      await waitFor(() => agents.every((a) => a.state !== 'connected'), 5000, 'every agent disconnected');
    }, 30_000);
  });
}
