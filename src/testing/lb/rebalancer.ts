/**
 * The Wazuh HAProxy helper's balancing loop (`framework/wazuh/core/cluster/hap_helper/`), driven
 * through HAProxy's own runtime API (the admin stats socket) instead of the Dataplane API the
 * helper uses: DRAIN servers set back to READY, the balance judged on the current sessions (`scur`)
 * of the UP servers, the excess agents of overloaded nodes asked to reconnect in chunks, the
 * backend's servers kept in step with the cluster's nodes (`add server` / `del server`), the
 * migration that follows a node's arrival or return, and a node's removal with its agents moved off
 * first. Settings and results are in `rebalancer-types.ts`.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { AbortError, AgentlinkError, ConfigError, ToolError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { backendServersOf, DEFAULT_REMOVE_DISCONNECTED_NODE_AFTER, planMembership, rebalanceClusterOf } from './membership.js';
import type { ClusterMember, RebalanceCluster } from './membership.js';
import { checkBalance, DEFAULT_AGENT_TOLERANCE } from './rebalance.js';
import { toServerState } from './runtime-api.js';
import type { ServerCheckOptions, ServerState, StatRow } from './runtime-api.js';
import {
  DEFAULT_ADMIN_STATE_DELAY,
  DEFAULT_NODE_DRAIN_TIMEOUT,
  DEFAULT_NODE_UP_TIMEOUT,
  DEFAULT_REBALANCE_CHUNK_DELAY,
  DEFAULT_REBALANCE_CHUNK_SIZE,
  DEFAULT_REBALANCE_SLEEP_TIME,
  DEFAULT_RECONNECTION_STABILITY_TIME,
  DEFAULT_STATUS_SYNC_TIME,
} from './rebalancer-types.js';
import type {
  HaproxyRebalancerEvents,
  HaproxyRebalancerOptions,
  MembershipResult,
  MigrationResult,
  NodeRemovalResult,
  RebalancerRuntime,
  RebalanceRunResult,
} from './rebalancer-types.js';

const SERVER_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function checkMember(member: ClusterMember): void {
  const ok =
    typeof member === 'object' &&
    member !== null &&
    typeof member.name === 'string' &&
    SERVER_NAME_RE.test(member.name) &&
    typeof member.address === 'string' &&
    member.address !== '' &&
    Number.isInteger(member.port) &&
    member.port >= 1 &&
    member.port <= 65535;
  if (!ok) {
    throw new ToolError(
      `Cluster node ${JSON.stringify(member)} cannot be a HAProxy server: it needs a name (letters, digits, '_', '.', '-'), an address and a port 1-65535`,
      'ERR_USAGE',
    );
  }
}

/** Current sessions of every server of the rows, whatever its state. */
function sessionsOf(rows: readonly StatRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows) out[row.svname] = row.scur;
  return out;
}

function checkNonNegative(value: unknown, element: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(`HaproxyRebalancer ${element} must be a number of milliseconds >= 0`, { element, value });
  }
  return value;
}

/**
 * The Wazuh HAProxy helper's loop over HAProxy's runtime API. Each run (every `sleepTime`):
 * 1. any server of the backend found in DRAIN is set back to READY;
 * 2. when the cluster lists its nodes ({@link RebalanceCluster.nodes}, a MockCluster does): nodes
 *    the backend lacks are added as servers (`add server`), a server whose node moved is replaced,
 *    a server whose node left is deleted once down for `removeDisconnectedAfter`; after additions the
 *    run migrates agents to the new servers (as {@link HaproxyRebalancer.onNodeBack}) and ends;
 * 3. otherwise the current sessions (`scur`) of the UP servers are judged with {@link checkBalance};
 * 4. if unbalanced, after `statusSyncTime`, each server above the mean has `scur − mean` of its
 *    agents asked to reconnect, `chunkSize` at a time with `chunkDelay` after each chunk. With
 *    `leastconn` a reconnecting agent lands on the least loaded server.
 *
 * After a node comes back (restarted, or added), {@link HaproxyRebalancer.onNodeBack} waits until
 * HAProxy reports it UP and migrates: for each old node with excess agents, every other old server
 * is drained, that node's excess agents are asked to reconnect (so they can only land on the
 * returning nodes), and the drained servers are set ready again. {@link HaproxyRebalancer.addNode}
 * adds a server and does the same; {@link HaproxyRebalancer.removeNode} drains a node's server,
 * moves every agent off it and deletes it, so the node can leave with no agent left behind.
 *
 * Runs, migrations and removals never overlap (they queue). {@link HaproxyRebalancer.stop} ends the loop and
 * aborts whatever is in progress; drained servers are always set ready again.
 *
 * @example
 * ```ts
 * const rebalancer = new HaproxyRebalancer({ runtime: lb.runtime, cluster, chunkDelay: 500, statusSyncTime: 0 });
 * await cluster.restart('node1');
 * const m = await rebalancer.onNodeBack('node1'); // { moved: 333, ... }
 * const node4 = await cluster.addNode();          // a node joins
 * await rebalancer.addNode(node4);                // server added, its share of agents moved to it
 * await rebalancer.removeNode('node2');           // drained, agents moved, server deleted
 * await cluster.removeNode('node2');              // { leftBehind: 0, ... }
 * rebalancer.start();                             // the periodic loop
 * await rebalancer.stop();
 * ```
 */
export class HaproxyRebalancer extends EventEmitter<HaproxyRebalancerEvents> {
  /** The backend balanced. */
  readonly backend: string;
  readonly #runtime: RebalancerRuntime;
  readonly #cluster: RebalanceCluster;
  readonly #tolerance: number;
  readonly #chunkSize: number;
  readonly #chunkDelay: number;
  readonly #sleepTime: number;
  readonly #statusSyncTime: number;
  readonly #adminStateDelay: number;
  readonly #nodeUpTimeout: number;
  readonly #stabilityTime: number;
  readonly #pollInterval: number;
  readonly #removeAfter: number;
  readonly #drainTimeout: number;
  readonly #serverCheck: ServerCheckOptions;
  /** Nodes {@link HaproxyRebalancer.removeNode} took out: step 2 does not add them back while the cluster still lists them. */
  readonly #leaving = new Set<string>();
  readonly #clock: Clock;
  readonly #log: Logger;
  #controller = new AbortController();
  #queue: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  /**
   * @param options - runtime API, cluster, and the helper's settings.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for a bad tolerance, chunk size or delay.
   */
  constructor(options: HaproxyRebalancerOptions) {
    super();
    if (options.runtime === undefined || typeof options.runtime.serverRows !== 'function') {
      throw new ConfigError('HaproxyRebalancer needs `runtime` (a HaproxyRuntimeApi, e.g. balancer.runtime)', { element: 'runtime' });
    }
    if (options.cluster === undefined || options.cluster === null) {
      throw new ConfigError('HaproxyRebalancer needs `cluster` (a MockCluster or a RebalanceCluster)', { element: 'cluster' });
    }
    const backend = options.backend ?? 'wazuh_cluster';
    if (!SERVER_NAME_RE.test(backend)) throw new ConfigError(`HaproxyRebalancer backend ${JSON.stringify(backend)} is not a valid name`, { element: 'backend', value: backend });
    const tolerance = options.tolerance ?? DEFAULT_AGENT_TOLERANCE;
    if (typeof tolerance !== 'number' || !(tolerance >= 0) || !Number.isFinite(tolerance)) {
      throw new ConfigError('HaproxyRebalancer tolerance must be a fraction >= 0 (0.1 is 10 %)', { element: 'tolerance', value: tolerance });
    }
    const chunkSize = options.chunkSize ?? DEFAULT_REBALANCE_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) {
      throw new ConfigError('HaproxyRebalancer chunkSize must be a positive integer', { element: 'chunkSize', value: chunkSize });
    }
    this.backend = backend;
    this.#runtime = options.runtime;
    this.#cluster = rebalanceClusterOf(options.cluster);
    this.#tolerance = tolerance;
    this.#chunkSize = chunkSize;
    this.#chunkDelay = checkNonNegative(options.chunkDelay ?? DEFAULT_REBALANCE_CHUNK_DELAY, 'chunkDelay');
    this.#sleepTime = checkNonNegative(options.sleepTime ?? DEFAULT_REBALANCE_SLEEP_TIME, 'sleepTime');
    this.#statusSyncTime = checkNonNegative(options.statusSyncTime ?? DEFAULT_STATUS_SYNC_TIME, 'statusSyncTime');
    this.#adminStateDelay = checkNonNegative(options.adminStateDelay ?? DEFAULT_ADMIN_STATE_DELAY, 'adminStateDelay');
    this.#nodeUpTimeout = checkNonNegative(options.nodeUpTimeout ?? DEFAULT_NODE_UP_TIMEOUT, 'nodeUpTimeout');
    this.#stabilityTime = checkNonNegative(options.stabilityTime ?? DEFAULT_RECONNECTION_STABILITY_TIME, 'stabilityTime');
    this.#pollInterval = Math.max(1, checkNonNegative(options.pollInterval ?? 1000, 'pollInterval'));
    this.#removeAfter = checkNonNegative(options.removeDisconnectedAfter ?? DEFAULT_REMOVE_DISCONNECTED_NODE_AFTER, 'removeDisconnectedAfter');
    this.#drainTimeout = checkNonNegative(options.drainTimeout ?? DEFAULT_NODE_DRAIN_TIMEOUT, 'drainTimeout');
    this.#serverCheck = { ...options.serverCheck };
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'haproxy-rebalancer', backend });
  }

  /** Whether the periodic loop runs. */
  get running(): boolean {
    return this.#loop !== undefined;
  }

  /**
   * One run of the helper's loop: steps 1 (DRAIN → READY) and 4–5 (balance check, excess agents
   * asked to reconnect in chunks). Waits for a run or migration in progress first.
   *
   * @returns what was found and done.
   * @throws {@link agentlink!ToolError} when the runtime API fails; {@link agentlink!AbortError} when {@link HaproxyRebalancer.stop}
   *   interrupts it; whatever the cluster's functions throw.
   */
  runOnce(): Promise<RebalanceRunResult> {
    return this.#exclusive(() => this.#runOnce());
  }

  /**
   * Migration after nodes come back (the helper's step 3): waits until HAProxy reports every one of
   * them UP (`nodeUpTimeout`), judges the balance on the UP servers' sessions, then for each old
   * node with excess agents: drains every other old server, waits `adminStateDelay`, asks that
   * node's excess agents to reconnect in chunks (they can only land on the returning nodes), sets
   * the drained servers ready again and waits `adminStateDelay`. Ends with `stabilityTime`.
   *
   * @param nodes - the node (HAProxy server) name, or several.
   * @returns what was done.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when a node is not UP within `nodeUpTimeout` or
   *   the runtime API fails; `ERR_USAGE` for a server the backend does not have; {@link agentlink!AbortError}
   *   on {@link HaproxyRebalancer.stop}.
   */
  onNodeBack(nodes: string | readonly string[]): Promise<MigrationResult> {
    const names = typeof nodes === 'string' ? [nodes] : [...nodes];
    return this.#exclusive(() => this.#migrate(names));
  }

  /**
   * Step 2 of the helper now: adds a server for every node of the cluster the backend lacks
   * (`add server`, health check enabled, set ready), replaces a server whose node's address changed,
   * deletes the server of a node that left the cluster once it has been down for
   * `removeDisconnectedAfter` (an UP one is kept), then migrates agents to the added servers
   * (as {@link HaproxyRebalancer.onNodeBack}). Waits for a run or migration in progress first.
   *
   * @returns what changed, and the migration.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the cluster does not list its nodes ({@link RebalanceCluster.nodes})
   *   or lists one with a bad name; `ERR_EXTERNAL_PROGRAM` when HAProxy refuses a change or an added
   *   server is not UP within `nodeUpTimeout`; {@link agentlink!AbortError} on {@link HaproxyRebalancer.stop}.
   */
  syncMembership(): Promise<MembershipResult> {
    return this.#exclusive(async () => {
      this.#throwIfAborted(this.#controller.signal);
      if (this.#cluster.nodes === undefined) {
        throw new ToolError('syncMembership needs a cluster that lists its nodes (a MockCluster, or a RebalanceCluster with nodes())', 'ERR_USAGE');
      }
      return this.#membership(await this.#runtime.serverRows(this.backend));
    });
  }

  /**
   * A node joined: adds it as a server of the backend (replacing a server of that name with another
   * address), then migrates as {@link HaproxyRebalancer.onNodeBack}: waits until HAProxy reports it
   * UP, and moves each old node's excess agents to it with the other old servers drained.
   *
   * @param node - the node's name (the server name) and events address.
   * @returns the migration.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` for a bad name, address or port; `ERR_EXTERNAL_PROGRAM` when HAProxy
   *   refuses or the node is not UP within `nodeUpTimeout`; {@link agentlink!AbortError} on {@link HaproxyRebalancer.stop}.
   */
  addNode(node: ClusterMember): Promise<MigrationResult> {
    return this.#exclusive(async () => {
      this.#throwIfAborted(this.#controller.signal);
      checkMember(node);
      this.#leaving.delete(node.name);
      const plan = planMembership([node], backendServersOf(await this.#runtime.serverRows(this.backend)), { removeAfterMs: Infinity });
      for (const member of plan.replace) await this.#runtime.deleteServer(this.backend, member.name);
      for (const member of [...plan.replace, ...plan.add]) await this.#addServer(member);
      return this.#migrate([node.name]);
    });
  }

  /**
   * A node leaves: its server is set to DRAIN (no new agents), `adminStateDelay` later its agents are
   * asked to reconnect in chunks (`leastconn` places them on the other servers), then the server is
   * deleted once its sessions have ended, or at `drainTimeout` (the rest are cut). Until the cluster
   * stops listing the node, step 2 does not add it back. Stop the node after this (`MockCluster.removeNode`).
   *
   * @param node - the node (server) name.
   * @returns the sessions before and after, the agents moved and any left behind.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the backend has no such server; `ERR_EXTERNAL_PROGRAM` when HAProxy
   *   refuses; {@link agentlink!AbortError} on {@link HaproxyRebalancer.stop} (the server is set ready again, as after any failure before the deletion).
   */
  removeNode(node: string): Promise<NodeRemovalResult> {
    return this.#exclusive(() => this.#removeNode(node));
  }

  /**
   * Starts the periodic loop: a run at once, then one every `sleepTime` after the previous ended.
   * A failed run is emitted as `error` (and logged) and the loop goes on. Does nothing when running.
   */
  start(): void {
    if (this.#loop !== undefined) return;
    const signal = this.#controller.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        try {
          await this.runOnce();
        } catch (err) {
          if (signal.aborted) break;
          const error = err instanceof AgentlinkError ? err : new ToolError(`HAProxy rebalancer run failed: ${err instanceof Error ? err.message : String(err)}`, 'ERR_EXTERNAL_PROGRAM', { cause: err });
          this.#log.warn({ code: error.code, err: error.message }, `rebalancer run failed; next run in ${this.#sleepTime} ms`);
          this.emit('error', error);
        }
        await this.#sleep(this.#sleepTime, signal);
      }
    })();
  }

  /**
   * Stops the loop and aborts a run or migration in progress (drained servers are set ready
   * again first). The rebalancer can be started or run again afterwards. Idempotent.
   *
   * @returns when everything in progress has ended.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#controller.abort(new AbortError('HaproxyRebalancer stopped'));
      await this.#loop;
      await this.#queue.catch(() => undefined);
      this.#loop = undefined;
      this.#controller = new AbortController();
      this.#stopping = undefined;
    })();
    return this.#stopping;
  }

  /** Same as {@link HaproxyRebalancer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // --- the steps ---------------------------------------------------------------------------------

  async #runOnce(): Promise<RebalanceRunResult> {
    const signal = this.#controller.signal;
    this.#throwIfAborted(signal);
    let rows = await this.#runtime.serverRows(this.backend);
    const drainedBack: string[] = [];
    for (const row of rows) {
      if (toServerState(row.status) !== 'DRAIN') continue;
      this.#log.warn({ server: row.svname }, `server ${row.svname} was found DRAIN; setting it READY`);
      await this.#runtime.setServerState(this.backend, row.svname, 'ready');
      drainedBack.push(row.svname);
    }
    if (drainedBack.length > 0) rows = await this.#runtime.serverRows(this.backend);
    let membership: MembershipResult | undefined;
    if (this.#cluster.nodes !== undefined) {
      membership = await this.#membership(rows);
      if (membership.added.length + membership.replaced.length + membership.removed.length > 0) rows = await this.#runtime.serverRows(this.backend);
    }
    const states: Record<string, ServerState> = {};
    const sessions: Record<string, number> = {};
    for (const row of rows) {
      const state = toServerState(row.status);
      states[row.svname] = state;
      if (state === 'UP') sessions[row.svname] = row.scur;
    }
    const migration = membership?.migration;
    if (migration !== undefined) {
      const { sessions: judged, balanced, mean, excess, moved, movedPerNode } = migration;
      const result: RebalanceRunResult = { drainedBack, states, membership, sessions: judged, balanced, mean, excess, moved, movedPerNode };
      this.emit('run', result);
      return result;
    }
    const verdict = checkBalance(sessions, this.#tolerance);
    const result: RebalanceRunResult = {
      drainedBack,
      states,
      membership,
      sessions,
      balanced: verdict.balanced,
      mean: verdict.mean,
      excess: verdict.excess,
      moved: 0,
      movedPerNode: {},
    };
    if (!verdict.balanced) {
      this.#log.info({ sessions, excess: verdict.excess }, 'agent imbalance detected');
      if (this.#statusSyncTime > 0) {
        await this.#sleep(this.#statusSyncTime, signal);
        this.#throwIfAborted(signal);
      }
      for (const [node, n] of Object.entries(verdict.excess)) {
        const sent = await this.#reconnectExcess(node, n, signal);
        result.movedPerNode[node] = sent;
        result.moved += sent;
      }
      this.#log.info({ moved: result.moved, movedPerNode: result.movedPerNode }, 'agents asked to reconnect');
    }
    this.emit('run', result);
    return result;
  }

  async #migrate(nodes: string[]): Promise<MigrationResult> {
    const signal = this.#controller.signal;
    this.#throwIfAborted(signal);
    if (nodes.length === 0) throw new ToolError('onNodeBack needs at least one node name', 'ERR_USAGE');
    const waitedMs = await this.#waitUp(nodes, signal);
    const rows = await this.#runtime.serverRows(this.backend);
    const sessions: Record<string, number> = {};
    for (const row of rows) if (toServerState(row.status) === 'UP') sessions[row.svname] = row.scur;
    const verdict = checkBalance(sessions, this.#tolerance);
    const result: MigrationResult = {
      nodes,
      waitedMs,
      sessions,
      balanced: verdict.balanced,
      mean: verdict.mean,
      excess: {},
      moved: 0,
      movedPerNode: {},
    };
    const old = Object.keys(sessions).filter((name) => !nodes.includes(name));
    if (!verdict.balanced) {
      for (const node of old) {
        const n = verdict.excess[node] ?? 0;
        if (n <= 0) continue;
        result.excess[node] = n;
        const drained: string[] = [];
        try {
          for (const other of old) {
            if (other === node) continue;
            await this.#runtime.setServerState(this.backend, other, 'drain');
            drained.push(other);
          }
          await this.#sleep(this.#adminStateDelay, signal);
          this.#throwIfAborted(signal);
          const sent = await this.#reconnectExcess(node, n, signal);
          result.movedPerNode[node] = sent;
          result.moved += sent;
        } finally {
          await this.#readyAgain(drained);
        }
        await this.#sleep(this.#adminStateDelay, signal);
        this.#throwIfAborted(signal);
      }
    }
    this.#log.info({ nodes, moved: result.moved, movedPerNode: result.movedPerNode }, 'migration after node return done');
    if (this.#stabilityTime > 0) {
      await this.#sleep(this.#stabilityTime, signal);
      this.#throwIfAborted(signal);
    }
    this.emit('migration', result);
    return result;
  }

  /** Step 2 over the rows just read: applies {@link planMembership}, then migrates to the added servers. */
  async #membership(rows: readonly StatRow[]): Promise<MembershipResult> {
    const members = [...(await this.#cluster.nodes!())];
    for (const member of members) checkMember(member);
    const plan = planMembership(members, backendServersOf(rows), { removeAfterMs: this.#removeAfter, excluded: this.#leaving });
    // a node removeNode took out is forgotten once the cluster no longer lists it
    for (const name of [...this.#leaving]) if (!members.some((m) => m.name === name)) this.#leaving.delete(name);
    for (const name of plan.remove) {
      this.#log.info({ server: name }, `node ${name} left the cluster; deleting its server`);
      await this.#runtime.deleteServer(this.backend, name);
    }
    for (const member of plan.replace) {
      this.#log.info({ server: member.name, address: `${member.address}:${member.port}` }, `node ${member.name} changed address; replacing its server`);
      await this.#runtime.deleteServer(this.backend, member.name);
    }
    for (const member of [...plan.replace, ...plan.add]) await this.#addServer(member);
    const result: MembershipResult = {
      added: plan.add.map((m) => m.name),
      replaced: plan.replace.map((m) => m.name),
      removed: plan.remove,
      kept: plan.kept,
      migration: undefined,
    };
    const added = [...result.replaced, ...result.added];
    if (added.length > 0) result.migration = await this.#migrate(added);
    if (added.length + result.removed.length > 0) this.emit('membership', result);
    return result;
  }

  async #addServer(member: ClusterMember): Promise<void> {
    this.#log.info({ server: member.name, address: `${member.address}:${member.port}` }, `node ${member.name} joined; adding its server`);
    await this.#runtime.addServer(this.backend, member.name, member.address, member.port, this.#serverCheck);
  }

  async #removeNode(node: string): Promise<NodeRemovalResult> {
    const signal = this.#controller.signal;
    this.#throwIfAborted(signal);
    const rows = await this.#runtime.serverRows(this.backend);
    if (!rows.some((row) => row.svname === node)) {
      throw new ToolError(`HAProxy backend '${this.backend}' has no server '${node}' (servers: ${rows.map((r) => r.svname).join(', ')})`, 'ERR_USAGE');
    }
    const before = sessionsOf(rows);
    this.#leaving.add(node);
    const started = this.#clock.monotonic();
    let moved = 0;
    let leftBehind: number;
    try {
      await this.#runtime.setServerState(this.backend, node, 'drain');
      await this.#sleep(this.#adminStateDelay, signal);
      // Ask every agent on the node, then keep asking those that appear on it (a connection HAProxy
      // had routed there just before the drain finishes its handshake later) until it is empty.
      const asked = new Set<string>();
      for (;;) {
        this.#throwIfAborted(signal);
        leftBehind = sessionsOf(await this.#runtime.serverRows(this.backend))[node] ?? 0;
        const waited = this.#clock.monotonic() - started;
        if (leftBehind === 0 || waited >= this.#adminStateDelay + this.#drainTimeout) break;
        const fresh = (await this.#cluster.agentsOnNode(node, leftBehind)).filter((id) => !asked.has(id));
        for (const id of fresh) asked.add(id);
        if (fresh.length > 0) moved += await this.#reconnect(node, fresh, signal);
        else await this.#sleep(this.#pollInterval, signal);
      }
    } catch (err) {
      this.#leaving.delete(node);
      await this.#readyAgain([node]);
      throw err;
    }
    const drainedMs = Math.round(this.#clock.monotonic() - started);
    if (leftBehind > 0) this.#log.warn({ node, leftBehind }, `${leftBehind} session(s) still on ${node} after ${drainedMs} ms; deleting the server cuts them`);
    await this.#runtime.deleteServer(this.backend, node);
    const after = sessionsOf(await this.#runtime.serverRows(this.backend));
    const result: NodeRemovalResult = { node, before, after, moved, drainedMs, leftBehind };
    this.#log.info({ node, moved, drainedMs, leftBehind }, `server ${node} deleted`);
    this.emit('removal', result);
    return result;
  }

  /** Asks up to `n` agents of `node` to reconnect, `chunkSize` at a time, pausing `chunkDelay` after each chunk (as the helper does). */
  async #reconnectExcess(node: string, n: number, signal: AbortSignal): Promise<number> {
    const ids = [...(await this.#cluster.agentsOnNode(node, n))].slice(0, n);
    if (ids.length < n) this.#log.debug({ node, wanted: n, found: ids.length }, 'fewer agents found on the node than its excess sessions');
    return this.#reconnect(node, ids, signal);
  }

  /** Asks agents of `node` to reconnect, `chunkSize` at a time, pausing `chunkDelay` after each chunk. */
  async #reconnect(node: string, ids: readonly string[], signal: AbortSignal): Promise<number> {
    let sent = 0;
    for (let i = 0; i < ids.length; i += this.#chunkSize) {
      this.#throwIfAborted(signal);
      const chunk = ids.slice(i, i + this.#chunkSize);
      const done = await this.#cluster.reconnectAgents(node, chunk);
      sent += done;
      this.emit('chunk', { node, asked: chunk.length, sent: done });
      await this.#sleep(this.#chunkDelay, signal);
    }
    return sent;
  }

  async #waitUp(nodes: readonly string[], signal: AbortSignal): Promise<number> {
    const started = this.#clock.monotonic();
    for (;;) {
      const rows = await this.#runtime.serverRows(this.backend);
      const states = new Map(rows.map((row) => [row.svname, toServerState(row.status)]));
      const missing = nodes.filter((name) => !states.has(name));
      if (missing.length > 0) {
        throw new ToolError(`HAProxy backend '${this.backend}' has no server ${missing.map((m) => `'${m}'`).join(', ')} (servers: ${[...states.keys()].join(', ')})`, 'ERR_USAGE');
      }
      const waited = this.#clock.monotonic() - started;
      const notUp = nodes.filter((name) => states.get(name) !== 'UP');
      if (notUp.length === 0) return Math.round(waited);
      if (waited >= this.#nodeUpTimeout) {
        throw new ToolError(
          `HAProxy did not report ${notUp.map((name) => `${this.backend}/${name} (${states.get(name)})`).join(', ')} UP within ${this.#nodeUpTimeout} ms`,
          'ERR_EXTERNAL_PROGRAM',
        );
      }
      await this.#sleep(Math.min(this.#pollInterval, Math.max(1, this.#nodeUpTimeout - waited)), signal);
      this.#throwIfAborted(signal);
    }
  }

  async #readyAgain(servers: readonly string[]): Promise<void> {
    for (const server of servers) {
      try {
        await this.#runtime.setServerState(this.backend, server, 'ready');
      } catch (err) {
        const error = err instanceof AgentlinkError ? err : new ToolError(`Could not set ${this.backend}/${server} ready again`, 'ERR_EXTERNAL_PROGRAM', { cause: err });
        // the next run's step 1 sets it ready
        this.#log.warn({ server, err: error.message }, `could not set ${server} ready again; the next run will`);
        this.emit('error', error);
      }
    }
  }

  // --- plumbing ----------------------------------------------------------------------------------

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #throwIfAborted(signal: AbortSignal): void {
    if (signal.aborted) throw new AbortError('HaproxyRebalancer stopped', { cause: signal.reason });
  }

  /** Resolves after `ms`, or at once when `signal` aborts. */
  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = unrefTimeout(this.#clock, done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
