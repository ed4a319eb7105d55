/**
 * HaproxyRebalancer against a real HAProxy (leastconn) in front of a 3-node MockCluster, with real
 * AgentClients connected through the balancer. The tests share one cluster, balancer and fleet and
 * run in order; each leaves every node up and every agent connected (the last one replaces node2 with node4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, ToolError } from '../../../src/index.js';
import { KeyStore, MockCluster } from '../../../src/testing/index.js';
import {
  checkBalance,
  HaproxyBalancer,
  HaproxyRebalancer,
  HaproxyRuntimeApi,
  rebalanceClusterOf,
} from '../../../src/testing/lb/index.js';
import type { MigrationResult, RebalanceRunResult, ServerState } from '../../../src/testing/lb/index.js';
import { describeIfLb } from '../../helpers/require-lb.js';
import { waitFor } from './backends.js';

const AGENTS = 90;
const BACKEND = 'wazuh_cluster';

describe('HaproxyRebalancer options', () => {
  const runtime = new HaproxyRuntimeApi('/nonexistent/agentlink/admin.sock');
  const cluster = { agentsOnNode: () => [], reconnectAgents: () => 0 };

  it('rejects a chunk size below 1, a negative tolerance or delay, and a bad backend name with ConfigError naming the option', () => {
    expect(() => new HaproxyRebalancer({ runtime, cluster, chunkSize: 0 })).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', element: 'chunkSize' }));
    expect(() => new HaproxyRebalancer({ runtime, cluster, tolerance: -0.1 })).toThrow(expect.objectContaining({ element: 'tolerance' }));
    expect(() => new HaproxyRebalancer({ runtime, cluster, chunkDelay: -1 })).toThrow(expect.objectContaining({ element: 'chunkDelay' }));
    expect(() => new HaproxyRebalancer({ runtime, cluster, backend: 'wazuh cluster\nstats' })).toThrow(expect.objectContaining({ element: 'backend' }));
  });

  it('reports an unreachable runtime API as ToolError from runOnce, and as error events while the loop goes on', async () => {
    const rebalancer = new HaproxyRebalancer({ runtime, cluster, sleepTime: 30 });
    await expect(rebalancer.runOnce()).rejects.toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM' });
    const errors: ToolError[] = [];
    rebalancer.on('error', (e) => errors.push(e as ToolError));
    rebalancer.start();
    expect(rebalancer.running).toBe(true);
    await waitFor(() => errors.length >= 3, 5_000, 'three failed runs');
    await rebalancer.stop();
    expect(rebalancer.running).toBe(false);
    const seen = errors.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(errors.length).toBe(seen);
    expect(errors.every((e) => e instanceof ToolError && e.code === 'ERR_EXTERNAL_PROGRAM')).toBe(true);
  });
});

await describeIfLb('haproxy', 'HaproxyRebalancer (real HAProxy leastconn, 3-node MockCluster, 90 AgentClients)', () => {
  let cluster!: MockCluster;
  let lb!: HaproxyBalancer;
  const agents: AgentClient[] = [];

  const connected = (): number => agents.filter((a) => a.state === 'connected').length;
  const dist = (): Record<string, number> => cluster.distribution();
  const everyoneConnected = (): boolean => connected() === AGENTS && Object.values(dist()).reduce((a, b) => a + b, 0) === AGENTS;
  const states = (): Promise<Record<string, ServerState>> => lb.runtime.serverStates(BACKEND);
  const newRebalancer = (extra: Partial<ConstructorParameters<typeof HaproxyRebalancer>[0]> = {}): HaproxyRebalancer =>
    new HaproxyRebalancer({ runtime: lb.runtime, cluster, chunkSize: 10, chunkDelay: 100, statusSyncTime: 0, adminStateDelay: 100, stabilityTime: 0, pollInterval: 100, ...extra });

  /** Kills a node, waits until its agents are connected elsewhere and HAProxy shows it DOWN, restarts it. */
  async function skew(node: string): Promise<void> {
    await cluster.kill(node);
    await waitFor(() => everyoneConnected() && dist()[node] === 0, 20_000, `every agent connected without ${node}`);
    await lb.runtime.waitForServerState(BACKEND, node, 'DOWN', { timeoutMs: 8_000 });
    await cluster.restart(node);
  }

  beforeAll(async () => {
    const keys = new KeyStore();
    const identities = keys.generate(AGENTS);
    cluster = new MockCluster({ nodes: 3, keys, managerOptions: { eventHistory: 0 } });
    await cluster.start();
    lb = await HaproxyBalancer.start({
      backends: cluster.servers().map((s) => ({ name: s.name, address: s.address, port: s.port })),
      checkIntervalMs: 300,
    });
    for (const agent of identities) {
      const client = new AgentClient({
        agent,
        servers: [{ address: '127.0.0.1', port: lb.eventsPort }],
        notifyTime: 1000,
        timeReconnect: 3000,
        reconnect: { strategy: 'backoff', initialDelay: 100, maxDelay: 500 },
      });
      agents.push(client);
      void client.start().catch(() => undefined);
    }
    await waitFor(everyoneConnected, 15_000, `${AGENTS} agents connected`);
  }, 30_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop({ drainTimeout: 0 })));
    await (lb as HaproxyBalancer | undefined)?.stop();
    await (cluster as MockCluster | undefined)?.close();
  });

  it('leaves a balanced backend alone and sets a server found in DRAIN back to READY', async () => {
    await lb.runtime.setServerState(BACKEND, 'node2', 'drain');
    expect((await states()).node2).toBe('DRAIN');
    const result = await newRebalancer().runOnce();
    expect(result.drainedBack).toEqual(['node2']);
    expect(result.states).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
    expect(result.sessions).toEqual({ node1: 30, node2: 30, node3: 30 });
    expect(result).toMatchObject({ balanced: true, mean: 30, moved: 0, excess: {} });
    expect(await states()).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
  });

  it('asks the excess agents of the overloaded servers to reconnect in chunks, and leastconn evens the distribution', async () => {
    await skew('node1');
    await lb.runtime.waitForServerState(BACKEND, 'node1', 'UP', { timeoutMs: 8_000 });
    const rebalancer = newRebalancer();
    const chunks: { node: string; asked: number; sent: number }[] = [];
    rebalancer.on('chunk', (c) => chunks.push(c));
    const skewed = dist();
    const result = await rebalancer.runOnce();
    // judged on HAProxy's scur, which matches the managers' count: node1 has none, the others about 45 each
    expect(result.sessions).toEqual(skewed);
    expect(result.sessions.node1).toBe(0);
    expect(result).toMatchObject({ balanced: false, mean: 30 });
    const excess = { node2: skewed.node2! - 30, node3: skewed.node3! - 30 };
    expect(result.excess).toEqual(excess);
    expect(result.movedPerNode).toEqual(excess);
    expect(result.moved).toBe(30);
    // chunks of 10 per node, in node order
    const expected = Object.entries(excess).flatMap(([node, n]) =>
      Array.from({ length: Math.ceil(n / 10) }, (_, i) => ({ node, asked: Math.min(10, n - i * 10), sent: Math.min(10, n - i * 10) })),
    );
    expect(chunks).toEqual(expected);
    await waitFor(() => everyoneConnected() && checkBalance(dist()).balanced, 15_000, 'a balanced distribution');
    const sessions = await lb.runtime.sessionsPerServer(BACKEND);
    expect(sessions).toEqual(dist());
    expect(checkBalance(sessions).balanced).toBe(true);
    // and the next run finds nothing to do
    expect((await rebalancer.runOnce()).moved).toBe(0);
  }, 40_000);

  it('onNodeBack waits until HAProxy reports the node UP, then moves each old node\'s excess to it with the other old servers drained', async () => {
    await skew('node3');
    const before = { node1: new Set(cluster.node('node1').connectedAgentIds()), node2: new Set(cluster.node('node2').connectedAgentIds()) };
    expect(before.node1.size + before.node2.size).toBe(AGENTS);
    const rebalancer = newRebalancer();
    const statesAtChunk: { node: string; states: Record<string, ServerState> }[] = [];
    const pending: Promise<void>[] = [];
    rebalancer.on('chunk', ({ node }) => pending.push(states().then((s) => void statesAtChunk.push({ node, states: s }))));
    const result: MigrationResult = await rebalancer.onNodeBack('node3');
    await Promise.all(pending);
    expect(result.nodes).toEqual(['node3']);
    expect(result.sessions).toEqual({ node1: before.node1.size, node2: before.node2.size, node3: 0 });
    expect(result).toMatchObject({ balanced: false, mean: 30, excess: { node1: before.node1.size - 30, node2: before.node2.size - 30 }, moved: 30 });
    // while node1's agents moved, node2 was drained (and the other way round); node3 never was
    expect(statesAtChunk.length).toBeGreaterThanOrEqual(4);
    for (const { node, states: s } of statesAtChunk) {
      const other = node === 'node1' ? 'node2' : 'node1';
      expect(s[other]).toBe('DRAIN');
      expect(s[node]).toBe('UP');
      expect(s.node3).toBe('UP');
    }
    expect(await states()).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
    await waitFor(() => everyoneConnected() && checkBalance(dist()).balanced, 15_000, 'a balanced distribution');
    // so no agent went from one old node to the other: the movers all landed on node3
    for (const id of cluster.node('node2').connectedAgentIds()) expect(before.node1.has(id)).toBe(false);
    for (const id of cluster.node('node1').connectedAgentIds()) expect(before.node2.has(id)).toBe(false);
    expect(dist().node3).toBeGreaterThanOrEqual(27);
  }, 40_000);

  it('onNodeBack rejects a server the backend does not have, and a node that stays down after nodeUpTimeout', async () => {
    const rebalancer = newRebalancer({ nodeUpTimeout: 600 });
    await expect(rebalancer.onNodeBack('node9')).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining("no server 'node9'") });
    await lb.runtime.setServerState(BACKEND, 'node2', 'maint');
    try {
      await expect(rebalancer.onNodeBack('node2')).rejects.toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM', message: expect.stringContaining('wazuh_cluster/node2 (MAINT)') });
    } finally {
      await lb.runtime.setServerState(BACKEND, 'node2', 'ready');
    }
    await waitFor(everyoneConnected, 15_000, 'every agent connected again');
  }, 30_000);

  it('stop() during a migration aborts it and sets the drained servers ready again', async () => {
    await skew('node2');
    const rebalancer = newRebalancer({ adminStateDelay: 10_000 });
    const migration = rebalancer.onNodeBack('node2').catch((e: unknown) => e);
    await waitFor(async () => Object.values(await states()).includes('DRAIN'), 15_000, 'a drained server');
    const t0 = Date.now();
    await rebalancer.stop();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(await migration).toMatchObject({ code: 'ERR_ABORTED' });
    expect(await states()).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
    // the stopped rebalancer can run again: it evens out what the aborted migration left
    const result = await rebalancer.runOnce();
    expect(result.moved).toBeGreaterThan(0);
    await waitFor(() => everyoneConnected() && checkBalance(dist()).balanced, 15_000, 'a balanced distribution');
  }, 40_000);

  it('start() runs the loop at once and then every sleepTime; stop() ends it in the middle of a sleep', async () => {
    const rebalancer = newRebalancer({ sleepTime: 200 });
    const runs: RebalanceRunResult[] = [];
    rebalancer.on('run', (r) => runs.push(r));
    rebalancer.start();
    rebalancer.start(); // already running: no second loop
    await waitFor(() => runs.length >= 3, 5_000, 'three runs');
    await rebalancer.stop();
    const seen = runs.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(runs.length).toBe(seen);
    expect(runs.every((r) => r.balanced && r.moved === 0)).toBe(true);
  });

  it('works through rebalanceClusterOf with any { agentsOnNode, reconnectAgents } implementation', async () => {
    const calls: string[] = [];
    const viaMock = rebalanceClusterOf(cluster);
    const custom = {
      agentsOnNode: async (node: string, limit: number) => {
        calls.push(`list ${node} ${limit}`);
        return viaMock.agentsOnNode(node, limit);
      },
      reconnectAgents: async (node: string, ids: readonly string[]) => {
        calls.push(`reconnect ${node} ${ids.length}`);
        return viaMock.reconnectAgents(node, ids);
      },
    };
    expect(rebalanceClusterOf(custom)).toBe(custom);
    await skew('node1');
    await lb.runtime.waitForServerState(BACKEND, 'node1', 'UP', { timeoutMs: 8_000 });
    const skewed = dist();
    const result = await newRebalancer({ cluster: custom, chunkSize: 100 }).runOnce();
    expect(result.moved).toBe(30);
    const n2 = skewed.node2! - 30;
    const n3 = skewed.node3! - 30;
    expect(calls).toEqual([`list node2 ${n2}`, `reconnect node2 ${n2}`, `list node3 ${n3}`, `reconnect node3 ${n3}`]);
    await waitFor(() => everyoneConnected() && checkBalance(dist()).balanced, 15_000, 'a balanced distribution');
  }, 40_000);

  it('a node that joins is added as a server by step 2 (add server) and receives its share; a node that leaves is drained, deleted (del server) and leaves no agent behind', async () => {
    const rebalancer = newRebalancer();
    const before = dist();
    expect(before).toEqual({ node1: 30, node2: 30, node3: 30 });
    const node4 = await cluster.addNode();
    expect(node4.name).toBe('node4');
    const run = await rebalancer.runOnce();
    expect(run.membership).toMatchObject({ added: ['node4'], replaced: [], removed: [] });
    // 90 agents over 4 servers: mean 22, each old node gives up 8
    expect(run.membership?.migration).toMatchObject({ nodes: ['node4'], mean: 22, excess: { node1: 8, node2: 8, node3: 8 }, moved: 24 });
    // a mover that reconnects after the drained servers are ready again goes to the least loaded one, not always node4
    await waitFor(() => everyoneConnected() && checkBalance(dist()).balanced && dist().node4! >= 22, 15_000, 'node4 holding its share');
    expect(await lb.runtime.sessionsPerServer(BACKEND)).toEqual(dist());
    expect((await rebalancer.runOnce()).membership?.added).toEqual([]);

    const onNode2 = dist().node2;
    const removal = await rebalancer.removeNode('node2');
    expect(removal).toMatchObject({ node: 'node2', moved: onNode2, leftBehind: 0 });
    expect(Object.keys(removal.after).sort()).toEqual(['node1', 'node3', 'node4']);
    const left = await cluster.removeNode('node2');
    expect(left).toMatchObject({ agentsBefore: 0, leftBehind: 0 });
    await waitFor(everyoneConnected, 15_000, 'every agent connected without node2');
    expect(Object.keys(dist()).sort()).toEqual(['node1', 'node3', 'node4']);
    expect(await lb.runtime.sessionsPerServer(BACKEND)).toEqual(dist());
    // node2 gone from the cluster too: the next run neither adds it back nor finds anything to do
    const after = await rebalancer.runOnce();
    expect(after.membership).toMatchObject({ added: [], removed: [] });
    expect(after.balanced).toBe(true);
  }, 60_000);
});
