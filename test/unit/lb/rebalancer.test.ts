/**
 * HaproxyRebalancer's pacing and ordering over a scripted runtime API and cluster, on fake time.
 * The real-HAProxy behaviour is in test/integration/lb/rebalancer.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../../src/index.js';
import { ToolError } from '../../../src/index.js';
import { HaproxyRebalancer } from '../../../src/testing/lb/index.js';
import type { RebalanceCluster, RebalancerRuntime, SettableServerState, StatRow } from '../../../src/testing/lb/index.js';

const clock: Clock = {
  now: () => Date.now(),
  monotonic: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

function row(svname: string, scur: number, status = 'UP'): StatRow {
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
    lastchg: 0,
    checkStatus: 'L4OK',
    addr: undefined,
    raw: {},
  };
}

/** A runtime API whose servers the test sets, recording every call with the fake time. */
class ScriptedRuntime implements RebalancerRuntime {
  servers: Record<string, { scur: number; status: string }> = {};
  readonly calls: string[] = [];

  async serverRows(backend = 'wazuh_cluster'): Promise<StatRow[]> {
    this.calls.push(`${Date.now()} rows ${backend}`);
    return Object.entries(this.servers).map(([name, s]) => row(name, s.scur, s.status));
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
