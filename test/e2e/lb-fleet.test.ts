/**
 * A fleet of 1000 simulated agents (the Fleet API: real AgentClients, real sockets) through a real
 * load balancer in front of a 3-node MockCluster on 127.0.0.1:
 *
 * - HAProxy `balance leastconn` (the Wazuh documentation's layout): the spread, a node killed and
 *   its agents failing over through HAProxy, the node restarted and the HAProxy helper's migration
 *   run by {@link HaproxyRebalancer} over the runtime API, exact event accounting, and enrollment
 *   through the 1515-role frontend;
 * - nginx `stream` `least_conn`: the spread, a node killed, everyone back.
 *
 * The tests of each suite share one cluster, balancer and fleet and run in order. Measured numbers
 * (spread, failover p50/p99, agents moved, durations) are printed, never asserted.
 * Skipped with a visible reason without the programs; a failure with AGENTLINK_REQUIRE_LB=1.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentClient } from '../../src/index.js';
import type { FleetClientOptions, FleetTotals } from 'agentlink/simulator';
import { Fleet } from '../../src/simulator/fleet.js';
import { simulatedIdentities } from '../../src/simulator/identities.js';
import { startBalancerForCluster } from '../../src/simulator/lb.js';
import type { ClusterBalancer } from '../../src/simulator/lb.js';
import { FleetMetrics } from '../../src/simulator/metrics.js';
import { MockCluster } from '../../src/testing/index.js';
import { checkBalance } from '../../src/testing/lb/index.js';
import { describeIfLb } from '../helpers/require-lb.js';
import { expectTotalsIdentities } from '../helpers/event-identities.js';

const AGENTS = 1000;
const NODES = ['node1', 'node2', 'node3'] as const;
const TOLERANCE = 0.1;
/** Short timers, and jittered backoff so 1000 agents do not reconnect in lockstep. */
const CLIENT: FleetClientOptions = {
  notifyTime: 1000,
  timeReconnect: 3000,
  connectTimeout: 3000,
  reconnect: { strategy: 'backoff', initialDelay: 250, maxDelay: 2000, jitter: 1 },
};
const EPS_PER_AGENT = 0.5;

const fileStarted = performance.now();
const measured: Record<string, unknown> = {};
const print = (suite: string, what: Record<string, unknown>): void => console.log(`[lb-fleet] ${suite}: ${JSON.stringify(what)}`);

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await predicate()) return Math.round(performance.now() - started);
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every count within `tolerance` of the mean of all counts. */
function withinTolerance(counts: Record<string, number>, tolerance = TOLERANCE): boolean {
  const values = Object.values(counts);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.every((n) => Math.abs(n - mean) <= mean * tolerance);
}

/** `max − min` as a percentage of the mean. */
function spreadPercent(counts: Record<string, number>): number {
  const values = Object.values(counts);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.round(((Math.max(...values) - Math.min(...values)) / mean) * 1000) / 10;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** One cluster, one balancer in front of it, one fleet connected to the balancer. */
class Rig {
  cluster!: MockCluster;
  lb!: ClusterBalancer;
  fleet!: Fleet;
  /** Workload events the nodes received (agent-generated ones left out, as the simulator counts). */
  received = 0;
  readonly #cleanups: (() => Promise<unknown>)[] = [];

  async start(kind: 'haproxy' | 'nginx'): Promise<number> {
    const t0 = performance.now();
    const indexes = Array.from({ length: AGENTS }, (_, i) => i);
    const keys = simulatedIdentities(indexes, `lb-fleet-${kind}`);
    this.cluster = new MockCluster({ nodes: [...NODES], keys, authd: kind === 'haproxy', managerOptions: { eventHistory: 0 } });
    this.#cleanups.push(() => this.cluster.close());
    await this.cluster.start();
    this.cluster.on('event', (e) => {
      if (!e.generated && e.location !== 'wazuh-agent') this.received++;
    });
    this.lb = await startBalancerForCluster(
      kind,
      this.cluster,
      kind === 'haproxy'
        ? {
            checkIntervalMs: 500,
            rebalance: { cluster: this.cluster, chunkSize: 100, chunkDelay: 250, statusSyncTime: 0, adminStateDelay: 250, stabilityTime: 0, pollInterval: 100 },
          }
        : { nginx: { failTimeout: 1000 } },
    );
    this.#cleanups.push(() => this.lb.stop());
    this.fleet = new Fleet({
      indexes,
      identities: keys,
      servers: [{ ...this.lb.eventsServer, node: kind }],
      client: CLIENT,
      rampPerSecond: 1000,
      eps: EPS_PER_AGENT,
      seed: `lb-fleet-${kind}`,
      metrics: new FleetMetrics({ bucketMs: 1000 }),
    });
    this.#cleanups.push(() => this.fleet.stop({ drainTimeout: 0 }));
    this.fleet.start();
    await this.fleet.waitForConnected(AGENTS, 30_000);
    await waitFor(() => this.total() === AGENTS, 10_000, () => `${AGENTS} agents on the nodes (have ${JSON.stringify(this.cluster.distribution())})`);
    return Math.round(performance.now() - t0);
  }

  total(): number {
    return Object.values(this.cluster.distribution()).reduce((a, b) => a + b, 0);
  }

  connected(): number {
    return this.fleet.progress().connected;
  }

  /**
   * Kills a node and measures, per agent it carried, the time from the kill to the startup ACK'd
   * (status `pending`) on another node, through the balancer.
   */
  async killAndMeasure(node: string, timeoutMs: number): Promise<{ affected: number; p50: number; p99: number; max: number; allBackMs: number }> {
    const affected = new Set(this.cluster.node(node).connectedAgentIds());
    const times = new Map<string, number>();
    let t0 = 0;
    const onStatus = (at: string, id: string, status: string): void => {
      if (status === 'pending' && at !== node && affected.has(id) && !times.has(id)) times.set(id, performance.now() - t0);
    };
    this.cluster.on('agentStatus', onStatus);
    try {
      t0 = performance.now();
      await this.cluster.kill(node);
      const allBackMs = await waitFor(
        () => times.size === affected.size && this.connected() === AGENTS && this.total() === AGENTS,
        timeoutMs,
        () => `the ${affected.size} agents of ${node} back elsewhere (have ${times.size}; connected ${this.connected()}; nodes ${JSON.stringify(this.cluster.distribution())})`,
      );
      const sorted = [...times.values()].sort((a, b) => a - b);
      return { affected: affected.size, p50: Math.round(percentile(sorted, 50)), p99: Math.round(percentile(sorted, 99)), max: Math.round(sorted.at(-1)!), allBackMs };
    } finally {
      this.cluster.off('agentStatus', onStatus);
    }
  }

  /** Stops the fleet (drain, shutdown) and waits until the nodes have read what was written. */
  async stopFleet(): Promise<{ totals: FleetTotals; lost: number }> {
    const totals = await this.fleet.stop({ drainTimeout: 3000 });
    const floor = totals.eventsWritten - totals.eventsUnconfirmedOnLostConnections;
    await waitFor(() => this.received >= floor, 5000, () => `the nodes to receive at least ${floor} events (have ${this.received})`);
    // the last frames of the closed connections may still be in flight: wait for the count to settle
    let last = -1;
    await waitFor(
      async () => {
        const settled = this.received === last;
        last = this.received;
        if (!settled) await new Promise((r) => setTimeout(r, 200));
        return settled;
      },
      5000,
      () => 'the received count to settle',
    );
    return { totals, lost: totals.eventsWritten - this.received };
  }

  async close(): Promise<void> {
    for (const c of this.#cleanups.splice(0).reverse()) await c().catch(() => undefined);
  }
}

await describeIfLb('haproxy', `${AGENTS} agents through real HAProxy leastconn in front of a 3-node MockCluster`, () => {
  const rig = new Rig();
  const m: Record<string, unknown> = {};
  const suiteStarted = performance.now();

  beforeAll(async () => {
    m.startMs = await rig.start('haproxy');
  }, 60_000);

  afterAll(async () => {
    await rig.close();
    m.suiteMs = Math.round(performance.now() - suiteStarted);
    measured.haproxy = m;
    print('haproxy', m);
  }, 30_000);

  it('spreads the agents within 10 % of the mean, as the managers and HAProxy (scur) both count them', async () => {
    const dist = rig.cluster.distribution();
    // HAProxy counts a session as soon as it is proxied; the managers once the startup arrives: same when settled
    await waitFor(async () => JSON.stringify(await rig.lb.sessionsPerNode()) === JSON.stringify(rig.cluster.distribution()), 5000, () => 'scur = distribution');
    const sessions = (await rig.lb.sessionsPerNode())!;
    m.spread = { distribution: dist, scur: sessions, spreadPercent: spreadPercent(dist) };
    expect(Object.values(dist).reduce((a, b) => a + b, 0)).toBe(AGENTS);
    expect(withinTolerance(dist)).toBe(true);
    expect(withinTolerance(sessions)).toBe(true);
    expect(checkBalance(sessions, TOLERANCE).balanced).toBe(true);
    expect((await rig.lb.report()).serverStates).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
  });

  it('fails every agent of a killed node over through HAProxy to the other nodes', async () => {
    const failover = await rig.killAndMeasure('node1', 30_000);
    m.failover = failover;
    expect(failover.affected).toBeGreaterThan(AGENTS / 3 - AGENTS * TOLERANCE);
    expect(rig.cluster.distribution().node1).toBe(0);
    await rig.lb.runtime!.waitForServerState('wazuh_cluster', 'node1', 'DOWN', { timeoutMs: 5000 });
    const sessions = (await rig.lb.sessionsPerNode())!;
    expect(sessions.node1).toBe(0);
    expect(sessions.node2! + sessions.node3!).toBe(AGENTS);
    // how HAProxy got them there: connection errors on the dead server, retries, redispatches to another
    const backend = (await rig.lb.runtime!.showStat()).find((r) => r.pxname === 'wazuh_cluster' && r.svname === 'BACKEND');
    m.afterKill = {
      distribution: rig.cluster.distribution(),
      scur: sessions,
      haproxy: { econ: Number(backend?.raw.econ ?? NaN), wretr: Number(backend?.raw.wretr ?? NaN), wredis: Number(backend?.raw.wredis ?? NaN) },
    };
  }, 40_000);

  it('evens the distribution again once the node is back and the rebalancer migrates the excess to it', async () => {
    const t0 = performance.now();
    await rig.cluster.restart('node1');
    const migration = await rig.lb.rebalancer!.onNodeBack('node1');
    expect(migration.sessions.node1).toBe(0);
    expect(migration.moved).toBeGreaterThan(0);
    const settleMs = await waitFor(
      async () => rig.connected() === AGENTS && withinTolerance(rig.cluster.distribution()) && withinTolerance((await rig.lb.sessionsPerNode())!),
      20_000,
      () => `a distribution within 10 % (have ${JSON.stringify(rig.cluster.distribution())})`,
    );
    const sessions = (await rig.lb.sessionsPerNode())!;
    expect(checkBalance(sessions, TOLERANCE).balanced).toBe(true);
    // the helper's next run finds nothing left to move
    const next = await rig.lb.rebalancer!.runOnce();
    expect(next.balanced).toBe(true);
    expect(next.moved).toBe(0);
    m.rebalance = {
      nodeUpAfterMs: migration.waitedMs,
      excess: migration.excess,
      moved: migration.moved,
      movedPerNode: migration.movedPerNode,
      settledAfterMigrationMs: settleMs,
      totalMs: Math.round(performance.now() - t0),
      distribution: rig.cluster.distribution(),
      scur: sessions,
      spreadPercent: spreadPercent(sessions),
    };
  }, 60_000);

  it('accounts for every event: generated = written + dropped, lost = written - received, the loss within the unconfirmed in-flight count', async () => {
    const reconnect = rig.fleet.metrics.histograms.reconnect.summary();
    const { totals, lost } = await rig.stopFleet();
    m.events = {
      generated: totals.eventsGenerated,
      accepted: totals.eventsAccepted,
      written: totals.eventsWritten,
      received: rig.received,
      dropped: totals.eventsDropped,
      lost,
      unconfirmedOnLostConnections: totals.eventsUnconfirmedOnLostConnections,
      reconnects: totals.reconnects,
    };
    m.fleetReconnectMs = { count: reconnect.count, p50: Math.round(reconnect.p50Ms), p99: Math.round(reconnect.p99Ms) };
    expect(totals.eventsGenerated).toBeGreaterThan(0);
    expectTotalsIdentities(totals);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(totals.eventsUnconfirmedOnLostConnections);
    expect(totals.neverConnected).toBe(0);
  }, 30_000);

  it('enrolls agents without keys through the enrollment frontend (authd behind HAProxy) and connects them through the events frontend', async () => {
    const enroll = rig.lb.enrollmentServer!;
    expect(enroll).toBeDefined();
    const before = rig.cluster.keyStore.size;
    const clients = Array.from(
      { length: 5 },
      (_, i) =>
        new AgentClient({
          servers: [{ ...rig.lb.eventsServer }],
          enrollment: { enabled: true, managerAddress: enroll.address, port: enroll.port, agentName: `lb-enrolled-${i}`, delayAfterEnrollment: 100 },
          notifyTime: 1000,
        }),
    );
    try {
      await Promise.all(clients.map((c) => c.start()));
      expect(rig.cluster.keyStore.size).toBe(before + 5);
      for (const c of clients) {
        expect(c.state).toBe('connected');
        const id = c.identity!.id;
        expect(rig.cluster.keyStore.get(id)?.name).toMatch(/^lb-enrolled-\d$/);
        expect(NODES).toContain(rig.cluster.agentNode(id));
      }
      // the enrollments and the connections went through HAProxy's frontends
      const rows = await rig.lb.runtime!.showStat();
      const stot = (px: string): number => rows.find((r) => r.pxname === px && r.svname === 'FRONTEND')?.stot ?? 0;
      expect(stot('wazuh_register')).toBeGreaterThanOrEqual(5);
      await waitFor(async () => JSON.stringify(await rig.lb.sessionsPerNode()) === JSON.stringify(rig.cluster.distribution()), 5000, () => 'scur = distribution');
      expect(Object.values(rig.cluster.distribution()).reduce((a, b) => a + b, 0)).toBe(5);
    } finally {
      await Promise.all(clients.map((c) => c.stop({ drainTimeout: 0 })));
    }
  }, 30_000);
});

await describeIfLb('nginx', `${AGENTS} agents through real nginx stream least_conn in front of a 3-node MockCluster`, () => {
  const rig = new Rig();
  const m: Record<string, unknown> = {};
  const suiteStarted = performance.now();

  beforeAll(async () => {
    m.startMs = await rig.start('nginx');
  }, 60_000);

  afterAll(async () => {
    await rig.close();
    m.suiteMs = Math.round(performance.now() - suiteStarted);
    measured.nginx = m;
    print('nginx', m);
    print('file', { totalMs: Math.round(performance.now() - fileStarted) });
  }, 30_000);

  it('spreads the agents within 10 % of the mean', async () => {
    const dist = rig.cluster.distribution();
    m.spread = { distribution: dist, spreadPercent: spreadPercent(dist) };
    expect(Object.values(dist).reduce((a, b) => a + b, 0)).toBe(AGENTS);
    expect(withinTolerance(dist)).toBe(true);
    expect(await rig.lb.sessionsPerNode()).toBeUndefined();
    expect((await rig.lb.report()).sessionsPerBackend).toBeNull();
  });

  it('reconnects every agent of a killed node through nginx to the other nodes, and accounts for every event', async () => {
    const failover = await rig.killAndMeasure('node2', 30_000);
    m.failover = failover;
    expect(failover.affected).toBeGreaterThan(AGENTS / 3 - AGENTS * TOLERANCE);
    const dist = rig.cluster.distribution();
    expect(dist.node2).toBe(0);
    expect(dist.node1! + dist.node3!).toBe(AGENTS);
    m.afterKill = { distribution: dist };
    const { totals, lost } = await rig.stopFleet();
    m.events = { generated: totals.eventsGenerated, written: totals.eventsWritten, received: rig.received, dropped: totals.eventsDropped, lost, unconfirmedOnLostConnections: totals.eventsUnconfirmedOnLostConnections };
    expectTotalsIdentities(totals);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(totals.eventsUnconfirmedOnLostConnections);
  }, 50_000);
});
