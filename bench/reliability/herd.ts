/**
 * The thundering herd: a fleet whose node dies reconnects to the surviving nodes, and every TCP
 * connection they accept is stamped into buckets, from the kill until every agent is back. Run by
 * `npm run soak` (1000 agents, four reconnect strategies) and test/integration/reliability/herd.test.ts.
 *
 * @module
 */
import { ToolError } from 'agentlink';
import type { ReconnectOptions, ReconnectPolicyFunction } from 'agentlink';
import { Fleet, settle, simulatedIdentities } from 'agentlink/simulator';
import type { FleetServer, LatencySummary } from 'agentlink/simulator';
import { MockCluster } from 'agentlink/testing';
import { activeResources, excessResources } from './probes.js';

/** Options of {@link measureThunderingHerd}. Milliseconds everywhere. */
export interface HerdOptions {
  /**
   * Agents, all connected to the first node when it is killed.
   * @default 1000
   */
  agents?: number;
  /**
   * Nodes; the first is killed, the others receive the herd.
   * @default 3
   */
  nodes?: number;
  /** The reconnect strategy of every agent (not a function). */
  reconnect: Exclude<ReconnectOptions, ReconnectPolicyFunction>;
  /**
   * `maxRetries` of every server (the `wazuh` strategy's tries on the dead node before the next).
   * @default 1
   */
  maxRetries?: number;
  /**
   * `retryInterval` of every server (the `wazuh` strategy's wait).
   * @default 5000
   */
  retryInterval?: number;
  /**
   * Width of one bucket of the curve.
   * @default 100
   */
  bucketMs?: number;
  /**
   * Time allowed for every agent to be connected again after the kill.
   * @default 60000
   */
  recoverTimeoutMs?: number;
  /**
   * Agents started per second before the kill.
   * @default 1000
   */
  rampPerSecond?: number;
  /**
   * Seed of the agent keys.
   * @default 'agentlink-herd'
   */
  seed?: string;
}

/** What {@link measureThunderingHerd} measured. */
export interface HerdResult {
  /** Agents. */
  agents: number;
  /** `backoff D=… jitter=…` or `wazuh R=… retries=… jitter=…`. */
  label: string;
  /** Width of a bucket, ms. */
  bucketMs: number;
  /** Connections accepted by the surviving nodes per bucket, from the kill until every agent was back. */
  buckets: number[];
  /** Connections accepted per surviving node. */
  perNode: Record<string, number>;
  /** All connections accepted by the surviving nodes. */
  accepted: number;
  /** The largest bucket. */
  peakPerBucket: number;
  /** The largest number of connections accepted in any 1-second window (sliding by one bucket). */
  peakPerSecond: number;
  /**
   * The rate the strategy should hold the herd to, connections per second: N / initialDelay for
   * `backoff` with full jitter (the start delay is uniform over `[0, D]`), N / retryInterval for
   * `wazuh` with full jitter and one retry (the peak of the sum of two uniform waits); null without jitter.
   */
  theoryPerSecond: number | null;
  /** Kill to every agent connected again, ms (null when they were not back within the deadline). */
  recoveredMs: number | null;
  /** Per agent: disconnect to the next startup ACK. */
  reconnect: LatencySummary;
}

/**
 * The thundering herd: `agents` agents, all on the first node of an embedded cluster (every
 * agent's list is node1, node2, …), the node is killed, and every TCP connection the surviving
 * nodes accept is timestamped into buckets from the kill until every agent is connected again.
 *
 * @param options - fleet size and the reconnect strategy under test.
 * @returns the curve, its peaks, the theory and the recovery time.
 * @throws `ToolError` (`ERR_USAGE`) for bad sizes; `ERR_USAGE` when the fleet does not connect before the kill.
 */
export async function measureThunderingHerd(options: HerdOptions): Promise<HerdResult> {
  const agents = options.agents ?? 1000;
  const nodes = options.nodes ?? 3;
  const bucketMs = options.bucketMs ?? 100;
  const retryInterval = options.retryInterval ?? 5000;
  const maxRetries = options.maxRetries ?? 1;
  if (!Number.isInteger(agents) || agents < 1) throw new ToolError(`herd agents must be a positive integer, got ${String(agents)}`, 'ERR_USAGE');
  if (!Number.isInteger(nodes) || nodes < 2) throw new ToolError(`herd nodes must be an integer of at least 2, got ${String(nodes)}`, 'ERR_USAGE');
  const r = options.reconnect;
  const jitter = r.jitter ?? (r.strategy === 'backoff' ? 1 : 0);
  const initialDelay = r.strategy === 'backoff' ? (r.initialDelay ?? 1000) : 0;
  const label =
    r.strategy === 'backoff' ? `backoff D=${initialDelay} ms jitter=${jitter}` : `wazuh R=${retryInterval} ms retries=${maxRetries} jitter=${jitter}`;
  let theory: number | null = null;
  if (jitter >= 1) theory = r.strategy === 'backoff' ? agents / (initialDelay / 1000) : maxRetries === 1 ? agents / (retryInterval / 1000) : null;

  const resourcesBefore = activeResources();
  const indexes = Array.from({ length: agents }, (_, i) => i);
  const seed = options.seed ?? 'agentlink-herd';
  const keys = simulatedIdentities(indexes, seed);
  const cluster = new MockCluster({ nodes, keys, managerOptions: { eventHistory: 0 } });
  let fleet: Fleet | undefined;
  try {
    await cluster.start();
    const servers: FleetServer[] = cluster.servers().map((s) => ({ address: s.address, port: s.port, protocol: 'tcp', node: s.name, maxRetries, retryInterval }));
    fleet = new Fleet({
      indexes,
      identities: keys,
      servers,
      spread: false,
      client: { notifyTime: 10_000, timeReconnect: 30_000, handshakeTimeout: 10_000, connectTimeout: 10_000, reconnect: r },
      rampPerSecond: options.rampPerSecond ?? 1000,
      eps: 0,
      seed,
    });
    fleet.start();
    await fleet.waitForConnected(agents, Math.max(30_000, (agents / (options.rampPerSecond ?? 1000)) * 1000 + 20_000));
    const first = cluster.nodeNames[0]!;
    if (cluster.distribution()[first] !== agents) throw new ToolError(`herd: expected all ${agents} agents on ${first}, got ${JSON.stringify(cluster.distribution())}`, 'ERR_USAGE');
    await new Promise((r) => setTimeout(r, 300));

    const stamps: number[] = [];
    const perNode: Record<string, number> = {};
    for (const name of cluster.nodeNames.slice(1)) {
      perNode[name] = 0;
      cluster.node(name).on('connection', () => {
        stamps.push(performance.now());
        perNode[name]!++;
      });
    }
    const reconnectsBefore = fleet.metrics.counters.reconnects;
    const killAt = performance.now();
    await cluster.kill(first);
    const f = fleet;
    const back = await settle({
      read: () => f.metrics.counters.reconnects - reconnectsBefore >= agents && f.progress().connected === agents,
      steady: (all) => all,
      timeoutMs: options.recoverTimeoutMs ?? 60_000,
      pollMs: 10,
    });
    const recoveredMs = back.settled ? Math.round(performance.now() - killAt) : null;
    const span = Math.max(1, Math.ceil(((recoveredMs ?? performance.now() - killAt) + 1) / bucketMs));
    const buckets = new Array<number>(span).fill(0);
    for (const s of stamps) {
      const b = Math.floor((s - killAt) / bucketMs);
      if (b >= 0 && b < span) buckets[b]!++;
    }
    const window = Math.max(1, Math.round(1000 / bucketMs));
    let peakPerSecond = 0;
    let run = 0;
    for (let i = 0; i < buckets.length; i++) {
      run += buckets[i]!;
      if (i >= window) run -= buckets[i - window]!;
      peakPerSecond = Math.max(peakPerSecond, run);
    }
    return {
      agents,
      label,
      bucketMs,
      buckets,
      perNode,
      accepted: stamps.length,
      peakPerBucket: Math.max(0, ...buckets),
      peakPerSecond,
      theoryPerSecond: theory === null ? null : Math.round(theory),
      recoveredMs,
      reconnect: fleet.metrics.histograms.reconnect.summary(),
    };
  } finally {
    await fleet?.stop({ drainTimeout: 0 }).catch(() => undefined);
    await cluster.close();
    // let the sockets finish closing, so what runs next starts from a quiet process
    await settle({ read: () => Object.keys(excessResources(resourcesBefore, activeResources())).length, steady: (n) => n === 0, timeoutMs: 5000, pollMs: 100 });
  }
}

/**
 * Renders a herd curve as text: a header, then one line per range of buckets (grouped so the curve
 * fits in about `rows` lines) with the largest bucket of the range and a bar.
 *
 * @param result - a herd measurement.
 * @param rows - the most lines to print after the header.
 * @returns the lines.
 */
export function renderHerdCurve(result: HerdResult, rows = 30): string[] {
  const per = Math.max(1, Math.ceil(result.buckets.length / rows));
  const groups: { from: number; to: number; n: number }[] = [];
  for (let i = 0; i < result.buckets.length; i += per) {
    const slice = result.buckets.slice(i, i + per);
    groups.push({ from: i * result.bucketMs, to: (i + slice.length) * result.bucketMs, n: Math.max(...slice) });
  }
  const max = Math.max(1, ...groups.map((g) => g.n));
  const header = `${'ms after the kill'.padEnd(20)} most connections accepted in one ${result.bucketMs} ms bucket`;
  return [header, ...groups.map(
    (g) => `${String(g.from).padStart(6)}-${String(g.to).padEnd(6)} ms ${String(g.n).padStart(5)} ${'#'.repeat(Math.round((g.n / max) * 50))}`,
  )];
}
