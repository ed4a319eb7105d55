/**
 * A mock Wazuh manager cluster: N {@link MockManager} nodes sharing one {@link KeyStore} (and one
 * optional authd), with node kill/restart, nodes joining and leaving, the agent distribution, and
 * the HAProxy helper's rebalance rule.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { MemoryCounterStore } from '../agent/counter-store.js';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { AbortError, ConfigError, StateError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { AsyncQueue } from './async-queue.js';
import { MockAuthd } from './authd.js';
import type { AgentStatusInfo, MockAuthdOptions } from './authd.js';
import { KeyStore } from './keystore.js';
import { RunStateHolder } from './run-state.js';
import { DEFAULT_WAIT_TIMEOUT, Waiters } from './waiters.js';
import { compareIds } from './lb/membership.js';
import { DEFAULT_AGENT_TOLERANCE, checkBalance } from './lb/rebalance.js';
import { MockManager } from './manager/mock-manager.js';
import type { AgentRecord, ManagerProtocol, ReceivedEvent, WaitForAgentsOptions, WaitForEventsOptions } from './manager/types.js';
import type {
  ClusterServer,
  MockClusterEvents,
  MockClusterOptions,
  MockClusterStats,
  NodeRemoval,
  RebalanceOptions,
  RebalanceResult,
  RemoveNodeOptions,
} from './cluster-types.js';


interface NodeSlot {
  name: string;
  manager: MockManager;
  /** The node's sender counter (remoted's `queue/rids/sender_counter`), kept across restarts. */
  counterStore: MemoryCounterStore;
  port: number;
  alive: boolean;
  /** Counters of earlier incarnations (before restarts). */
  events: number;
}

const RESTART_DEADLINE_MS = 5000;
const CHECK_DEBOUNCE_MS = 10;

/**
 * N mock managers on 127.0.0.1 that share a {@link KeyStore}, as the nodes of a Wazuh cluster share
 * agent keys: an agent can connect to any node, and when it moves to another node, the node it left
 * shows it `disconnected` (a real cluster has one status per agent).
 *
 * @example
 * ```ts
 * const keys = new KeyStore();
 * const agents = keys.generate(300);
 * await using cluster = new MockCluster({ nodes: 3, keys });
 * await cluster.start();
 * // ... start 300 AgentClients with servers: cluster.servers() ...
 * await cluster.kill('node1');           // its agents fail over
 * await cluster.restart('node1');        // same port
 * await cluster.rebalance({ chunkDelay: 100 });
 * ```
 */
export class MockCluster extends EventEmitter<MockClusterEvents> {
  /** The key store every node (and authd) reads. */
  readonly keyStore: KeyStore;
  readonly #slots: NodeSlot[];
  readonly #host: string;
  readonly #protocols: readonly ManagerProtocol[];
  readonly #managerOptions: MockClusterOptions['managerOptions'];
  readonly #authdOption: true | Partial<MockAuthdOptions> | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  #authd: MockAuthd | undefined;
  readonly #run: RunStateHolder;
  readonly #queues = new Set<AsyncQueue<ReceivedEvent>>();
  readonly #waiters: Waiters;
  #checkTimer: TimerHandle | undefined;
  /** Names of nodes being added (not yet in the slots). */
  readonly #joining = new Set<string>();
  /** Events received by nodes that left the cluster. */
  #departedEvents = 0;

  /**
   * @param options - nodes, keys, protocols, authd and per-node options.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for no nodes, duplicate names or a bad option.
   */
  constructor(options: MockClusterOptions) {
    super();
    const names =
      typeof options.nodes === 'number'
        ? Array.from({ length: options.nodes }, (_, i) => `node${i + 1}`)
        : [...options.nodes];
    if (typeof options.nodes === 'number' && (!Number.isInteger(options.nodes) || options.nodes < 1)) {
      throw new ConfigError(`MockCluster nodes must be a positive integer or a list of names, got ${String(options.nodes)}`, {
        element: 'nodes',
        value: options.nodes,
      });
    }
    if (names.length === 0 || new Set(names).size !== names.length || names.some((n) => typeof n !== 'string' || n.length === 0)) {
      throw new ConfigError('MockCluster nodes must be at least one unique, non-empty name', { element: 'nodes', value: options.nodes });
    }
    const keys = options.keys;
    this.keyStore = keys instanceof KeyStore ? keys : new KeyStore(keys);
    this.#host = options.host ?? '127.0.0.1';
    this.#protocols = options.protocols ?? ['tcp'];
    this.#managerOptions = options.managerOptions;
    this.#authdOption = options.authd === false || options.authd === undefined ? undefined : options.authd;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'mock-cluster' });
    this.#run = new RunStateHolder('MockCluster', this.#log);
    this.#waiters = new Waiters(this.#clock, () => new StateError('MockCluster closed', 'ERR_CLOSED'));
    this.#slots = names.map((name) => {
      const counterStore = new MemoryCounterStore();
      return { name, manager: this.#newManager(name, 0, counterStore), counterStore, port: 0, alive: false, events: 0 };
    });
  }

  /**
   * Starts every node (and authd).
   *
   * @returns the port of each node, and the authd port.
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when called twice, `ERR_CLOSED` after close.
   */
  async start(): Promise<{ nodes: { name: string; port: number }[]; authd?: number }> {
    this.#run.beginStart();
    try {
      for (const slot of this.#slots) {
        await slot.manager.start();
        slot.port = slot.manager.port;
        slot.alive = true;
      }
      if (this.#authdOption !== undefined) {
        const opts = this.#authdOption === true ? {} : this.#authdOption;
        const authd = new MockAuthd({ host: this.#host, statusOf: (id) => this.statusInfo(id), ...opts, keyStore: this.keyStore });
        authd.on('enrolled', (key, info) => {
          if (info.groups.length > 0) this.keyStore.setGroups(key.id, info.groups);
        });
        this.#authd = authd;
        await authd.start();
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#run.transition('running');
    for (const s of this.#slots) this.emit('nodeUp', s.name, s.port);
    const out: { nodes: { name: string; port: number }[]; authd?: number } = { nodes: this.#slots.map((s) => ({ name: s.name, port: s.port })) };
    if (this.#authd !== undefined) out.authd = this.#authd.port;
    return out;
  }

  /** The node managers, in node order (a restarted node is a new MockManager). */
  get nodes(): MockManager[] {
    return this.#slots.map((s) => s.manager);
  }

  /** Node names, in order. */
  get nodeNames(): string[] {
    return this.#slots.map((s) => s.name);
  }

  /** The authd mock, when one runs. */
  get authd(): MockAuthd | undefined {
    return this.#authd;
  }

  /**
   * @param name - node name.
   * @returns the node's manager.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an unknown node name.
   */
  node(name: string): MockManager {
    return this.#slot(name).manager;
  }

  /**
   * @param name - node name.
   * @returns whether the node is up (started and not killed).
   */
  isAlive(name: string): boolean {
    return this.#slot(name).alive;
  }

  /** @returns every node's address in node order, for an AgentClient's `servers` list. */
  servers(): ClusterServer[] {
    return this.#slots.map((s) => ({ name: s.name, address: this.#host, port: s.port, protocol: this.#protocols[0] ?? 'tcp' }));
  }

  /**
   * Kills a node: the port is closed, then every connection reset (RST), so agents see their
   * connection fail and new connects get `ECONNREFUSED`, even one made right after the reset. Its
   * agents are marked `disconnected`.
   *
   * @param name - node name.
   */
  async kill(name: string): Promise<void> {
    const slot = this.#slot(name);
    if (!slot.alive) return;
    slot.alive = false;
    const m = slot.manager;
    for (const id of m.connectedAgentIds()) m.markDisconnected(id);
    // The port closes first, as when the process dies: an agent that reconnects at once after the
    // reset is refused, instead of reaching the dying node's listener in between.
    await m.setFaults({ refuseConnections: true });
    m.resetConnections();
    slot.events += m.stats().eventsReceived;
    await m.close();
    this.#log.info({ node: name }, 'node killed');
    this.emit('nodeDown', name);
    this.#scheduleCheck();
  }

  /**
   * Restarts a node on the same port (killing it first if it is up), retrying briefly while the
   * port is still held. The new node starts with no agent records, as a restarted remoted does, and
   * continues the node's sender counter, as remoted does from `queue/rids/sender_counter` (agents
   * that check the manager's counters would otherwise refuse its messages as duplicates).
   *
   * @param name - node name.
   * @returns the port.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` when the port cannot be bound again within 5 s.
   */
  async restart(name: string): Promise<number> {
    if (this.#run.state !== 'running') throw new StateError(`MockCluster is not running; cannot restart ${name}`, 'ERR_INVALID_STATE');
    const slot = this.#slot(name);
    if (slot.alive) await this.kill(name);
    const deadline = this.#clock.monotonic() + RESTART_DEADLINE_MS;
    for (;;) {
      const m = this.#newManager(name, slot.port, slot.counterStore);
      try {
        await m.start();
        slot.manager = m;
        slot.alive = true;
        break;
      } catch (err) {
        await m.close();
        const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException)).code;
        if (code !== 'EADDRINUSE' || this.#clock.monotonic() > deadline || this.#run.state !== 'running') throw err;
        await this.#waiters.sleep(50);
      }
    }
    this.#log.info({ node: name, port: slot.port }, 'node restarted');
    this.emit('nodeUp', name, slot.port);
    return slot.port;
  }

  /**
   * A node joins the running cluster: a new {@link MockManager} on the shared key store, listening on
   * a free port (or `port`), with its own sender counter. Agents reach it only through something that
   * knows it: a balancer (`HaproxyRebalancer.addNode`, or its membership step reading
   * {@link MockCluster.servers}) or their own server lists.
   *
   * @param name - the node's name; by default `node<N>` with the first N after the existing nodes.
   * @param options - `port` (default 0: a free port).
   * @returns the new node's entry of {@link MockCluster.servers}.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for a name already in use or empty; {@link agentlink!StateError}
   *   `ERR_INVALID_STATE` when the cluster is not running; the node's start error (a taken port).
   */
  async addNode(name?: string, options: { port?: number } = {}): Promise<ClusterServer> {
    if (this.#run.state !== 'running') throw new StateError('MockCluster is not running; cannot add a node', 'ERR_INVALID_STATE');
    const taken = (n: string): boolean => this.#joining.has(n) || this.#slots.some((s) => s.name === n);
    let nodeName = name;
    if (nodeName === undefined) {
      let i = this.#slots.length + 1;
      while (taken(`node${i}`)) i++;
      nodeName = `node${i}`;
    }
    if (typeof nodeName !== 'string' || nodeName.length === 0 || taken(nodeName)) {
      throw new ConfigError(`MockCluster cannot add node ${JSON.stringify(nodeName)}: the name is empty or already in use (nodes: ${this.nodeNames.join(', ')})`, {
        element: 'node',
        value: nodeName,
      });
    }
    this.#joining.add(nodeName);
    try {
      const counterStore = new MemoryCounterStore();
      const manager = this.#newManager(nodeName, options.port ?? 0, counterStore);
      try {
        await manager.start();
      } catch (err) {
        await manager.close();
        throw err;
      }
      if (this.#run.state !== 'running') {
        await manager.close();
        throw new StateError(`MockCluster closed while node ${nodeName} was starting`, 'ERR_CLOSED');
      }
      const slot: NodeSlot = { name: nodeName, manager, counterStore, port: manager.port, alive: true, events: 0 };
      this.#slots.push(slot);
      this.#log.info({ node: nodeName, port: slot.port }, 'node added');
      this.emit('nodeAdded', nodeName, slot.port);
      this.emit('nodeUp', nodeName, slot.port);
      return this.servers().find((s) => s.name === nodeName)!;
    } finally {
      this.#joining.delete(nodeName);
    }
  }

  /**
   * A node leaves the running cluster. By default it drains first: it stops accepting connections
   * (its port closes), its agents are sent `#!-force_reconnect` `chunkSize` at a time, and it waits
   * until none is connected to it (they reconnect through the balancer, or to the next server of
   * their list) or `timeout` after the last chunk. Then it stops; agents still connected are reset
   * and counted as `leftBehind`. Its received events stay counted in {@link MockCluster.stats}.
   * Behind HAProxy, take its server out first (`HaproxyRebalancer.removeNode`), so the balancer
   * sends nobody there while it drains; the drain then finds nobody left.
   *
   * @param name - the node.
   * @param options - drain, chunking and deadline.
   * @returns how many agents it had, how many were asked to leave and how many were left behind.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an unknown node, the last node, or bad options;
   *   {@link agentlink!StateError} `ERR_INVALID_STATE` when the cluster is not running.
   */
  async removeNode(name: string, options: RemoveNodeOptions = {}): Promise<NodeRemoval> {
    if (this.#run.state !== 'running') throw new StateError(`MockCluster is not running; cannot remove ${name}`, 'ERR_INVALID_STATE');
    const slot = this.#slot(name);
    if (this.#slots.length === 1) throw new ConfigError(`MockCluster cannot remove ${name}: it is the last node`, { element: 'node', value: name });
    const chunkSize = options.chunkSize ?? 100;
    const chunkDelay = options.chunkDelay ?? 1000;
    const timeout = options.timeout ?? 10_000;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || !(chunkDelay >= 0) || !(timeout >= 0)) {
      throw new ConfigError('removeNode: chunkSize must be a positive integer, chunkDelay and timeout >= 0', {
        element: 'removeNode',
        value: { chunkSize, chunkDelay, timeout },
      });
    }
    const m = slot.manager;
    const agentsBefore = slot.alive ? m.connectedCount : 0;
    const started = this.#clock.monotonic();
    let asked = 0;
    if (slot.alive && options.drain !== false && agentsBefore > 0) {
      await m.setFaults({ refuseConnections: true });
      const ids = m.connectedAgentIds().sort(compareIds);
      for (let i = 0; i < ids.length && this.#run.state === 'running'; i += chunkSize) {
        if (i > 0) await this.#waiters.sleep(chunkDelay);
        asked += m.forceReconnect(ids.slice(i, i + chunkSize));
      }
      await this.#waiters
        .until(() => (m.connectedCount === 0 ? true : undefined), timeout, () => `${name} still has ${m.connectedCount} agent(s)`)
        .catch(() => undefined); // at the deadline (or on close) the rest are left behind
    }
    const leftBehind = slot.alive ? m.connectedCount : 0;
    const drainedMs = Math.round(this.#clock.monotonic() - started);
    if (slot.alive) await this.kill(name);
    const at = this.#slots.indexOf(slot);
    if (at >= 0) this.#slots.splice(at, 1);
    this.#departedEvents += slot.events;
    const result: NodeRemoval = { node: name, agentsBefore, asked, leftBehind, drainedMs };
    this.#log.info(result, 'node removed');
    this.emit('nodeRemoved', name, result);
    this.#scheduleCheck();
    return result;
  }

  /**
   * Connected agents per node (killed nodes count 0).
   *
   * @returns node name → agents with a live connection.
   */
  distribution(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.#slots) out[s.name] = s.alive ? s.manager.connectedCount : 0;
    return out;
  }

  /**
   * The node an agent is connected to now.
   *
   * @param id - agent id.
   * @returns the node name, or undefined.
   */
  agentNode(id: string): string | undefined {
    for (const s of this.#slots) if (s.alive && s.manager.agent(id)?.connected) return s.name;
    return undefined;
  }

  /**
   * One record per key: from the node the agent is connected to, else from the node that heard from
   * it last (never-connected agents from the first node).
   *
   * @returns the merged records.
   */
  agents(): AgentRecord[] {
    const per = this.#slots.map((s) => new Map(s.manager.agents().map((r) => [r.id, r])));
    return this.keyStore.list().map((k) => {
      let best: AgentRecord | undefined;
      for (const map of per) {
        const r = map.get(k.id);
        if (r === undefined) continue;
        if (best === undefined || (r.connected && !best.connected) || (r.connected === best.connected && (r.lastSeen ?? 0) > (best.lastSeen ?? 0))) best = r;
      }
      return best!;
    });
  }

  /**
   * An agent's status cluster-wide, for authd's replacement rules: the node where it is connected,
   * else the most recent change on any node.
   *
   * @param id - agent id.
   * @returns the status info, or undefined for an unknown id.
   */
  statusInfo(id: string): AgentStatusInfo | undefined {
    if (this.keyStore.get(id) === undefined) return undefined;
    let best: AgentStatusInfo = { status: 'never_connected', since: 0 };
    for (const s of this.#slots) {
      const info = s.manager.statusInfo(id);
      if (info === undefined) continue;
      if (s.alive && s.manager.agent(id)?.connected) return info;
      if (info.status !== 'never_connected' && info.since >= best.since) best = info;
    }
    return best;
  }

  /**
   * Does what the Wazuh HAProxy helper does when it finds the cluster unbalanced
   * (load-balancing-notes.md): `mean = floor(total / nodes)`; balanced when
   * `max <= mean × (1 + tolerance)` and `min >= mean × (1 − tolerance)`, or `max − min <= 1` and
   * `total % nodes != 0`; otherwise every node above the mean has `count − mean` agents (picked from
   * that node in id order) asked to reconnect with `#!-force_reconnect`, in chunks of `chunkSize`
   * with `chunkDelay` between chunks. Only live nodes count. Resolves once the last chunk is sent; the
   * agents then reconnect on their own (through a balancer, or along their server lists).
   *
   * @param opts - tolerance, chunking, and optional external counts.
   * @returns the counts used, how many agents were told to reconnect, and the verdict.
   * @throws {@link agentlink!AbortError} when `signal` aborts between chunks; {@link agentlink!StateError} `ERR_CLOSED`
   *   when the cluster closes between chunks.
   */
  async rebalance(opts: RebalanceOptions = {}): Promise<RebalanceResult> {
    const tolerance = opts.tolerance ?? DEFAULT_AGENT_TOLERANCE;
    const chunkSize = opts.chunkSize ?? 100;
    const chunkDelay = opts.chunkDelay ?? 5000;
    if (!(tolerance >= 0) || !Number.isInteger(chunkSize) || chunkSize < 1 || !Number.isFinite(chunkDelay) || chunkDelay < 0) {
      throw new ConfigError('rebalance: tolerance must be >= 0, chunkSize a positive integer and chunkDelay >= 0', {
        element: 'rebalance',
        value: { tolerance, chunkSize, chunkDelay },
      });
    }
    const live = this.#slots.filter((s) => s.alive);
    const before: Record<string, number> = {};
    if (opts.counts !== undefined) Object.assign(before, opts.counts);
    else for (const s of live) before[s.name] = s.manager.connectedCount;
    const verdict = checkBalance(before, tolerance);
    if (verdict.balanced) return { before, moved: 0, balanced: true, mean: verdict.mean, excess: {} };

    const picks: { manager: MockManager; id: string }[] = [];
    for (const s of live) {
      const n = verdict.excess[s.name] ?? 0;
      if (n <= 0) continue;
      const ids = s.manager.connectedAgentIds().sort(compareIds).slice(0, n);
      for (const id of ids) picks.push({ manager: s.manager, id });
    }
    let moved = 0;
    for (let i = 0; i < picks.length; i += chunkSize) {
      if (i > 0) {
        await this.#waiters.sleep(chunkDelay, opts.signal);
        if (this.#run.closed) throw new StateError(`MockCluster closed during rebalance (${moved} agents asked to reconnect)`, 'ERR_CLOSED');
        if (opts.signal?.aborted) throw new AbortError(`rebalance aborted (${moved} agents asked to reconnect)`, { cause: opts.signal.reason });
      }
      for (const p of picks.slice(i, i + chunkSize)) moved += p.manager.forceReconnect([p.id]);
    }
    this.#log.info({ before, moved }, 'rebalance: agents asked to reconnect');
    return { before, moved, balanced: false, mean: verdict.mean, excess: verdict.excess };
  }

  /**
   * Waits until at least `n` distinct agents match on the live nodes (by default: `active` and
   * connected).
   *
   * @param n - how many agents.
   * @param opts - as {@link MockManager.waitForAgents}.
   * @returns one record per matching agent.
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` after the deadline (default 10 s), `ERR_CLOSED` on close.
   */
  waitForAgents(n: number, opts: WaitForAgentsOptions = {}): Promise<AgentRecord[]> {
    const status = opts.status ?? 'active';
    const connected = opts.connected ?? (status === 'active' || status === 'pending');
    const ids = opts.ids === undefined ? undefined : new Set(opts.ids);
    const collect = (): AgentRecord[] | undefined => {
      const seen = new Map<string, AgentRecord>();
      let possible = 0;
      for (const s of this.#slots) if (s.alive) possible += connected ? s.manager.connectedCount : this.keyStore.size;
      if (possible < n) return undefined;
      for (const s of this.#slots) {
        if (!s.alive) continue;
        for (const r of s.manager.agents()) {
          if (r.status === status && (!connected || r.connected) && (ids === undefined || ids.has(r.id)) && !seen.has(r.id)) seen.set(r.id, r);
        }
      }
      return seen.size >= n ? [...seen.values()] : undefined;
    };
    const what = `${n} agent(s) ${status}${connected ? ' and connected' : ''}`;
    return this.#waiters.until(collect, opts.timeout ?? DEFAULT_WAIT_TIMEOUT, () => `Timed out waiting for ${what} on the cluster`);
  }

  /**
   * Waits for events received by any node (see {@link MockManager.waitForEvents}).
   *
   * @param what - a count, or a predicate.
   * @param opts - `count` for a predicate, `timeout`.
   * @returns the first matching events.
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` or `ERR_CLOSED`.
   */
  waitForEvents(what: number | ((e: ReceivedEvent) => boolean), opts: WaitForEventsOptions = {}): Promise<ReceivedEvent[]> {
    const subscribe = (listener: (e: ReceivedEvent) => void): (() => void) => {
      this.on('event', listener);
      return () => this.off('event', listener);
    };
    return this.#waiters.events(this.receivedEvents(), subscribe, what, opts, 'the cluster');
  }

  /**
   * Events kept by the nodes (current incarnations), ordered by reception time.
   *
   * @param id - only this agent's events.
   * @returns the events.
   */
  receivedEvents(id?: string): ReceivedEvent[] {
    return this.#slots.flatMap((s) => s.manager.receivedEvents(id)).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /**
   * Events received by any node from now on; ends when the cluster closes.
   *
   * @param opts - `bufferSize` (default 100000).
   * @returns the iterator.
   */
  events(opts: { bufferSize?: number } = {}): AsyncIterableIterator<ReceivedEvent> {
    const q: AsyncQueue<ReceivedEvent> = new AsyncQueue<ReceivedEvent>(opts.bufferSize ?? 100_000, () => this.#queues.delete(q));
    if (this.#run.closed) q.end();
    else this.#queues.add(q);
    return q;
  }

  /** @returns per-node counters and cluster totals. */
  stats(): MockClusterStats {
    const nodes: MockClusterStats['nodes'] = {};
    let connectedAgents = 0;
    let eventsReceived = this.#departedEvents;
    let decodeErrors = 0;
    for (const s of this.#slots) {
      const st = s.manager.stats();
      nodes[s.name] = { ...st, alive: s.alive };
      if (s.alive) connectedAgents += st.connectedAgents;
      eventsReceived += s.events + (s.alive ? st.eventsReceived : 0);
      decodeErrors += st.decodeErrors;
    }
    return { nodes, connectedAgents, eventsReceived, decodeErrors };
  }

  /** Closes every node and authd, ends iterators and rejects waits. Idempotent. */
  async close(): Promise<void> {
    if (this.#run.closed) return;
    this.#run.transition('closing');
    this.#clock.clearTimeout(this.#checkTimer);
    this.#checkTimer = undefined;
    this.#waiters.close();
    await Promise.all([...this.#slots.map((s) => s.manager.close()), this.#authd?.close()]);
    for (const s of this.#slots) s.alive = false;
    for (const q of this.#queues) q.end();
    this.#queues.clear();
    this.#run.transition('closed');
  }

  /** Same as {@link MockCluster.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #slot(name: string): NodeSlot {
    const s = this.#slots.find((x) => x.name === name);
    if (s === undefined) throw new ConfigError(`MockCluster has no node '${name}' (nodes: ${this.nodeNames.join(', ')})`, { element: 'node', value: name });
    return s;
  }

  #newManager(name: string, port: number, counterStore: MemoryCounterStore): MockManager {
    const m = new MockManager({
      clock: this.#clock,
      logger: this.#log,
      ...this.#managerOptions,
      counterStore,
      keys: this.keyStore,
      name,
      host: this.#host,
      port,
      protocols: this.#protocols,
    });
    m.on('agentStatus', (id, status, previous) => {
      if (status === 'pending' || status === 'active') {
        // The agent is on this node now: a cluster has one status per agent, so the others drop it.
        for (const s of this.#slots) if (s.manager !== m) s.manager.markDisconnected(id);
      }
      this.emit('agentStatus', name, id, status, previous);
      this.#scheduleCheck();
    });
    m.on('agentConnection', () => this.#scheduleCheck());
    m.on('event', (e) => {
      for (const q of this.#queues) q.push(e);
      this.emit('event', e);
    });
    return m;
  }

  #scheduleCheck(): void {
    if (this.#waiters.size === 0 || this.#checkTimer !== undefined) return;
    this.#checkTimer = unrefTimeout(
      this.#clock,
      () => {
        this.#checkTimer = undefined;
        this.#waiters.check();
      },
      CHECK_DEBOUNCE_MS,
    );
  }
}

