/**
 * AgentClient: a Wazuh 4.x wire-compatible agent connection with an ordered server list, cyclic
 * failover, keepalives, silence detection, a client buffer that loses nothing silently, manager
 * commands and enrollment.
 *
 * One class owns the connection state (`state`, changed only by `transition()`); timers live in
 * named slots and one `teardown()` clears them; sockets are behind the injected transport factory.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import { resolveOptions } from '../config/resolve.js';
import { parseOssecConf } from '../config/ossec-conf.js';
import type {
  AgentClientOptions,
  AgentIdentity,
  CounterStore,
  Logger,
  ResolvedAgentClientOptions,
  ResolvedServer,
} from '../config/options.js';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import {
  AbortError,
  AgentlinkError,
  ConnectionError,
  DecodeError,
  StateError,
  toConnectionError,
} from '../errors.js';
import type { ServerRef } from '../errors.js';
import { decodeSecureMessage, encodeSecureMessage, nextCounter } from '../protocol/secure.js';
import type { MessageCounter } from '../protocol/types.js';
import {
  agentStartedEvent,
  buildEvent,
  buildKeepalive,
  buildRequestAck,
  buildRequestReply,
  buildStartup,
  bufferStateEvent,
  formatUname,
  parseManagerMessage,
  SHUTDOWN_MESSAGE,
} from '../protocol/messages.js';
import { parseMergedMg, sanitizeSharedFileName } from '../protocol/merged.js';
import { enrollWithFallback } from '../enrollment/client.js';
import { createDefaultTransportFactory } from '../transport/index.js';
import type { Transport, TransportFactory, TransportTarget } from '../transport/types.js';
import { silentLogger } from '../logger.js';
import { ClientBuffer } from './client-buffer.js';
import type { BufferLevel, ClientBufferStats, DropReason } from './client-buffer.js';
import { MemoryCounterStore } from './counter-store.js';
import { Keepalive } from './keepalive.js';
import { ReconnectPlanner } from './reconnect.js';
import type { PlannedAttempt } from './reconnect.js';
import { ServerPool } from './server-pool.js';

/** Connection states of an {@link AgentClient}. */
export type AgentState = 'idle' | 'connecting' | 'handshaking' | 'connected' | 'reconnecting' | 'closing' | 'closed';

/** Allowed transitions: the only way `state` changes. */
export const AGENT_TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  idle: ['connecting', 'closing'],
  connecting: ['handshaking', 'reconnecting', 'closing'],
  handshaking: ['connected', 'reconnecting', 'closing'],
  connected: ['reconnecting', 'closing'],
  reconnecting: ['connecting', 'closing'],
  closing: ['closed'],
  closed: [],
};

/** An event for the manager: `<queue>:<location>:<message>` (protocol.md 4.1). */
export interface AgentEvent {
  /**
   * Queue character (`1` log lines, `8` syscheck, `f` Windows events, ...).
   * @default '1'
   */
  queue?: string;
  /** Where the event came from: a file path, `syscheck`, `EventChannel`, ... (escaped on the wire). */
  location: string;
  /** The log line or JSON text. */
  message: string;
}

/** A manager request (`#!-req`) delivered to the program. */
export interface ManagerRequest {
  /** The request counter (lowercase hex), echoed in the reply. */
  counter: string;
  /** The target module (`agent`, `logcollector`, `syscheck`, `wmodules`, ...). */
  target: string;
  /** The command text after the target. */
  command: string;
  /** Sends the reply (e.g. `ok {...}` or `err ...`); only the first call counts. */
  reply(response: string): void;
}

/** A shared file pushed by the manager (`#!-up file` … `#!-close file `). */
export interface SharedFile {
  /** File name, sanitised as Wazuh does (`/` and a leading `.` become `-`). */
  name: string;
  /** The whole content. */
  content: Buffer;
  /** The MD5 announced by the manager. */
  md5: string;
  /** Whether the content matches the announced MD5 (a mismatching file is discarded by Wazuh). */
  valid: boolean;
  /** For `merged.mg`: the files it holds. */
  files?: { name: string; content: Buffer }[];
}

/** Why the agent left a server. */
export type DisconnectReason = AgentlinkError;

/** Typed events of an {@link AgentClient}. */
export interface AgentClientEvents {
  /** Every state change. */
  stateChange: [change: { from: AgentState; to: AgentState }];
  /** The startup ACK arrived: the agent is connected. */
  connected: [info: { server: ResolvedServer; serverIndex: number; attempt: number; elapsed: number }];
  /** A connection was lost or left. */
  disconnected: [info: { server: ResolvedServer; serverIndex: number; reason: DisconnectReason }];
  /** The agent is connected to a different server than before. */
  failover: [info: { from: ResolvedServer; to: ResolvedServer; reason: DisconnectReason | undefined; elapsed: number }];
  /** A (re)connection attempt is scheduled. */
  reconnectScheduled: [info: { server: ResolvedServer; serverIndex: number; delay: number; attempt: number }];
  /** A `#!-agent ack ` arrived. */
  ack: [];
  /** The client buffer changed level (Wazuh sends the matching buffer event to the manager). */
  bufferLevel: [info: { level: BufferLevel; previous: BufferLevel }];
  /** An event was dropped; every drop is counted in `stats()`. */
  drop: [info: { event: AgentEvent; reason: DropReason }];
  /** The manager sent `#!-force_reconnect`. */
  forceReconnect: [];
  /** The manager sent a request. `agent getconfig`/`getstate` are answered built in. */
  request: [request: ManagerRequest];
  /** The manager sent an active response (`#!-execd`). */
  activeResponse: [info: { payload: string; json: unknown }];
  /** The manager pushed a shared file. */
  sharedFile: [file: SharedFile];
  /** Any other manager message (module commands, unknown control messages). */
  message: [info: { text: string; kind: 'module' | 'control' | 'data' }];
  /** A non-fatal problem: bad data from the manager, a failed attempt, a store failure. */
  error: [error: AgentlinkError];
  /** The client is closed; `reason` is set when it gave up or failed. */
  closed: [info: { reason: AgentlinkError | undefined }];
}

/** Counters and current state, from {@link AgentClient.stats}. */
export interface AgentClientStats {
  /** Current state. */
  state: AgentState;
  /** The server in use or being tried. */
  server: ResolvedServer | undefined;
  /** Index of that server in the list. */
  serverIndex: number;
  /** Bytes received (payloads). */
  bytesIn: number;
  /** Bytes sent (payloads). */
  bytesOut: number;
  /** Messages received and decoded. */
  messagesIn: number;
  /** Messages sent (events and control). */
  messagesOut: number;
  /** Events written to a connection. */
  eventsSent: number;
  /** Events accepted by `sendEvent`. */
  eventsAccepted: number;
  /**
   * Events the client refused itself, each also emitted as `drop` with reason `rejected`: sent after
   * `stop()`, or impossible to encode (too large for one message, a bad queue). Drops by the client
   * buffer are counted in `buffer.droppedByReason`.
   */
  eventsRejected: number;
  /** ACKs received. */
  acks: number;
  /** Successful connections (startup ACKed). */
  connects: number;
  /** Connections lost or left after being established. */
  disconnects: number;
  /** Connections that landed on a different server than the previous one. */
  failovers: number;
  /** Failed connection attempts. */
  failedAttempts: number;
  /** Successful connections per server index. */
  connectsPerServer: number[];
  /**
   * Data from the manager that failed to decode or was refused: undecodable payloads, oversize TCP
   * frames, malformed requests or file headers, refused shared-file names, shared files above 64 MiB.
   */
  decodeErrors: number;
  /**
   * Events written to connections that were then lost before the manager confirmed reading them
   * (an ACK to a later keepalive confirms everything sent before it). An upper bound of what the
   * protocol may have lost in flight.
   */
  eventsUnconfirmedOnLostConnections: number;
  /** Client buffer counters. */
  buffer: ClientBufferStats;
  /** Wall-clock time of the last ACK. */
  lastAckAt: number | undefined;
  /** Wall-clock time of the last keepalive sent. */
  lastKeepaliveAt: number | undefined;
}

/** Options of {@link AgentClient.stop}. */
export interface StopOptions {
  /**
   * Milliseconds to wait for the client buffer to drain before the shutdown message; 0 sends nothing queued.
   * Events still queued then are dropped with reason `cleared` (counted and emitted).
   * @default 5000
   */
  drainTimeout?: number;
}

/** Injected collaborators, for tests and the fleet simulator. */
export interface AgentRuntime {
  /** Builds transports; real TCP/UDP sockets by default. */
  transport?: TransportFactory;
  /** Time source for every timer. */
  clock?: Clock;
  /** Random source (jitter), `Math.random` by default. */
  random?: () => number;
  /** Enrollment function; the built-in TLS client by default. */
  enroll?: typeof enrollWithFallback;
}

interface Connection {
  transport: Transport;
  index: number;
  server: ResolvedServer;
  eventsSent: number;
  /** eventsSent at each keepalive/startup still waiting for its ACK (oldest first). */
  ackMarkers: number[];
  confirmed: number;
}

interface PendingHandshake {
  resolve: () => void;
  reject: (err: AgentlinkError) => void;
}

interface OpenFile {
  name: string;
  md5: string;
  chunks: Buffer[];
  size: number;
}

/** Largest shared file accepted in memory (bytes). */
const MAX_SHARED_FILE = 64 * 1024 * 1024;
/** Keepalive ACK markers kept per connection. */
const MAX_ACK_MARKERS = 64;
/** UDP request-reply retransmissions (protocol.md 4.5). */
const UDP_REQUEST_ATTEMPTS = 4;
const UDP_REQUEST_RTO = 1000;

function serverRef(server: ResolvedServer): ServerRef {
  return { address: server.address, port: server.port, protocol: server.protocol };
}

function formatWazuhDate(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * A Wazuh-compatible agent. Give it an identity (or enrollment settings) and an ordered server
 * list; `start()` connects, and events sent with `sendEvent()` reach the manager in order, across
 * failovers.
 *
 * @example
 * ```ts
 * import { AgentClient } from 'agentlink';
 *
 * const agent = new AgentClient({
 *   agent: { id: '001', name: 'web01', key: process.env.WAZUH_KEY!, ip: 'any' },
 *   servers: [{ address: 'wazuh-1.example' }, { address: 'wazuh-2.example' }],
 * });
 * agent.on('failover', ({ from, to }) => console.log(`moved ${from.address} -> ${to.address}`));
 * await agent.start();
 * agent.sendEvent({ location: '/var/log/app.log', message: 'user login ok' });
 * await agent.stop();
 * ```
 */
export class AgentClient extends EventEmitter<AgentClientEvents> {
  /** The resolved options the client runs on. */
  readonly options: ResolvedAgentClientOptions;

  #state: AgentState = 'idle';
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #transportFactory: TransportFactory;
  readonly #enroll: typeof enrollWithFallback;
  readonly #pool: ServerPool;
  readonly #planner: ReconnectPlanner;
  readonly #buffer: ClientBuffer<AgentEvent>;
  readonly #keepalive: Keepalive;
  readonly #counterStore: CounterStore;
  #log: Logger;
  #agent: AgentIdentity | undefined;
  #counter: MessageCounter = { global: 0, local: 0 };
  #conn: Connection | undefined;
  #handshake: PendingHandshake | undefined;
  #cycleToken = 0;
  #lastConnectedIndex: number | undefined;
  #lossAt: number | undefined;
  #lossReason: AgentlinkError | undefined;
  #cycleStartedAt = 0;
  #started = false;
  #startedEventSent = false;
  #closeReason: AgentlinkError | undefined;
  /** The counter-store flush started by the close; `stop()` waits for it so the counter is on disk when it returns. */
  #flushed: Promise<void> = Promise.resolve();
  #startPromise: Promise<void> | undefined;
  #startSettle: { resolve: () => void; reject: (e: AgentlinkError) => void } | undefined;
  #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  #pendingLevelMessages: string[] = [];
  #openFile: OpenFile | undefined;
  #mergedSum: string | undefined;
  #agentIp: string | undefined;
  #agentIpAt: number | undefined;
  #timers: { retry?: TimerHandle; handshake?: TimerHandle; forceReconnect?: TimerHandle; enrollDelay?: TimerHandle } = {};
  #retryWake: (() => void) | undefined;
  #abortListener: (() => void) | undefined;
  #udpRequests = new Map<string, { timer: TimerHandle | undefined; attempts: number; payload: string }>();
  #stats = {
    bytesIn: 0,
    bytesOut: 0,
    messagesIn: 0,
    messagesOut: 0,
    eventsSent: 0,
    eventsAccepted: 0,
    eventsRejected: 0,
    acks: 0,
    connects: 0,
    disconnects: 0,
    failovers: 0,
    failedAttempts: 0,
    decodeErrors: 0,
    unconfirmed: 0,
    lastAckAt: undefined as number | undefined,
    lastKeepaliveAt: undefined as number | undefined,
  };
  #connectsPerServer: number[];

  /**
   * @param options - identity, servers and behaviour; validated at once (throws `ConfigError`).
   * @param runtime - injected transport factory, clock and random source (tests, simulator).
   */
  constructor(options: AgentClientOptions, runtime: AgentRuntime = {}) {
    super();
    this.options = resolveOptions(options);
    this.#clock = runtime.clock ?? systemClock;
    this.#random = runtime.random ?? Math.random;
    this.#transportFactory = runtime.transport ?? createDefaultTransportFactory();
    this.#enroll = runtime.enroll ?? enrollWithFallback;
    this.#agent = this.options.agent;
    this.#pool = new ServerPool(this.options.servers);
    this.#planner = new ReconnectPlanner(this.options.reconnect, this.options.servers, this.#random);
    this.#counterStore = this.options.counterStore ?? new MemoryCounterStore();
    this.#connectsPerServer = this.options.servers.map(() => 0);
    const base = this.options.logger ?? silentLogger;
    this.#log = base.child({ agentId: this.#agent?.id, agentName: this.#agent?.name });
    this.#buffer = new ClientBuffer<AgentEvent>(this.options.buffer, {
      send: (event) => this.#dispatchEvent(event),
      clock: this.#clock,
    });
    this.#buffer.on('drop', (event, reason) => this.emit('drop', { event, reason }));
    this.#buffer.on('level', (level, previous) => this.#onBufferLevel(level, previous));
    this.#keepalive = new Keepalive(
      {
        sendKeepalive: () => this.#sendKeepalive(),
        onServerSilent: (silentFor) =>
          this.#connectionLost(
            new ConnectionError(
              `No message from the server for ${silentFor} ms (timeReconnect ${this.options.timeReconnect} ms): server unavailable`,
              'ERR_SERVER_SILENT',
              { server: this.#conn ? serverRef(this.#conn.server) : undefined },
            ),
          ),
      },
      { notifyTime: this.options.notifyTime, timeReconnect: this.options.timeReconnect, clock: this.#clock },
    );
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const signal = this.options.signal;
    if (signal) {
      this.#abortListener = () => void this.stop({ drainTimeout: 0 });
      if (signal.aborted) queueMicrotask(this.#abortListener);
      else signal.addEventListener('abort', this.#abortListener, { once: true });
    }
  }

  /**
   * Builds a client from an `ossec.conf` (`<client>`, `<client_buffer>`, `<enrollment>`, `<labels>`).
   *
   * @param xml - the whole ossec.conf text.
   * @param extra - options that override or complete it (identity, logger, ...).
   * @param runtime - injected collaborators.
   * @returns a client, not yet started.
   * @throws `ConfigError` for broken XML or impossible values, naming the element.
   */
  static fromOssecConf(xml: string, extra: Partial<AgentClientOptions> = {}, runtime?: AgentRuntime): AgentClient {
    const parsed = parseOssecConf(xml);
    const merged = { ...parsed.options, ...extra } as AgentClientOptions;
    if (parsed.options.enrollment && extra.enrollment) {
      merged.enrollment = { ...parsed.options.enrollment, ...extra.enrollment };
    }
    if (parsed.options.buffer && extra.buffer) merged.buffer = { ...parsed.options.buffer, ...extra.buffer };
    return new AgentClient(merged, runtime);
  }

  /** The current state. */
  get state(): AgentState {
    return this.#state;
  }

  /** True while the startup ACK has been received and the connection is up. */
  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** The agent identity (set after enrollment when none was given). */
  get identity(): AgentIdentity | undefined {
    return this.#agent;
  }

  /** The server in use, or being tried. */
  get server(): ResolvedServer | undefined {
    return this.#conn?.server ?? (this.#started ? this.#pool.current : undefined);
  }

  /** Resolves when the client is closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /**
   * Enrolls if needed, then connects: walks the server list until a manager ACKs the startup.
   * Resolves on the first ACK. Rejects only when the client is stopped or aborted first, or the
   * reconnect policy gives up (the `closed` event then carries the reason).
   */
  start(): Promise<void> {
    if (this.#startPromise) return this.#startPromise;
    if (this.#state !== 'idle') {
      return Promise.reject(new StateError(`start() called in state '${this.#state}'`, 'ERR_INVALID_STATE'));
    }
    this.#started = true;
    this.#startPromise = new Promise<void>((resolve, reject) => {
      this.#startSettle = { resolve, reject };
    });
    this.#startPromise.catch(() => {});
    void this.#boot();
    return this.#startPromise;
  }

  /**
   * Queues an event for the manager. Events drain in order at `buffer.eventsPerSecond` while
   * connected, and wait in the buffer while disconnected.
   *
   * @param event - queue, location and message.
   * @returns whether the event was accepted; a refused event is counted and emitted as `drop`.
   *   Never throws for back-pressure.
   */
  sendEvent(event: AgentEvent): boolean {
    if (this.#state === 'closing' || this.#state === 'closed') {
      this.#stats.eventsRejected++;
      this.emit('drop', { event, reason: 'rejected' });
      return false;
    }
    const ok = this.#buffer.push(event);
    if (ok) this.#stats.eventsAccepted++;
    return ok;
  }

  /**
   * Shorthand for {@link AgentClient.sendEvent} with queue `1` (log line).
   *
   * @param message - the log line.
   * @param location - where it came from.
   * @returns whether the event was accepted.
   */
  send(message: string, location = 'agentlink'): boolean {
    return this.sendEvent({ queue: '1', location, message });
  }

  /**
   * Stops the agent: drains the buffer within `drainTimeout`, sends `#!-agent shutdown `, closes
   * the connection, clears every timer and waits for the counter store's flush (so the counter of
   * the shutdown message is stored when it resolves). Idempotent.
   *
   * @param options - drain deadline.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#state === 'closed') return this.#flushed;
    if (this.#state === 'closing') return this.#closedPromise.then(() => this.#flushed);
    const drainTimeout = options.drainTimeout ?? 5000;
    const wasConnected = this.#state === 'connected';
    this.#transition('closing');
    this.#cycleToken++;
    this.#clearRetry();
    this.#clock.clearTimeout(this.#timers.enrollDelay);
    this.#timers.enrollDelay = undefined;
    this.#retryWake?.();
    if (wasConnected && this.#conn && drainTimeout > 0 && this.#buffer.size > 0) {
      await this.#buffer.drain(drainTimeout);
    }
    const conn = this.#conn;
    if (conn && wasConnected) {
      try {
        this.#sendControl(SHUTDOWN_MESSAGE);
      } catch {
        // the connection may already be gone; nothing to report on the way out
      }
    }
    this.#finish(undefined);
    await this.#closedPromise;
    await this.#flushed;
  }

  /** `await using agent = new AgentClient(...)`: stops with the default drain. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Counters and current state. */
  stats(): AgentClientStats {
    const s = this.#stats;
    return {
      state: this.#state,
      server: this.server,
      serverIndex: this.#conn?.index ?? this.#pool.index,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      messagesIn: s.messagesIn,
      messagesOut: s.messagesOut,
      eventsSent: s.eventsSent,
      eventsAccepted: s.eventsAccepted,
      eventsRejected: s.eventsRejected,
      acks: s.acks,
      connects: s.connects,
      disconnects: s.disconnects,
      failovers: s.failovers,
      failedAttempts: s.failedAttempts,
      connectsPerServer: [...this.#connectsPerServer],
      decodeErrors: s.decodeErrors,
      eventsUnconfirmedOnLostConnections: s.unconfirmed,
      buffer: this.#buffer.stats(),
      lastAckAt: s.lastAckAt,
      lastKeepaliveAt: s.lastKeepaliveAt,
    };
  }

  /**
   * State changes as an async iterator, starting with the current state; ends when the client closes.
   *
   * @example
   * ```ts
   * for await (const { state } of agent.status()) console.log(state);
   * ```
   */
  async *status(): AsyncGenerator<{ state: AgentState; server: ResolvedServer | undefined }, void, undefined> {
    const queue: AgentState[] = [this.#state];
    let wake: (() => void) | undefined;
    const onChange = ({ to }: { from: AgentState; to: AgentState }) => {
      queue.push(to);
      wake?.();
    };
    this.on('stateChange', onChange);
    try {
      for (;;) {
        while (queue.length > 0) {
          const state = queue.shift()!;
          yield { state, server: this.server };
          if (state === 'closed') return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.off('stateChange', onChange);
    }
  }

  /** Reconnects now, as `#!-force_reconnect` would (useful behind a load balancer). */
  reconnect(): void {
    if (this.#state !== 'connected') return;
    this.#connectionLost(new ConnectionError('Reconnect requested by the program', 'ERR_CONNECTION_LOST'), { forced: true });
  }

  // --- life cycle -------------------------------------------------------------------------

  #transition(to: AgentState): void {
    const from = this.#state;
    if (from === to) return;
    if (!AGENT_TRANSITIONS[from].includes(to)) {
      throw new StateError(`Invalid state transition ${from} -> ${to}`, 'ERR_INVALID_STATE');
    }
    this.#state = to;
    this.#log.debug({ from, to }, `${from} -> ${to}`);
    this.emit('stateChange', { from, to });
  }

  async #boot(): Promise<void> {
    const token = this.#cycleToken;
    try {
      this.#counter = await this.#counterStore.load();
    } catch (err) {
      const error = err instanceof AgentlinkError ? err : new StateError('Counter store failed to load', 'ERR_INVALID_STATE', { cause: err });
      this.emit('error', error);
      this.#fail(error);
      return;
    }
    if (token !== this.#cycleToken) return;
    if (!this.#agent) {
      try {
        this.#transition('connecting');
        await this.#enrollNow('startup');
      } catch (err) {
        if (token === this.#cycleToken) this.#fail(err instanceof AgentlinkError ? err : new AbortError('Enrollment stopped', { cause: err }));
        return;
      }
      if (token !== this.#cycleToken) return;
      this.#transition('reconnecting');
    }
    this.#cycleStartedAt = this.#clock.monotonic();
    void this.#runCycle(this.#planner.start(this.#pool.index, 'initial'));
  }

  /** Runs connection attempts until one succeeds, the policy gives up, or the client stops. */
  async #runCycle(first: PlannedAttempt): Promise<void> {
    const token = ++this.#cycleToken;
    let plan: PlannedAttempt | false = first;
    while (plan && token === this.#cycleToken) {
      const server = this.#pool.servers[plan.server]!;
      if (plan.delay > 0) {
        if (this.#state !== 'reconnecting') this.#transition('reconnecting');
        this.emit('reconnectScheduled', { server, serverIndex: plan.server, delay: plan.delay, attempt: plan.attempt });
        await this.#sleep(plan.delay);
        if (token !== this.#cycleToken) return;
      }
      this.#transition('connecting');
      try {
        await this.#attempt(plan.server, plan.attempt);
        return;
      } catch (err) {
        if (token !== this.#cycleToken) return;
        const error = err instanceof AgentlinkError ? err : toConnectionError(err, serverRef(server), 'connect');
        this.#stats.failedAttempts++;
        this.#pool.recordFailure(plan.server, error, this.#clock.now());
        this.#log.debug({ server: `${server.address}:${server.port}`, code: error.code }, error.message);
        this.emit('error', error);
        if (this.#state === 'connecting' || this.#state === 'handshaking') this.#transition('reconnecting');
        plan = this.#planner.fail(error);
        const exhausted = plan ? plan.serverExhausted : undefined;
        if (exhausted !== undefined && this.options.enrollment.enabled && this.#agent) {
          // protocol.md 7.6: after a failed round on a server, one enrollment attempt there.
          await this.#enrollAfterRound(this.#pool.servers[exhausted]!.address);
          if (token !== this.#cycleToken) return;
        }
        if (!plan) {
          this.#fail(
            new ConnectionError(`Reconnect policy gave up after ${this.#stats.failedAttempts} failed attempts`, 'ERR_RECONNECT_GAVE_UP', {
              cause: this.#planner.policyError ?? error,
              server: serverRef(server),
            }),
          );
          return;
        }
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#clearRetry();
      this.#retryWake = resolve;
      this.#timers.retry = unrefTimeout(this.#clock, () => {
        this.#timers.retry = undefined;
        this.#retryWake = undefined;
        resolve();
      }, ms);
    });
  }

  /** Clears every timer slot; idempotent. */
  #teardownTimers(): void {
    for (const handle of Object.values(this.#timers)) this.#clock.clearTimeout(handle);
    this.#timers = {};
  }

  #clearRetry(): void {
    this.#clock.clearTimeout(this.#timers.retry);
    this.#timers.retry = undefined;
  }

  /** One attempt: connect, send the startup, wait for the ACK (protocol.md 5.2). */
  async #attempt(index: number, attempt: number): Promise<void> {
    const server = this.#pool.servers[index]!;
    const agent = this.#agent;
    if (!agent) throw new StateError('No agent key: enrollment has not completed', 'ERR_INVALID_STATE');
    this.#pool.recordAttempt(index, this.#clock.now());
    const target: TransportTarget = { address: server.address, port: server.port, protocol: server.protocol };
    const transport = this.#transportFactory(target, {
      connectTimeout: this.options.connectTimeout,
      localAddress: this.options.localAddress,
    });
    const conn: Connection = { transport, index, server, eventsSent: 0, ackMarkers: [], confirmed: 0 };
    transport.on('payload', (payload) => this.#onPayload(conn, payload));
    transport.on('close', (error) => this.#onTransportClose(conn, error));
    transport.on('error', (error) => this.emit('error', error));
    this.#conn = conn;
    try {
      await transport.connect();
    } catch (err) {
      this.#dropConnection(conn);
      throw err;
    }
    if (this.#conn !== conn) throw new AbortError('Connection attempt superseded');
    this.#pool.select(index); // rip_id follows the last successful connect (protocol.md 5.3)
    this.#transition('handshaking');
    const acked = new Promise<void>((resolve, reject) => {
      this.#handshake = { resolve, reject };
    });
    this.#timers.handshake = unrefTimeout(
      this.#clock,
      () => {
        this.#timers.handshake = undefined;
        this.#handshake?.reject(
          new ConnectionError(
            `No ACK from [${server.address}]:${server.port}/${server.protocol} within ${this.options.handshakeTimeout} ms`,
            'ERR_HANDSHAKE_TIMEOUT',
            { server: serverRef(server) },
          ),
        );
      },
      this.options.handshakeTimeout,
    );
    try {
      this.#sendControl(buildStartup(this.options.version), conn);
      conn.ackMarkers.push(0);
      await acked;
    } catch (err) {
      this.#clock.clearTimeout(this.#timers.handshake);
      this.#timers.handshake = undefined;
      this.#handshake = undefined;
      this.#dropConnection(conn);
      throw err;
    }
    this.#clock.clearTimeout(this.#timers.handshake);
    this.#timers.handshake = undefined;
    this.#handshake = undefined;
    this.#onConnected(conn, attempt);
  }

  #onConnected(conn: Connection, attempt: number): void {
    const now = this.#clock.now();
    this.#pool.recordSuccess(conn.index, now);
    this.#stats.connects++;
    this.#connectsPerServer[conn.index] = (this.#connectsPerServer[conn.index] ?? 0) + 1;
    const previous = this.#lastConnectedIndex;
    this.#lastConnectedIndex = conn.index;
    this.#transition('connected');
    const elapsed = this.#clock.monotonic() - this.#cycleStartedAt;
    this.#log.info({ server: `${conn.server.address}:${conn.server.port}` }, 'Connected to the server');
    this.emit('connected', { server: conn.server, serverIndex: conn.index, attempt, elapsed });
    if (previous !== undefined && previous !== conn.index) {
      this.#stats.failovers++;
      const from = this.#pool.servers[previous]!;
      this.emit('failover', {
        from,
        to: conn.server,
        reason: this.#lossReason,
        elapsed: this.#lossAt === undefined ? elapsed : this.#clock.monotonic() - this.#lossAt,
      });
    }
    this.#lossAt = undefined;
    this.#lossReason = undefined;
    if (!this.#startedEventSent) {
      this.#startedEventSent = true;
      this.#sendControl(agentStartedEvent(this.#agent!.name, this.#agent!.ip));
    }
    for (const text of this.#pendingLevelMessages.splice(0)) this.#sendControl(text);
    this.#keepalive.start();
    if (this.options.forceReconnectInterval > 0) {
      this.#timers.forceReconnect = unrefTimeout(
        this.#clock,
        () => {
          this.#timers.forceReconnect = undefined;
          this.#log.info({}, 'Wazuh Agent will be reconnected because of force reconnect interval');
          this.#connectionLost(new ConnectionError('Force reconnect interval reached', 'ERR_CONNECTION_LOST'), { forced: true });
        },
        this.options.forceReconnectInterval,
      );
    }
    this.#buffer.resume();
    const settle = this.#startSettle;
    this.#startSettle = undefined;
    settle?.resolve();
  }

  /** The connection is gone (closed, silent, forced): tear it down and start a reconnect cycle. */
  #connectionLost(reason: AgentlinkError, opts: { forced?: boolean } = {}): void {
    const conn = this.#conn;
    if (!conn || this.#state !== 'connected') return;
    this.#stats.disconnects++;
    // events the manager has not confirmed (no ACK to a later keepalive) may be lost in flight,
    // even on a graceful close: count them so every loss has a visible reason
    this.#stats.unconfirmed += conn.eventsSent - conn.confirmed;
    this.#dropConnection(conn, opts.forced === true);
    this.#lossAt = this.#clock.monotonic();
    this.#lossReason = reason;
    this.#log.warn({ code: reason.code }, `Lost connection with manager: ${reason.message}`);
    this.emit('disconnected', { server: conn.server, serverIndex: conn.index, reason });
    this.#transition('reconnecting');
    this.#cycleStartedAt = this.#clock.monotonic();
    void this.#runCycle(this.#planner.start(this.#pool.index, 'lost'));
  }

  /** Detaches and closes a connection and its timers; idempotent. */
  #dropConnection(conn: Connection, graceful = false): void {
    if (this.#conn === conn) this.#conn = undefined;
    this.#keepalive.stop();
    this.#buffer.pause();
    this.#clock.clearTimeout(this.#timers.forceReconnect);
    this.#timers.forceReconnect = undefined;
    for (const pending of this.#udpRequests.values()) this.#clock.clearTimeout(pending.timer);
    this.#udpRequests.clear();
    this.#openFile = undefined;
    conn.transport.removeAllListeners();
    conn.transport.on('error', () => {});
    if (graceful) conn.transport.close();
    else conn.transport.destroy();
  }

  #onTransportClose(conn: Connection, error: AgentlinkError | undefined): void {
    if (this.#conn !== conn) return;
    // an oversize frame (ERR_DECODE_FRAME_TOO_LARGE) is undecodable data from the manager: count it as one
    if (error instanceof DecodeError) this.#stats.decodeErrors++;
    const reason =
      error ?? new ConnectionError('Connection closed', 'ERR_CONNECTION_LOST', { server: serverRef(conn.server) });
    if (this.#handshake) {
      this.#handshake.reject(reason);
      return;
    }
    if (this.#state === 'connected') this.#connectionLost(reason);
  }

  /** Ends the client: every timer, socket and pending promise. */
  #finish(reason: AgentlinkError | undefined): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#transition('closing');
    this.#cycleToken++;
    this.#closeReason = reason;
    this.#retryWake?.();
    this.#retryWake = undefined;
    this.#teardownTimers();
    this.#handshake?.reject(new AbortError('Client stopped'));
    this.#handshake = undefined;
    if (this.#conn) this.#dropConnection(this.#conn, true);
    this.#keepalive.stop();
    const left = this.#buffer.clear('cleared');
    if (left.length > 0) this.#log.warn({ dropped: left.length }, 'Events still queued at stop were dropped');
    this.#buffer.teardown();
    if (this.options.signal && this.#abortListener) {
      this.options.signal.removeEventListener('abort', this.#abortListener);
    }
    this.#flushed = (this.#counterStore.flush?.() ?? Promise.resolve()).catch((err: unknown) => {
      this.emit('error', err instanceof AgentlinkError ? err : new StateError('Counter store flush failed', 'ERR_INVALID_STATE', { cause: err }));
    });
    const settle = this.#startSettle;
    this.#startSettle = undefined;
    settle?.reject(reason ?? new AbortError('Client stopped before it connected'));
    this.#transition('closed');
    this.emit('closed', { reason: this.#closeReason });
    this.#resolveClosed();
  }

  #fail(reason: AgentlinkError): void {
    this.#log.error({ code: reason.code }, reason.message);
    this.#finish(reason);
  }

  // --- enrollment ------------------------------------------------------------------------

  async #enrollNow(phase: 'startup' | 'round', host?: string): Promise<void> {
    const e = this.options.enrollment;
    const hosts = host ? [host] : [...(e.managerAddress ? [e.managerAddress] : []), ...this.options.servers.map((s) => s.address)];
    const controller = new AbortController();
    const onClose = () => controller.abort();
    this.once('closed', onClose);
    try {
      const key = await this.#enroll({
        hosts: [...new Set(hosts)],
        port: e.port,
        name: this.#agent?.name ?? e.agentName,
        ...(e.password !== undefined ? { password: e.password } : {}),
        groups: e.groups,
        ...(e.agentAddress !== undefined ? { agentAddress: e.agentAddress } : {}),
        ...(this.#agent ? { currentKey: this.#agent } : {}),
        ...(e.ca !== undefined ? { ca: e.ca } : {}),
        ...(e.cert !== undefined ? { cert: e.cert } : {}),
        ...(e.key !== undefined ? { key: e.key } : {}),
        timeout: e.timeout,
        clock: this.#clock,
        signal: controller.signal,
        ...(phase === 'round' ? { maxRounds: 1 } : {}),
        logger: this.#log,
      });
      this.#agent = key;
      this.#log = (this.options.logger ?? silentLogger).child({ agentId: key.id, agentName: key.name });
      this.#log.info({}, 'Enrolled with the manager');
      if (e.delayAfterEnrollment > 0) {
        await new Promise<void>((resolve) => {
          this.#timers.enrollDelay = unrefTimeout(this.#clock, resolve, e.delayAfterEnrollment);
          this.once('closed', () => resolve());
        });
      }
    } finally {
      this.off('closed', onClose);
    }
  }

  async #enrollAfterRound(host: string): Promise<void> {
    try {
      await this.#enrollNow('round', host);
    } catch (err) {
      if (err instanceof AgentlinkError && err.code !== 'ERR_ABORTED') this.emit('error', err);
    }
  }

  // --- sending ---------------------------------------------------------------------------

  /** Encodes and writes one plaintext on the current connection (bypassing the buffer). */
  #sendControl(text: string, conn: Connection | undefined = this.#conn): void {
    if (!conn || !this.#agent) {
      throw new ConnectionError('Not connected', 'ERR_CONNECTION_LOST');
    }
    this.#counter = nextCounter(this.#counter);
    const payload = encodeSecureMessage(text, {
      key: this.#agent,
      method: this.options.cryptoMethod,
      sender: 'agent',
      counter: this.#counter,
      random: Math.floor(this.#random() * 65536),
    });
    conn.transport.send(payload);
    this.#stats.bytesOut += payload.length;
    this.#stats.messagesOut++;
    void this.#counterStore.save(this.#counter).catch((err: unknown) => {
      this.emit('error', err instanceof AgentlinkError ? err : new StateError('Counter store save failed', 'ERR_INVALID_STATE', { cause: err }));
    });
  }

  #dispatchEvent(event: AgentEvent): boolean {
    const conn = this.#conn;
    if (!conn || this.#state !== 'connected') return false;
    let text: string;
    try {
      text = buildEvent({ queue: event.queue ?? '1', location: event.location, message: event.message });
      this.#sendControl(text, conn);
    } catch (err) {
      const error = err instanceof AgentlinkError ? err : new DecodeError('Event could not be encoded', 'ERR_DECODE_MESSAGE', { cause: err });
      this.emit('error', error);
      // an event that can never be encoded (too large, bad queue) is dropped, counted and emitted
      this.#stats.eventsRejected++;
      this.emit('drop', { event, reason: 'rejected' });
      return true;
    }
    conn.eventsSent++;
    this.#stats.eventsSent++;
    return true;
  }

  #sendKeepalive(): void {
    const conn = this.#conn;
    if (!conn) return;
    const now = this.#clock.now();
    const o = this.options;
    if (this.#agentIp === undefined || o.ipUpdateInterval <= o.notifyTime || this.#agentIpAt === undefined || now - this.#agentIpAt >= o.ipUpdateInterval) {
      this.#agentIp = conn.transport.localAddress;
      this.#agentIpAt = now;
    }
    const uname = typeof o.uname === 'string' ? `${o.uname} - Wazuh ${o.version}` : formatUname(o.uname, o.version);
    const text = buildKeepalive({
      uname,
      ...(o.agentConfigSum ? { agentConfigSum: o.agentConfigSum } : {}),
      labels: o.labels.map((l) => ({ key: l.key, value: l.value, hidden: l.hidden === true })),
      mergedSum: this.#mergedSum ?? 'x',
      ...(this.#agentIp ? { agentIp: this.#agentIp } : {}),
    });
    try {
      this.#sendControl(text, conn);
    } catch (err) {
      this.emit('error', err instanceof AgentlinkError ? err : toConnectionError(err, serverRef(conn.server), 'io'));
      return;
    }
    if (conn.ackMarkers.length < MAX_ACK_MARKERS) conn.ackMarkers.push(conn.eventsSent);
    this.#stats.lastKeepaliveAt = now;
  }

  #onBufferLevel(level: BufferLevel, previous: BufferLevel): void {
    this.emit('bufferLevel', { level, previous });
    // protocol.md 5.8: falling from full/flooded to warning sends nothing; reaching normal sends 'normal'
    let msg: string | undefined;
    if (level === 'normal') msg = bufferStateEvent('normal');
    else if (level === 'warning') msg = previous === 'normal' ? bufferStateEvent('warning') : undefined;
    else msg = bufferStateEvent(level);
    if (!msg) return;
    if (this.#state === 'connected' && this.#conn) {
      try {
        this.#sendControl(msg);
        return;
      } catch {
        // fall through: sent after the next handshake
      }
    }
    if (this.#pendingLevelMessages.length < 16) this.#pendingLevelMessages.push(msg);
  }

  // --- receiving -------------------------------------------------------------------------

  #onPayload(conn: Connection, payload: Buffer): void {
    if (this.#conn !== conn || !this.#agent) return;
    this.#stats.bytesIn += payload.length;
    let plaintext: Buffer;
    try {
      plaintext = decodeSecureMessage(payload, { keys: [this.#agent] }).message;
    } catch (err) {
      this.#stats.decodeErrors++;
      const error = err instanceof AgentlinkError ? err : new DecodeError('Undecodable payload from the manager', 'ERR_DECODE_FORMAT', { cause: err });
      this.#log.warn({ code: error.code }, `Bad message from the manager: ${error.message}`);
      this.emit('error', error);
      // a corrupt frame is a reconnect trigger (protocol.md 5.5)
      if (this.#handshake) this.#handshake.reject(error);
      else this.#connectionLost(error);
      return;
    }
    this.#stats.messagesIn++;
    let msg: ReturnType<typeof parseManagerMessage>;
    try {
      msg = parseManagerMessage(plaintext);
    } catch (err) {
      // a malformed request or file header: reported and counted, the connection stays
      this.#stats.decodeErrors++;
      this.emit('error', err instanceof AgentlinkError ? err : new DecodeError('Malformed manager message', 'ERR_DECODE_MESSAGE', { cause: err }));
      if (this.#handshake) this.#handshake.reject(new ConnectionError('Unexpected reply to the startup message', 'ERR_HANDSHAKE_UNEXPECTED', { server: serverRef(conn.server) }));
      return;
    }
    if (this.#handshake) {
      // protocol.md 5.2: exactly one message is read and must be the ACK
      if (msg.type === 'ack') {
        conn.ackMarkers.shift();
        this.#stats.acks++;
        this.#stats.lastAckAt = this.#clock.now();
        this.emit('ack');
        this.#handshake.resolve();
      } else if (msg.type === 'err') {
        this.#handshake.reject(
          new ConnectionError(`The manager rejected the startup: ${msg.message}`, 'ERR_HANDSHAKE_REJECTED', {
            server: serverRef(conn.server),
            managerMessage: msg.message,
          }),
        );
      } else {
        this.#handshake.reject(
          new ConnectionError(`Unexpected reply to the startup message (${msg.type})`, 'ERR_HANDSHAKE_UNEXPECTED', {
            server: serverRef(conn.server),
          }),
        );
      }
      return;
    }
    if (msg.type !== 'data') this.#keepalive.touch();
    switch (msg.type) {
      case 'ack': {
        const marker = conn.ackMarkers.shift();
        if (marker !== undefined && marker > conn.confirmed) conn.confirmed = marker;
        this.#stats.acks++;
        this.#stats.lastAckAt = this.#clock.now();
        this.emit('ack');
        return;
      }
      case 'force_reconnect':
        this.#log.info({}, 'Wazuh Agent will be reconnected because a reconnect message was received');
        this.emit('forceReconnect');
        this.#connectionLost(new ConnectionError('The manager asked the agent to reconnect', 'ERR_CONNECTION_LOST', { server: serverRef(conn.server) }), { forced: true });
        return;
      case 'request':
        this.#closeOpenFile();
        this.#onRequest(msg.counter, msg.target, msg.command);
        return;
      case 'request_ack': {
        const pending = this.#udpRequests.get(msg.counter);
        if (pending) {
          this.#clock.clearTimeout(pending.timer);
          this.#udpRequests.delete(msg.counter);
        }
        return;
      }
      case 'execd': {
        let json: unknown;
        try {
          const end = msg.payload.lastIndexOf('}');
          json = JSON.parse(end >= 0 ? msg.payload.slice(0, end + 1) : msg.payload);
        } catch {
          json = undefined;
        }
        this.emit('activeResponse', { payload: msg.payload, json });
        return;
      }
      case 'file_open':
        this.#closeOpenFile();
        try {
          this.#openFile = { name: sanitizeSharedFileName(msg.name), md5: msg.md5, chunks: [], size: 0 };
        } catch (err) {
          this.#stats.decodeErrors++; // a refused file name ('..', NUL) is bad data from the manager, counted as such
          this.emit('error', err instanceof AgentlinkError ? err : new DecodeError('Bad shared file name', 'ERR_DECODE_MESSAGE', { cause: err }));
        }
        return;
      case 'file_close':
        this.#finishOpenFile();
        return;
      case 'data': {
        const file = this.#openFile;
        if (file) {
          this.#keepalive.touch(); // shared-file chunks refresh available_server too (protocol.md 5.5)
          if (file.size + msg.data.length > MAX_SHARED_FILE) {
            this.#openFile = undefined;
            this.#stats.decodeErrors++;
            this.emit('error', new DecodeError(`Shared file '${file.name}' exceeds ${MAX_SHARED_FILE} bytes; discarded`, 'ERR_DECODE_SIZE'));
            return;
          }
          file.chunks.push(Buffer.from(msg.data));
          file.size += msg.data.length;
        } else {
          this.emit('message', { text: msg.data.toString('latin1'), kind: 'data' });
        }
        return;
      }
      case 'err':
        this.emit('message', { text: msg.raw, kind: 'control' });
        return;
      case 'module':
        this.emit('message', { text: `${msg.module} ${msg.payload}`.trim(), kind: 'module' });
        return;
      case 'control':
        this.#closeOpenFile();
        this.#log.warn({}, 'Unknown message received from server.');
        this.emit('message', { text: msg.text, kind: 'control' });
        return;
    }
  }

  #closeOpenFile(): void {
    this.#openFile = undefined;
  }

  #finishOpenFile(): void {
    const file = this.#openFile;
    this.#openFile = undefined;
    if (!file) return;
    const content = Buffer.concat(file.chunks, file.size);
    const md5 = createHash('md5').update(content).digest('hex');
    const valid = md5 === file.md5;
    const shared: SharedFile = { name: file.name, content, md5: file.md5, valid };
    if (valid && file.name === 'merged.mg') {
      try {
        shared.files = parseMergedMg(content).files;
        this.#mergedSum = md5;
      } catch (err) {
        this.emit('error', err instanceof AgentlinkError ? err : new DecodeError('merged.mg could not be unpacked', 'ERR_DECODE_MESSAGE', { cause: err }));
        try {
          this.#sendControl('1:wazuh-agent:wazuh: Could not unmerge shared file.');
        } catch {
          // not connected any more
        }
      }
    }
    if (!valid) this.#log.warn({ file: file.name }, 'Shared file checksum mismatch: discarded');
    this.emit('sharedFile', shared);
  }

  #onRequest(counter: string, target: string, command: string): void {
    const conn = this.#conn;
    if (!conn) return;
    const udp = conn.server.protocol === 'udp';
    if (udp) this.#trySend(buildRequestAck(counter));
    let replied = false;
    const reply = (response: string) => {
      if (replied) return;
      replied = true;
      const text = buildRequestReply(counter, response);
      this.#trySend(text);
      if (udp && this.#conn === conn) this.#retransmitUdpReply(counter, text, 1);
    };
    if (target === 'agent') {
      const builtIn = this.#builtInRequest(command);
      if (builtIn !== undefined) {
        reply(builtIn);
        return;
      }
    }
    if (this.listenerCount('request') > 0) {
      this.emit('request', { counter, target, command, reply });
      return;
    }
    reply(target === 'agent' ? 'err Unrecognized command' : 'err No such file or directory');
  }

  #retransmitUdpReply(counter: string, text: string, attempts: number): void {
    if (attempts >= UDP_REQUEST_ATTEMPTS) {
      this.#udpRequests.delete(counter);
      return;
    }
    const timer = unrefTimeout(
      this.#clock,
      () => {
        if (!this.#udpRequests.has(counter)) return;
        this.#trySend(text);
        this.#retransmitUdpReply(counter, text, attempts + 1);
      },
      UDP_REQUEST_RTO,
    );
    this.#udpRequests.set(counter, { timer, attempts, payload: text });
  }

  #trySend(text: string): void {
    try {
      this.#sendControl(text);
    } catch (err) {
      this.emit('error', err instanceof AgentlinkError ? err : new ConnectionError('Send failed', 'ERR_CONNECTION_LOST', { cause: err }));
    }
  }

  /** `agent getconfig <section>` and `agent getstate` (protocol.md 4.5); undefined for other commands. */
  #builtInRequest(command: string): string | undefined {
    const [verb, section] = command.trim().split(/\s+/, 2);
    const o = this.options;
    if (verb === 'getconfig') {
      if (!section) return 'err AGCOM getconfig needs arguments';
      switch (section) {
        case 'client':
          return `ok ${JSON.stringify({
            client: {
              ...(o.configProfile ? { 'config-profile': o.configProfile } : {}),
              notify_time: Math.round(o.notifyTime / 1000),
              'time-reconnect': Math.round(o.timeReconnect / 1000),
              force_reconnect_interval: Math.round(o.forceReconnectInterval / 1000),
              ip_update_interval: Math.round(o.ipUpdateInterval / 1000),
              server: o.servers.map((s) => ({
                address: s.address,
                port: s.port,
                protocol: s.protocol,
                max_retries: s.maxRetries,
                retry_interval: Math.round(s.retryInterval / 1000),
              })),
              crypto_method: o.cryptoMethod,
              auto_restart: o.autoRestart ? 'yes' : 'no',
              remote_conf: 'yes',
            },
          })}`;
        case 'buffer':
          return `ok ${JSON.stringify({
            buffer: { disabled: o.buffer.disabled ? 'yes' : 'no', queue_size: o.buffer.queueSize, events_per_second: o.buffer.eventsPerSecond },
          })}`;
        case 'labels':
          return `ok ${JSON.stringify({ labels: o.labels.map((l) => ({ key: l.key, value: l.value, hidden: l.hidden ? 'yes' : 'no' })) })}`;
        case 'internal':
          return `ok ${JSON.stringify({
            internal: {
              agent: {
                recv_timeout: Math.round(o.handshakeTimeout / 1000),
                warn_level: 90,
                normal_level: 70,
                tolerance: Math.round(o.buffer.tolerance / 1000),
                min_eps: 50,
              },
            },
          })}`;
        case 'anti_tampering':
          return `ok ${JSON.stringify({ anti_tampering: { package_uninstallation: 'no' } })}`;
        default:
          return 'err Could not get requested section';
      }
    }
    if (verb === 'getstate') {
      const s = this.#stats;
      const status = this.#state === 'connected' ? 'connected' : this.#state === 'idle' || this.#state === 'connecting' ? 'pending' : 'disconnected';
      return JSON.stringify({
        error: 0,
        data: {
          status,
          last_keepalive: formatWazuhDate(s.lastKeepaliveAt),
          last_ack: formatWazuhDate(s.lastAckAt),
          msg_count: s.eventsAccepted,
          msg_sent: s.messagesOut,
          msg_buffer: this.#buffer.size,
          buffer_enabled: !o.buffer.disabled,
        },
      });
    }
    return undefined;
  }
}
