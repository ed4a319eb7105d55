/**
 * HaproxyRebalancer's pacing and ordering over a scripted runtime API and cluster, on fake time.
 * The real-HAProxy behaviour is in test/integration/lb/rebalancer.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/index.js';
import { ToolError } from '../../../src/index.js';
import { HaproxyRebalancer } from '../../../src/testing/lb/index.js';
import type { ClusterMember, RebalanceCluster, RebalancerRuntime, SettableServerState, StatRow } from '../../../src/testing/lb/index.js';

const clock: Clock = {
  now: () => Date.now(),
  monotonic: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

function row(svname: string, scur: number, status = 'UP', addr?: string, lastchg = 0): StatRow {
  return {
    pxname: 'wazuh_cluster',
    svname,
    type: 'server',
    qcur: 0,
    scur,
    smax: undefined,
    slim: undefined,
    stot: undefined,
    lbtot: undefined,
    status,
    weight: 1,
    chkfail: 0,
    chkdown: 0,
    lastchg,
    checkStatus: 'L4OK',
    addr,
    raw: {},
  };
}

interface ScriptedServer {
  scur: number;
  status: string;
  addr?: string;
  /** Seconds since the last state change (`lastchg`). */
  lastchg?: number;
}

/** A runtime API whose servers the test sets, recording every call with the fake time. */
class ScriptedRuntime implements RebalancerRuntime {
  servers: Record<string, ScriptedServer> = {};
  readonly calls: string[] = [];
  /** The state an added server starts in (HAProxy 2.6: UP once health is enabled and it is set ready). */
  addedStatus = 'UP';

  async serverRows(backend = 'wazuh_cluster'): Promise<StatRow[]> {
    this.calls.push(`${Date.now()} rows ${backend}`);
    return Object.entries(this.servers).map(([name, s]) => row(name, s.scur, s.status, s.addr, s.lastchg));
  }

  async addServer(backend: string, server: string, address: string, port: number, options: { inter?: number } = {}): Promise<void> {
    this.calls.push(`${Date.now()} add ${backend}/${server} ${address}:${port}${options.inter === undefined ? '' : ` inter ${options.inter}`}`);
    if (this.servers[server] !== undefined) throw new ToolError('Already exists a server with the same name in backend.', 'ERR_EXTERNAL_PROGRAM');
    this.servers[server] = { scur: 0, status: this.addedStatus, addr: `${address}:${port}`, lastchg: 0 };
  }

  async deleteServer(backend: string, server: string): Promise<void> {
    this.calls.push(`${Date.now()} del ${backend}/${server}`);
    if (this.servers[server] === undefined) throw new ToolError('No such server.', 'ERR_EXTERNAL_PROGRAM');
    delete this.servers[server];
  }

  async setServerState(backend: string, server: string, state: SettableServerState): Promise<void> {
    this.calls.push(`${Date.now()} set ${backend}/${server} ${state}`);
    const s = this.servers[server];
    if (s === undefined) throw new ToolError(`No such server ${server}`, 'ERR_EXTERNAL_PROGRAM');
    s.status = state === 'ready' ? 'UP' : state === 'drain' ? 'DRAIN' : 'MAINT';
  }
}

/** A cluster whose nodes carry ids `<node>-<i>`, recording every call with the fake time. */
function scriptedCluster(calls: string[], failOn?: string): RebalanceCluster {
  return {
    agentsOnNode: (node, limit) => {
      calls.push(`${Date.now()} list ${node} ${limit}`);
      return Array.from({ length: limit }, (_, i) => `${node}-${i}`);
    },
    reconnectAgents: async (node, ids) => {
      calls.push(`${Date.now()} reconnect ${node} ${ids.length}`);
      if (node === failOn) throw new ToolError('manager API unreachable', 'ERR_EXTERNAL_PROGRAM');
      return ids.length;
    },
  };
}

let runtime: ScriptedRuntime;
let calls: string[];

beforeEach(() => {
  vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  runtime = new ScriptedRuntime();
  calls = runtime.calls;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('HaproxyRebalancer.runOnce pacing', () => {
  it('waits statusSyncTime after finding an imbalance, then sends chunkSize agents per chunk, chunkDelay after each', async () => {
    runtime.servers = { node1: { scur: 0, status: 'UP' }, node2: { scur: 250, status: 'UP' }, node3: { scur: 50, status: 'UP' } };
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock, statusSyncTime: 25_000, chunkSize: 100, chunkDelay: 5_000 });
    const run = rebalancer.runOnce();
    await vi.runAllTimersAsync();
    const result = await run;
    // mean 100: node2 has 150 in excess, sent in chunks of 100 and 50, 5 s apart, after 25 s of sync wait
    expect(result).toMatchObject({ balanced: false, mean: 100, excess: { node2: 150 }, moved: 150, movedPerNode: { node2: 150 } });
    expect(calls).toEqual(['0 rows wazuh_cluster', '25000 list node2 150', '25000 reconnect node2 100', '30000 reconnect node2 50']);
  });

  it('judges only the UP servers: a DOWN node with no sessions does not make the others look overloaded', async () => {
    runtime.servers = { node1: { scur: 0, status: 'DOWN' }, node2: { scur: 150, status: 'UP' }, node3: { scur: 150, status: 'UP 1/2' } };
    const result = await new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock, statusSyncTime: 0 }).runOnce();
    expect(result).toMatchObject({ balanced: true, sessions: { node2: 150, node3: 150 }, moved: 0, states: { node1: 'DOWN', node2: 'UP', node3: 'UP' } });
  });

  it('sets DRAIN servers ready first and judges the balance on the states read after that', async () => {
    runtime.servers = { node1: { scur: 100, status: 'DRAIN' }, node2: { scur: 100, status: 'UP' } };
    const result = await new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock }).runOnce();
    expect(result).toMatchObject({ drainedBack: ['node1'], balanced: true, sessions: { node1: 100, node2: 100 } });
    expect(calls).toEqual(['0 rows wazuh_cluster', '0 set wazuh_cluster/node1 ready', '0 rows wazuh_cluster']);
  });
});

describe('HaproxyRebalancer.onNodeBack', () => {
  it('polls every pollInterval until the node is UP, then drains only the other old servers around each node\'s excess', async () => {
    runtime.servers = { node1: { scur: 150, status: 'UP' }, node2: { scur: 150, status: 'UP' }, node3: { scur: 0, status: 'DOWN' } };
    const rebalancer = new HaproxyRebalancer({
      runtime,
      cluster: scriptedCluster(calls),
      clock,
      pollInterval: 1000,
      adminStateDelay: 5000,
      chunkDelay: 5000,
      stabilityTime: 60_000,
    });
    const migration = rebalancer.onNodeBack('node3');
    setTimeout(() => (runtime.servers.node3!.status = 'UP'), 2500);
    await vi.runAllTimersAsync();
    const result = await migration;
    expect(result).toMatchObject({ nodes: ['node3'], waitedMs: 3000, sessions: { node1: 150, node2: 150, node3: 0 }, excess: { node1: 50, node2: 50 }, moved: 100 });
    expect(calls).toEqual([
      '0 rows wazuh_cluster',
      '1000 rows wazuh_cluster',
      '2000 rows wazuh_cluster',
      '3000 rows wazuh_cluster',
      '3000 rows wazuh_cluster',
      '3000 set wazuh_cluster/node2 drain',
      '8000 list node1 50',
      '8000 reconnect node1 50',
      '13000 set wazuh_cluster/node2 ready',
      '18000 set wazuh_cluster/node1 drain',
      '23000 list node2 50',
      '23000 reconnect node2 50',
      '28000 set wazuh_cluster/node1 ready',
    ]);
  });

  it('sets the drained servers ready again when asking agents to reconnect fails, and rejects with that error', async () => {
    runtime.servers = { node1: { scur: 150, status: 'UP' }, node2: { scur: 150, status: 'UP' }, node3: { scur: 0, status: 'UP' } };
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls, 'node1'), clock, adminStateDelay: 10, stabilityTime: 0 });
    const migration = rebalancer.onNodeBack(['node3']).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await migration).toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM', message: 'manager API unreachable' });
    expect(calls.filter((c) => c.includes(' set '))).toEqual(['0 set wazuh_cluster/node2 drain', '10 set wazuh_cluster/node2 ready']);
    expect(runtime.servers.node2!.status).toBe('UP');
  });

  it('gives up after nodeUpTimeout naming the state HAProxy still reports', async () => {
    runtime.servers = { node1: { scur: 10, status: 'UP' }, node2: { scur: 0, status: 'DOWN' } };
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock, nodeUpTimeout: 5000, pollInterval: 1000 });
    const migration = rebalancer.onNodeBack('node2').catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    const err = await migration;
    expect(err).toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM', message: 'HAProxy did not report wazuh_cluster/node2 (DOWN) UP within 5000 ms' });
    expect(calls).toHaveLength(6); // at 0, 1000, …, 5000 ms
  });

  it('queues runs behind a migration instead of interleaving them', async () => {
    runtime.servers = { node1: { scur: 20, status: 'UP' }, node2: { scur: 0, status: 'UP' } };
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock, adminStateDelay: 1000, stabilityTime: 1000, statusSyncTime: 0, chunkDelay: 0 });
    const order: string[] = [];
    rebalancer.on('migration', () => order.push('migration'));
    rebalancer.on('run', () => order.push('run'));
    const migration = rebalancer.onNodeBack('node2');
    const run = rebalancer.runOnce();
    await vi.runAllTimersAsync();
    await Promise.all([migration, run]);
    expect(order).toEqual(['migration', 'run']);
    // the run began only after the migration's stability time (the scripted sessions stay 20/0, so it moves 10 again)
    expect(calls).toEqual([
      '0 rows wazuh_cluster',
      '0 rows wazuh_cluster',
      '1000 list node1 10',
      '1000 reconnect node1 10',
      '3000 rows wazuh_cluster',
      '3000 list node1 10',
      '3000 reconnect node1 10',
    ]);
  });
});

const member = (name: string, port: number): ClusterMember => ({ name, address: '127.0.0.1', port });

/** A scripted cluster that also lists its nodes; reconnecting moves the agents' sessions off the node in the scripted runtime. */
function listingCluster(members: () => ClusterMember[], options: { failOn?: string; sticky?: number } = {}): RebalanceCluster {
  const base = scriptedCluster(calls, options.failOn);
  return {
    ...base,
    agentsOnNode: (node, limit) => base.agentsOnNode(node, limit),
    reconnectAgents: async (node, ids) => {
      const sent = await base.reconnectAgents(node, ids);
      const server = runtime.servers[node];
      // the agents leave the node (all but `sticky` of them)
      if (server !== undefined) server.scur = Math.max(options.sticky ?? 0, server.scur - sent);
      return sent;
    },
    nodes: () => members(),
  };
}

describe('HaproxyRebalancer membership (step 2)', () => {
  const three = [member('node1', 1001), member('node2', 1002), member('node3', 1003)];
  const backend = (): Record<string, ScriptedServer> => ({
    node1: { scur: 100, status: 'UP', addr: '127.0.0.1:1001' },
    node2: { scur: 100, status: 'UP', addr: '127.0.0.1:1002' },
    node3: { scur: 100, status: 'UP', addr: '127.0.0.1:1003' },
  });

  it('adds a server for a node that joined (with the configured check), waits until it is UP, and migrates the old nodes\' excess to it', async () => {
    runtime.servers = backend();
    runtime.addedStatus = 'DOWN';
    const members = [...three, member('node4', 1004)];
    const rebalancer = new HaproxyRebalancer({
      runtime,
      cluster: listingCluster(() => members),
      clock,
      serverCheck: { inter: 500 },
      pollInterval: 1000,
      adminStateDelay: 100,
      chunkDelay: 0,
      stabilityTime: 0,
    });
    const run = rebalancer.runOnce();
    setTimeout(() => (runtime.servers.node4!.status = 'UP'), 1500);
    await vi.runAllTimersAsync();
    const result = await run;
    // 300 agents over 4 servers: mean 75, each old node gives up 25
    expect(result.membership).toMatchObject({ added: ['node4'], replaced: [], removed: [], kept: {} });
    expect(result.membership?.migration).toMatchObject({ nodes: ['node4'], waitedMs: 2000, excess: { node1: 25, node2: 25, node3: 25 }, moved: 75 });
    expect(result).toMatchObject({ moved: 75, movedPerNode: { node1: 25, node2: 25, node3: 25 }, mean: 75, balanced: false });
    expect(calls.slice(0, 2)).toEqual(['0 rows wazuh_cluster', '0 add wazuh_cluster/node4 127.0.0.1:1004 inter 500']);
    // the next run finds the backend up to date and does not add node4 again
    calls.length = 0;
    runtime.servers.node4!.scur = 75;
    const next = rebalancer.runOnce();
    await vi.runAllTimersAsync();
    expect((await next).membership).toEqual({ added: [], replaced: [], removed: [], kept: {}, migration: undefined });
    expect(calls.some((c) => c.includes(' add '))).toBe(false);
  });

  it('replaces the server of a node whose address changed', async () => {
    runtime.servers = backend();
    runtime.servers.node3!.scur = 0;
    const members = [three[0]!, three[1]!, member('node3', 2003)];
    const result = await (async () => {
      const p = new HaproxyRebalancer({ runtime, cluster: listingCluster(() => members), clock, adminStateDelay: 0, chunkDelay: 0, stabilityTime: 0 }).syncMembership();
      await vi.runAllTimersAsync();
      return p;
    })();
    expect(result).toMatchObject({ added: [], replaced: ['node3'], removed: [] });
    expect(calls.filter((c) => / (add|del) /.test(c))).toEqual(['0 del wazuh_cluster/node3', '0 add wazuh_cluster/node3 127.0.0.1:2003']);
    expect(runtime.servers.node3!.addr).toBe('127.0.0.1:2003');
  });

  it('keeps the server of a departed node while it is UP or down for less than removeDisconnectedAfter, then deletes it', async () => {
    runtime.servers = backend();
    runtime.servers.node3 = { scur: 0, status: 'DOWN', addr: '127.0.0.1:1003', lastchg: 59 };
    runtime.servers.node5 = { scur: 3, status: 'UP', addr: '127.0.0.1:1005', lastchg: 7200 };
    const members = three.slice(0, 2);
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: listingCluster(() => members), clock, removeDisconnectedAfter: 60_000 });
    expect(await rebalancer.syncMembership()).toEqual({ added: [], replaced: [], removed: [], kept: { node3: 1000, node5: 'up' }, migration: undefined });
    runtime.servers.node3!.lastchg = 60;
    const removals: string[][] = [];
    rebalancer.on('membership', (m) => removals.push(m.removed));
    expect(await rebalancer.syncMembership()).toMatchObject({ removed: ['node3'], kept: { node5: 'up' } });
    expect(Object.keys(runtime.servers)).toEqual(['node1', 'node2', 'node5']);
    expect(removals).toEqual([['node3']]);
  });

  it('refuses syncMembership without a cluster that lists its nodes, and a node that cannot be a server name', async () => {
    runtime.servers = backend();
    await expect(new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock }).syncMembership()).rejects.toMatchObject({ code: 'ERR_USAGE' });
    const bad = new HaproxyRebalancer({ runtime, cluster: listingCluster(() => [member('node 4', 1004)]), clock });
    await expect(bad.syncMembership()).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('node 4') });
    expect(calls.some((c) => c.includes(' add '))).toBe(false);
  });

  it('addNode adds the server and migrates even for a cluster that does not list its nodes', async () => {
    runtime.servers = { node1: { scur: 60, status: 'UP', addr: '127.0.0.1:1001' }, node2: { scur: 60, status: 'UP', addr: '127.0.0.1:1002' } };
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock, adminStateDelay: 0, chunkDelay: 0, stabilityTime: 0 });
    const migration = rebalancer.addNode(member('node3', 1003));
    await vi.runAllTimersAsync();
    expect(await migration).toMatchObject({ nodes: ['node3'], mean: 40, excess: { node1: 20, node2: 20 }, moved: 40 });
    await expect(rebalancer.addNode({ name: 'node4', address: '127.0.0.1', port: 70_000 })).rejects.toMatchObject({ code: 'ERR_USAGE' });
  });
});

describe('HaproxyRebalancer.removeNode', () => {
  const members = [member('node1', 1001), member('node2', 1002), member('node3', 1003)];
  const backend = (): Record<string, ScriptedServer> => ({
    node1: { scur: 100, status: 'UP', addr: '127.0.0.1:1001' },
    node2: { scur: 250, status: 'UP', addr: '127.0.0.1:1002' },
    node3: { scur: 100, status: 'UP', addr: '127.0.0.1:1003' },
  });

  it('drains the server, asks its agents to reconnect in chunks after adminStateDelay, deletes it once empty, and step 2 does not add it back', async () => {
    runtime.servers = backend();
    let listed = members;
    const rebalancer = new HaproxyRebalancer({
      runtime,
      cluster: listingCluster(() => listed),
      clock,
      adminStateDelay: 5000,
      chunkSize: 100,
      chunkDelay: 1000,
      stabilityTime: 0,
      statusSyncTime: 0,
    });
    const removal = rebalancer.removeNode('node2');
    await vi.runAllTimersAsync();
    const result = await removal;
    expect(result).toEqual({
      node: 'node2',
      before: { node1: 100, node2: 250, node3: 100 },
      after: { node1: 100, node3: 100 },
      moved: 250,
      drainedMs: 8000,
      leftBehind: 0,
    });
    expect(calls).toEqual([
      '0 rows wazuh_cluster',
      '0 set wazuh_cluster/node2 drain',
      '5000 rows wazuh_cluster',
      '5000 list node2 250',
      '5000 reconnect node2 100',
      '6000 reconnect node2 100',
      '7000 reconnect node2 50',
      '8000 rows wazuh_cluster',
      '8000 del wazuh_cluster/node2',
      '8000 rows wazuh_cluster',
    ]);
    // the cluster still lists node2 (the node has not stopped yet): a run does not add it back
    calls.length = 0;
    const run = rebalancer.runOnce();
    await vi.runAllTimersAsync();
    expect((await run).membership?.added).toEqual([]);
    // once the node is gone from the cluster and comes back under the same name, it is added again
    listed = members.filter((m) => m.name !== 'node2');
    await rebalancer.syncMembership();
    listed = members;
    const back = rebalancer.syncMembership();
    await vi.runAllTimersAsync();
    expect((await back).added).toEqual(['node2']);
  });

  it('deletes the server at drainTimeout with the sessions that did not leave counted as left behind', async () => {
    runtime.servers = backend();
    const rebalancer = new HaproxyRebalancer({
      runtime,
      cluster: listingCluster(() => members, { sticky: 3 }),
      clock,
      adminStateDelay: 0,
      chunkSize: 1000,
      chunkDelay: 0,
      pollInterval: 1000,
      drainTimeout: 10_000,
    });
    const removal = rebalancer.removeNode('node2');
    await vi.runAllTimersAsync();
    expect(await removal).toMatchObject({ moved: 250, leftBehind: 3, drainedMs: 10_000 });
    expect(runtime.servers.node2).toBeUndefined();
    // the three agents still there were each asked once, not again at every poll
    expect(calls.filter((c) => c.includes('reconnect'))).toEqual(['0 reconnect node2 250']);
  });

  it('sets the server ready again when asking its agents fails, rejects with that error, and leaves the server in the backend', async () => {
    runtime.servers = backend();
    const rebalancer = new HaproxyRebalancer({ runtime, cluster: listingCluster(() => members, { failOn: 'node2' }), clock, adminStateDelay: 0 });
    const removal = rebalancer.removeNode('node2').catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(await removal).toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM', message: 'manager API unreachable' });
    expect(runtime.servers.node2!.status).toBe('UP');
    expect(calls.filter((c) => c.includes(' set '))).toEqual(['0 set wazuh_cluster/node2 drain', '0 set wazuh_cluster/node2 ready']);
  });

  it('rejects a server the backend does not have with ERR_USAGE naming the servers', async () => {
    runtime.servers = backend();
    await expect(new HaproxyRebalancer({ runtime, cluster: scriptedCluster(calls), clock }).removeNode('node9')).rejects.toMatchObject({
      code: 'ERR_USAGE',
      message: "HAProxy backend 'wazuh_cluster' has no server 'node9' (servers: node1, node2, node3)",
    });
  });
});
