/**
 * Reliability runs of a whole fleet under faults: the chaos soak ({@link runChaosSoak}) and the
 * thundering-herd measurement ({@link measureThunderingHerd}). Both run everything in this process
 * on 127.0.0.1: an embedded {@link MockCluster}, a {@link FaultProxy} in front of each node for
 * the soak, and a {@link Fleet} of real {@link AgentClient}s over real sockets.
 *
 * The soak checks what a long run under random faults must never show: an agent left disconnected,
 * an event lost without a counted reason, a duplicate or out-of-order event, a leaked timer or
 * socket, memory that grows with time. The herd measures how a fleet whose node dies reconnects
 * to the surviving nodes, connection by connection, per 100 ms.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ToolError, createDefaultTransportFactory, systemClock } from '../index.js';
import type { AgentClient, Clock, ReconnectOptions, ReconnectPolicyFunction, TimerHandle } from '../index.js';
import { FaultProxy, MockCluster } from '../testing/index.js';
import type { FaultProxyStats, MockManager, ProxyDirection, ReceivedEvent } from '../testing/index.js';
import { Fleet } from './fleet.js';
import type { FleetClientOptions, FleetServer, FleetTotals } from './fleet.js';
import { simulatedIdentities } from './identities.js';
import { FleetMetrics } from './metrics.js';
import type { LatencySummary } from './metrics.js';
import { SeededRandom, createWorkload } from './workloads.js';
import type { WorkloadFactory } from './workloads.js';

// --- chaos plan ------------------------------------------------------------------------------

/**
 * A fault of the chaos soak:
 * - `kill`: a node is killed (connections reset, port closed) and restarted after `durationMs`;
 * - `hang`: a node reads everything and answers nothing (`MockManager` blackhole) for `durationMs`,
 *   then resets its connections, as a hung remoted that is restarted;
 * - `blackhole`: the proxy in front of a node forwards nothing for `durationMs`, then resets the
 *   connections that lived through it (a path that drops everything, then a firewall that forgot them);
 * - `latency`: the proxy delays each direction by `latencyMs` for `durationMs`;
 * - `reset`: the proxy resets every connection (TCP RST both ways);
 * - `cut`: the proxy closes every connection in the middle of the next frame (`direction`);
 * - `force-reconnect`: the managers send `#!-force_reconnect` to `agents` random agents.
 */
export type ChaosAction = 'kill' | 'hang' | 'blackhole' | 'latency' | 'reset' | 'cut' | 'force-reconnect';

/** Every chaos action, in the order reports list them. */
export const CHAOS_SOAK_ACTIONS: readonly ChaosAction[] = ['kill', 'hang', 'blackhole', 'latency', 'reset', 'cut', 'force-reconnect'];

/** One planned fault of the chaos soak, from {@link planChaos}. */
export interface ChaosPlanStep {
  /** When, in milliseconds after the chaos started. */
  atMs: number;
  /** What. */
  action: ChaosAction;
  /** Index of the node (for `kill`, `hang`) or of the proxy in front of it (the other node faults). */
  target: number;
  /** How long the fault lasts (`kill`, `hang`, `blackhole`, `latency`), in milliseconds. */
  durationMs?: number;
  /** One-way delay of a `latency` spike, in milliseconds. */
  latencyMs?: number;
  /** Which way a `cut` closes a frame. */
  direction?: ProxyDirection | 'both';
  /** Fleet indexes of the agents a `force-reconnect` picks. */
  agents?: number[];
}

/** How often and how hard the chaos strikes. Ranges are `[min, max]`, drawn uniformly. */
export interface ChaosSettings {
  /**
   * Mean time between two faults, in milliseconds (gaps are exponentially distributed).
   * @default 3000
   */
  meanIntervalMs: number;
  /**
   * Relative weight of each action (0 disables one).
   * @default kill 2, hang 1, blackhole 2, latency 2, reset 1, cut 1, force-reconnect 2
   */
  weights: Record<ChaosAction, number>;
  /**
   * How long a killed node stays down, in milliseconds.
   * @default [3000, 15000]
   */
  killMs: readonly [number, number];
  /**
   * How long a node hangs, in milliseconds.
   * @default [2000, 10000]
   */
  hangMs: readonly [number, number];
  /**
   * How long a proxy blackholes, in milliseconds.
   * @default [2000, 12000]
   */
  blackholeMs: readonly [number, number];
  /**
   * One-way delay of a latency spike, in milliseconds.
   * @default [200, 800]
   */
  latencyMs: readonly [number, number];
  /**
   * How long a latency spike lasts, in milliseconds.
   * @default [2000, 10000]
   */
  latencyForMs: readonly [number, number];
  /**
   * Fraction of the fleet one `force-reconnect` picks.
   * @default [0.005, 0.03]
   */
  forceFraction: readonly [number, number];
}

/** The chaos of the 5-minute soak of `npm run soak`. */
export const DEFAULT_CHAOS_SETTINGS: ChaosSettings = {
  meanIntervalMs: 3000,
  weights: { kill: 2, hang: 1, blackhole: 2, latency: 2, reset: 1, cut: 1, 'force-reconnect': 2 },
  killMs: [3000, 15_000],
  hangMs: [2000, 10_000],
  blackholeMs: [2000, 12_000],
  latencyMs: [200, 800],
  latencyForMs: [2000, 10_000],
  forceFraction: [0.005, 0.03],
};

/** Options of {@link planChaos}. */
export interface PlanChaosOptions {
  /** Length of the chaos, in milliseconds: no fault starts after it. */
  durationMs: number;
  /** Number of nodes (and proxies). */
  nodes: number;
  /** Number of agents, for `force-reconnect` picks. */
  agents: number;
  /** Seed: the same seed and options give the same plan. */
  seed: string | number;
  /** Overrides of {@link DEFAULT_CHAOS_SETTINGS}. */
  settings?: Partial<ChaosSettings>;
}

/**
 * Draws a chaos schedule from a seed: fault times with exponential gaps, the action by weight, its
 * target, duration and strength. Whether a fault can run (a node already down, the last node up) is
 * decided when it is due, so the plan itself never changes with timing.
 *
 * @param options - length, cluster and fleet size, seed and settings.
 * @returns the steps, in time order.
 * @throws `ToolError` (`ERR_USAGE`) for a non-positive interval, no action with weight, or a bad range.
 */
export function planChaos(options: PlanChaosOptions): ChaosPlanStep[] {
  const s = resolveChaosSettings(options.settings);
  const rng = new SeededRandom(`chaos\0${String(options.seed)}`);
  const uniform = (r: readonly [number, number]): number => Math.round(r[0] + (r[1] - r[0]) * rng.next());
  const actions = CHAOS_SOAK_ACTIONS.filter((a) => s.weights[a] > 0);
  const total = actions.reduce((n, a) => n + s.weights[a], 0);
  const steps: ChaosPlanStep[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rng.next()) * s.meanIntervalMs;
    if (t >= options.durationMs) break;
    let pick = rng.next() * total;
    let action = actions[actions.length - 1]!;
    for (const a of actions) {
      pick -= s.weights[a];
      if (pick < 0) {
        action = a;
        break;
      }
    }
    const step: ChaosPlanStep = { atMs: Math.round(t), action, target: rng.int(options.nodes) };
    if (action === 'kill') step.durationMs = uniform(s.killMs);
    else if (action === 'hang') step.durationMs = uniform(s.hangMs);
    else if (action === 'blackhole') step.durationMs = uniform(s.blackholeMs);
    else if (action === 'latency') {
      step.latencyMs = uniform(s.latencyMs);
      step.durationMs = uniform(s.latencyForMs);
    } else if (action === 'cut') step.direction = (['up', 'down', 'both'] as const)[rng.int(3)]!;
    else if (action === 'force-reconnect') {
      const f = s.forceFraction[0] + (s.forceFraction[1] - s.forceFraction[0]) * rng.next();
      const k = Math.max(1, Math.min(options.agents, Math.round(f * options.agents)));
      const picked = new Set<number>();
      while (picked.size < k) picked.add(rng.int(options.agents));
      step.agents = [...picked].sort((a, b) => a - b);
    }
    steps.push(step);
  }
  return steps;
}

function resolveChaosSettings(over: Partial<ChaosSettings> | undefined): ChaosSettings {
  const s: ChaosSettings = { ...DEFAULT_CHAOS_SETTINGS, ...over, weights: { ...DEFAULT_CHAOS_SETTINGS.weights, ...over?.weights } };
  if (!(s.meanIntervalMs > 0) || !Number.isFinite(s.meanIntervalMs)) {
    throw new ToolError(`chaos meanIntervalMs must be a positive number of milliseconds, got ${String(s.meanIntervalMs)}`, 'ERR_USAGE');
  }
  if (!CHAOS_SOAK_ACTIONS.some((a) => s.weights[a] > 0)) throw new ToolError('chaos weights: give at least one action a weight above 0', 'ERR_USAGE');
  for (const name of ['killMs', 'hangMs', 'blackholeMs', 'latencyMs', 'latencyForMs', 'forceFraction'] as const) {
    const [lo, hi] = s[name];
    if (!(lo >= 0) || !(hi >= lo) || !Number.isFinite(hi)) throw new ToolError(`chaos ${name} must be [min, max] with 0 <= min <= max, got [${lo}, ${hi}]`, 'ERR_USAGE');
  }
  return s;
}

// --- shared helpers --------------------------------------------------------------------------

/** A clock over the system clock that knows which of its timers are still pending. */
class CountingClock implements Clock {
  readonly #live = new Set<TimerHandle>();

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = systemClock.setTimeout(() => {
      this.#live.delete(handle);
      fn();
    }, ms);
    this.#live.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.#live.delete(handle);
    systemClock.clearTimeout(handle);
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pending(): number {
    return this.#live.size;
  }
}

/** Active handles and requests of this process by type (`TCPSocketWrap`, `Timeout`, ...). */
function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Types whose count is above `before`, with the excess. */
function excessResources(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

const sleepReal = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Slope of the least-squares line through `points`.
 *
 * @param points - `[x, y]` pairs.
 * @returns dy/dx, or 0 with fewer than two distinct x.
 */
export function leastSquaresSlope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** `gc()` when it can be had (exposed at run time, as the reliability tests do), else undefined. */
function findGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}

const SOAK_LOCATION = '/var/log/agentlink-soak.log';
const SEQ_MARK = ' agentlink-seq=';

/** The syslog workload with the agent's event number appended, so the managers can check order and count per agent. */
function numberedWorkload(generated: Map<string, number>): WorkloadFactory {
  return (options) => {
    const inner = createWorkload('syslog', options);
    const name = options.agentName;
    let seq = 0;
    return {
      kind: 'soak',
      next: () => {
        seq++;
        generated.set(name, seq);
        const e = inner.next();
        return { queue: e.queue, location: SOAK_LOCATION, message: `${e.message}${SEQ_MARK}${seq}` };
      },
    };
  };
}

/** What the managers got from one agent. */
interface AgentTally {
  received: number;
  lastSeq: number;
  outOfOrder: number;
}

// --- the soak --------------------------------------------------------------------------------

/** Options of {@link runChaosSoak}. Milliseconds everywhere. */
export interface ChaosSoakOptions {
  /**
   * Agents in the fleet.
   * @default 1000
   */
  agents?: number;
  /**
   * Run length from the fleet's start to the end of the chaos; the settle, drain and teardown come after.
   * @default 300000
   */
  durationMs?: number;
  /**
   * Manager nodes, each behind its own FaultProxy.
   * @default 3
   */
  nodes?: number;
  /**
   * Events per second per agent.
   * @default 1
   */
  eps?: number;
  /**
   * Seed of the chaos plan, the agent keys and the workload.
   * @default 'agentlink-soak'
   */
  seed?: string;
  /**
   * Agents started per second.
   * @default 500
   */
  rampPerSecond?: number;
  /** Client options of every agent, over the soak's (notifyTime 2 s, timeReconnect 6 s, handshake 3 s, connect 2 s, backoff 1 s to 8 s). */
  client?: Partial<FleetClientOptions>;
  /** Chaos settings, over {@link DEFAULT_CHAOS_SETTINGS}. */
  chaos?: Partial<ChaosSettings>;
  /**
   * Quiet time after every agent first connected, before the first fault.
   * @default min(10000, durationMs / 10)
   */
  chaosDelayMs?: number;
  /**
   * Time allowed, once the chaos stopped and every fault was cleared, for every agent to be connected again.
   * @default 60000
   */
  settleTimeoutMs?: number;
  /**
   * Every agent must stay connected this long in a row for the fleet to count as settled (the
   * resets that clear the faults reach the agents a moment after they are sent).
   * @default 2000
   */
  settleQuietMs?: number;
  /**
   * Time the agents get to flush their buffers before they stop.
   * @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * Memory sampling period.
   * @default 5000
   */
  memorySampleMs?: number;
  /**
   * Samples taken before this time after the start are left out of the memory trend.
   * @default min(30000, durationMs / 5)
   */
  warmupMs?: number;
  /**
   * Run a full garbage collection before each memory sample (exposes `gc` at run time), so the
   * trend is the live heap, not the collector's timing.
   * @default true
   */
  forceGc?: boolean;
  /**
   * End every blackhole and hang with a reset of the connections that lived through it. A FaultProxy
   * blackhole discards bytes in the middle of a stream and a hung MockManager reads and discards
   * messages, which no TCP path and no stalled manager does (the kernel keeps and retransmits the
   * bytes); a connection that survived one has a hole in its stream, and the keepalive ACKs after it
   * confirm events that never arrived. `false` keeps such connections, to show that effect: the
   * loss is then no longer within the unconfirmed counts.
   * @default true
   */
  resetAfterBlackhole?: boolean;
  /**
   * Progress line period (0: none).
   * @default 10000
   */
  progressMs?: number;
  /** Progress lines and chaos notes. */
  log?: (line: string) => void;
  /** Aborting it ends the chaos early; the settle, drain, checks and report still run. */
  signal?: AbortSignal;
}

/** One fault as it ran. */
export interface ChaosRecord {
  /** Milliseconds after the fleet start. */
  atMs: number;
  /** The action. */
  action: ChaosAction;
  /** `node2`, `proxy1`, or the number of agents for `force-reconnect`. */
  target: string;
  /** What happened: `done`, `skipped: <why>` or `failed: <error>`. */
  result: string;
  /** Duration, latency, direction or how many connections it touched. */
  detail?: string;
}

/** One memory sample. */
export interface MemorySample {
  /** Milliseconds after the fleet start. */
  t: number;
  /** `process.memoryUsage().heapUsed`, bytes. */
  heapUsed: number;
  /** `process.memoryUsage().rss`, bytes. */
  rss: number;
  /** `process.memoryUsage().external` (C++ objects bound to JS objects, Buffers included), bytes. */
  external: number;
}

/** What {@link runChaosSoak} found. */
export interface ChaosSoakReport {
  /** ISO time of the start. */
  startedAt: string;
  /** Where it ran. */
  machine: {
    /** `process.version`. */
    node: string;
    /** `platform/arch`. */
    platform: string;
    /** Logical CPUs. */
    cpus: number;
  };
  /** The settings of the run. */
  settings: {
    /** Agents. */
    agents: number;
    /** Nodes. */
    nodes: number;
    /** Run length (fleet start to chaos stop), ms. */
    durationMs: number;
    /** Events per second per agent. */
    eps: number;
    /** Seed. */
    seed: string;
    /** Client options that matter (timers, reconnect strategy). */
    client: Record<string, unknown>;
    /** The chaos settings. */
    chaos: ChaosSettings;
    /** Whether blackholes and hangs ended with a reset ({@link ChaosSoakOptions.resetAfterBlackhole}). */
    resetAfterBlackhole: boolean;
  };
  /** Whether every check passed. */
  ok: boolean;
  /** One line per failed check. */
  problems: string[];
  /** Wall-clock phases, ms. */
  timing: {
    /** Fleet start to every agent connected the first time. */
    initialConnectMs: number;
    /** Chaos start, ms after the fleet start. */
    chaosStartMs: number;
    /** Chaos stop, ms after the fleet start. */
    chaosStopMs: number;
    /** Chaos stop (every fault cleared) to every agent connected. */
    settleMs: number | null;
    /** The whole run, teardown included. */
    totalMs: number;
  };
  /** The faults. */
  chaos: {
    /** Faults planned before the stop. */
    planned: number;
    /** Faults run, per action. */
    done: Record<ChaosAction, number>;
    /** Faults skipped because they could not apply then (node already down, last node up). */
    skipped: number;
    /** Faults that threw. */
    failed: number;
    /** Every fault. */
    log: ChaosRecord[];
  };
  /** Agents at the end. */
  agents: {
    /** In the fleet. */
    total: number;
    /** Connected when the fleet was stopped (the fleet's view). */
    connectedAtEnd: number;
    /** Connected as the managers saw it at the same moment. */
    connectedOnManagers: number;
    /** Never connected. */
    neverConnected: number;
  };
  /** Exact event accounting, summed over agents (each agent is also checked on its own). */
  events: {
    /** Events generated. */
    sent: number;
    /** Written to a connection. */
    written: number;
    /** Received by the managers. */
    received: number;
    /** Dropped with a counted reason, by reason (`full`, `evicted`, `rejected`, `cleared` of the buffer; `refused` by the client). */
    droppedByReason: Record<string, number>;
    /** Sum of the drops. */
    dropped: number;
    /** Written and never received. */
    lost: number;
    /** `eventsUnconfirmedOnLostConnections` summed. */
    unconfirmed: number;
    /** Agents whose loss exceeds their own unconfirmed count, or whose counts do not add up. */
    agentsUnexplained: number;
    /** Events lost beyond the agents' unconfirmed counts (0 when every loss is explained). */
    unexplained: number;
    /** Events that reached a manager out of order or twice. */
    outOfOrder: number;
    /** `sent = received + dropped + lost`. */
    balanced: boolean;
  };
  /** Reconnections. */
  reconnects: {
    /** New sessions after an agent's first. */
    total: number;
    /** Reconnections to another server of the agent's list. */
    failovers: number;
    /** Failed connection attempts. */
    connectFailures: number;
    /** Disconnect to the next startup ACK, any server. */
    reconnect: LatencySummary;
    /** Disconnect to the startup ACK of another server. */
    failover: LatencySummary;
  };
  /** Memory of this process (fleet, managers and proxies together). */
  memory: {
    /** Whether a full GC ran before each sample. */
    gcForced: boolean;
    /** Samples after the warm-up. */
    samples: MemorySample[];
    /** Heap trend, KB per minute (least squares). */
    heapSlopeKBPerMin: number;
    /** RSS trend, KB per minute (least squares). */
    rssSlopeKBPerMin: number;
    /** `external` trend, KB per minute (least squares). */
    externalSlopeKBPerMin: number;
    /** Heap trend over the second half of the samples only, KB per minute. */
    heapSlopeLastHalfKBPerMin: number;
    /** RSS trend over the second half of the samples only, KB per minute (a plateau shows here as about 0). */
    rssSlopeLastHalfKBPerMin: number;
    /** First and last heap used, MB. */
    heapFirstMB: number;
    /** Last heap used, MB. */
    heapLastMB: number;
    /** First RSS, MB. */
    rssFirstMB: number;
    /** Last RSS, MB. */
    rssLastMB: number;
  };
  /** Handles and timers. */
  resources: {
    /** `process.getActiveResourcesInfo()` by type before anything started. */
    before: Record<string, number>;
    /** The same after the teardown. */
    after: Record<string, number>;
    /** Types with more after than before, and how many more. */
    leaked: Record<string, number>;
    /** Timers of the soak's clock (agents, fleet, managers, proxies; unref'd ones too) still pending after the teardown. */
    pendingTimers: number;
  };
  /** Per proxy counters. */
  proxies: Record<string, FaultProxyStats>;
}

/**
 * The chaos soak: a fleet against an embedded cluster with a FaultProxy in front of every node
 * (each agent's ordered list holds the proxies, rotated), random faults from a seeded plan for the
 * whole run, a numbered workload; then every fault is cleared, the fleet settles and drains, every
 * agent stops, and the run checks, per agent and in total:
 * every agent connected at the end; `sent = written + drops` on the agent; `written = received + lost`
 * with `0 <= lost <= eventsUnconfirmedOnLostConnections`; every event received in order and once; no
 * socket, server or timer left after the teardown; the memory trend.
 *
 * @param options - size, length, seed, client options and chaos settings.
 * @returns the report; `ok` tells whether every check passed (the memory trend is reported, not judged).
 * @throws `ToolError` (`ERR_USAGE`) for bad sizes or chaos settings.
 */
export async function runChaosSoak(options: ChaosSoakOptions = {}): Promise<ChaosSoakReport> {
  const agents = options.agents ?? 1000;
  const nodes = options.nodes ?? 3;
  const durationMs = options.durationMs ?? 300_000;
  const eps = options.eps ?? 1;
  const seed = options.seed ?? 'agentlink-soak';
  const log = options.log ?? (() => undefined);
  if (!Number.isInteger(agents) || agents < 1) throw new ToolError(`soak agents must be a positive integer, got ${String(agents)}`, 'ERR_USAGE');
  if (!Number.isInteger(nodes) || nodes < 2) throw new ToolError(`soak nodes must be an integer of at least 2, got ${String(nodes)}`, 'ERR_USAGE');
  if (!(durationMs > 0)) throw new ToolError(`soak durationMs must be positive, got ${String(durationMs)}`, 'ERR_USAGE');
  const chaosSettings = resolveChaosSettings(options.chaos);
  const memoryEvery = options.memorySampleMs ?? 5000;
  const warmupMs = options.warmupMs ?? Math.min(30_000, durationMs / 5);
  const gc = options.forceGc === false ? undefined : findGc();
  const resetAfterBlackhole = options.resetAfterBlackhole !== false;
  const client: FleetClientOptions = {
    notifyTime: 2000,
    timeReconnect: 6000,
    handshakeTimeout: 3000,
    connectTimeout: 2000,
    reconnect: { strategy: 'backoff', initialDelay: 1000, maxDelay: 8000 },
    ...options.client,
  };

  const wallStart = Date.now();
  const t0 = performance.now();
  const resourcesBefore = activeResources();
  const clock = new CountingClock();
  const problems: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  const indexes = Array.from({ length: agents }, (_, i) => i);
  const keys = simulatedIdentities(indexes, seed);
  const idOfName = new Map(keys.map((k) => [k.name, k.id]));
  const tally = new Map<string, AgentTally>(keys.map((k) => [k.id, { received: 0, lastSeq: 0, outOfOrder: 0 }]));
  const generated = new Map<string, number>();

  const cluster = new MockCluster({ nodes, keys, clock, managerOptions: { eventHistory: 0 } });
  cleanups.push(() => cluster.close());
  cluster.on('event', (e: ReceivedEvent) => {
    if (e.generated || e.location !== SOAK_LOCATION) return;
    const t = tally.get(e.agentId);
    if (!t) return;
    t.received++;
    const at = e.message.lastIndexOf(SEQ_MARK);
    const seq = at < 0 ? 0 : Number(e.message.slice(at + SEQ_MARK.length));
    if (!(seq > t.lastSeq)) t.outOfOrder++;
    else t.lastSeq = seq;
  });

  let fleet: Fleet | undefined;
  const proxies: FaultProxy[] = [];
  const chaosLog: ChaosRecord[] = [];
  const done = Object.fromEntries(CHAOS_SOAK_ACTIONS.map((a) => [a, 0])) as Record<ChaosAction, number>;
  const samples: MemorySample[] = [];
  let totals: FleetTotals | undefined;
  let connectedOnManagers = 0;
  let initialConnectMs = 0;
  let chaosStartMs = 0;
  let chaosStopMs = 0;
  let settleMs: number | null = null;
  let planned = 0;
  let reconnectSummary: LatencySummary | undefined;
  let failoverSummary: LatencySummary | undefined;
  const proxyStats: Record<string, FaultProxyStats> = {};
  let sampleTimer: TimerHandle | undefined;
  let progressTimer: TimerHandle | undefined;

  try {
    const started = await cluster.start();
    for (const n of started.nodes) {
      const p = new FaultProxy({ target: { port: n.port }, clock });
      cleanups.push(() => p.close());
      await p.start();
      proxies.push(p);
    }
    const servers: FleetServer[] = proxies.map((p, i) => ({ ...p.address, node: cluster.nodeNames[i]! }));
    const f = new Fleet({
      indexes,
      identities: keys,
      servers,
      client,
      rampPerSecond: options.rampPerSecond ?? 500,
      eps,
      workload: numberedWorkload(generated),
      seed,
      clock,
      transport: createDefaultTransportFactory({ clock }),
      metrics: new FleetMetrics({ clock, bucketMs: 10_000 }),
    });
    fleet = f;
    cleanups.push(() => f.stop({ drainTimeout: 0 }));
    const since = (): number => Math.round(performance.now() - t0);
    const fleetStart = performance.now();
    const elapsed = (): number => performance.now() - fleetStart;
    f.start();

    // memory: one sample every memoryEvery ms for the whole run (the warm-up is cut later)
    const sampleMemory = (): void => {
      sampleTimer = clock.setTimeout(sampleMemory, memoryEvery);
      gc?.();
      const m = process.memoryUsage();
      samples.push({ t: Math.round(elapsed()), heapUsed: m.heapUsed, rss: m.rss, external: m.external });
    };
    sampleTimer = clock.setTimeout(sampleMemory, memoryEvery);
    const progressEvery = options.progressMs ?? 10_000;
    const progress = (): void => {
      progressTimer = clock.setTimeout(progress, progressEvery);
      const p = f.progress();
      let received = 0;
      for (const t of tally.values()) received += t.received;
      const m = process.memoryUsage();
      log(
        `${(elapsed() / 1000).toFixed(0)}s: ${p.connected}/${agents} connected, ${p.reconnecting} reconnecting, ` +
          `sent ${p.eventsSent}, received ${received}, faults ${chaosLog.length}, heap ${(m.heapUsed / 1048576).toFixed(0)} MB, RSS ${(m.rss / 1048576).toFixed(0)} MB`,
      );
    };
    if (progressEvery > 0) progressTimer = clock.setTimeout(progress, progressEvery);

    await f.waitForConnected(agents, Math.max(60_000, (agents / (options.rampPerSecond ?? 500)) * 1000 + 30_000));
    initialConnectMs = Math.round(elapsed());
    log(`every agent connected after ${initialConnectMs} ms`);

    // --- chaos ---------------------------------------------------------------------------------
    const delay = options.chaosDelayMs ?? Math.min(10_000, durationMs / 10);
    await abortableSleep(delay, options.signal);
    chaosStartMs = Math.round(elapsed());
    const chaosFor = Math.max(0, durationMs - elapsed());
    const plan = planChaos({ durationMs: chaosFor, nodes, agents, seed, settings: chaosSettings });
    const chaosAt = performance.now();
    const down = new Set<number>(); // nodes killed and not yet restarted
    const hung = new Map<number, MockManager>(); // node -> the hung incarnation
    const blackholed = new Set<number>();
    const spiking = new Set<number>();
    const pendingEnds = new Map<TimerHandle, () => Promise<void>>();
    const stepTimers = new Set<TimerHandle>();
    const inFlight = new Set<Promise<void>>();
    const track = (p: Promise<void>): void => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const record = (r: Omit<ChaosRecord, 'atMs'>): void => {
      chaosLog.push({ atMs: Math.round(elapsed()), ...r });
      if (r.result === 'done') done[r.action]++;
    };
    const later = (ms: number, end: () => Promise<void>): void => {
      const h = clock.setTimeout(() => {
        pendingEnds.delete(h);
        track(end());
      }, ms);
      pendingEnds.set(h, end);
    };
    const nodeName = (i: number): string => cluster.nodeNames[i]!;

    const run = async (step: ChaosPlanStep): Promise<void> => {
      const node = nodeName(step.target);
      const proxy = proxies[step.target]!;
      const proxyName = `proxy${step.target + 1}`;
      try {
        switch (step.action) {
          case 'kill': {
            if (down.has(step.target)) return record({ action: 'kill', target: node, result: 'skipped: already down' });
            if (down.size + 1 >= nodes) return record({ action: 'kill', target: node, result: 'skipped: the last node up' });
            down.add(step.target);
            hung.delete(step.target);
            await cluster.kill(node);
            record({ action: 'kill', target: node, result: 'done', detail: `down ${step.durationMs} ms` });
            later(step.durationMs!, async () => {
              await cluster.restart(node);
              down.delete(step.target);
            });
            return;
          }
          case 'hang': {
            if (down.has(step.target) || hung.has(step.target)) return record({ action: 'hang', target: node, result: 'skipped: node down or hung' });
            const m = cluster.node(node);
            hung.set(step.target, m);
            await m.setFaults({ blackhole: true });
            record({ action: 'hang', target: node, result: 'done', detail: `${step.durationMs} ms` });
            later(step.durationMs!, async () => {
              if (hung.get(step.target) !== m) return;
              hung.delete(step.target);
              if (cluster.node(node) !== m || !cluster.isAlive(node)) return;
              await m.setFaults({ blackhole: false });
              if (resetAfterBlackhole) m.resetConnections();
            });
            return;
          }
          case 'blackhole': {
            if (blackholed.has(step.target)) return record({ action: 'blackhole', target: proxyName, result: 'skipped: already blackholed' });
            blackholed.add(step.target);
            proxy.blackhole = true;
            record({ action: 'blackhole', target: proxyName, result: 'done', detail: `${step.durationMs} ms` });
            later(step.durationMs!, async () => {
              // the streams that lived through it have holes: reset them, as a firewall that forgot them would
              proxy.blackhole = false;
              if (resetAfterBlackhole) proxy.reset();
              blackholed.delete(step.target);
            });
            return;
          }
          case 'latency': {
            if (spiking.has(step.target)) return record({ action: 'latency', target: proxyName, result: 'skipped: already delayed' });
            spiking.add(step.target);
            proxy.latencyMs = step.latencyMs!;
            record({ action: 'latency', target: proxyName, result: 'done', detail: `${step.latencyMs} ms for ${step.durationMs} ms` });
            later(step.durationMs!, async () => {
              proxy.latencyMs = 0;
              spiking.delete(step.target);
            });
            return;
          }
          case 'reset':
            return record({ action: 'reset', target: proxyName, result: 'done', detail: `${proxy.reset()} connections` });
          case 'cut':
            return record({ action: 'cut', target: proxyName, result: 'done', detail: `${step.direction}, ${proxy.cutMidFrame(step.direction)} connections armed` });
          case 'force-reconnect': {
            let sent = 0;
            for (const i of step.agents ?? []) {
              const id = keys[i]!.id;
              const on = cluster.agentNode(id);
              if (on !== undefined) sent += cluster.node(on).forceReconnect([id]);
            }
            return record({ action: 'force-reconnect', target: `${step.agents?.length ?? 0} agents`, result: 'done', detail: `${sent} told` });
          }
        }
      } catch (err) {
        record({ action: step.action, target: step.action === 'force-reconnect' ? 'agents' : node, result: `failed: ${(err as Error).message}` });
      }
    };
    for (const step of plan) {
      const h = clock.setTimeout(() => {
        stepTimers.delete(h);
        track(run(step));
      }, Math.max(0, chaosAt + step.atMs - performance.now()));
      stepTimers.add(h);
    }
    log(`chaos: ${plan.length} faults planned over ${(chaosFor / 1000).toFixed(0)} s (seed ${seed})`);
    await abortableSleep(chaosFor, options.signal);

    // --- stop the chaos, clear every fault ------------------------------------------------------
    for (const h of stepTimers) clock.clearTimeout(h);
    planned = plan.length - stepTimers.size;
    stepTimers.clear();
    while (inFlight.size > 0) await Promise.all([...inFlight]);
    for (const [h, end] of pendingEnds) {
      clock.clearTimeout(h);
      track(end());
    }
    pendingEnds.clear();
    while (inFlight.size > 0) await Promise.all([...inFlight]);
    for (const p of proxies) {
      p.latencyMs = 0;
      p.blackhole = false;
    }
    chaosStopMs = Math.round(elapsed());
    log(`chaos stopped after ${chaosLog.length} faults; waiting for every agent`);
    // settled: every agent connected, and still so settleQuietMs later
    const settleFrom = performance.now();
    const settleDeadline = settleFrom + (options.settleTimeoutMs ?? 60_000);
    const quiet = options.settleQuietMs ?? 2000;
    let allSince: number | undefined;
    for (;;) {
      const now = performance.now();
      if (f.progress().connected === agents) allSince ??= now;
      else allSince = undefined;
      if (allSince !== undefined && now - allSince >= quiet) {
        settleMs = Math.round(allSince - settleFrom);
        break;
      }
      if (now > settleDeadline) {
        problems.push(`only ${f.progress().connected} of ${agents} agents connected ${options.settleTimeoutMs ?? 60_000} ms after the chaos stopped`);
        break;
      }
      await sleepReal(20);
    }
    connectedOnManagers = cluster.stats().connectedAgents;

    // --- drain, stop, reconcile -----------------------------------------------------------------
    clock.clearTimeout(sampleTimer);
    sampleTimer = undefined;
    clock.clearTimeout(progressTimer);
    progressTimer = undefined;
    totals = await f.stop({ drainTimeout: options.drainTimeoutMs ?? 10_000 });
    reconnectSummary = f.metrics.histograms.reconnect.summary();
    failoverSummary = f.metrics.histograms.failover.summary();
    // the managers may still be reading the last frames of the closed connections
    let prev = -1;
    const until = performance.now() + 10_000;
    for (;;) {
      let r = 0;
      for (const t of tally.values()) r += t.received;
      if (r === prev || performance.now() > until) break;
      prev = r;
      await sleepReal(300);
    }
    for (const [i, p] of proxies.entries()) proxyStats[`proxy${i + 1}`] = p.stats();
    log(`fleet stopped; ${since()} ms since the start`);
  } finally {
    clock.clearTimeout(sampleTimer);
    clock.clearTimeout(progressTimer);
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }

  // --- accounting, per agent then summed ------------------------------------------------------
  const droppedByReason: Record<string, number> = { full: 0, evicted: 0, rejected: 0, cleared: 0, refused: 0 };
  let sent = 0;
  let written = 0;
  let received = 0;
  let lost = 0;
  let unconfirmed = 0;
  let unexplained = 0;
  let agentsUnexplained = 0;
  let outOfOrder = 0;
  const clients: AgentClient[] = fleet ? [...fleet.clients()] : [];
  const seen = new Set<string>();
  for (const c of clients) {
    const name = c.identity?.name ?? '';
    const id = idOfName.get(name);
    if (id === undefined) continue;
    seen.add(id);
    const st = c.stats();
    const gen = generated.get(name) ?? 0;
    const t = tally.get(id)!;
    let drops = st.eventsRejected;
    droppedByReason.refused = (droppedByReason.refused ?? 0) + st.eventsRejected;
    for (const [reason, n] of Object.entries(st.buffer.droppedByReason)) {
      droppedByReason[reason] = (droppedByReason[reason] ?? 0) + n;
      drops += n;
    }
    const l = st.eventsSent - t.received;
    sent += gen;
    written += st.eventsSent;
    received += t.received;
    lost += l;
    unconfirmed += st.eventsUnconfirmedOnLostConnections;
    outOfOrder += t.outOfOrder;
    const beyond = Math.max(0, l - st.eventsUnconfirmedOnLostConnections) + Math.max(0, -l);
    if (beyond > 0 || gen !== st.eventsSent + drops) {
      agentsUnexplained++;
      unexplained += beyond + Math.abs(gen - st.eventsSent - drops);
    }
  }
  for (const [id, t] of tally) {
    if (seen.has(id) || t.received === 0) continue;
    // events from an agent the fleet does not know: cannot be
    agentsUnexplained++;
    unexplained += t.received;
    received += t.received;
  }
  const dropped = Object.values(droppedByReason).reduce((a, b) => a + b, 0);
  const balanced = sent === received + dropped + lost;

  // --- teardown checks ------------------------------------------------------------------------
  let after = activeResources();
  let leaked = excessResources(resourcesBefore, after);
  for (let i = 0; i < 30 && (Object.keys(leaked).length > 0 || clock.pending > 0); i++) {
    await sleepReal(100);
    after = activeResources();
    leaked = excessResources(resourcesBefore, after);
  }

  // --- memory trend ---------------------------------------------------------------------------
  const kept = samples.filter((s) => s.t >= warmupMs);
  const slope = (list: MemorySample[], pick: (s: MemorySample) => number): number =>
    Math.round(leastSquaresSlope(list.map((s) => [s.t / 60_000, pick(s) / 1024])) * 10) / 10;
  const lastHalf = kept.slice(Math.floor(kept.length / 2));
  const mb = (b: number | undefined): number => Math.round(((b ?? 0) / 1048576) * 10) / 10;

  // --- verdict --------------------------------------------------------------------------------
  const connectedAtEnd = totals?.connectedAtEnd ?? 0;
  if (totals && connectedAtEnd !== agents) problems.push(`${agents - connectedAtEnd} of ${agents} agents were not connected at the end`);
  if (!balanced) problems.push(`sent ${sent} != received ${received} + dropped ${dropped} + lost ${lost}`);
  if (agentsUnexplained > 0) problems.push(`${agentsUnexplained} agents lost ${unexplained} events beyond their unconfirmed counts (or their counts do not add up)`);
  if (outOfOrder > 0) problems.push(`${outOfOrder} events reached a manager out of order or twice`);
  if (Object.keys(leaked).length > 0) problems.push(`handles left after the teardown: ${JSON.stringify(leaked)}`);
  if (clock.pending > 0) problems.push(`${clock.pending} timers still pending after the teardown`);
  if (totals && totals.limits.length > 0) problems.push(`system limits hit: ${totals.limits.map((l) => l.message).join('; ')}`);

  return {
    startedAt: new Date(wallStart).toISOString(),
    machine: { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: availableParallelism() },
    settings: {
      agents,
      nodes,
      durationMs,
      eps,
      seed,
      client: {
        notifyTime: client.notifyTime,
        timeReconnect: client.timeReconnect,
        handshakeTimeout: client.handshakeTimeout,
        connectTimeout: client.connectTimeout,
        reconnect: typeof client.reconnect === 'function' ? 'custom' : client.reconnect,
      },
      chaos: chaosSettings,
      resetAfterBlackhole,
    },
    ok: problems.length === 0,
    problems,
    timing: { initialConnectMs, chaosStartMs, chaosStopMs, settleMs, totalMs: Math.round(performance.now() - t0) },
    chaos: {
      planned,
      done,
      skipped: chaosLog.filter((r) => r.result.startsWith('skipped')).length,
      failed: chaosLog.filter((r) => r.result.startsWith('failed')).length,
      log: chaosLog,
    },
    agents: { total: agents, connectedAtEnd, connectedOnManagers, neverConnected: totals?.neverConnected ?? agents },
    events: { sent, written, received, droppedByReason, dropped, lost, unconfirmed, agentsUnexplained, unexplained, outOfOrder, balanced },
    reconnects: {
      total: totals?.reconnects ?? 0,
      failovers: totals?.failovers ?? 0,
      connectFailures: totals?.connectFailures ?? 0,
      reconnect: reconnectSummary ?? emptySummary(),
      failover: failoverSummary ?? emptySummary(),
    },
    memory: {
      gcForced: gc !== undefined,
      samples: kept,
      heapSlopeKBPerMin: slope(kept, (s) => s.heapUsed),
      rssSlopeKBPerMin: slope(kept, (s) => s.rss),
      externalSlopeKBPerMin: slope(kept, (s) => s.external),
      heapSlopeLastHalfKBPerMin: slope(lastHalf, (s) => s.heapUsed),
      rssSlopeLastHalfKBPerMin: slope(lastHalf, (s) => s.rss),
      heapFirstMB: mb(kept[0]?.heapUsed),
      heapLastMB: mb(kept[kept.length - 1]?.heapUsed),
      rssFirstMB: mb(kept[0]?.rss),
      rssLastMB: mb(kept[kept.length - 1]?.rss),
    },
    resources: { before: resourcesBefore, after, leaked, pendingTimers: clock.pending },
    proxies: proxyStats,
  };
}

function emptySummary(): LatencySummary {
  return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
}

/** Resolves after `ms`, or at once when the signal aborts. */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// --- the thundering herd ---------------------------------------------------------------------

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
    await sleepReal(300);

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
    const deadline = killAt + (options.recoverTimeoutMs ?? 60_000);
    let recoveredMs: number | null = null;
    while (performance.now() < deadline) {
      if (fleet.metrics.counters.reconnects - reconnectsBefore >= agents && fleet.progress().connected === agents) {
        recoveredMs = Math.round(performance.now() - killAt);
        break;
      }
      await sleepReal(10);
    }
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
    for (let i = 0; i < 50 && Object.keys(excessResources(resourcesBefore, activeResources())).length > 0; i++) await sleepReal(100);
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
