import { afterEach, describe, expect, it } from 'vitest';
import { MockCluster } from 'agentlink/testing';
import { FleetMetrics } from 'agentlink/simulator';
// Fleet is not in the simulator barrel yet (the lead adds it): import the module directly
import { Fleet } from '../../../src/simulator/fleet.js';
import { simulatedIdentities } from '../../../src/simulator/identities.js';
import { expectTotalsIdentities } from '../../helpers/event-identities.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Fleet against an in-process MockCluster', () => {
  it('ramps 200 agents up, fails a killed node over and accounts for every event', async () => {
    const agents = 200;
    const indexes = Array.from({ length: agents }, (_, i) => i);
    const keys = simulatedIdentities(indexes, 'fleet-test');
    const cluster = new MockCluster({ nodes: 3, keys, managerOptions: { eventHistory: 0 } });
    cleanups.push(() => cluster.close());
    await cluster.start();
    let received = 0;
    cluster.on('event', (e) => {
      if (!e.generated && e.location !== 'wazuh-agent') received++;
    });
    // connection times as the managers see them, to check the ramp
    const connectTimes: number[] = [];
    const t0 = Date.now();
    cluster.on('agentStatus', (_node, _id, status, previous) => {
      if (status === 'pending' && previous === 'never_connected') connectTimes.push(Date.now() - t0);
    });

    const rate = 400;
    const fleet = new Fleet({
      indexes,
      identities: keys,
      servers: cluster.servers().map((s) => ({ address: s.address, port: s.port, node: s.name })),
      client: { notifyTime: 1000, timeReconnect: 3000, reconnect: { strategy: 'backoff', initialDelay: 200, maxDelay: 1000 } },
      rampPerSecond: rate,
      eps: 2,
      seed: 'fleet-test',
      metrics: new FleetMetrics({ bucketMs: 500 }),
    });
    cleanups.push(() => fleet.stop({ drainTimeout: 0 }));
    fleet.start(t0);
    await fleet.waitForConnected(agents, 15_000);

    // ramp respected: by time t at most rate × t agents (plus the one at t = 0) have connected
    expect(connectTimes).toHaveLength(agents);
    connectTimes.sort((a, b) => a - b);
    for (const [k, t] of connectTimes.entries()) expect(k).toBeLessThanOrEqual((t / 1000) * rate + 1);

    // agents are spread by rotation: agent i starts at node (i mod 3) + 1
    const spread = fleet.progress().perNode;
    expect(spread).toEqual({ node1: 67, node2: 67, node3: 66 });

    await cluster.kill('node1');
    // node1's agents notice the reset and land on the next node of their lists
    const moved = Date.now() + 15_000;
    while (Date.now() < moved && (fleet.progress().connected < agents || fleet.progress().perNode.node1! > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = fleet.progress();
    expect(after.connected).toBe(agents);
    expect(after.perNode).toEqual({ node1: 0, node2: 134, node3: 66 });

    const totals = await fleet.stop({ drainTimeout: 3000 });
    expect(totals.connectedAtEnd).toBe(agents);
    expect(totals.failovers).toBeGreaterThanOrEqual(67);
    expect(fleet.metrics.histograms.failover.count).toBe(totals.failovers);
    expect(fleet.metrics.histograms.connect.count).toBe(agents);
    expect(totals.eventsGenerated).toBeGreaterThan(0);

    // the managers finish reading the closed connections
    const deadline = Date.now() + 5000;
    while (received < totals.eventsWritten - totals.eventsUnconfirmedOnLostConnections && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200));
    const lost = totals.eventsWritten - received;
    expectTotalsIdentities(totals);
    expect(lost).toBeGreaterThanOrEqual(0);
    expect(lost).toBeLessThanOrEqual(totals.eventsUnconfirmedOnLostConnections);
  }, 40_000);
});
