/**
 * The thundering herd: a fleet whose node dies reconnects to the surviving nodes. Two things are
 * recorded, from the kill until every agent is back:
 *
 * - the **schedule**: per agent, the reconnect delays its policy planned after it noticed the loss
 *   (`reconnectScheduled`), summed into the planned time of its first attempt on a surviving node.
 *   It does not depend on the machine's speed, so test/integration/reliability/herd.test.ts asserts on it;
 * - the **arrivals**: every TCP connection the surviving nodes accept, stamped into buckets. On a
 *   loaded machine the machine's own slowness spreads them, so they are timing, reported by
 *   `npm run soak` (1000 agents, four reconnect strategies), never asserted in a test.
 *
 * The agents are plain {@link agentlink!AgentClient}s created here (not a `Fleet`, which does not
 * expose its clients), so their events can be observed without a bench-only API.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient, ToolError, silentLogger } from 'agentlink';
import type { AgentClientOptions, ReconnectOptions, ReconnectPolicyFunction } from 'agentlink';
import { LatencyHistogram, settle, simulatedIdentities } from 'agentlink/simulator';
import type { LatencySummary } from 'agentlink/simulator';
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

/** A curve of times in buckets, with its peaks. */
export interface HerdCurve {
  /** Width of a bucket, ms. */
  bucketMs: number;
  /** How many times fell in each bucket, from 0. */
  buckets: number[];
  /** The largest bucket. */
  peakPerBucket: number;
  /** The largest number of times in any 1-second window (sliding by one bucket). */
  peakPerSecond: number;
}

/** One `reconnectScheduled` event of an agent after the kill. */
export interface PlannedDelay {
  /** The attempt the delay is waited before (1 is the first attempt of the cycle). */
  attempt: number;
  /** Index of the server the attempt goes to. */
  serverIndex: number;
  /** The planned wait, ms. */
  delay: number;
}

/** What {@link measureThunderingHerd} measured. */
export interface HerdResult {
  /** Agents. */
  agents: number;
  /** `backoff D=… jitter=…` or `wazuh R=… retries=… jitter=…`. */
  label: string;
  /** Width of a bucket, ms. */
  bucketMs: number;
  /** Arrivals: connections accepted by the surviving nodes per bucket, from the kill until every agent was back (timing: depends on the machine). */
  buckets: number[];
  /** Connections accepted per surviving node. */
  perNode: Record<string, number>;
  /** All connections accepted by the surviving nodes. */
  accepted: number;
  /** The largest arrival bucket. */
  peakPerBucket: number;
  /** The largest number of connections accepted in any 1-second window (sliding by one bucket). */
  peakPerSecond: number;
  /**
   * The rate the strategy should hold the herd to, connections per second: N / initialDelay for
   * `backoff` with full jitter (the start delay is uniform over `[0, D]`), N / retryInterval for
   * `wazuh` with full jitter and one retry (the peak of the sum of two uniform waits); null without jitter.
   */
  theoryPerSecond: number | null;
  /**
   * The schedule: per agent (in agent order), the planned time of its first attempt on a surviving
   * node, ms after it noticed the loss: the sum of the delays its policy planned up to that attempt
   * (see {@link plannedArrival}). Null for an agent that did not notice the loss.
   */
  plannedMs: (number | null)[];
  /** {@link HerdResult.plannedMs} as a curve (agents per bucket of planned time): what the policy asked for, whatever the machine's speed. */
  planned: HerdCurve;
  /** Agents connected again to a surviving node after the kill. */
  reconnected: number;
  /** Agents that needed more than one attempt on the surviving nodes (a refused or timed-out attempt there). */
  retriedOnSurvivors: number;
  /** Kill to every agent connected again, ms (null when they were not back within the deadline). */
  recoveredMs: number | null;
  /** Per agent: disconnect to the next startup ACK. */
  reconnect: LatencySummary;
}

/**
 * The planned time of an agent's first attempt on a surviving node, from the delays its policy
 * scheduled after the loss. The cycle starts on the dead node (attempt 1, the last connected
 * server); the attempts that follow on the dead node (the `wazuh` strategy's retries) come first,
 * so the first attempt elsewhere is the one after the last of them. A zero delay emits no event and
 * counts as 0.
 *
 * @param delays - the agent's `reconnectScheduled` events after the loss, in order.
 * @param deadIndex - index of the dead node in the agent's server list.
 * @returns the sum of the delays up to and including the first attempt on another server, ms.
 */
export function plannedArrival(delays: readonly PlannedDelay[], deadIndex: number): number {
  let lastOnDead = 1;
  while (delays.some((d) => d.attempt === lastOnDead + 1 && d.serverIndex === deadIndex)) lastOnDead++;
  return delays.filter((d) => d.attempt <= lastOnDead + 1).reduce((sum, d) => sum + d.delay, 0);
}

/**
 * Counts times (ms from 0) into buckets of `bucketMs` over `span` buckets (times outside are left
 * out) and finds the peaks.
 *
 * @param times - the times, ms.
 * @param bucketMs - width of a bucket.
 * @param span - number of buckets.
 * @returns the curve.
 */
export function herdCurve(times: readonly number[], bucketMs: number, span: number): HerdCurve {
  const buckets = new Array<number>(Math.max(1, span)).fill(0);
  for (const t of times) {
    const b = Math.floor(t / bucketMs);
    if (b >= 0 && b < buckets.length) buckets[b]!++;
  }
  const window = Math.max(1, Math.round(1000 / bucketMs));
  let peakPerSecond = 0;
  let run = 0;
  for (let i = 0; i < buckets.length; i++) {
    run += buckets[i]!;
    if (i >= window) run -= buckets[i - window]!;
    peakPerSecond = Math.max(peakPerSecond, run);
  }
  return { bucketMs, buckets, peakPerBucket: Math.max(0, ...buckets), peakPerSecond };
}

/** What is recorded of one agent from the kill on. */
interface Watch {
  client: AgentClient;
  delays: PlannedDelay[];
  lost: boolean;
  back: boolean;
  /** Attempts on a surviving node that failed. */
  failedOnSurvivors: number;
}

/**
 * The thundering herd: `agents` agents, all on the first node of a mock cluster (every agent's
 * list is node1, node2, …), the node is killed; until every agent is connected again, each agent's
 * planned reconnect delays are recorded, and every TCP connection the surviving nodes accept is
 * timestamped into buckets.
 *
 * @param options - fleet size and the reconnect strategy under test.
 * @returns the schedule, the arrival curve, their peaks, the theory and the recovery time.
 * @throws `ToolError` (`ERR_USAGE`) for bad sizes; `ERR_USAGE` when the agents do not all connect to the first node before the kill.
 */
export async function measureThunderingHerd(options: HerdOptions): Promise<HerdResult> {
  const agents = options.agents ?? 1000;
  const nodes = options.nodes ?? 3;
  const bucketMs = options.bucketMs ?? 100;
  const retryInterval = options.retryInterval ?? 5000;
  const maxRetries = options.maxRetries ?? 1;
  const rampPerSecond = options.rampPerSecond ?? 1000;
  if (!Number.isInteger(agents) || agents < 1) throw new ToolError(`herd agents must be a positive integer, got ${String(agents)}`, 'ERR_USAGE');
  if (!Number.isInteger(nodes) || nodes < 2) throw new ToolError(`herd nodes must be an integer of at least 2, got ${String(nodes)}`, 'ERR_USAGE');
  if (!(rampPerSecond > 0)) throw new ToolError(`herd rampPerSecond must be positive, got ${String(rampPerSecond)}`, 'ERR_USAGE');
  const r = options.reconnect;
  const jitter = r.jitter ?? (r.strategy === 'backoff' ? 1 : 0);
  const initialDelay = r.strategy === 'backoff' ? (r.initialDelay ?? 1000) : 0;
  const label =
    r.strategy === 'backoff' ? `backoff D=${initialDelay} ms jitter=${jitter}` : `wazuh R=${retryInterval} ms retries=${maxRetries} jitter=${jitter}`;
  let theory: number | null = null;
  if (jitter >= 1) theory = r.strategy === 'backoff' ? agents / (initialDelay / 1000) : maxRetries === 1 ? agents / (retryInterval / 1000) : null;

  const resourcesBefore = activeResources();
  const keys = simulatedIdentities(
    Array.from({ length: agents }, (_, i) => i),
    options.seed ?? 'agentlink-herd',
  );
  const cluster = new MockCluster({ nodes, keys, managerOptions: { eventHistory: 0 } });
  const watches: Watch[] = [];
  try {
    await cluster.start();
    const servers = cluster.servers().map((s) => ({ address: s.address, port: s.port, protocol: 'tcp' as const, maxRetries, retryInterval }));
    const shared: Omit<AgentClientOptions, 'agent'> = {
      servers,
      notifyTime: 10_000,
      timeReconnect: 30_000,
      handshakeTimeout: 10_000,
      connectTimeout: 10_000,
      reconnect: r,
      logger: silentLogger,
      persistent: false,
    };
    // the ramp: a batch every 50 ms at rampPerSecond
    const batch = Math.max(1, Math.round(rampPerSecond / 20));
    for (let i = 0; i < agents; i += batch) {
      for (const agent of keys.slice(i, i + batch)) {
        const w: Watch = { client: new AgentClient({ ...shared, agent }), delays: [], lost: false, back: false, failedOnSurvivors: 0 };
        watches.push(w);
        w.client.start().catch(() => {
          // rejects only when stopped first; an agent that is not back is reported by the recovery check
        });
      }
      if (i + batch < agents) await sleep(50);
    }
    const connected = (): number => watches.reduce((n, w) => n + (w.client.state === 'connected' ? 1 : 0), 0);
    const up = await settle({ read: connected, steady: (n) => n === agents, timeoutMs: Math.max(30_000, (agents / rampPerSecond) * 1000 + 20_000), pollMs: 20 });
    const first = cluster.nodeNames[0]!;
    if (!up.settled || cluster.distribution()[first] !== agents) {
      throw new ToolError(`herd: expected all ${agents} agents on ${first}, got ${up.value} connected, ${JSON.stringify(cluster.distribution())}`, 'ERR_USAGE');
    }
    await sleep(300);

    const stamps: number[] = [];
    const perNode: Record<string, number> = {};
    for (const name of cluster.nodeNames.slice(1)) {
      perNode[name] = 0;
      cluster.node(name).on('connection', () => {
        stamps.push(performance.now());
        perNode[name]!++;
      });
    }
    const reconnect = new LatencyHistogram();
    for (const w of watches) {
      w.client.on('disconnected', () => {
        w.lost = true;
      });
      w.client.on('reconnectScheduled', ({ serverIndex, delay, attempt }) => {
        if (w.lost && !w.back) w.delays.push({ serverIndex, delay, attempt });
      });
      w.client.on('error', () => {
        // a failed attempt after the first on a surviving node (attempt 1 of the cycle is the dead node's)
        if (w.lost && !w.back && w.client.stats().serverIndex !== 0) w.failedOnSurvivors++;
      });
      w.client.on('connected', ({ serverIndex, elapsed }) => {
        if (!w.lost || w.back || serverIndex === 0) return;
        w.back = true;
        reconnect.record(elapsed);
      });
    }
    const killAt = performance.now();
    await cluster.kill(first);
    const back = await settle({
      read: () => watches.every((w) => w.back) && connected() === agents,
      steady: (all) => all,
      timeoutMs: options.recoverTimeoutMs ?? 60_000,
      pollMs: 10,
    });
    const recoveredMs = back.settled ? Math.round(performance.now() - killAt) : null;
    const span = Math.ceil(((recoveredMs ?? performance.now() - killAt) + 1) / bucketMs);
    const arrivals = herdCurve(
      stamps.map((s) => s - killAt),
      bucketMs,
      span,
    );
    const plannedMs = watches.map((w) => (w.lost ? plannedArrival(w.delays, 0) : null));
    const plannedTimes = plannedMs.filter((t): t is number => t !== null);
    const planned = herdCurve(plannedTimes, bucketMs, Math.floor(Math.max(0, ...plannedTimes) / bucketMs) + 1);
    return {
      agents,
      label,
      bucketMs,
      buckets: arrivals.buckets,
      perNode,
      accepted: stamps.length,
      peakPerBucket: arrivals.peakPerBucket,
      peakPerSecond: arrivals.peakPerSecond,
      theoryPerSecond: theory === null ? null : Math.round(theory),
      plannedMs,
      planned,
      reconnected: watches.filter((w) => w.back).length,
      retriedOnSurvivors: watches.filter((w) => w.failedOnSurvivors > 0).length,
      recoveredMs,
      reconnect: reconnect.summary(),
    };
  } finally {
    await Promise.all(watches.map((w) => w.client.stop({ drainTimeout: 0 }).catch(() => undefined)));
    await cluster.close();
    // let the sockets finish closing, so what runs next starts from a quiet process
    await settle({ read: () => Object.keys(excessResources(resourcesBefore, activeResources())).length, steady: (n) => n === 0, timeoutMs: 5000, pollMs: 100 });
  }
}

/**
 * Renders a herd curve as text: a header, then one line per range of buckets (grouped so the curve
 * fits in about `rows` lines) with the largest bucket of the range and a bar.
 *
 * @param result - a herd measurement (its arrivals) or a curve (such as its `planned` schedule).
 * @param rows - the most lines to print after the header.
 * @param what - what a bucket counts, for the header.
 * @returns the lines.
 */
export function renderHerdCurve(result: HerdCurve, rows = 30, what = 'connections accepted'): string[] {
  const per = Math.max(1, Math.ceil(result.buckets.length / rows));
  const groups: { from: number; to: number; n: number }[] = [];
  for (let i = 0; i < result.buckets.length; i += per) {
    const slice = result.buckets.slice(i, i + per);
    groups.push({ from: i * result.bucketMs, to: (i + slice.length) * result.bucketMs, n: Math.max(...slice) });
  }
  const max = Math.max(1, ...groups.map((g) => g.n));
  const header = `${'ms after the kill'.padEnd(20)} most ${what} in one ${result.bucketMs} ms bucket`;
  return [header, ...groups.map(
    (g) => `${String(g.from).padStart(6)}-${String(g.to).padEnd(6)} ms ${String(g.n).padStart(5)} ${'#'.repeat(Math.round((g.n / max) * 50))}`,
  )];
}
