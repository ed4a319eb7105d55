/**
 * A wazuh-remoted-compatible mock manager (protocol.md section 8): the facade. Its parts are the
 * registry of agents and connections ({@link Registry}), the remoted model ({@link Remoted}),
 * requests, shared files, the event history and the waits; it listens through the transport's
 * {@link Listener} seam.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { StateError, toListenError } from '../../errors.js';
import { FORCE_RECONNECT_MESSAGE, buildExecd } from '../../protocol/index.js';
import type { AgentKey } from '../../protocol/index.js';
import type { Listener, ServerConnection } from '../../transport/listener.js';
import { MockAuthd } from '../authd.js';
import type { AgentStatusInfo } from '../authd.js';
import { defaultFaults, mergeFaults } from '../faults.js';
import type { FaultsUpdate, ManagerFaults } from '../faults.js';
import { KeyStore } from '../keystore.js';
import { RunStateHolder } from '../run-state.js';
import { DEFAULT_WAIT_TIMEOUT, Waiters } from '../waiters.js';
import { debugEnabled, newCounters } from './context.js';
import type { ManagerContext } from './context.js';
import { EventHistory } from './history.js';
import { resolveManagerOptions } from './options.js';
import type { ResolvedManagerOptions } from './options.js';
import { Outbox } from './outbox.js';
import { Registry } from './registry.js';
import type { AgentEntry, Session, SessionSink } from './registry.js';
import { Remoted } from './remoted.js';
import { Requests } from './requests.js';
import { SharedFiles } from './shared-files.js';
import type {
  AgentRecord,
  AgentStatus,
  ManagerProtocol,
  MockManagerEvents,
  MockManagerOptions,
  MockManagerStats,
  ReceivedEvent,
  SharedFileInput,
  WaitForAgentsOptions,
  WaitForEventsOptions,
} from './types.js';

/**
 * A wazuh-remoted-compatible manager for tests and simulations (protocol.md 8.8 and more).
 *
 * It listens on TCP (and optionally UDP on the same port), decodes every message with the SDK's
 * codec, tracks agent status (`never_connected` → `pending` → `active` → `disconnected`), answers
 * startups and keepalives with ACKs, records events, and can send `#!-force_reconnect`, requests,
 * active responses and shared files. Faults ({@link MockManager.setFaults}) make it refuse, hang,
 * reset, withhold or delay ACKs, corrupt frames, check counters, refuse versions or keys.
 *
 * Scales to 10 000 agents: per-agent state is a few fields, there are no per-agent timers (one
 * housekeeping timer), and per-connection memory is bounded by one frame.
 *
 * @example
 * ```ts
 * const keys = new KeyStore();
 * const [agent] = keys.generate(1);
 * await using manager = new MockManager({ keys });
 * await manager.start();
 * const client = new AgentClient({ agent, servers: [manager.address] });
 * await client.start();
 * await manager.waitForAgents(1);
 * client.sendEvent({ queue: '1', location: '/var/log/app.log', message: 'hello' });
 * const [event] = await manager.waitForEvents((e) => e.message === 'hello');
 * ```
 */
export class MockManager extends EventEmitter<MockManagerEvents> {
  /** The key store this manager reads (shared with authd and other cluster nodes). */
  readonly keyStore: KeyStore;
  /** Node name. */
  readonly name: string;

  readonly #opts: ResolvedManagerOptions;
  readonly #run: RunStateHolder;
  readonly #ctx: ManagerContext & { faults: ManagerFaults; listener: Listener | undefined };
  readonly #registry: Registry;
  readonly #outbox: Outbox;
  readonly #history: EventHistory;
  readonly #requests: Requests;
  readonly #shared: SharedFiles;
  readonly #remoted: Remoted;
  readonly #waiters: Waiters;
  #authd: MockAuthd | undefined;
  #authdPort: number | undefined;
  #refuseOp: Promise<void> = Promise.resolve();
  readonly #onKeyRemoved = (key: AgentKey): void => this.#registry.forget(key.id);

  /**
   * @param options - see {@link MockManagerOptions}; every field is optional.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an impossible option value.
   */
  constructor(options: MockManagerOptions = {}) {
    super();
    const keys = options.keys;
    this.keyStore = keys instanceof KeyStore ? keys : new KeyStore(keys);
    const opts = resolveManagerOptions(options);
    this.#opts = opts;
    this.name = opts.name;
    this.#run = new RunStateHolder('MockManager', opts.logger);
    const run = this.#run;
    this.#ctx = {
      opts,
      keyStore: this.keyStore,
      counters: newCounters(),
      errorsByCode: {},
      emitter: this,
      faults: defaultFaults(opts.verifyCounters),
      listener: undefined,
      get running() {
        return run.state === 'running';
      },
    };
    this.#waiters = new Waiters(opts.clock, () => new StateError(`MockManager ${this.name} closed`, 'ERR_CLOSED'));
    this.#registry = new Registry(this.#ctx, {
      onChange: () => this.#waiters.check(),
      onSessionLost: (agent) => this.#requests.failFor(agent),
    });
    this.#outbox = new Outbox(this.#ctx, this.#registry);
    this.#history = new EventHistory(opts.historyLimit, this);
    this.#requests = new Requests(this.#ctx, this.#registry, this.#outbox);
    this.#shared = new SharedFiles(this.#ctx, this.#registry, this.#outbox, this.#waiters);
    this.#remoted = new Remoted(this.#ctx, {
      registry: this.#registry,
      outbox: this.#outbox,
      history: this.#history,
      requests: this.#requests,
      sharedFiles: this.#shared,
    });
    for (const [group, files] of Object.entries(opts.sharedFiles)) this.setSharedFiles(group, files);
    this.keyStore.on('removed', this.#onKeyRemoved);
  }

  // -------------------------------------------------------------------------------------------
  // Life cycle

  /**
   * Starts listening (and the authd mock when configured).
   *
   * @returns the bound ports: `tcp`, `udp` (the same number when both) and `authd`.
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when called twice; `ERR_CLOSED` after close.
   * @throws {@link agentlink!ToolError} `ERR_LISTEN` when remoted or authd cannot listen (the message names which, where and the system code).
   * @throws {@link agentlink!CounterStoreError} `ERR_COUNTER_STORE` when the `counterStore` cannot be read.
   */
  async start(): Promise<{ tcp?: number; udp?: number; authd?: number }> {
    this.#run.beginStart();
    const { host, port, protocols, logger } = this.#opts;
    try {
      this.#outbox.resume(await this.#opts.counterStore.load());
      try {
        this.#ctx.listener = await this.#opts.listener({ host, port, protocols, udpReceiveBufferSize: this.#opts.udpRecvBuffer, clock: this.#opts.clock, logger });
      } catch (err) {
        throw toListenError(err, 'remoted', host, port);
      }
      const listener = this.#ctx.listener;
      listener.on('connection', (conn) => this.#onConnection(conn));
      listener.on('datagram', (payload, peer) => this.#remoted.receive({ kind: 'udp', address: peer.address, port: peer.port }, payload));
      if (this.#opts.authd !== undefined) await this.#startAuthd();
    } catch (err) {
      this.#run.transition('closing');
      await this.#releaseListeners();
      this.#run.transition('closed');
      throw err;
    }
    this.#run.transition('running');
    this.#registry.startSweep();
    logger.info({ host, port: this.port, protocols }, 'mock manager listening');
    const out: { tcp?: number; udp?: number; authd?: number } = {};
    if (protocols.includes('tcp')) out.tcp = this.port;
    if (protocols.includes('udp')) out.udp = this.port;
    if (this.#authdPort !== undefined) out.authd = this.#authdPort;
    return out;
  }

  /** The bound port (TCP and UDP share it); 0 before `start()`. */
  get port(): number {
    return this.#ctx.listener?.port ?? 0;
  }

  /** The listening address. */
  get host(): string {
    return this.#opts.host;
  }

  /** Where agents connect, in the shape of an AgentClient `servers[]` entry (first protocol). */
  get address(): { address: string; port: number; protocol: ManagerProtocol } {
    return { address: this.#opts.host, port: this.port, protocol: this.#opts.protocols[0] ?? 'tcp' };
  }

  /** The authd port, when an authd mock runs. */
  get authdPort(): number | undefined {
    return this.#authdPort;
  }

  /** The transports this manager serves. */
  get protocols(): readonly ManagerProtocol[] {
    return this.#opts.protocols;
  }

  /** Whether the manager is started and not closed. */
  get running(): boolean {
    return this.#run.state === 'running';
  }

  /**
   * Stops everything: listeners, every connection, authd, timers, pending requests and waits
   * (rejected with `StateError` `ERR_CLOSED`), and ends the `events()` iterators. Leaves no handle.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#run.closed) return;
    this.#run.transition('closing');
    this.#registry.stopSweep();
    this.#remoted.close();
    const closed = new StateError(`MockManager ${this.name} closed`, 'ERR_CLOSED');
    this.#requests.abortAll(closed);
    this.#waiters.close();
    await this.#refuseOp;
    await this.#releaseListeners();
    await this.#opts.counterStore.flush?.().catch((err: unknown) => {
      this.#opts.logger.warn({ err: (err as Error).message }, 'the sender counter could not be flushed');
    });
    this.#history.end();
    this.keyStore.off('removed', this.#onKeyRemoved);
    this.#run.transition('closed');
    this.#opts.logger.info({ port: this.port }, 'mock manager closed');
    this.emit('close');
  }

  /** Same as {@link MockManager.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #releaseListeners(): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    const listener = this.#ctx.listener;
    if (listener !== undefined) tasks.push(listener.close());
    const authd = this.#authd;
    this.#authd = undefined;
    if (authd !== undefined) tasks.push(Promise.resolve(authd.close()).catch(() => undefined));
    await Promise.all(tasks);
  }

  async #startAuthd(): Promise<void> {
    const opts = this.#opts.authd === true ? {} : (this.#opts.authd ?? {});
    const authd = new MockAuthd({ host: this.#opts.host, statusOf: (id) => this.statusInfo(id), ...opts, keyStore: this.keyStore });
    authd.on('enrolled', (key, info) => {
      if (info.groups.length > 0) this.keyStore.setGroups(key.id, info.groups);
    });
    this.#authd = authd;
    const { port } = await authd.start();
    this.#authdPort = port;
  }

  /** The authd mock, when the `authd` option started one. */
  get authd(): MockAuthd | undefined {
    return this.#authd;
  }

  /**
   * An agent's status and since when it holds, in the shape {@link MockAuthd}'s replacement rules read.
   *
   * @param id - agent id.
   * @returns the status info, or undefined for an unknown id.
   */
  statusInfo(id: string): AgentStatusInfo | undefined {
    if (this.keyStore.get(id) === undefined) return undefined;
    const s = this.#registry.get(id);
    return s === undefined ? { status: 'never_connected', since: 0 } : { status: s.status, since: s.statusSince };
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  #onConnection(conn: ServerConnection): void {
    const c = this.#ctx.counters;
    if (!this.running || this.#ctx.faults.refuseConnections) {
      conn.destroy();
      return;
    }
    const maxConnections = this.#opts.maxConnections;
    if (maxConnections > 0 && this.#registry.sessionCount >= maxConnections) {
      c.connectionsRefused++;
      conn.destroy();
      return;
    }
    const session = this.#registry.open(conn, this.#sink);
    const logger = this.#opts.logger;
    if (debugEnabled(logger)) logger.debug({ conn: conn.id, peer: `${conn.remoteAddress}:${conn.remotePort}` }, 'connection accepted');
    if (this.listenerCount('connection') > 0) this.emit('connection', this.#registry.peer(session));
  }

  /** The connections' events, for every session (their context is the session). */
  readonly #sink: SessionSink = {
    onPayload: (session, payload) => this.#onPayload(session, payload),
    onPayloads: (session, payloads) => this.#remoted.receiveMany(session, payloads, (err) => this.#failed(session, err)),
    onError: (session, err) => {
      this.#ctx.counters.framesTooLarge++;
      this.#remoted.reject(err, session, session.agent?.key.id);
    },
    onClose: (session) => this.#onClose(session),
  };

  #onPayload(session: Session, payload: Buffer): void {
    try {
      this.#remoted.receive(session, payload);
    } catch (err) {
      this.#failed(session, err);
    }
  }

  /** What handling a payload threw, other than a decode error: logged, and the connection closed. */
  #failed(session: Session, err: unknown): void {
    this.#opts.logger.error({ err: (err as Error).message, conn: session.id }, 'unexpected failure on a TCP connection');
    this.#registry.closeSession(session);
  }

  #onClose(session: Session): void {
    this.#registry.closed(session);
    const logger = this.#opts.logger;
    if (debugEnabled(logger)) logger.debug({ conn: session.id, agentId: session.agent?.key.id }, 'connection closed');
    const state = this.#run.state;
    if ((state === 'running' || state === 'closing') && this.listenerCount('disconnection') > 0) this.emit('disconnection', this.#registry.peer(session));
  }

  /**
   * Marks an agent `disconnected` without touching its connection (used by {@link MockCluster} when
   * the agent has moved to another node, where the real cluster has a single status per agent).
   *
   * @param id - the agent id.
   * @returns whether the status changed.
   */
  markDisconnected(id: string): boolean {
    const s = this.#registry.get(id);
    if (s === undefined || s.status === 'disconnected' || s.status === 'never_connected') return false;
    this.#registry.setStatus(s, 'disconnected');
    if (s.protocol === 'udp') this.#registry.setLive(s, false);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /**
   * Sends a raw control message (any plaintext) to an agent, encrypted as remoted would.
   *
   * @param id - agent id.
   * @param plaintext - the message, e.g. `#!-syscheck restart`.
   * @returns whether it was sent (the agent is reachable and the send buffer not full).
   */
  send(id: string, plaintext: string | Buffer): boolean {
    const s = this.#registry.get(id);
    if (s === undefined || !this.running) return false;
    return this.#outbox.sendControl(s, plaintext);
  }

  /**
   * Sends `#!-force_reconnect` (protocol.md 4.4).
   *
   * @param ids - agent ids, or `all` for every reachable agent.
   * @returns how many agents it was sent to.
   */
  forceReconnect(ids: readonly string[] | 'all'): number {
    return this.#broadcast(ids, FORCE_RECONNECT_MESSAGE);
  }

  /**
   * Sends an active-response command `#!-execd <payload>`.
   *
   * @param target - an agent id, or `all` for every agent heard from within `agentsDisconnectionTime`.
   * @param payload - the AR JSON as a string, or an object serialised compactly.
   * @returns how many agents it was sent to.
   */
  activeResponse(target: string | 'all', payload: string | object): number {
    return this.#broadcast(target === 'all' ? 'all' : [target], buildExecd(payload));
  }

  #broadcast(ids: readonly string[] | 'all', message: string): number {
    if (!this.running) return 0;
    let sent = 0;
    const list: Iterable<AgentEntry | undefined> = ids === 'all' ? this.#registry.entries() : ids.map((id) => this.#registry.get(id));
    for (const s of list) {
      if (s === undefined) continue;
      if (ids === 'all' && this.#registry.channelOf(s) === undefined) continue;
      if (this.#outbox.sendControl(s, message)) sent++;
    }
    return sent;
  }

  /**
   * Sends a request `#!-req <counter> <target> <command>` and waits for the agent's answer
   * (protocol.md 4.5). The counter is a random 32-bit lowercase hex value. Over UDP the request is
   * retransmitted every `requestRetransmitMs` until the agent's `#!-req <c> ack` or its response
   * arrives (up to `requestMaxAttempts` sends), and the manager acknowledges the response.
   *
   * @param id - agent id.
   * @param target - `agent`, `logcollector`, `com`, ...
   * @param command - e.g. `getconfig client`.
   * @param opts - `timeout` in milliseconds (default `requestTimeout`, 60 s).
   * @returns the response text after the counter (`ok {...}`, `err ...`, or getstate JSON).
   * @throws {@link agentlink!RequestError} `ERR_REQUEST` when the agent is unreachable, never acknowledges (UDP),
   *   its connection closes, the deadline passes, or the manager closes.
   */
  request(id: string, target: string, command: string, opts: { timeout?: number } = {}): Promise<string> {
    return this.#requests.request(id, target, command, opts.timeout ?? this.#opts.requestTimeout);
  }

  /**
   * Sets (or with an empty list removes) the shared files of a group. Agents of that group whose
   * keepalive reports another merged.mg sum get the new bundle after their next keepalive.
   *
   * @param group - group name (`default` unless authd recorded other groups in the key store).
   * @param files - the files of the group's merged.mg.
   */
  setSharedFiles(group: string, files: readonly SharedFileInput[]): void {
    this.#shared.set(group, files);
  }

  /**
   * The md5 of a group's merged.mg, as agents report it once they have it.
   *
   * @param group - group name.
   * @returns the sum, or undefined when the group has no shared files.
   */
  sharedFilesSum(group: string): string | undefined {
    return this.#shared.sum(group);
  }

  /**
   * Pushes a merged.mg built from `files` now (protocol.md 4.6): `#!-up file <md5> merged.mg\n`, the
   * content in chunks of at most 900 bytes, then `#!-close file `. Over UDP it pauses
   * `udpFilePauseMs` after every 31 chunks.
   *
   * @param target - an agent id, or `{ group }` for every reachable agent of that group.
   * @param files - the files to bundle.
   * @param group - group name written in the bundle's first line (defaults to `target.group`).
   * @returns how many agents received the whole push.
   */
  pushSharedFile(target: string | { group: string }, files: readonly SharedFileInput[], group?: string): Promise<number> {
    return this.#shared.pushNow(target, files, group);
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  /** The faults in force now (read-only; change them with {@link MockManager.setFaults}). */
  get faults(): Readonly<ManagerFaults> {
    return this.#ctx.faults;
  }

  /**
   * Changes some faults at run time; the others keep their values.
   *
   * @param update - the fields to change (agent sets may be arrays).
   * @returns a promise that resolves once the listeners follow `refuseConnections` (never rejects).
   */
  setFaults(update: FaultsUpdate): Promise<void> {
    const before = this.#ctx.faults.refuseConnections;
    this.#ctx.faults = mergeFaults(this.#ctx.faults, update);
    this.#opts.logger.debug({ faults: Object.keys(update) }, 'faults changed');
    return this.#followRefuse(before);
  }

  /**
   * Turns every fault off (counter verification goes back to the `verifyCounters` option).
   *
   * @param verifyCounters - what the counter check returns to.
   * @returns as {@link MockManager.setFaults}.
   */
  clearFaults(verifyCounters = false): Promise<void> {
    const before = this.#ctx.faults.refuseConnections;
    this.#ctx.faults = defaultFaults(verifyCounters);
    return this.#followRefuse(before);
  }

  /** Closes or reopens the TCP listening socket when `refuseConnections` changed. */
  #followRefuse(before: boolean): Promise<void> {
    const on = this.#ctx.faults.refuseConnections;
    const listener = this.#ctx.listener;
    if (on === before || !this.running || listener === undefined) return Promise.resolve();
    this.#refuseOp = listener.refuse(on);
    return this.#refuseOp;
  }

  /**
   * Resets every TCP connection now (RST, not FIN).
   *
   * @returns how many connections were reset.
   */
  resetConnections(): number {
    let n = 0;
    for (const s of this.#registry.sessions()) {
      if (s.closed) continue;
      this.#registry.closeSession(s, true);
      n++;
    }
    return n;
  }

  /**
   * Closes (RST) the TCP connection of some agents, as if each had failed.
   *
   * @param ids - agent ids.
   * @returns how many connections were reset.
   */
  disconnectAgents(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) {
      const s = this.#registry.get(id);
      if (s?.session !== undefined && !s.session.closed) {
        this.#registry.closeSession(s.session, true);
        n++;
      }
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Inspection

  /**
   * @returns a record for every key in the store, in store order (never-connected agents included).
   */
  agents(): AgentRecord[] {
    return this.keyStore.list().map((k) => this.#registry.record(k, this.#registry.get(k.id)));
  }

  /**
   * @param id - agent id.
   * @returns the agent's record, or undefined when no key has this id.
   */
  agent(id: string): AgentRecord | undefined {
    const k = this.keyStore.get(id);
    return k === undefined ? undefined : this.#registry.record(k, this.#registry.get(id));
  }

  /**
   * The status of an agent, cheaper than {@link MockManager.agent}.
   *
   * @param id - agent id.
   * @returns the status, or undefined for an unknown id.
   */
  statusOf(id: string): AgentStatus | undefined {
    if (this.keyStore.get(id) === undefined) return undefined;
    return this.#registry.get(id)?.status ?? 'never_connected';
  }

  /** @returns the ids of agents with a live connection. */
  connectedAgentIds(): string[] {
    const out: string[] = [];
    for (const s of this.#registry.entries()) if (s.live) out.push(s.key.id);
    return out;
  }

  /** Number of agents with a live connection. */
  get connectedCount(): number {
    return this.#registry.liveCount;
  }

  /**
   * Events kept in the history (the newest `eventHistory`), oldest first.
   *
   * @param id - only this agent's events.
   * @returns the events.
   */
  receivedEvents(id?: string): ReceivedEvent[] {
    return this.#history.list(id);
  }

  /** Forgets the event history (counters are kept). */
  clearEvents(): void {
    this.#history.clear();
  }

  /**
   * Events received from now on, as an async iterator that ends when the manager closes (or on
   * `break`). Events not read are buffered, up to `bufferSize` (oldest dropped beyond).
   *
   * @param opts - `bufferSize` (default 100000); `replay: true` first yields the kept history.
   * @returns the iterator.
   */
  events(opts: { bufferSize?: number; replay?: boolean } = {}): AsyncIterableIterator<ReceivedEvent> {
    return this.#history.iterate(opts);
  }

  /**
   * Waits until at least `n` agents have a status (by default: `active` and connected).
   *
   * @param n - how many agents.
   * @param opts - status, connected, ids, timeout.
   * @returns the matching records.
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` after the deadline, `ERR_CLOSED` when the manager closes.
   */
  waitForAgents(n: number, opts: WaitForAgentsOptions = {}): Promise<AgentRecord[]> {
    const status = opts.status ?? 'active';
    const connected = opts.connected ?? (status === 'active' || status === 'pending');
    const ids = opts.ids === undefined ? undefined : new Set(opts.ids);
    const registry = this.#registry;
    const match = (s: AgentEntry): boolean => s.status === status && (!connected || s.live) && (ids === undefined || ids.has(s.key.id));
    const quick = (): boolean => {
      const c = status === 'never_connected' ? this.keyStore.size : registry.countOf(status);
      return c >= n && (!connected || registry.liveCount >= n);
    };
    const collect = (): AgentRecord[] | undefined => {
      if (!quick()) return undefined;
      const out: AgentRecord[] = [];
      if (status === 'never_connected') {
        for (const k of this.keyStore.list()) {
          const s = registry.get(k.id);
          if ((s === undefined || s.status === 'never_connected') && !connected && (ids === undefined || ids.has(k.id))) out.push(registry.record(k, s));
        }
      } else {
        for (const s of registry.entries()) if (match(s)) out.push(registry.record(s.key, s));
      }
      return out.length >= n ? out : undefined;
    };
    const what = `${n} agent(s) ${status}${connected ? ' and connected' : ''}`;
    return this.#waiters.until(collect, opts.timeout ?? DEFAULT_WAIT_TIMEOUT, () => {
      let have = 0;
      for (const s of registry.entries()) if (match(s)) have++;
      return `Timed out waiting for ${what} on ${this.name} (have ${have})`;
    });
  }

  /**
   * Waits for events: with a number, until that many events sent by the agents' programs were
   * received: the agents' own notices (location `wazuh-agent`: `Agent started`, buffer levels) and
   * the events the manager generates (`Agent stopped`) do not count, so after ten `sendEvent()`
   * calls `waitForEvents(10)` waits for those ten. With a predicate, until `count` (default 1)
   * kept or new events match it (every event is offered, notices included).
   *
   * @param what - a count, or a predicate.
   * @param opts - `count` for a predicate, `timeout`.
   * @returns the first matching events (exactly the number asked for).
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` after the deadline, `ERR_CLOSED` when the manager closes.
   */
  waitForEvents(what: number | ((e: ReceivedEvent) => boolean), opts: WaitForEventsOptions = {}): Promise<ReceivedEvent[]> {
    const subscribe = (listener: (e: ReceivedEvent) => void): (() => void) => {
      this.on('event', listener);
      return () => this.off('event', listener);
    };
    return this.#waiters.events(this.receivedEvents(), subscribe, what, opts, this.name);
  }

  /**
   * Counters and per-agent figures.
   *
   * @returns a snapshot.
   */
  stats(): MockManagerStats {
    const listener = this.#ctx.listener;
    return {
      node: this.name,
      connections: this.#registry.sessionCount,
      connectedAgents: this.#registry.liveCount,
      agents: this.#registry.agentStats(),
      ...this.#ctx.counters,
      bytesIn: listener?.bytesIn ?? 0,
      maxConnectionBuffered: listener?.maxBufferedIn ?? 0,
      decodeErrorsByCode: { ...this.#ctx.errorsByCode },
      pendingRequests: this.#requests.size,
    };
  }
}
