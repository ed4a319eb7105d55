/**
 * A fleet load test from code: 300 simulated agents against a 3-node mock cluster, the busiest node
 * killed midway, every event accounted for, and the same report `agentlink simulate` writes.
 *
 * Run: npm run build && node dist/examples/fleet-load-test.js [report.json]
 *
 * The command line does all of this in one line:
 *   agentlink simulate --agents 300 --cluster 3 --chaos 'kill:node1@4s' --duration 8s --report report.json
 * Against real managers, replace the MockCluster by your servers and the generated keys by a
 * client.keys the managers know.
 */
import { writeFile } from 'node:fs/promises';
import { AGENT_LOCATION } from 'agentlink';
import { Fleet, createReport, renderSummaryTable, stringifyReport } from 'agentlink/simulator';
import type { ChaosEvent } from 'agentlink/simulator';
import { KeyStore, MockCluster } from 'agentlink/testing';

const AGENTS = 300;
const RUN_MS = 8000;

const keys = new KeyStore();
const identities = keys.generate(AGENTS);
const cluster = new MockCluster({ nodes: 3, keys });
await cluster.start();
// count the workload's events as the managers receive them (not the agents' own "Agent started" events)
let received = 0;
cluster.on('event', (e) => {
  if (!e.generated && e.location !== AGENT_LOCATION) received++;
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const fleet = new Fleet({
  indexes: identities.map((_, i) => i), // this process runs the whole fleet (a shard would run a part)
  identities,
  // each agent's list is rotated so agent i starts at node i mod 3; short retries so failover is quick
  servers: cluster.servers().map((s) => ({ address: s.address, port: s.port, node: s.name, maxRetries: 1, retryInterval: 500 })),
  client: { notifyTime: 1000, timeReconnect: 3000 },
  rampPerSecond: 300,
  eps: 2,
  workload: 'mixed',
});
const startedAt = Date.now();
fleet.start(startedAt);
await fleet.waitForConnected(AGENTS, 20_000);
console.log(`${AGENTS} agents connected:`, cluster.distribution());

// chaos: kill the busiest node halfway through
await sleep(RUN_MS / 2 - (Date.now() - startedAt));
const [busiest] = Object.entries(cluster.distribution()).sort((a, b) => b[1] - a[1])[0]!;
const chaos: ChaosEvent[] = [{ at: Date.now() - startedAt, action: 'kill', node: busiest }];
await cluster.kill(busiest);
const connectedNow = () => Object.values(cluster.distribution()).reduce((a, b) => a + b, 0);
for (let i = 0; i < 200 && connectedNow() < AGENTS; i++) await sleep(100); // its agents fail over to their next node
console.log(`killed ${busiest}; ${connectedNow()} agents connected again:`, cluster.distribution());

await sleep(RUN_MS - (Date.now() - startedAt));
const totals = await fleet.stop({ drainTimeout: 3000, eventsUntil: RUN_MS });

// let the managers read the last frames of the closed connections
for (let i = 0; i < 20 && received < totals.eventsWritten - totals.eventsUnconfirmedOnLostConnections; i++) await sleep(100);
const lost = totals.eventsWritten - received;
fleet.metrics.countReceived(received);
fleet.metrics.countLost(lost);

const report = createReport({
  metrics: fleet.metrics,
  startedAt,
  durationMs: RUN_MS,
  config: { agents: AGENTS, cluster: 3, eps: 2, workload: 'mixed' },
  agents: { total: AGENTS, connected: totals.connectedAtEnd, neverConnected: totals.neverConnected },
  distribution: totals.distribution,
  lostExplained: { inFlightOnLostConnections: Math.min(lost, totals.eventsUnconfirmedOnLostConnections) },
  chaos,
  limits: totals.limits,
});
process.stdout.write(renderSummaryTable(report));
console.log(
  `events: ${totals.eventsGenerated} generated = ${totals.eventsWritten} written + ${totals.eventsDropped} dropped; ${received} received, ${lost} lost ` +
    `(in flight on the killed node's connections: ${report.lostExplained.inFlightOnLostConnections}, unexplained: ${report.lostExplained.unexplained})`,
);
if (process.argv[2]) {
  await writeFile(process.argv[2], stringifyReport(report));
  console.log(`report written to ${process.argv[2]}`);
}
await cluster.close();
