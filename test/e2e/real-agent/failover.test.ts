/**
 * Failover of the real Wazuh agent (wazuh-agentd 4.14.7) over a MockCluster: a node killed, hung
 * and restarted, side by side with an AgentClient (`strategy: 'wazuh'`, the same settings) in the
 * same cluster at the same time; and real agents behind HAProxy `leastconn`, moved by the
 * rebalancer's `force_reconnect`.
 *
 * Times are measured on the managers' side (the moment a node registers the agent's startup), one
 * instrument for both agents. agentd counts whole seconds and wakes at most once a second, so its
 * times may differ from AgentClient's by up to about a second per timer involved.
 */
import { afterAll, expect, it } from 'vitest';
import { AgentClient, createDefaultTransportFactory } from '../../../src/index.js';
import type { AgentKey } from '../../../src/index.js';
import { KeyStore, MockCluster } from '../../../src/testing/index.js';
import { checkBalance, HaproxyBalancer, HaproxyRebalancer } from '../../../src/testing/lb/index.js';
import { describeIfLb } from '../../helpers/require-lb.js';
import { describeIfRealAgent, startRealAgent, stopAllRealAgents } from '../../helpers/real-agent.js';
import type { RealAgent } from '../../helpers/real-agent.js';

afterAll(stopAllRealAgents);

/** Where and when (ms since t0) each agent's startups were accepted, per node. */
function recordArrivals(cluster: MockCluster): { arrivals: Map<string, { node: string; at: number }[]>; reset: () => number } {
  const arrivals = new Map<string, { node: string; at: number }[]>();
  let t0 = Date.now();
  cluster.on('agentStatus', (node, id, status) => {
    if (status !== 'pending') return;
    const list = arrivals.get(id) ?? [];
    list.push({ node, at: Date.now() - t0 });
    arrivals.set(id, list);
  });
  return {
    arrivals,
    reset: () => {
      arrivals.clear();
      t0 = Date.now();
      return t0;
    },
  };
}

/** The servers agentd tried since `mark`, as node names, from its "Trying to connect" lines. */
function agentdAttempts(agent: RealAgent, mark: number, portToNode: Map<number, string>): string[] {
  return agent.logLines(/Trying to connect to server \(\[127\.0\.0\.1\]:\d+\/tcp\)/, mark).map((l) => portToNode.get(Number(/\]:(\d+)\//.exec(l)![1]))!);
}

await describeIfRealAgent('wazuh-agentd 4.14.7 failover over MockCluster', async () => {
  it('kill, restart and hang: agentd and AgentClient (strategy wazuh, same settings) try the same servers in the same order and arrive at about the same time', async (ctx) => {
    const keys = new KeyStore();
    const [realKey, sdkKey] = keys.generate(2) as [AgentKey, AgentKey];
    const cluster = new MockCluster({ nodes: 2, keys });
    await cluster.start();
    ctx.onTestFinished(() => cluster.close());
    const servers = cluster.servers();
    const portToNode = new Map(servers.map((s) => [s.port, s.name]));
    // agentd: notify 1 s, time-reconnect 4 s, recv_timeout 2 s; per server max_retries 2, retry_interval 2 s
    const real = await startRealAgent(ctx, {
      servers: servers.map((s) => ({ port: s.port, maxRetries: 2, retryInterval: 2 })),
      key: realKey,
      notifyTime: 1,
      timeReconnect: 4,
      internalOptions: { 'agent.recv_timeout': 2 },
    });
    // every attempt of the SDK agent, seen where it opens its socket
    const sdkAttempts: string[] = [];
    const tcp = createDefaultTransportFactory();
    const sdk = new AgentClient(
      {
        agent: sdkKey,
        servers: servers.map((s) => ({ address: s.address, port: s.port, maxRetries: 2, retryInterval: 2000 })),
        notifyTime: 1000,
        timeReconnect: 4000,
        handshakeTimeout: 2000,
        reconnect: { strategy: 'wazuh' },
      },
      {
        transport: (target, opts) => {
          sdkAttempts.push(portToNode.get(target.port)!);
          return tcp(target, opts);
        },
      },
    );
    sdk.on('error', () => undefined);
    ctx.onTestFinished(() => sdk.stop({ drainTimeout: 0 }));
    await sdk.start();
    await cluster.waitForAgents(2, { timeout: 15_000 });
    expect(cluster.agentNode(realKey.id)).toBe('node1');
    expect(cluster.agentNode(sdkKey.id)).toBe('node1');
    const { arrivals, reset } = recordArrivals(cluster);
    const arrival = (id: string, node: string): number | undefined => arrivals.get(id)?.find((a) => a.node === node)?.at;
    const bothOn = (node: string) => () => arrival(realKey.id, node) !== undefined && arrival(sdkKey.id, node) !== undefined;
    // Arrival times are seen by this process, which also runs the AgentClient: on a loaded machine
    // its timers fire late, agentd's do not. The tolerances allow for that; the measured
    // differences on an idle machine are in the comments at each phase.
    const compare = (phase: string, node: string, expectedMs: number, toleranceMs: number) => {
      const a = arrival(realKey.id, node)!;
      const b = arrival(sdkKey.id, node)!;
      const what = `${phase}: agentd reached ${node} after ${a} ms, AgentClient after ${b} ms (expected about ${expectedMs} ms, at most ${toleranceMs} ms apart)`;
      ctx.annotate(what);
      expect(Math.abs(a - b), what).toBeLessThanOrEqual(toleranceMs);
      for (const t of [a, b]) {
        expect(t, what).toBeGreaterThanOrEqual(expectedMs - 1_000);
        expect(t, what).toBeLessThanOrEqual(expectedMs * 2);
      }
    };

    // 1. node1 killed: connection reset, port closed. Both retry node1 (max_retries 2, 2 s apart),
    //    wait retry_interval, then go to node2: about 4 s.
    let mark = real.mark();
    sdkAttempts.length = 0;
    reset();
    await cluster.kill('node1');
    await ctx.expect.poll(bothOn('node2'), { timeout: 15_000 }).toBe(true);
    // both sleep exactly retry_interval: measured 20 to 50 ms apart when the machine is idle
    compare('node1 killed', 'node2', 4_000, 2_000);
    expect(agentdAttempts(real, mark, portToNode)).toEqual(['node1', 'node1', 'node2']);
    expect(sdkAttempts).toEqual(['node1', 'node1', 'node2']);
    expect(real.logSince(mark)).toMatch(/\(1216\): Unable to connect to '\[127\.0\.0\.1\]:\d+\/tcp'/);
    expect(real.logSince(mark)).toContain("Trying next server ip in the line: '127.0.0.1'.");

    // 2. node1 restarted (a new remoted on the same port, no records): nothing moves back by itself.
    await cluster.restart('node1');
    await cluster.waitForAgents(2, { timeout: 5_000 });
    expect([cluster.agentNode(realKey.id), cluster.agentNode(sdkKey.id)]).toEqual(['node2', 'node2']);

    // 3. node2 hangs (accepts, answers nothing). Both notice when time-reconnect passes without an
    //    ACK (4 s after the last one), try node2 twice (each attempt connects and waits recv_timeout
    //    2 s, then retry_interval 2 s), then wrap around to node1: about 4 + 2 × (2 + 2) = 12 s.
    mark = real.mark();
    sdkAttempts.length = 0;
    reset();
    await cluster.node('node2').setFaults({ blackhole: true });
    await ctx.expect.poll(bothOn('node1'), { timeout: 25_000, interval: 100 }).toBe(true);
    // agentd checks time-reconnect once a second on whole seconds with '>': it notices the silence
    // 0 to 2 s later than AgentClient, which times it exactly (measured: about 1 s later)
    compare('node2 hung', 'node1', 12_000, 3_000);
    expect(agentdAttempts(real, mark, portToNode)).toEqual(['node2', 'node2', 'node1']);
    expect(sdkAttempts).toEqual(['node2', 'node2', 'node1']);
    await cluster.waitForAgents(2, { timeout: 5_000 });
    expect(cluster.distribution()).toEqual({ node1: 2, node2: 0 });
  }, 60_000);

  await describeIfLb('haproxy', 'behind HAProxy leastconn', () => {
    it('real agents spread over three nodes, fail over through the balancer when a node dies, and the rebalancer\'s force_reconnect moves them back onto the restarted node', async (ctx) => {
      const AGENTS = 6;
      const keys = new KeyStore();
      const identities = keys.generate(AGENTS);
      const cluster = new MockCluster({ nodes: 3, keys });
      await cluster.start();
      ctx.onTestFinished(() => cluster.close());
      const lb = await HaproxyBalancer.start({
        backends: cluster.servers().map((s) => ({ name: s.name, address: s.address, port: s.port })),
        checkIntervalMs: 300,
      });
      ctx.onTestFinished(() => lb.stop());
      const agents = await Promise.all(
        identities.map((key) => startRealAgent(ctx, { servers: [{ port: lb.eventsPort, maxRetries: 3, retryInterval: 1 }], key, notifyTime: 1, timeReconnect: 4, internalOptions: { 'agent.recv_timeout': 2 } })),
      );
      await cluster.waitForAgents(AGENTS, { timeout: 20_000 });
      const total = () => Object.values(cluster.distribution()).reduce((a, b) => a + b, 0);
      expect(cluster.distribution()).toEqual({ node1: 2, node2: 2, node3: 2 });

      await cluster.kill('node1');
      await ctx.expect.poll(() => total() === AGENTS && cluster.distribution().node1 === 0, { timeout: 20_000 }).toBe(true);
      await lb.runtime.waitForServerState('wazuh_cluster', 'node1', 'DOWN', { timeoutMs: 8_000 });
      await cluster.restart('node1');
      await lb.runtime.waitForServerState('wazuh_cluster', 'node1', 'UP', { timeoutMs: 8_000 });
      const skewed = cluster.distribution();
      expect(skewed.node1).toBe(0);

      const rebalancer = new HaproxyRebalancer({ runtime: lb.runtime, cluster, chunkSize: 10, chunkDelay: 100, statusSyncTime: 0, adminStateDelay: 100, stabilityTime: 0, pollInterval: 100 });
      const result = await rebalancer.runOnce();
      expect(result).toMatchObject({ balanced: false, mean: 2, moved: 2 });
      await ctx.expect.poll(() => total() === AGENTS && checkBalance(cluster.distribution()).balanced, { timeout: 20_000 }).toBe(true);
      expect(cluster.distribution()).toEqual({ node1: 2, node2: 2, node3: 2 });
      // the movers were asked by the manager, and reconnected through the balancer
      const moved = agents.filter((a) => a.log().includes('Wazuh Agent will be reconnected because a reconnect message was received'));
      expect(moved).toHaveLength(2);
    }, 60_000);
  });
}, { concurrent: true });
