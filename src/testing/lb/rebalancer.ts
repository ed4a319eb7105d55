/**
 * The Wazuh HAProxy helper's balancing loop (`framework/wazuh/core/cluster/hap_helper/`), driven
 * through HAProxy's own runtime API (the admin stats socket) instead of the Dataplane API the
 * helper uses: DRAIN servers set back to READY, the balance judged on the current sessions (`scur`)
 * of the UP servers, the excess agents of overloaded nodes asked to reconnect in chunks, and the
 * migration that follows a node's return.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { AbortError, AgentlinkError, ConfigError, ToolError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { checkBalance, DEFAULT_AGENT_TOLERANCE } from './rebalance.js';
import { toServerState } from './runtime-api.js';
import type { HaproxyRuntimeApi, ServerState } from './runtime-api.js';

/** Default `agent_reconnection_chunk_size` of the Wazuh HAProxy helper: agents asked to reconnect at a time. */
export const DEFAULT_REBALANCE_CHUNK_SIZE = 100;
/** Default `agent_reconnection_time` of the helper, in milliseconds: the pause after each chunk. */
export const DEFAULT_REBALANCE_CHUNK_DELAY = 5_000;
/** Default `sleep_time` of the helper, in milliseconds: the pause between two runs of the loop. */
export const DEFAULT_REBALANCE_SLEEP_TIME = 60_000;
/** The helper's `AGENT_STATUS_SYNC_TIME`, in milliseconds: wait after finding an imbalance, before picking agents. */
export const DEFAULT_STATUS_SYNC_TIME = 25_000;
/** The helper's `SERVER_ADMIN_STATE_DELAY`, in milliseconds: wait after draining or readying servers. */
export const DEFAULT_ADMIN_STATE_DELAY = 5_000;
/** The helper's `UPDATED_BACKEND_STATUS_TIMEOUT`, in milliseconds: how long a returning node may take to be UP. */
export const DEFAULT_NODE_UP_TIMEOUT = 60_000;
/** Default `agent_reconnection_stability_time` of the helper, in milliseconds: the pause after a migration. */
export const DEFAULT_RECONNECTION_STABILITY_TIME = 60_000;

/**
 * What the rebalancer needs from the manager cluster: which agents a node carries, and a way to ask
 * agents to reconnect (`#!-force_reconnect`). Node names are the HAProxy server names.
 *
 * With a real Wazuh cluster, the manager API gives both, as the helper uses them:
 * `GET /agents?node_name=<node>&status=active&limit=<n>&select=id` and
 * `PUT /agents/reconnect?agents_list=<ids>`. With a `MockCluster`, {@link rebalanceClusterOf}
 * builds it from the nodes.
 */
export interface RebalanceCluster {
  /**
   * Agents connected to a node now.
   *
   * @param node - node (HAProxy server) name.
   * @param limit - at most this many.
   * @returns their ids, in the order they should be picked.
   */
  agentsOnNode(node: string, limit: number): readonly string[] | Promise<readonly string[]>;
  /**
   * Asks agents connected to a node to reconnect.
   *
   * @param node - the node they are connected to.
   * @param ids - the agents.
   * @returns how many were sent `#!-force_reconnect`.
   */
  reconnectAgents(node: string, ids: readonly string[]): number | Promise<number>;
}

/** The part of a `MockCluster` {@link rebalanceClusterOf} uses (a MockCluster has it). */
export interface MockClusterNodes {
  /** The manager of a node. */
  node(name: string): { connectedAgentIds(): string[]; forceReconnect(ids: readonly string[]): number };
  /** Whether the node is up. */
  isAlive(name: string): boolean;
}

/** The runtime API calls the rebalancer makes (a {@link HaproxyRuntimeApi} has them). */
export type RebalancerRuntime = Pick<HaproxyRuntimeApi, 'serverRows' | 'setServerState'>;

function isRebalanceCluster(value: RebalanceCluster | MockClusterNodes): value is RebalanceCluster {
  return typeof (value as Partial<RebalanceCluster>).agentsOnNode === 'function' && typeof (value as Partial<RebalanceCluster>).reconnectAgents === 'function';
}

function compareIds(a: string, b: string): number {
  return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The {@link RebalanceCluster} of a cluster: returned as is when it already is one; for a
 * `MockCluster`, agents are picked from a node's live connections in id order (as the Wazuh
 * API lists them) and sent `#!-force_reconnect` by that node. A node that is down carries no agents.
 *
 * @param cluster - a MockCluster, or anything implementing {@link RebalanceCluster}.
 * @returns the interface the rebalancer calls.
 * @throws {@link agentlink!ConfigError} (later, from the returned functions) for a node name the MockCluster does not have.
 */
export function rebalanceClusterOf(cluster: RebalanceCluster | MockClusterNodes): RebalanceCluster {
  if (isRebalanceCluster(cluster)) return cluster;
  return {
    agentsOnNode: (node, limit) => (cluster.isAlive(node) ? cluster.node(node).connectedAgentIds().sort(compareIds).slice(0, limit) : []),
    reconnectAgents: (node, ids) => (cluster.isAlive(node) ? cluster.node(node).forceReconnect(ids) : 0),
  };
}

/** Options of `new HaproxyRebalancer(options)`. Milliseconds everywhere. */
export interface HaproxyRebalancerOptions {
  /** HAProxy's runtime API (admin level), e.g. `balancer.runtime`. */
  runtime: RebalancerRuntime;
  /**
   * The events backend whose servers are the cluster nodes.
   * @default 'wazuh_cluster'
   */
  backend?: string;
  /** The manager cluster: a MockCluster, or a {@link RebalanceCluster} (a real manager API). */
  cluster: RebalanceCluster | MockClusterNodes;
  /**
   * `agent_tolerance`: a server may carry this fraction more or less than the mean.
   * @default 0.1
   */
  tolerance?: number;
  /**
   * `agent_reconnection_chunk_size`: agents asked to reconnect at a time.
   * @default 100
   */
  chunkSize?: number;
  /**
   * `agent_reconnection_time`: pause after each chunk; 0 sends every chunk at once.
   * @default 5000
   */
  chunkDelay?: number;
  /**
   * `sleep_time`: pause between two runs of the loop started by {@link HaproxyRebalancer.start}.
   * @default 60000
   */
  sleepTime?: number;
  /**
   * Wait after an imbalance is found, before agents are picked (the helper's `AGENT_STATUS_SYNC_TIME`:
   * notify time + cluster sync + 5 s, so the agent-to-node mapping is current); 0 picks at once.
   * @default 25000
   */
  statusSyncTime?: number;
  /**
   * Wait after servers are drained or set ready again during a migration (`SERVER_ADMIN_STATE_DELAY`).
   * @default 5000
   */
  adminStateDelay?: number;
  /**
   * How long {@link HaproxyRebalancer.onNodeBack} waits for the node to be UP (`UPDATED_BACKEND_STATUS_TIMEOUT`).
   * @default 60000
   */
  nodeUpTimeout?: number;
  /**
   * `agent_reconnection_stability_time`: pause at the end of a migration, before the next run may judge the balance.
   * @default 60000
   */
  stabilityTime?: number;
  /**
   * Poll period while waiting for a node to be UP.
   * @default 1000
   */
  pollInterval?: number;
  /**
   * Logger (pino-compatible).
   * @default silent
   */
  logger?: Logger;
  /**
   * Clock of every pause.
   * @default systemClock
   */
  clock?: Clock;
}

/** What one {@link HaproxyRebalancer.runOnce} did. */
export interface RebalanceRunResult {
  /** Servers found in DRAIN and set back to READY (step 1). */
  drainedBack: string[];
  /** Every server's state, after step 1. */
  states: Record<string, ServerState>;
  /** Current sessions (`scur`) of the UP servers: what the balance was judged on. */
  sessions: Record<string, number>;
  /** Whether the distribution was within the tolerance (nothing to do). */
  balanced: boolean;
  /** `floor(total / UP servers)`. */
  mean: number;
  /** Excess sessions per server above the mean; empty when balanced. */
  excess: Record<string, number>;
  /** Agents sent `#!-force_reconnect`. */
  moved: number;
  /** The same, per node. */
  movedPerNode: Record<string, number>;
}

/** What one {@link HaproxyRebalancer.onNodeBack} did. */
export interface MigrationResult {
  /** The nodes that came back. */
  nodes: string[];
  /** Milliseconds until HAProxy reported them all UP. */
  waitedMs: number;
  /** Current sessions of the UP servers once they were UP: what the excess was computed on. */
  sessions: Record<string, number>;
  /** Whether the distribution was already within the tolerance. */
  balanced: boolean;
  /** `floor(total / UP servers)`. */
  mean: number;
  /** Excess per old server. */
  excess: Record<string, number>;
  /** Agents sent `#!-force_reconnect`. */
  moved: number;
  /** The same, per old node. */
  movedPerNode: Record<string, number>;
}

/** Events of a {@link HaproxyRebalancer}. */
export interface HaproxyRebalancerEvents {
  /** A run of the loop (or a {@link HaproxyRebalancer.runOnce} call) finished. */
  run: [result: RebalanceRunResult];
  /** A migration after a node's return finished. */
  migration: [result: MigrationResult];
  /** A chunk of agents was asked to reconnect. */
  chunk: [info: { node: string; asked: number; sent: number }];
  /** A run of the loop failed (the loop goes on after `sleepTime`, as the helper does). */
  error: [error: AgentlinkError];
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
 * 2. the current sessions (`scur`) of the UP servers are judged with {@link checkBalance};
 * 3. if unbalanced, after `statusSyncTime`, each server above the mean has `scur − mean` of its
 *    agents asked to reconnect, `chunkSize` at a time with `chunkDelay` after each chunk. With
 *    `leastconn` a reconnecting agent lands on the least loaded server.
 *
 * After a node comes back (restarted, or added), {@link HaproxyRebalancer.onNodeBack} waits until
 * HAProxy reports it UP and migrates: for each old node with excess agents, every other old server
 * is drained, that node's excess agents are asked to reconnect (so they can only land on the
 * returning nodes), and the drained servers are set ready again.
 *
 * Runs and migrations never overlap (they queue). {@link HaproxyRebalancer.stop} ends the loop and
 * aborts whatever is in progress; drained servers are always set ready again.
 *
 * @example
 * ```ts
 * const rebalancer = new HaproxyRebalancer({ runtime: lb.runtime, cluster, chunkDelay: 500, statusSyncTime: 0 });
 * await cluster.restart('node1');
 * const m = await rebalancer.onNodeBack('node1'); // { moved: 333, ... }
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
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(backend)) throw new ConfigError(`HaproxyRebalancer backend ${JSON.stringify(backend)} is not a valid name`, { element: 'backend', value: backend });
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
    const states: Record<string, ServerState> = {};
    const sessions: Record<string, number> = {};
    for (const row of rows) {
      const state = toServerState(row.status);
      states[row.svname] = state;
      if (state === 'UP') sessions[row.svname] = row.scur;
    }
    const verdict = checkBalance(sessions, this.#tolerance);
    const result: RebalanceRunResult = {
      drainedBack,
      states,
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

  /** Asks up to `n` agents of `node` to reconnect, `chunkSize` at a time, pausing `chunkDelay` after each chunk (as the helper does). */
  async #reconnectExcess(node: string, n: number, signal: AbortSignal): Promise<number> {
    const ids = [...(await this.#cluster.agentsOnNode(node, n))].slice(0, n);
    if (ids.length < n) this.#log.debug({ node, wanted: n, found: ids.length }, 'fewer agents found on the node than its excess sessions');
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
