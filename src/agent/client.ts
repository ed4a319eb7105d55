/**
 * AgentClient: a Wazuh 4.x wire-compatible agent connection with an ordered server list, cyclic
 * failover, keepalives, silence detection, a client buffer that loses nothing silently, manager
 * commands and enrollment.
 *
 * One class owns the connection state (`state`, changed only by `transition()`); timers live in
 * named slots and one `teardown()` clears them; sockets are behind the injected transport factory.
 *
 * Why this file is over 700 lines: it is that one owner of the state (DESIGN.md), and everything
 * left here reads or changes the state (life cycle, reconnect cycle, connection, stop, and the
 * callbacks its parts make, which need the private state and so are declared in the class body).
 * What does not lives beside it: manager commands (manager-commands.ts), the send path (sender.ts),
 * delivery and the retransmit window (delivery.ts), handshake, enrollment, counters, waits.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { DEFAULT_DRAIN_TIMEOUT } from '../config/options.js';
import { resolveOptions } from '../config/resolve.js';
import { optionsFromOssecConf } from '../config/ossec-conf.js';
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
import {
  agentStartedEvent,
  buildStartup,
  SHUTDOWN_MESSAGE,
} from '../protocol/messages.js';
import { enrollWithFallback } from '../enrollment/client.js';
import { createDefaultTransportFactory } from '../transport/index.js';
import type { Transport, TransportFactory, TransportTarget } from '../transport/types.js';
import { silentLogger } from '../logger.js';
import { ClientBuffer } from './client-buffer.js';
import type { BufferLevel, DropReason } from './client-buffer.js';
import { MemoryCounterStore } from './counter-store.js';
import { Keepalive } from './keepalive.js';
import type { KeepaliveOwner } from './keepalive.js';
import { ReconnectPlanner } from './reconnect.js';
import type { PlannedAttempt } from './reconnect.js';
import { ServerPool } from './server-pool.js';
import { AgentConnection, serverRef } from './connection.js';
import { AgentSender } from './sender.js';
import type { AgentSenderDeps } from './sender.js';
import { Handshake } from './handshake.js';
import { onAbort, Wait } from './wait.js';
import { Delivery } from './delivery.js';
import type { DeliveryDeps } from './delivery.js';
import { answerBuiltInRequest } from './built-in-requests.js';
import { ManagerCommands } from './manager-commands.js';
import type { ManagerCommandsOwner } from './manager-commands.js';
import { AgentEnroller } from './enroll.js';
import type { AgentEnrollerDeps } from './enroll.js';
import { AgentCounters } from './stats.js';
import { stateChanges } from './status.js';
import { AGENT_TRANSITIONS } from './types.js';
import type { AgentClientEvents, AgentClientStats, AgentEvent, AgentRuntime, AgentState, StartOptions, StopOptions } from './types.js';

export { AGENT_TRANSITIONS } from './types.js';
export type {
  AgentClientEvents,
  AgentClientStats,
  AgentEvent,
  AgentRuntime,
  AgentState,
  DisconnectReason,
  ManagerRequest,
  SharedFile,
  StartOptions,
  StopOptions,
} from './types.js';

/** The transport factory of every client given none: one for all (a fleet holds thousands of clients). */
let defaultTransport: TransportFactory | undefined;
/** A settled promise every client shares until it has one of its own to wait for; a shared no-op. */
const DONE = Promise.resolve();
const NOOP = (): void => {};
/** The startup message of the version built last: the clients of a fleet send the same one. */
let startup = { version: '', text: '' };

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
  readonly #transportFactory: TransportFactory;
  readonly #enroller: AgentEnroller;
  readonly #pool: ServerPool;
  readonly #planner: ReconnectPlanner;
  readonly #buffer: ClientBuffer<AgentEvent>;
  readonly #keepalive: Keepalive;
  readonly #sender: AgentSender;
  #log: Logger;
  #agent: AgentIdentity | undefined;
  #conn: AgentConnection | undefined;
  #handshake: Handshake | undefined;
  #cycleToken = 0;
  #lastConnectedIndex: number | undefined;
  #lossAt: number | undefined;
  #lossReason: AgentlinkError | undefined;
  #cycleStartedAt = 0;
  #started = false;
  #startedEventSent = false;
  #closeReason: AgentlinkError | undefined;
  /** The counter-store flush started by the close; `stop()` waits for it so the counter is on disk when it returns. */
  #flushed: Promise<void> = DONE;
  /** Resolves once the socket of the last connection closed is released (`stop()` waits for it). */
  #released: Promise<void> = DONE;
  #startPromise: Promise<void> | undefined;
  #startSettle: { resolve: () => void; reject: (e: AgentlinkError) => void } | undefined;
  /** Made when first asked for (`closed`, `stop()`): most agents of a fleet never are. */
  #closedPromise: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  readonly #commands: ManagerCommands;
  /** The wait before the next connection attempt. */
  readonly #retry: Wait;
  #forceReconnectTimer: TimerHandle | undefined;
  /** Whether the agent keeps the process alive (`persistent`, `ref()`, `unref()`). */
  #ref: boolean;
  /** The delivery guarantee (and, at-least-once, the retransmit window). */
  readonly #delivery: Delivery;
  /** Wakes `stop()`'s drain when the connection goes away meanwhile. */
  #drainLost: (() => void) | undefined;
  /** Removes the `signal` option's listener. */
  readonly #offAbort: () => void;
  readonly #stats: AgentCounters;

  /**
   * What the client's parts call back (enroller, sender, delivery, keepalive, manager commands): one
   * object per client with methods, not a closure per callback, and declared in the class body so
   * that it reaches the client's private state (the closures, their contexts and the dependency
   * objects cost about 1.2 KB of heap per idle agent).
   */
  static readonly #Parts = class implements AgentEnrollerDeps, AgentSenderDeps, DeliveryDeps, KeepaliveOwner, ManagerCommandsOwner {
    readonly events: AgentClient;
    readonly options: ResolvedAgentClientOptions;
    readonly clock: Clock;
    readonly ref: boolean;
    readonly counterStore: CounterStore;
    readonly stats: AgentCounters;
    sender!: AgentSender;

    constructor(
      client: AgentClient,
      readonly random: () => number,
      readonly enroll: typeof enrollWithFallback,
    ) {
      this.events = client;
      this.options = client.options;
      this.clock = client.#clock;
      this.ref = client.#ref;
      this.counterStore = client.options.counterStore ?? new MemoryCounterStore();
      this.stats = new AgentCounters(client.options.servers.length);
    }

    onEnrolled(key: AgentIdentity): void {
      const c = this.events;
      c.#agent = key;
      c.#log = (c.options.logger ?? silentLogger).child({ agentId: key.id, agentName: key.name });
      c.#log.info({}, 'Enrolled with the manager');
    }

    onError(error: AgentlinkError): void {
      this.events.emit('error', error);
    }

    key(): AgentIdentity | undefined {
      return this.events.#agent;
    }

    sendBarrier(): void {
      this.events.#sendKeepalive();
    }

    resume(): void {
      const c = this.events;
      if (c.#sendable()) c.#buffer.resume();
    }

    sendKeepalive(dueAt: number): void {
      this.events.#sendKeepalive(dueAt);
    }

    onServerSilent(silentFor: number): void {
      const c = this.events;
      c.#connectionLost(
        new ConnectionError(
          `No message from the server for ${silentFor} ms (timeReconnect ${c.options.timeReconnect} ms): server unavailable`,
          'ERR_SERVER_SILENT',
          { server: c.#conn ? serverRef(c.#conn.server) : undefined },
        ),
      );
    }

    sendControl(text: string): void {
      this.events.#sendControl(text);
    }

    isCurrent(conn: object): boolean {
      return this.events.#conn === conn;
    }

    handshake(): Handshake | undefined {
      return this.events.#handshake;
    }

    connectionLost(reason: AgentlinkError, forced: boolean): void {
      this.events.#connectionLost(reason, { forced });
    }

    touch(): void {
      this.events.#keepalive.touch();
    }

    builtInRequest(command: string): string | undefined {
      const c = this.events;
      return answerBuiltInRequest(command, { options: c.options, state: c.#state, stats: c.#stats, bufferSize: c.#buffer.size });
    }

    logger(): Logger {
      return this.events.#log;
    }
  };

  /** The client buffer's `drop`, as the client's (one function for every client: the client is `this`). */
  static #forwardDrop(this: AgentClient, event: AgentEvent, reason: DropReason): void {
    this.emit('drop', { event, reason });
  }

  /** The client buffer's `level`, to the client (one function for every client: the client is `this`). */
  static #forwardLevel(this: AgentClient, level: BufferLevel, previous: BufferLevel): void {
    this.#onBufferLevel(level, previous);
  }

  /**
   * @param options - identity, servers and behaviour; validated at once (throws `ConfigError`).
   * @param runtime - injected transport factory, clock and random source (tests, simulator).
   */
  constructor(options: AgentClientOptions, runtime: AgentRuntime = {}) {
    super();
    this.options = resolveOptions(options);
    this.#clock = runtime.clock ?? systemClock;
    const random = runtime.random ?? Math.random;
    this.#transportFactory = runtime.transport ?? (defaultTransport ??= createDefaultTransportFactory());
    this.#ref = this.options.persistent;
    const parts = new AgentClient.#Parts(this, random, runtime.enroll ?? enrollWithFallback);
    this.#enroller = new AgentEnroller(parts);
    this.#agent = this.options.agent;
    this.#pool = new ServerPool(this.options.servers);
    this.#retry = new Wait(this.#clock, this.#ref);
    this.#planner = new ReconnectPlanner(this.options.reconnect, this.options.servers, random);
    this.#stats = parts.stats;
    this.#sender = parts.sender = new AgentSender(parts);
    this.#delivery = new Delivery(this.options.delivery, this.options.retransmit, parts);
    const base = this.options.logger ?? silentLogger;
    this.#log = base.child({ agentId: this.#agent?.id, agentName: this.#agent?.name });
    this.#buffer = new ClientBuffer<AgentEvent>(this.options.buffer, { send: (event) => this.#dispatchEvent(event), clock: this.#clock });
    this.#buffer.on('drop', AgentClient.#forwardDrop, this);
    this.#buffer.on('level', AgentClient.#forwardLevel, this);
    this.#keepalive = new Keepalive(parts, { notifyTime: this.options.notifyTime, timeReconnect: this.options.timeReconnect, clock: this.#clock });
    this.#commands = new ManagerCommands(parts, this.#clock);
    this.#offAbort = this.options.signal ? onAbort(this.options.signal, () => void this.stop({ drainTimeout: 0 })) : NOOP;
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
    return new AgentClient(optionsFromOssecConf(xml, extra), runtime);
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
    return (this.#closedPromise ??= this.#state === 'closed' ? DONE : new Promise((resolve) => (this.#resolveClosed = resolve)));
  }

  /**
   * Enrolls if needed, then connects: walks the server list until a manager ACKs the startup.
   * Resolves on the first ACK. Rejects only when the client is stopped or aborted first, or the
   * reconnect policy gives up (the `closed` event then carries the reason). From here to `stop()`
   * the agent keeps the process alive (see {@link AgentClient.unref}).
   *
   * @example Bound the wait for the first manager
   * ```ts
   * await agent.start({ signal: AbortSignal.timeout(60_000) }); // AbortError, agent stopped, after 60 s without an ACK
   * ```
   *
   * @param options - `signal` bounds the wait for the first ACK; a second call returns the first call's promise.
   * @returns resolves on the first ACK.
   * @throws {@link AbortError} `ERR_ABORTED` when stopped or aborted first (the agent is then closed);
   *   `ConnectionError` `ERR_RECONNECT_GAVE_UP` when the reconnect policy gives up.
   */
  start(options: StartOptions = {}): Promise<void> {
    if (this.#startPromise) return this.#startPromise;
    if (this.#state !== 'idle') return Promise.reject(new StateError(`start() called in state '${this.#state}'`, 'ERR_INVALID_STATE'));
    this.#started = true;
    this.#startPromise = new Promise<void>((resolve, reject) => {
      this.#startSettle = { resolve, reject };
    });
    this.#startPromise.catch(NOOP);
    const signal = options.signal;
    if (signal) {
      const off = onAbort(signal, () => {
        const settle = this.#startSettle;
        if (!settle) return;
        this.#startSettle = undefined;
        settle.reject(new AbortError('start() aborted before a manager acknowledged the agent', { cause: signal.reason }));
        void this.stop({ drainTimeout: 0 });
      });
      this.#startPromise.then(off, off);
    }
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
   * Stops the agent: delivers what is queued within `drainTimeout` (at once, not at the buffer's
   * rate; at-least-once, confirmed too), sends `#!-agent shutdown `, closes the connection, clears
   * every timer and waits for the counter store's flush (so the counter of the shutdown message is
   * stored when it resolves). Only what the deadline cut is dropped (reason `cleared`). Resolves once
   * the socket is released (TCP: after the manager's FIN, at most the transport's `closeTimeout`), so
   * a program may exit or reuse the descriptor at once. Idempotent.
   *
   * @param options - drain deadline.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#state === 'closed') return this.#flushed.then(() => this.#released);
    if (this.#state === 'closing') return this.closed.then(() => this.#flushed).then(() => this.#released);
    const drainTimeout = options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT;
    const wasConnected = this.#state === 'connected';
    this.#transition('closing');
    this.#cycleToken++;
    this.#retry.wake();
    this.#enroller.teardown();
    if (wasConnected && this.#conn && drainTimeout > 0) {
      const gone = new Promise<void>((resolve) => (this.#drainLost = resolve));
      await this.#delivery.drain(this.#buffer, drainTimeout, gone);
      this.#drainLost = undefined;
    }
    if (this.#conn) {
      try {
        this.#sendControl(SHUTDOWN_MESSAGE);
      } catch {
        // the connection may already be gone; nothing to report on the way out
      }
    }
    this.#finish(undefined);
    await this.closed;
    await this.#flushed;
    await this.#released;
  }

  /** `await using agent = new AgentClient(...)`: stops with the default drain. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Counters and current state. */
  stats(): AgentClientStats {
    return {
      state: this.#state,
      server: this.server,
      serverIndex: this.#conn?.index ?? this.#pool.index,
      ...this.#stats.snapshot(),
      buffer: this.#buffer.stats(),
      retransmitWindow: this.#delivery.stats(),
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
  status(): AsyncGenerator<{ state: AgentState; server: ResolvedServer | undefined }, void, undefined> {
    return stateChanges(this, this.#state, () => this.server);
  }

  /**
   * Lets the agent keep the Node.js process alive again (the default, see `persistent`): from
   * `start()` to `stop()` one of its handles is always ref'd, the socket while one is open, the
   * retry timer while it waits to reconnect. As `net.Socket.ref()`; idempotent.
   *
   * @returns this agent.
   */
  ref(): this {
    this.#setRef(true);
    return this;
  }

  /**
   * Lets the process exit while the agent runs (it keeps running while something else holds the
   * process), as `net.Socket.unref()`. An enrollment in progress still holds the process until it ends.
   * Idempotent.
   *
   * @returns this agent.
   */
  unref(): this {
    this.#setRef(false);
    return this;
  }

  #setRef(ref: boolean): void {
    this.#ref = ref;
    this.#retry.setRef(ref);
    this.#enroller.setRef(ref);
    if (this.#conn) this.#applyRef(this.#conn.transport);
  }

  #applyRef(transport: Transport): void {
    if (this.#ref) transport.ref?.();
    else transport.unref?.();
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
    if (this.#log !== silentLogger) this.#log.debug({ from, to }, `${from} -> ${to}`); // no fields to build for a silent fleet
    this.emit('stateChange', { from, to });
  }

  async #boot(): Promise<void> {
    const token = this.#cycleToken;
    try {
      await this.#sender.load();
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
        await this.#enroller.run('startup', undefined, this.#agent, this.#log);
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
        await this.#retry.sleep(plan.delay);
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
          await this.#enroller.afterRound(this.#pool.servers[exhausted]!.address, this.#agent, this.#log);
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

  /** One attempt: connect, send the startup, wait for the ACK (protocol.md 5.2). */
  async #attempt(index: number, attempt: number): Promise<void> {
    const server = this.#pool.servers[index]!;
    const agent = this.#agent;
    if (!agent) throw new StateError('No agent key: enrollment has not completed', 'ERR_INVALID_STATE');
    this.#pool.recordAttempt(index, this.#clock.now());
    const target: TransportTarget = { address: server.address, port: server.port, protocol: server.protocol };
    const transport = this.#transportFactory(target, { connectTimeout: this.options.connectTimeout, localAddress: this.options.localAddress });
    this.#applyRef(transport);
    const conn = new AgentConnection(transport, index, server, this.#delivery.listener);
    transport.on('payload', (payload) => this.#commands.receive(payload, conn));
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
    const handshake = new Handshake(server, this.options.handshakeTimeout, this.#clock);
    this.#handshake = handshake;
    try {
      const version = this.options.version;
      if (startup.version !== version) startup = { version, text: buildStartup(version) };
      this.#sendControl(startup.text, conn);
      conn.markBarrier();
      await handshake.acked;
    } catch (err) {
      handshake.fail(err instanceof AgentlinkError ? err : new AbortError('Handshake failed', { cause: err }));
      this.#handshake = undefined;
      this.#dropConnection(conn);
      throw err;
    }
    this.#handshake = undefined;
    this.#onConnected(conn, attempt);
  }

  #onConnected(conn: AgentConnection, attempt: number): void {
    const now = this.#clock.now();
    this.#pool.recordSuccess(conn.index, now);
    this.#stats.connects++;
    this.#stats.connectsPerServer[conn.index]!++;
    const previous = this.#lastConnectedIndex;
    this.#lastConnectedIndex = conn.index;
    this.#transition('connected');
    const elapsed = this.#clock.monotonic() - this.#cycleStartedAt;
    if (this.#log !== silentLogger) this.#log.info({ server: `${conn.server.address}:${conn.server.port}` }, 'Connected to the server');
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
    this.#sender.sendPendingLevels(conn);
    // at-least-once: what the last connection did not confirm goes first, in order; the keepalive
    // that start() sends at once is its barrier
    this.#delivery.resend(conn);
    this.#keepalive.start();
    if (this.options.forceReconnectInterval > 0) {
      this.#forceReconnectTimer = unrefTimeout(
        this.#clock,
        () => {
          this.#forceReconnectTimer = undefined;
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
    // even on a graceful close: count them so every loss has a visible reason (at-least-once resends them)
    this.#delivery.lost(conn);
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
  #dropConnection(conn: AgentConnection, graceful = false): void {
    if (this.#conn === conn) this.#conn = undefined;
    this.#keepalive.stop();
    this.#buffer.pause();
    this.#clearForceReconnect();
    this.#commands.reset();
    const transport = conn.transport;
    transport.removeAllListeners();
    transport.on('error', () => {});
    // a connect that has not finished rejects instead of emitting 'close'
    if (transport.state === 'open' || transport.state === 'closing') this.#released = new Promise((resolve) => transport.once('close', () => resolve()));
    if (graceful) transport.close();
    else transport.destroy();
  }

  #onTransportClose(conn: AgentConnection, error: AgentlinkError | undefined): void {
    if (this.#conn !== conn) return;
    // an oversize frame (ERR_DECODE_FRAME_TOO_LARGE) is undecodable data from the manager: count it as one
    if (error instanceof DecodeError) this.#stats.decodeErrors++;
    const reason =
      error ?? new ConnectionError('Connection closed', 'ERR_CONNECTION_LOST', { server: serverRef(conn.server) });
    if (this.#handshake) {
      this.#handshake.fail(reason);
      return;
    }
    if (this.#state === 'connected') this.#connectionLost(reason);
    else if (this.#state === 'closing') {
      // lost while stop() drains: what is still queued is cut, as at the deadline
      this.#delivery.lost(conn);
      this.#dropConnection(conn);
      this.#drainLost?.();
    }
  }

  #clearForceReconnect(): void {
    this.#clock.clearTimeout(this.#forceReconnectTimer);
    this.#forceReconnectTimer = undefined;
  }

  /** Ends the client: every timer, socket and pending promise. */
  #finish(reason: AgentlinkError | undefined): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'closing') this.#transition('closing');
    this.#cycleToken++;
    this.#closeReason = reason;
    this.#retry.wake();
    this.#clearForceReconnect();
    this.#enroller.teardown();
    this.#handshake?.fail(new AbortError('Client stopped'));
    this.#handshake = undefined;
    if (this.#conn) this.#dropConnection(this.#conn, true);
    this.#keepalive.stop();
    this.#delivery.close();
    const left = this.#buffer.clear('cleared');
    if (left.length > 0) this.#log.warn({ dropped: left.length }, 'Events still queued at stop were dropped');
    this.#buffer.teardown();
    this.#offAbort();
    this.#flushed = this.#sender.flush();
    const settle = this.#startSettle;
    this.#startSettle = undefined;
    settle?.reject(reason ?? new AbortError('Client stopped before it connected'));
    this.#transition('closed');
    this.emit('closed', { reason: this.#closeReason });
    this.#resolveClosed?.();
  }

  #fail(reason: AgentlinkError): void {
    this.#log.error({ code: reason.code }, reason.message);
    this.#finish(reason);
  }

  // --- sending ---------------------------------------------------------------------------

  /** Encodes and writes one plaintext on the current connection (bypassing the buffer). */
  #sendControl(text: string, conn: AgentConnection | undefined = this.#conn): void {
    this.#sender.write(text, conn);
  }

  /** The connection events may be written on: while connected, and while `stop()` drains. */
  #sendable(): AgentConnection | undefined {
    return this.#state === 'connected' || this.#state === 'closing' ? this.#conn : undefined;
  }

  #dispatchEvent(event: AgentEvent): boolean {
    const conn = this.#sendable();
    if (!conn) return false;
    return this.#delivery.write(event, conn);
  }

  #sendKeepalive(dueAt?: number): void {
    if (this.#conn) this.#sender.sendKeepalive(this.#conn, this.#commands.mergedSum, dueAt);
  }

  #onBufferLevel(level: BufferLevel, previous: BufferLevel): void {
    this.emit('bufferLevel', { level, previous });
    this.#sender.bufferLevel(level, previous, this.#sendable());
  }
}
