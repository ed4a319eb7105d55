/**
 * The chaos soak: a fleet against an embedded cluster with a FaultProxy in front of every node,
 * under a seeded random chaos plan for the whole run, then the checks a long run under faults must
 * pass: every agent connected at the end, every event delivered in order or dropped or lost with a
 * counted reason (`at-most-once`: once at most; `at-least-once`: none lost, duplicates within the
 * retransmitted counts), nothing left open, and the memory trend.
 *
 * Built only from the public simulator API: {@link startEmbeddedCluster} with `faultPaths`, a
 * {@link Fleet}, {@link planChaos} and the {@link ChaosRunner} that `simulate --chaos` and the demo
 * use, {@link settle} and {@link accountEvents}. Run by `npm run soak` and, short, by
 * test/integration/reliability/soak-short.test.ts.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { ToolError, createDefaultTransportFactory } from 'agentlink';
import type { AgentClient, DeliveryMode } from 'agentlink';
import {
  CHAOS_ACTIONS,
  ChaosRunner,
  Fleet,
  FleetMetrics,
  accountEvents,
  createWorkload,
  planChaos,
  resolveChaosSettings,
  settle,
  simulatedIdentities,
  startEmbeddedCluster,
} from 'agentlink/simulator';
import type {
  ChaosAction,
  ChaosEvent,
  ChaosSettings,
  ChaosStep,
  EmbeddedCluster,
  EventCounts,
  FleetClientOptions,
  FleetTotals,
  LatencySummary,
  WorkloadFactory,
} from 'agentlink/simulator';
import type { FaultProxyStats, ReceivedEvent } from 'agentlink/testing';
import { exposedGc } from '../gc.js';
import { CountingClock, MemorySampler, abortableSleep, activeResources, excessResources, openSockets } from './probes.js';
import type { MemoryTrend } from './probes.js';

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
  /**
   * Delivery guarantee of every agent (over `client.delivery`). `at-least-once` must lose nothing:
   * a loss is then a failed check, and duplicates must stay within the agents' `eventsRetransmitted`.
   * @default 'at-most-once'
   */
  delivery?: DeliveryMode;
  /** Chaos settings of the random plan, over {@link DEFAULT_CHAOS_SETTINGS}. */
  chaos?: Partial<ChaosSettings>;
  /**
   * How long the chaos lasts, from its start. Given, the chaos keeps its length however long the
   * fleet took to connect (a busy machine slows the first connections, and the chaos must not
   * shrink to nothing); `durationMs` then only sets the defaults of the other times.
   * @default durationMs minus the time from the fleet start to the chaos start
   */
  chaosMs?: number;
  /** A fixed schedule instead of the random plan (`atMs` from the chaos start), e.g. from `parseChaos`. */
  steps?: readonly ChaosStep[];
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
   * Run a full garbage collection before each memory sample, so the trend is the live heap, not
   * the collector's timing.
   * @default true
   */
  forceGc?: boolean;
  /**
   * End every blackhole and hang with a reset of the connections that lived through it (see
   * `ChaosRunnerOptions.resetAfterBlackhole`); `false` keeps them, to show that the loss is then no
   * longer within the unconfirmed counts.
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

/** The effective settings of a soak: the options with every default filled in. */
export interface SoakSettings {
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
  /** Agents started per second. */
  rampPerSecond: number;
  /** Client options of every agent (`delivery` included). */
  client: FleetClientOptions;
  /** Delivery guarantee of every agent. */
  delivery: DeliveryMode;
  /** The chaos settings of the random plan. */
  chaos: ChaosSettings;
  /** Length of the chaos, when fixed. */
  chaosMs: number | undefined;
  /** The fixed schedule, when one replaced the plan. */
  steps: readonly ChaosStep[] | undefined;
  /** Quiet time before the first fault. */
  chaosDelayMs: number;
  /** Settle deadline. */
  settleTimeoutMs: number;
  /** Settle quiet period. */
  settleQuietMs: number;
  /** Drain deadline. */
  drainTimeoutMs: number;
  /** Memory sampling period. */
  memorySampleMs: number;
  /** Memory warm-up. */
  warmupMs: number;
  /** Whether a GC runs before each memory sample. */
  forceGc: boolean;
  /** Whether blackholes and hangs end with a reset. */
  resetAfterBlackhole: boolean;
  /** Progress line period. */
  progressMs: number;
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
  /** The effective settings of the run (the client's timers and strategy, not its logger). */
  settings: Omit<SoakSettings, 'client'> & { client: Record<string, unknown> };
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
    /** Faults whose time came before the stop. */
    planned: number;
    /** Faults run, per action. */
    done: Partial<Record<ChaosAction, number>>;
    /** Faults skipped because they could not apply then (node already down, last node up). */
    skipped: number;
    /** Faults that threw. */
    failed: number;
    /** Every fault, as the runner recorded it (`at` from the fleet start). */
    log: ChaosEvent[];
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
    /** Events generated by the workload (offered to the agents). */
    generated: number;
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
    /** Events whose first copy reached a manager after a later event of the same agent. */
    outOfOrder: number;
    /** Copies of events a manager had already received (only `at-least-once` may have any). */
    duplicates: number;
    /** `eventsRetransmitted` summed: the most duplicates `at-least-once` may cause. */
    retransmitted: number;
    /** Agents with more duplicates than their own `eventsRetransmitted`. */
    agentsOverDuplicated: number;
    /** Barrier keepalives besides the regular ones (`retransmitWindow.extraKeepalives` summed; 0 with `at-most-once`). */
    extraKeepalives: number;
    /** Most events one agent's retransmit window held at once (0 with `at-most-once`). */
    windowHighWater: number;
    /** `generated = received + dropped + lost`. */
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
  memory: MemoryTrend;
  /** Handles and timers. */
  resources: {
    /** `process.getActiveResourcesInfo()` by type before anything started. */
    before: Record<string, number>;
    /** The same after the teardown. */
    after: Record<string, number>;
    /** Types with more after than before, and how many more. */
    leaked: Record<string, number>;
    /** The TCP sockets still open after the teardown, `local -> remote` with the proxy or node a port belongs to. */
    sockets: string[];
    /** Timers of the soak's clock (agents, fleet, managers, proxies; unref'd ones too) still pending after the teardown. */
    pendingTimers: number;
  };
  /** Counters of the proxy in front of each node, by node. */
  proxies: Record<string, FaultProxyStats>;
}

const SOAK_LOCATION = '/var/log/agentlink-soak.log';
const SEQ_MARK = ' agentlink-seq=';

/**
 * The options with every default filled in, checked.
 *
 * @param options - the soak's options.
 * @returns the effective settings.
 * @throws `ToolError` (`ERR_USAGE`) for bad sizes or chaos settings.
 */
export function resolveSoakSettings(options: ChaosSoakOptions = {}): SoakSettings {
  const agents = options.agents ?? 1000;
  const nodes = options.nodes ?? 3;
  const durationMs = options.durationMs ?? 300_000;
  if (!Number.isInteger(agents) || agents < 1) throw new ToolError(`soak agents must be a positive integer, got ${String(agents)}`, 'ERR_USAGE');
  if (!Number.isInteger(nodes) || nodes < 2) throw new ToolError(`soak nodes must be an integer of at least 2, got ${String(nodes)}`, 'ERR_USAGE');
  if (!(durationMs > 0)) throw new ToolError(`soak durationMs must be positive, got ${String(durationMs)}`, 'ERR_USAGE');
  if (options.chaosMs !== undefined && !(options.chaosMs >= 0)) throw new ToolError(`soak chaosMs must be 0 or more, got ${String(options.chaosMs)}`, 'ERR_USAGE');
  const delivery = options.delivery ?? options.client?.delivery ?? 'at-most-once';
  return {
    agents,
    nodes,
    durationMs,
    delivery,
    eps: options.eps ?? 1,
    seed: options.seed ?? 'agentlink-soak',
    rampPerSecond: options.rampPerSecond ?? 500,
    client: {
      notifyTime: 2000,
      timeReconnect: 6000,
      handshakeTimeout: 3000,
      connectTimeout: 2000,
      reconnect: { strategy: 'backoff', initialDelay: 1000, maxDelay: 8000 },
      ...options.client,
      delivery,
    },
    chaos: resolveChaosSettings(options.chaos),
    chaosMs: options.chaosMs,
    steps: options.steps,
    chaosDelayMs: options.chaosDelayMs ?? Math.min(10_000, durationMs / 10),
    settleTimeoutMs: options.settleTimeoutMs ?? 60_000,
    settleQuietMs: options.settleQuietMs ?? 2000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    memorySampleMs: options.memorySampleMs ?? 5000,
    warmupMs: options.warmupMs ?? Math.min(30_000, durationMs / 5),
    forceGc: options.forceGc !== false,
    resetAfterBlackhole: options.resetAfterBlackhole !== false,
    progressMs: options.progressMs ?? 10_000,
  };
}

/** What a manager got from one agent. */
interface AgentTally {
  /** Events received at least once. */
  received: number;
  /** Copies of events already received. */
  duplicates: number;
  /** First copies that came after a later event. */
  outOfOrder: number;
  /** Highest sequence number received. */
  maxSeq: number;
  /** Numbers below `maxSeq` not received yet (dropped, lost, or still to come): few, so the tally stays small. */
  holes: Set<number>;
}

/** What the managers got from each agent: counts, copies and order, from the sequence number in each event. */
class SequenceTally {
  readonly #byId = new Map<string, AgentTally>();
  /** Events generated per agent name (the numbered workload counts them). */
  readonly generated = new Map<string, number>();
  received = 0;

  constructor(ids: readonly string[]) {
    for (const id of ids) this.#byId.set(id, { received: 0, duplicates: 0, outOfOrder: 0, maxSeq: 0, holes: new Set() });
  }

  /** The syslog workload with the agent's event number appended. */
  workload(): WorkloadFactory {
    return (options) => {
      const inner = createWorkload('syslog', options);
      const name = options.agentName;
      let seq = 0;
      return {
        kind: 'soak',
        next: () => {
          seq++;
          this.generated.set(name, seq);
          const e = inner.next();
          return { queue: e.queue, location: SOAK_LOCATION, message: `${e.message}${SEQ_MARK}${seq}` };
        },
      };
    };
  }

  readonly onEvent = (e: ReceivedEvent): void => {
    if (e.generated || e.location !== SOAK_LOCATION) return;
    const t = this.#byId.get(e.agentId);
    if (!t) return;
    const at = e.message.lastIndexOf(SEQ_MARK);
    const seq = at < 0 ? 0 : Number(e.message.slice(at + SEQ_MARK.length));
    if (seq > t.maxSeq) {
      for (let k = t.maxSeq + 1; k < seq; k++) t.holes.add(k);
      t.maxSeq = seq;
    } else if (t.holes.delete(seq)) {
      t.outOfOrder++;
    } else {
      t.duplicates++;
      return;
    }
    t.received++;
    this.received++;
  };

  of(id: string): Readonly<AgentTally> | undefined {
    return this.#byId.get(id);
  }

  ids(): IterableIterator<string> {
    return this.#byId.keys();
  }
}

/** Per-agent accounting: the agents' own counts against what the managers received from each. */
function reconcile(clients: readonly AgentClient[], idOfName: ReadonlyMap<string, string>, tally: SequenceTally): ChaosSoakReport['events'] {
  const droppedByReason: Record<string, number> = { full: 0, evicted: 0, rejected: 0, cleared: 0, refused: 0 };
  const rows: EventCounts[] = [];
  const seen = new Set<string>();
  let outOfOrder = 0;
  let duplicates = 0;
  let retransmitted = 0;
  let agentsOverDuplicated = 0;
  let extraKeepalives = 0;
  let windowHighWater = 0;
  for (const c of clients) {
    const name = c.identity?.name ?? '';
    const id = idOfName.get(name);
    const t = id === undefined ? undefined : tally.of(id);
    if (id === undefined || !t) continue;
    seen.add(id);
    const st = c.stats();
    let dropped = st.eventsRejected;
    droppedByReason.refused = (droppedByReason.refused ?? 0) + st.eventsRejected;
    for (const [reason, n] of Object.entries(st.buffer.droppedByReason)) {
      droppedByReason[reason] = (droppedByReason[reason] ?? 0) + n;
      dropped += n;
    }
    outOfOrder += t.outOfOrder;
    duplicates += t.duplicates;
    retransmitted += st.eventsRetransmitted;
    if (t.duplicates > st.eventsRetransmitted) agentsOverDuplicated++;
    extraKeepalives += st.retransmitWindow.extraKeepalives;
    windowHighWater = Math.max(windowHighWater, st.retransmitWindow.highWaterEvents);
    rows.push({ generated: tally.generated.get(name) ?? 0, written: st.eventsSent, dropped, unconfirmed: st.eventsUnconfirmedOnLostConnections, received: t.received });
  }
  // events from an agent the fleet does not know cannot be: each is unexplained
  for (const id of tally.ids()) {
    const t = tally.of(id)!;
    if (!seen.has(id) && t.received > 0) rows.push({ generated: 0, written: 0, dropped: 0, unconfirmed: 0, received: t.received });
  }
  const a = accountEvents(rows);
  return {
    generated: a.generated,
    written: a.written,
    received: a.received,
    droppedByReason,
    dropped: a.dropped,
    lost: a.lost,
    unconfirmed: a.unconfirmed,
    agentsUnexplained: a.rowsUnexplained,
    unexplained: a.unexplained,
    outOfOrder,
    duplicates,
    retransmitted,
    agentsOverDuplicated,
    extraKeepalives,
    windowHighWater,
    balanced: a.balanced,
  };
}

/**
 * What the delivery mode promises, checked on the soak's event accounting: `at-least-once` loses
 * nothing and each agent's duplicates stay within its own `eventsRetransmitted`; `at-most-once`
 * never delivers an event twice (its loss is checked against the unconfirmed counts like every drop).
 *
 * @param delivery - the agents' delivery mode.
 * @param events - the soak's accounting.
 * @returns one line per broken promise (none when kept).
 */
export function deliveryProblems(delivery: DeliveryMode, events: Pick<ChaosSoakReport['events'], 'lost' | 'duplicates' | 'agentsOverDuplicated'>): string[] {
  const out: string[] = [];
  if (delivery === 'at-least-once') {
    if (events.lost !== 0) out.push(`at-least-once lost ${events.lost} events`);
    if (events.agentsOverDuplicated > 0) out.push(`${events.agentsOverDuplicated} agents got more duplicates than they retransmitted`);
  } else if (events.duplicates > 0) {
    out.push(`at-most-once: ${events.duplicates} events reached a manager twice`);
  }
  return out;
}

function emptySummary(): LatencySummary {
  return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
}

/**
 * The chaos soak: a fleet against an embedded cluster with a FaultProxy in front of every node
 * (each agent's ordered list holds the proxies, rotated), random faults from a seeded plan (or the
 * given steps) for the whole run, a numbered workload; then every fault is cleared, the fleet
 * settles and drains, every agent stops, and the run checks, per agent and in total: every agent
 * connected at the end; `generated = written + drops` on the agent; `written = received + lost` with
 * `0 <= lost <= eventsUnconfirmedOnLostConnections` (`at-least-once`: `lost = 0`); first copies
 * received in order; no duplicate (`at-least-once`: at most `eventsRetransmitted` per agent); no
 * socket, server or timer left after the teardown; the memory trend.
 *
 * @param options - size, length, seed, client options and chaos settings.
 * @returns the report; `ok` tells whether every check passed (the memory trend is reported, not judged).
 * @throws `ToolError` (`ERR_USAGE`) for bad sizes or chaos settings.
 */
export async function runChaosSoak(options: ChaosSoakOptions = {}): Promise<ChaosSoakReport> {
  const s = resolveSoakSettings(options);
  const { agents, nodes, durationMs, seed } = s;
  const log = options.log ?? (() => undefined);
  const wallStart = Date.now();
  const t0 = performance.now();
  const resourcesBefore = activeResources();
  // AGENTLINK_SOAK_TRACE=1: a timer left after the teardown says where it was set
  const clock = new CountingClock(process.env.AGENTLINK_SOAK_TRACE === '1');
  const problems: string[] = [];

  const keys = simulatedIdentities(
    Array.from({ length: agents }, (_, i) => i),
    seed,
  );
  const idOfName = new Map(keys.map((k) => [k.name, k.id]));
  const tally = new SequenceTally(keys.map((k) => k.id));

  let cluster: EmbeddedCluster | undefined;
  let fleet: Fleet | undefined;
  let chaos: ChaosRunner | undefined;
  let totals: FleetTotals | undefined;
  let connectedOnManagers = 0;
  let initialConnectMs = 0;
  let chaosStartMs = 0;
  let chaosStopMs = 0;
  let settleMs: number | null = null;
  let proxies: Record<string, FaultProxyStats> = {};
  const ports = new Map<number, string>();
  let fleetStart = performance.now();
  const elapsed = (): number => performance.now() - fleetStart;
  const memory = new MemorySampler(clock, s.memorySampleMs, s.forceGc ? exposedGc() : undefined, elapsed);
  let progressTimer: ReturnType<CountingClock['setTimeout']> | undefined;

  try {
    cluster = await startEmbeddedCluster({ nodes, keys, faultPaths: true, clock, onEvent: tally.onEvent });
    for (const srv of cluster.servers) ports.set(srv.port ?? 0, `proxy of ${srv.node}`);
    for (const srv of cluster.directServers) ports.set(srv.port ?? 0, srv.node ?? '');
    const f = new Fleet({
      indexes: keys.map((_, i) => i),
      identities: keys,
      servers: cluster.servers,
      client: s.client,
      rampPerSecond: s.rampPerSecond,
      eps: s.eps,
      workload: tally.workload(),
      seed,
      clock,
      transport: createDefaultTransportFactory({ clock }),
      metrics: new FleetMetrics({ clock, bucketMs: 10_000 }),
    });
    fleet = f;
    fleetStart = performance.now();
    f.start();
    memory.start();
    const progress = (): void => {
      progressTimer = clock.setTimeout(progress, s.progressMs);
      const p = f.progress();
      const m = process.memoryUsage();
      log(
        `${(elapsed() / 1000).toFixed(0)}s: ${p.connected}/${agents} connected, ${p.reconnecting} reconnecting, ` +
          `generated ${p.eventsGenerated}, written ${p.eventsWritten}, received ${tally.received}, faults ${chaos?.events.length ?? 0}, heap ${(m.heapUsed / 1048576).toFixed(0)} MB, RSS ${(m.rss / 1048576).toFixed(0)} MB`,
      );
    };
    if (s.progressMs > 0) progressTimer = clock.setTimeout(progress, s.progressMs);

    await f.waitForConnected(agents, Math.max(60_000, (agents / s.rampPerSecond) * 1000 + 30_000));
    initialConnectMs = Math.round(elapsed());
    log(`every agent connected after ${initialConnectMs} ms`);

    // --- chaos: the plan (or the given steps) through the runner simulate --chaos uses ----------
    await abortableSleep(s.chaosDelayMs, options.signal);
    chaosStartMs = Math.round(elapsed());
    const chaosFor = s.chaosMs ?? Math.max(0, durationMs - elapsed());
    const steps = s.steps ?? planChaos({ durationMs: chaosFor, nodes, agents, seed, settings: s.chaos });
    chaos = new ChaosRunner({ target: cluster, steps, clock, elapsed, seed, keepOneNodeUp: true, resetAfterBlackhole: s.resetAfterBlackhole });
    chaos.start();
    log(`chaos: ${steps.length} faults planned over ${(chaosFor / 1000).toFixed(0)} s (seed ${seed})`);
    await abortableSleep(chaosFor, options.signal);
    await chaos.stop();
    chaosStopMs = Math.round(elapsed());
    log(`chaos stopped after ${chaos.events.length} faults; waiting for every agent`);

    // --- settled: every agent connected, and still so settleQuietMs later -----------------------
    const settled = await settle({ read: () => f.progress().connected, steady: (n) => n === agents, quietMs: s.settleQuietMs, timeoutMs: s.settleTimeoutMs, pollMs: 20, clock });
    settleMs = settled.afterMs;
    if (!settled.settled) problems.push(`only ${settled.value} of ${agents} agents connected ${s.settleTimeoutMs} ms after the chaos stopped`);
    connectedOnManagers = Object.values(await cluster.distribution()).reduce((a, b) => a + b, 0);

    // --- drain, stop, and let the managers read the last frames of the closed connections ------
    memory.stop();
    clock.clearTimeout(progressTimer);
    progressTimer = undefined;
    totals = await f.stop({ drainTimeout: s.drainTimeoutMs });
    await settle({ read: () => tally.received, steady: (r, prev) => r === prev, quietMs: 300, timeoutMs: 10_000, pollMs: 100, clock });
    proxies = await cluster.faultPathStats();
    log(`fleet stopped; ${Math.round(performance.now() - t0)} ms since the start`);
  } finally {
    memory.stop();
    clock.clearTimeout(progressTimer);
    await fleet?.stop({ drainTimeout: 0 }).catch(() => undefined);
    await cluster?.close().catch(() => undefined);
  }

  const events = reconcile(fleet ? [...fleet.clients()] : [], idOfName, tally);

  // --- teardown checks: nothing of this run may be left ----------------------------------------
  const teardown = await settle({
    read: () => ({ leaked: excessResources(resourcesBefore, activeResources()), pending: clock.pending }),
    steady: (r) => Object.keys(r.leaked).length === 0 && r.pending === 0,
    timeoutMs: 3000,
    pollMs: 100,
  });
  const leaked = teardown.value.leaked;
  const sockets = leaked.TCPSocketWrap ? openSockets(ports) : [];
  // a leak or a late close? watch what was left for a while longer
  let goneAfterMs: number | null | undefined;
  if (Object.keys(leaked).length > 0) {
    const later = await settle({ read: () => Object.keys(excessResources(resourcesBefore, activeResources())).length, steady: (n) => n === 0, timeoutMs: 10_000, pollMs: 100 });
    goneAfterMs = later.settled ? 3000 + (later.afterMs ?? 0) : null;
  }

  // --- verdict --------------------------------------------------------------------------------
  const connectedAtEnd = totals?.connectedAtEnd ?? 0;
  if (totals && connectedAtEnd !== agents) problems.push(`${agents - connectedAtEnd} of ${agents} agents were not connected at the end`);
  if (!events.balanced) problems.push(`generated ${events.generated} != received ${events.received} + dropped ${events.dropped} + lost ${events.lost}`);
  if (events.agentsUnexplained > 0) problems.push(`${events.agentsUnexplained} agents lost ${events.unexplained} events beyond their unconfirmed counts (or their counts do not add up)`);
  if (events.outOfOrder > 0) problems.push(`${events.outOfOrder} events reached a manager out of order`);
  problems.push(...deliveryProblems(s.delivery, events));
  if (Object.keys(leaked).length > 0) {
    const fate = goneAfterMs === null ? 'still there 13 s after the teardown' : `closed ${goneAfterMs} ms after the teardown`;
    problems.push(`handles left after the teardown: ${JSON.stringify(leaked)}, ${fate}${sockets.length > 0 ? ` (${sockets.join('; ')})` : ''}`);
  }
  if (clock.pending > 0) {
    const origins = Object.entries(clock.pendingOrigins()).map(([where, n]) => `${n}× ${where}`);
    problems.push(`${clock.pending} timers still pending after the teardown${origins.length > 0 ? ` (${origins.join('; ')})` : ''}`);
  }
  if (totals && totals.limits.length > 0) problems.push(`system limits hit: ${totals.limits.map((l) => l.message).join('; ')}`);

  const records = chaos ? [...chaos.events] : [];
  const done: Partial<Record<ChaosAction, number>> = {};
  for (const a of CHAOS_ACTIONS) if ((s.chaos.weights[a] ?? 0) > 0 || s.steps?.some((st) => st.action === a)) done[a] = 0;
  for (const e of records) if (e.error === undefined && e.skipped === undefined) done[e.action as ChaosAction] = (done[e.action as ChaosAction] ?? 0) + 1;
  const c = s.client;
  return {
    startedAt: new Date(wallStart).toISOString(),
    machine: { node: process.version, platform: `${process.platform}/${process.arch}`, cpus: availableParallelism() },
    settings: {
      ...s,
      client: {
        notifyTime: c.notifyTime,
        timeReconnect: c.timeReconnect,
        handshakeTimeout: c.handshakeTimeout,
        connectTimeout: c.connectTimeout,
        reconnect: typeof c.reconnect === 'function' ? 'custom' : c.reconnect,
        delivery: c.delivery,
      },
    },
    ok: problems.length === 0,
    problems,
    timing: { initialConnectMs, chaosStartMs, chaosStopMs, settleMs, totalMs: Math.round(performance.now() - t0) },
    chaos: {
      planned: chaos?.fired ?? 0,
      done,
      skipped: records.filter((e) => e.skipped !== undefined).length,
      failed: records.filter((e) => e.error !== undefined).length,
      log: records,
    },
    agents: { total: agents, connectedAtEnd, connectedOnManagers, neverConnected: totals?.neverConnected ?? agents },
    events,
    reconnects: {
      total: totals?.reconnects ?? 0,
      failovers: totals?.failovers ?? 0,
      connectFailures: totals?.connectFailures ?? 0,
      reconnect: fleet?.metrics.histograms.reconnect.summary() ?? emptySummary(),
      failover: fleet?.metrics.histograms.failover.summary() ?? emptySummary(),
    },
    memory: memory.trend(s.warmupMs),
    resources: { before: resourcesBefore, after: activeResources(), leaked, sockets, pendingTimers: clock.pending },
    proxies,
  };
}
