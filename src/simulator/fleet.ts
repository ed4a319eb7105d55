/**
 * The Fleet: thousands of {@link AgentClient}s in one event loop. It starts them at a connect ramp,
 * feeds them a workload from one shared timer, samples gauges into {@link FleetMetrics} once per
 * timeline bucket, and stops them cleanly (drain, shutdown message) with exact event accounting.
 *
 * Built for size: no per-agent timer beyond the client's own, one listener function per event
 * shared by every agent (the agent's slot is the listener's `this`), workloads created lazily, a
 * silent logger and a uname computed once.
 *
 * Why this file is over 700 lines: the Fleet is the one owner of its agents' slots and of the run's
 * counters, and what is left here reads or changes them (ramp, work tick, event counting, sampling,
 * stop and its accounting). What does not lives beside it: types (fleet-types.ts), metrics and the
 * timeline (metrics.ts), stages, workloads, identities, system limits (limits.ts), the event-loop
 * delay (loop-delay.ts) and the worker processes (parts.ts, worker.ts).
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import {
  AgentClient,
  AgentlinkError,
  StateError,
  ToolError,
  createDefaultTransportFactory,
  enrollWithFallback,
  hostUname,
  resolveOptions,
  silentLogger,
  systemClock,
} from '../index.js';
import type {
  AgentClientOptions,
  AgentClientStats,
  AgentRuntime,
  AgentIdentityOptions,
  AgentState,
  Clock,
  ResolvedServer,
  ServerOptions,
  TransportFactory,
  UnameInfo,
} from '../index.js';
import { FLEET_TRANSITIONS } from './fleet-types.js';
import type { FleetClientOptions, FleetEvents, FleetOptions, FleetProgress, FleetServer, FleetState, FleetStopOptions, FleetTotals } from './fleet-types.js';
import { resourceLimitOf } from './limits.js';
import { EVENT_COUNT_KEYS, FleetMetrics, emptyEventCounts, nextSample } from './metrics.js';
import type { FleetEventCounts, TimelinePoint } from './metrics.js';
import type { LimitHit } from './report.js';
import { LoadSchedule } from './stages.js';
import { LoopDelayMonitor } from './loop-delay.js';
import { workloadFactory } from './workloads.js';
import type { Workload, WorkloadFactory } from './workloads.js';
import { simulatedAgentName, simulatedIdentity, sourceAddressFor } from './identities.js';

/** Drain time of an agent a falling stage stops. */
const RETIRE_DRAIN_MS = 2000;

/** The golden-ratio fraction that spreads agents' event phases evenly over one period. */
const PHASE_STEP = 0.6180339887498949;

/** One agent of the fleet: its client (once started) and its bookkeeping. The listeners' `this`. */
interface Slot {
  /** Index in the whole fleet. */
  readonly index: number;
  /** Position in this fleet's arrays. */
  readonly pos: number;
  /** Ramp start, ms after the run start (Infinity: the stages never start it). */
  readonly startAt: number;
  /** When the stages stop it, ms after the run start (Infinity: at the end). */
  readonly stopAt: number;
  /** Events per agent the schedule owed before its start ({@link LoadSchedule.eventsBy} at `startAt`). */
  readonly owedBefore: number;
  /** Stopped by a falling stage. */
  retired: boolean;
  /** Workload phase in [0, 1). */
  readonly phase: number;
  client: AgentClient | undefined;
  workload: Workload | undefined;
  /** Events generated so far. */
  emitted: number;
  /** Index (in the agent's own list) of the server of the last connection; -1 before the first. */
  lastServerIndex: number;
  connectedOnce: boolean;
  /** The manager asked for the current reconnection (`#!-force_reconnect`). */
  forced: boolean;
  /** Code of the last failed attempt (for agents that never connect). */
  lastErrorCode: string | undefined;
}

/**
 * Many {@link AgentClient}s in one process, started at a ramp and fed a workload.
 *
 * @example
 * ```ts
 * import { Fleet } from 'agentlink/simulator';
 *
 * const fleet = new Fleet({
 *   indexes: keys.map((_, i) => i),
 *   identities: keys,
 *   servers: [{ address: '10.0.0.1', node: 'm1' }, { address: '10.0.0.2', node: 'm2' }],
 *   client: { notifyTime: 10_000 },
 *   rampPerSecond: 200,
 *   eps: 1,
 * });
 * fleet.start();
 * await fleet.waitForConnected(keys.length, 60_000);
 * const totals = await fleet.stop({ drainTimeout: 5000 });
 * ```
 */
export class Fleet extends EventEmitter<FleetEvents> {
  /** The metrics the fleet records into. */
  readonly metrics: FleetMetrics;
  readonly #slots: Slot[];
  readonly #identities: readonly (AgentIdentityOptions | undefined)[] | undefined;
  readonly #servers: readonly FleetServer[];
  readonly #nodeOf = new Map<string, string>();
  readonly #nodeNames: string[];
  readonly #spread: boolean;
  readonly #client: FleetClientOptions;
  readonly #schedule: LoadSchedule;
  readonly #workload: WorkloadFactory | undefined;
  readonly #seed: string;
  readonly #sourceAddresses: number;
  readonly #tickMs: number;
  readonly #clock: Clock;
  readonly #transport: TransportFactory;
  readonly #uname: UnameInfo;
  readonly #baseRotations: ServerOptions[][];
  #runStartedAt: number | undefined;
  #startMono = 0;
  #state: FleetState = 'new';
  #nextToStart = 0;
  #rampTimer: ReturnType<Clock['setTimeout']> | undefined;
  #workTimer: ReturnType<Clock['setTimeout']> | undefined;
  #sampleTimer: ReturnType<Clock['setTimeout']> | undefined;
  #generating = false;
  /** End of the event schedule (ms after the run start). */
  readonly #eventsUntil: number;
  #eventsGenerated = 0;
  /** Events `sendEvent` refused (returned false). */
  #eventsRefused = 0;
  /** Of those, the ones refused because the agent had stopped (counted by the agent as rejected too). */
  #refusedStopped = 0;
  /** The event counts already added to the metrics. */
  #counted: FleetEventCounts = emptyEventCounts();
  #connectedEver = 0;
  #failovers = 0;
  readonly #limits = new Map<string, LimitHit>();
  readonly #loopDelay = new LoopDelayMonitor();
  readonly #errorSamples = new Map<string, string>();
  /** Errors the agents emitted, by code. */
  readonly #errors: Record<string, number> = {};
  readonly #waiters = new Set<{ n: number; resolve: () => void }>();
  // one listener function per event for the whole fleet; `this` is the agent's slot
  readonly #onConnected: (this: Slot, info: { serverIndex: number; elapsed: number }) => void;
  readonly #onError: (this: Slot, error: AgentlinkError) => void;
  readonly #onStateChange: (this: Slot, change: { from: AgentState; to: AgentState }) => void;
  readonly #onForceReconnect: (this: Slot) => void;
  readonly #onAck: (info: { latency: number | undefined }) => void;
  readonly #onClosed: (this: Slot, info: { reason: AgentlinkError | undefined }) => void;
  readonly #balanced: boolean;
  #connected = 0;
  /** Events are generated up to this time (ms since the start). */
  #generatedTo = 0;
  #lastBucket = -1;

  /**
   * @param options - agents, servers, ramp, workload and shared client options.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` for an empty server list, identities that do not match
   *   the indexes, a negative rate, or a bad workload spec.
   */
  constructor(options: FleetOptions) {
    super();
    if (options.servers.length === 0) throw new ToolError('Fleet needs at least one server in `servers`', 'ERR_USAGE');
    if (options.identities !== undefined && options.identities.length !== options.indexes.length) {
      throw new ToolError(
        `Fleet got ${options.identities.length} identities for ${options.indexes.length} agent indexes: give one identity (or undefined, to enroll) per index`,
        'ERR_USAGE',
      );
    }
    const rate = options.rampPerSecond ?? 500;
    const eps = options.eps ?? 0;
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new ToolError(`Fleet rampPerSecond must be 0 or more, got ${String(rate)}`, 'ERR_USAGE');
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new ToolError(`Fleet eps must be 0 or more, got ${String(eps)}`, 'ERR_USAGE');
    this.metrics = options.metrics ?? new FleetMetrics({ clock: options.clock ?? systemClock });
    this.#identities = options.identities;
    this.#servers = options.servers;
    this.#spread = options.spread ?? true;
    this.#client = options.client ?? {};
    this.#schedule = new LoadSchedule({ rampPerSecond: rate, eps, stages: options.stages });
    this.#eventsUntil = options.eventsUntil ?? Infinity;
    this.#seed = options.seed ?? 'agentlink';
    this.#workload = this.#schedule.sends ? (typeof options.workload === 'function' ? options.workload : workloadFactory(options.workload ?? 'syslog')) : undefined;
    this.#sourceAddresses = options.sourceAddresses ?? 0;
    this.#tickMs = Math.max(10, options.tickMs ?? 100);
    this.#clock = options.clock ?? systemClock;
    this.#runStartedAt = options.runStartedAt;
    this.#balanced = options.balanced ?? false;
    this.#uname = typeof this.#client.uname === 'object' ? this.#client.uname : hostUname();
    this.#nodeNames = [];
    for (const s of this.#servers) {
      const name = s.node ?? `${s.address}:${s.port ?? 1514}`;
      this.#nodeOf.set(`${s.address}:${s.port ?? 1514}`, name);
      if (!this.#nodeNames.includes(name)) this.#nodeNames.push(name);
    }
    const plain: ServerOptions[] = this.#servers.map(({ node: _node, ...s }) => s);
    this.#baseRotations = plain.map((_, r) => [...plain.slice(r), ...plain.slice(0, r)]);

    const metrics = this.metrics;
    const base = options.transport ?? createDefaultTransportFactory({ clock: this.#clock });
    const clock = this.#clock;
    // times every TCP connect (socket open) for the tcpConnect histogram: one wrapper per connection
    this.#transport = (target, opts) => {
      const t = base(target, opts);
      const connect = t.connect.bind(t);
      t.connect = () => {
        const began = clock.monotonic();
        return connect().then(() => metrics.recordTcpConnect(clock.monotonic() - began));
      };
      return t;
    };

    const schedule = this.#schedule;
    this.#slots = options.indexes.map((index, pos) => ({
      index,
      pos,
      startAt: schedule.startAt(index),
      stopAt: schedule.stopAt(index),
      owedBefore: Number.isFinite(schedule.startAt(index)) ? schedule.eventsBy(schedule.startAt(index)) : 0,
      retired: false,
      phase: (index * PHASE_STEP) % 1,
      client: undefined,
      workload: undefined,
      emitted: 0,
      lastServerIndex: -1,
      connectedOnce: false,
      forced: false,
      lastErrorCode: undefined,
    }));
    // the ramp walks the slots in start-time order
    this.#slots.sort((a, b) => a.startAt - b.startAt || a.index - b.index);

    const fleet = this;
    this.#onConnected = function (this: Slot, info) {
      fleet.#agentConnected(this, info.serverIndex, info.elapsed);
    };
    this.#onError = function (this: Slot, error) {
      fleet.#agentError(this, error);
    };
    // an agent that gives up (enrollment refused, reconnect policy exhausted) closes with the reason
    this.#onClosed = function (this: Slot, info) {
      if (info.reason) fleet.#agentError(this, info.reason);
    };
    this.#onAck = (info) => {
      if (info.latency !== undefined) this.metrics.recordAck(info.latency);
    };
    this.#onForceReconnect = function (this: Slot) {
      this.forced = true;
    };
    this.#onStateChange = function (this: Slot, change) {
      if (change.to === 'connected') fleet.#connected++;
      else if (change.from === 'connected') fleet.#connected--;
    };
    // every agent shares these options: check them once here, so a mistake is one error and not one per agent
    resolveOptions({
      ...this.#client,
      agent: options.identities?.find((i) => i !== undefined) ?? simulatedIdentity(0, 'check'),
      servers: this.#baseRotations[0]!,
      uname: this.#uname,
    });
    if (options.identities === undefined || options.identities.some((i) => i === undefined)) {
      // agents without an identity enroll: the enrollment settings must allow it
      resolveOptions({
        ...this.#client,
        servers: this.#baseRotations[0]!,
        uname: this.#uname,
        enrollment: { enabled: true, ...this.#client.enrollment, agentName: simulatedAgentName(0) },
      });
    }
  }

  /** Agents in the fleet. */
  get size(): number {
    return this.#slots.length;
  }

  /** Node names, in server-list order. */
  get nodes(): readonly string[] {
    return this.#nodeNames;
  }

  /** Wall-clock start of the run (ms since the epoch), once started. */
  get runStartedAt(): number | undefined {
    return this.#runStartedAt;
  }

  /** The run state: `new`, `running`, `stopping`, `stopped`. */
  get state(): FleetState {
    return this.#state;
  }

  /** Milliseconds since the run start (0 before {@link Fleet.start}). */
  elapsed(): number {
    if (this.#runStartedAt === undefined || this.#state === 'new') return 0;
    return this.#clock.now() - this.#runStartedAt;
  }

  /** The clients started so far (for tests and tools). */
  *clients(): IterableIterator<AgentClient> {
    for (const s of this.#slots) if (s.client) yield s.client;
  }

  /**
   * Starts the ramp, the workload timer and the timeline sampling. Returns at once; `rampDone` is
   * emitted when every agent has been started.
   *
   * @param runStartedAt - wall-clock start of the run (ms since the epoch), overriding the
   *   `runStartedAt` option; defaults to now.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when called twice.
   */
  start(runStartedAt?: number): void {
    if (this.#state !== 'new') throw new ToolError('Fleet.start() was already called', 'ERR_USAGE');
    this.#transition('running');
    if (runStartedAt !== undefined) this.#runStartedAt = runStartedAt;
    this.#runStartedAt ??= this.#clock.now();
    this.#startMono = this.#clock.monotonic() - (this.#clock.now() - this.#runStartedAt);
    this.metrics.start();
    this.#loopDelay.start();
    // the work tick sends the events due and stops the agents a falling stage takes away
    this.#generating = this.#workload !== undefined || this.#schedule.stops;
    this.#rampTick();
    if (this.#generating) this.#scheduleWork();
    this.#scheduleSample();
  }

  /**
   * Resolves once `n` agents are connected at the same time, or rejects at the deadline.
   *
   * @param n - how many connected agents to wait for.
   * @param timeoutMs - deadline.
   * @returns resolves with nothing.
   * @throws {@link agentlink!AgentlinkError} `ERR_TIMEOUT` (a StateError) at the deadline, naming how many were connected.
   */
  waitForConnected(n: number, timeoutMs: number): Promise<void> {
    if (this.#connectedNow() >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        n,
        resolve: () => {
          this.#clock.clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timer = this.#clock.setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new ToolError(`only ${this.#connectedNow()} of ${n} agents connected within ${timeoutMs} ms`, 'ERR_USAGE'));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /**
   * @param options - `latency: true` adds the connect and failover histograms, encoded (the live dashboard's percentiles).
   * @returns the gauges now: connected, reconnecting, per node, started, events.
   */
  progress(options: { latency?: boolean } = {}): FleetProgress {
    let connected = 0;
    let reconnecting = 0;
    let started = 0;
    const events = this.#eventCounter();
    const perNode: Record<string, number> = {};
    for (const n of this.#nodeNames) perNode[n] = 0;
    for (const s of this.#slots) {
      const c = s.client;
      if (!c) continue;
      started++;
      const state: AgentState = c.state;
      if (state === 'connected') {
        connected++;
        const node = this.#nodeName(c.server);
        perNode[node] = (perNode[node] ?? 0) + 1;
      } else if (state === 'connecting' || state === 'handshaking' || state === 'reconnecting') {
        reconnecting++;
      }
      events.add(c.stats());
    }
    return {
      agents: this.#slots.length,
      started,
      connected,
      reconnecting,
      perNode,
      connectedEver: this.#connectedEver,
      ...events.counts(),
      errors: { ...this.#errors },
      ...(options.latency === true ? { latency: { connect: this.metrics.histograms.connect.encode(), failover: this.metrics.histograms.failover.encode() } } : {}),
    };
  }

  /** @returns the system limits hit so far. */
  limits(): LimitHit[] {
    return [...this.#limits.values()].map((l) => ({ ...l }));
  }

  /**
   * Samples the gauges, and the drops counted since the last sample, into the metrics timeline
   * (the fleet also does it at the end of each bucket).
   *
   * @param atMs - the time the sample is for, in milliseconds since the start; defaults to now.
   * @returns the bucket's point and the gauges.
   */
  sample(atMs = Math.max(0, this.elapsed())): {
    /** The timeline bucket's point. */
    point: TimelinePoint;
    /** The gauges sampled. */
    progress: FleetProgress;
  } {
    const progress = this.progress();
    this.#countInto(progress, atMs);
    const point = this.metrics.sample(progress, atMs);
    return { point, progress };
  }

  /**
   * Stops generating events and lets the buffers drain (agents that are reconnecting get the same
   * time to come back), then stops every agent (each connected one sends `#!-agent shutdown `) and
   * every timer. Agents the ramp had not started yet are never started. Idempotent.
   *
   * @param options - drain deadline, and the time the workload stops at.
   * @returns the totals, for exact accounting against the managers' counts.
   */
  async stop(options: FleetStopOptions = {}): Promise<FleetTotals> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return this.#stopped ?? (await this.#stopping!);
    const wasNew = this.#state === 'new';
    this.#transition('stopping');
    this.#stopping = this.#stop(options, wasNew);
    this.#stopped = await this.#stopping;
    return this.#stopped;
  }

  #stopping: Promise<FleetTotals> | undefined;
  #stopped: FleetTotals | undefined;

  async #stop(options: FleetStopOptions, wasNew: boolean): Promise<FleetTotals> {
    const drainTimeout = Math.max(0, options.drainTimeout ?? 5000);
    this.#clock.clearTimeout(this.#rampTimer);
    this.#rampTimer = undefined;
    if (this.#generating) {
      this.#clock.clearTimeout(this.#workTimer);
      this.#workTimer = undefined;
      this.#generate(options.eventsUntil ?? this.elapsed());
      this.#generating = false;
    }
    const atStop = wasNew ? undefined : this.progress();
    // let the buffers drain: connected agents flush at their rate, reconnecting ones may come back
    const deadline = this.#clock.monotonic() + drainTimeout;
    while (this.#clock.monotonic() < deadline && this.#queued() > 0) {
      await new Promise<void>((resolve) => this.#clock.setTimeout(resolve, Math.min(100, Math.max(1, deadline - this.#clock.monotonic()))));
    }
    // what is left of the deadline: at-least-once agents have their last events confirmed in it
    const left = Math.max(0, Math.floor(deadline - this.#clock.monotonic()));
    await Promise.all(this.#slots.map((s) => s.client?.stop({ drainTimeout: left })));
    this.#clock.clearTimeout(this.#sampleTimer);
    this.#sampleTimer = undefined;
    for (const w of this.#waiters) w.resolve();
    this.#waiters.clear();
    const events = this.#eventCounter();
    let unconfirmed = 0;
    let failed = 0;
    let reconnects = 0;
    let started = 0;
    const reasons: Record<string, number> = {};
    for (const s of this.#slots) {
      const c = s.client;
      if (!c) continue;
      started++;
      const st = c.stats();
      events.add(st);
      unconfirmed += st.eventsUnconfirmedOnLostConnections;
      failed += st.failedAttempts;
      reconnects += Math.max(0, st.connects - 1);
      if (!s.connectedOnce) {
        const code = s.lastErrorCode ?? 'ERR_NOT_ATTEMPTED';
        reasons[code] = (reasons[code] ?? 0) + 1;
      }
      c.removeAllListeners();
    }
    const counts = events.counts();
    this.#countInto(counts, Math.max(0, this.elapsed()));
    // the last bucket gets the drops of the stop with the gauges from before it (the agents are all stopped now)
    if (atStop) this.metrics.sample(atStop, Math.max(0, this.elapsed()));
    this.metrics.countConnectFailure(failed);
    const neverStarted = this.#slots.length - started;
    if (neverStarted > 0) reasons.ERR_NOT_STARTED = neverStarted;
    this.#transition('stopped');
    return {
      agents: this.#slots.length,
      started,
      connectedAtEnd: atStop?.connected ?? 0,
      distribution: atStop?.perNode ?? Object.fromEntries(this.#nodeNames.map((n) => [n, 0])),
      connectedEver: this.#connectedEver,
      neverConnected: this.#slots.length - this.#connectedEver,
      ...counts,
      eventsUnconfirmedOnLostConnections: unconfirmed,
      connectFailures: failed,
      reconnects,
      failovers: this.#failovers,
      neverConnectedReasons: reasons,
      errorSamples: Object.fromEntries(this.#errorSamples),
      errors: { ...this.#errors },
      limits: this.limits(),
      loopDelay: this.#loopDelay.stop(),
    };
  }

  /** Same as `stop()` with the default drain, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The only way the run state changes: checked against {@link FLEET_TRANSITIONS}, emitted as `stateChange`. */
  #transition(to: FleetState): void {
    const from = this.#state;
    if (!FLEET_TRANSITIONS[from].includes(to)) throw new StateError(`Fleet: invalid state transition ${from} -> ${to}`, 'ERR_INVALID_STATE');
    this.#state = to;
    this.emit('stateChange', { from, to });
  }

  // --- ramp ----------------------------------------------------------------------------------

  #rampTick(): void {
    this.#rampTimer = undefined;
    if (this.#state !== 'running') return;
    const now = this.#clock.monotonic() - this.#startMono;
    // at most 1000 agents per turn of the event loop, so a rate of 0 does not block for seconds
    let budget = 1000;
    while (this.#nextToStart < this.#slots.length && budget > 0) {
      const slot = this.#slots[this.#nextToStart]!;
      if (slot.startAt > now) break;
      this.#nextToStart++;
      budget--;
      this.#startAgent(slot);
    }
    if (this.#nextToStart >= this.#slots.length || this.#slots[this.#nextToStart]!.startAt === Infinity) {
      this.emit('rampDone');
      return;
    }
    const next = this.#slots[this.#nextToStart]!.startAt;
    const delay = budget === 0 ? 0 : Math.max(5, Math.min(50, next - now));
    this.#rampTimer = this.#clock.setTimeout(() => this.#rampTick(), delay);
  }

  #startAgent(slot: Slot): void {
    const identity = this.#identities?.[slot.pos];
    const name = identity?.name ?? simulatedAgentName(slot.index);
    const rotation = this.#spread ? slot.index % this.#servers.length : 0;
    const opts: AgentClientOptions = {
      ...this.#client,
      servers: this.#baseRotations[rotation]!,
      uname: { ...this.#uname, nodename: name },
      logger: this.#client.logger ?? silentLogger,
      // the fleet decides what keeps a run alive (its own timers while it runs), not each agent
      persistent: false,
    };
    if (identity) opts.agent = identity;
    else opts.enrollment = { enabled: true, ...this.#client.enrollment, agentName: name };
    const local = sourceAddressFor(slot.index, this.#sourceAddresses);
    if (local !== undefined) opts.localAddress = local;
    const runtime: AgentRuntime = { transport: this.#transport, clock: this.#clock };
    if (!identity) {
      // enrollment retries on its own until it succeeds: surface each failed attempt as the agent's error
      runtime.enroll = (o) =>
        enrollWithFallback({
          ...o,
          onAttemptFailed: (failure) => {
            o.onAttemptFailed?.(failure);
            this.#agentError(slot, failure.error);
          },
        });
    }
    let client: AgentClient;
    try {
      client = new AgentClient(opts, runtime);
    } catch (err) {
      // the shared options were checked in the constructor: only this agent's identity can be at fault
      slot.lastErrorCode = err instanceof AgentlinkError ? err.code : 'ERR_CONFIG';
      return;
    }
    slot.client = client;
    client.on('connected', this.#onConnected, slot);
    client.on('error', this.#onError, slot);
    client.on('stateChange', this.#onStateChange, slot);
    client.on('closed', this.#onClosed, slot);
    client.on('ack', this.#onAck);
    if (this.#balanced) client.on('forceReconnect', this.#onForceReconnect, slot);
    client.start().catch(() => {
      // start() rejects only when the fleet stops the agent first or the policy gives up; both are counted
    });
  }

  // --- agent events (listeners shared by all agents; `slot` is the listener's `this`) ----------

  #agentConnected(slot: Slot, serverIndex: number, elapsed: number): void {
    if (!slot.connectedOnce) {
      slot.connectedOnce = true;
      this.#connectedEver++;
      this.metrics.recordConnect(elapsed);
    } else {
      const failover = this.#balanced ? !slot.forced : slot.lastServerIndex !== serverIndex;
      slot.forced = false;
      if (failover) this.#failovers++;
      this.metrics.recordReconnect(elapsed, failover);
    }
    slot.lastServerIndex = serverIndex;
    if (this.#waiters.size > 0) {
      const n = this.#connectedNow();
      for (const w of this.#waiters) if (n >= w.n) w.resolve();
    }
  }

  #agentError(slot: Slot, error: AgentlinkError): void {
    slot.lastErrorCode = error.code;
    this.#errors[error.code] = (this.#errors[error.code] ?? 0) + 1;
    if (!this.#errorSamples.has(error.code) && this.#errorSamples.size < 32) this.#errorSamples.set(error.code, error.message);
    const hit = resourceLimitOf(error);
    if (!hit) return;
    const known = this.#limits.get(hit.limit);
    if (known) {
      known.count++;
      return;
    }
    const entry: LimitHit = { limit: hit.limit, count: 1, message: `${hit.code}: ${hit.message}` };
    this.#limits.set(hit.limit, entry);
    this.emit('limit', { ...entry });
  }

  // --- workload --------------------------------------------------------------------------------

  #scheduleWork(): void {
    this.#workTimer = this.#clock.setTimeout(() => {
      this.#workTimer = undefined;
      if (!this.#generating || this.#state !== 'running') return;
      this.#generate(this.elapsed());
      this.#scheduleWork();
    }, this.#tickMs);
  }

  /**
   * Sends every event due up to `until` ms after the run start, one timeline bucket at a time, so
   * each event is counted in the bucket it was due in (a work tick that crosses a bucket boundary
   * does not move the events due before it into the next bucket).
   */
  #generate(until: number): void {
    const t = Math.min(until, this.#eventsUntil);
    const bucketMs = this.metrics.bucketMs;
    for (let end = (Math.floor(this.#generatedTo / bucketMs) + 1) * bucketMs; end <= t; end += bucketMs) this.#generateTo(end, end - 1);
    this.#generateTo(t, t);
  }

  /**
   * Sends every event due up to `t` ms after the run start (agent i's k-th event is due when the
   * schedule has owed it k + phase_i events since its start: at start_i + (k + phase_i) / eps with a
   * constant rate), and stops the agents whose stage has ended.
   *
   * @param t - the time, no later than the end of the schedule.
   * @param countAt - the timeline time the events are counted at.
   */
  #generateTo(t: number, countAt: number): void {
    if (t < this.#generatedTo) return;
    this.#generatedTo = t;
    const factory = this.#workload;
    const schedule = this.#schedule;
    const owedNow = schedule.eventsBy(t);
    for (let i = 0; i < this.#nextToStart; i++) {
      const slot = this.#slots[i]!;
      const client = slot.client;
      if (!client || slot.retired) continue;
      const ends = slot.stopAt <= t;
      const x = (ends ? schedule.eventsBy(slot.stopAt) : owedNow) - slot.owedBefore - slot.phase;
      const due = Math.floor(x) + 1;
      if (factory && x >= 0 && slot.emitted < due) {
        const workload = (slot.workload ??= factory({ seed: this.#seed, agentName: client.identity?.name ?? simulatedAgentName(slot.index) }));
        while (slot.emitted < due) {
          slot.emitted++;
          this.#eventsGenerated++;
          if (!client.sendEvent(workload.next())) {
            this.#eventsRefused++;
            if (client.state === 'closing' || client.state === 'closed') this.#refusedStopped++;
          }
        }
      }
      if (ends) {
        slot.retired = true;
        client.stop({ drainTimeout: RETIRE_DRAIN_MS }).catch(() => {
          // a failed stop leaves the agent closed; what it wrote and dropped stays in its stats
        });
      }
    }
    const delta = this.#eventsGenerated - this.#counted.eventsGenerated;
    if (delta > 0) {
      this.metrics.countEvents({ eventsGenerated: delta }, Math.max(0, countAt));
      this.#counted.eventsGenerated = this.#eventsGenerated;
    }
  }

  /** Sums the agents' event counters; `counts()` adds the fleet's own (generated, refused). */
  #eventCounter(): { add: (st: AgentClientStats) => void; counts: () => FleetEventCounts } {
    let accepted = 0;
    let written = 0;
    let evicted = 0;
    let cleared = 0;
    let rejected = 0;
    return {
      add: (st) => {
        accepted += st.eventsAccepted;
        written += st.eventsSent;
        evicted += st.buffer.droppedByReason.evicted;
        cleared += st.buffer.droppedByReason.cleared;
        rejected += st.eventsRejected;
      },
      counts: () => {
        // an agent counts as rejected both what it refused after stopping and what it could not encode
        const unwritable = Math.max(0, rejected - this.#refusedStopped);
        const refused = this.#eventsRefused;
        return {
          eventsGenerated: this.#eventsGenerated,
          eventsAccepted: accepted,
          eventsWritten: written,
          eventsDropped: refused + evicted + cleared + unwritable,
          eventsRefused: refused,
          eventsEvicted: evicted,
          eventsCleared: cleared,
          eventsUnwritable: unwritable,
        };
      },
    };
  }

  /** Adds to the metrics, in the bucket of `atMs`, what the counts grew by since the last time (generated is counted by #generate, at its due time). */
  #countInto(now: FleetEventCounts, atMs: number): void {
    const delta = emptyEventCounts();
    for (const k of EVENT_COUNT_KEYS) {
      delta[k] = Math.max(0, now[k] - this.#counted[k]);
      this.#counted[k] = Math.max(this.#counted[k], now[k]);
    }
    this.metrics.countEvents(delta, atMs);
  }

  // --- sampling --------------------------------------------------------------------------------

  #scheduleSample(): void {
    const next = nextSample(Math.max(0, this.elapsed()), this.metrics.bucketMs, this.#lastBucket);
    this.#lastBucket = next.bucket;
    const delay = next.delay;
    this.#sampleTimer = this.#clock.setTimeout(() => {
      this.#sampleTimer = undefined;
      if (this.#state !== 'running') return;
      // for the bucket that just ended (the timer may fire a little late: not for the next one)
      const { point, progress } = this.sample(next.bucket * this.metrics.bucketMs);
      this.emit('sample', point, progress);
      this.#scheduleSample();
    }, delay);
  }

  // --- helpers ---------------------------------------------------------------------------------

  #nodeName(server: ResolvedServer | undefined): string {
    if (!server) return 'unknown';
    const key = `${server.address}:${server.port}`;
    return this.#nodeOf.get(key) ?? key;
  }

  #connectedNow(): number {
    return this.#connected;
  }

  #queued(): number {
    let n = 0;
    for (const s of this.#slots) {
      const c = s.client;
      if (c && c.state !== 'closed') n += c.stats().buffer.queued;
    }
    return n;
  }
}
