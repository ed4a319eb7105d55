/**
 * The embedded mock cluster of a simulation (`--cluster N`), in this process or in a child process
 * of its own (so a large fleet and its cluster do not share one process's open-file limit). Both
 * behave the same through {@link EmbeddedCluster}, which is also the {@link ChaosTarget} the chaos
 * steps act on: with `faultPaths` a FaultProxy stands in front of every node, and the agents
 * connect through it.
 *
 * @module
 */
import { ToolError } from '../index.js';
import type { AgentKey, Clock } from '../index.js';
import { FaultProxy, MockCluster, isProgramEvent, rebalanceClusterOf } from '../testing/index.js';
import type { FaultProxyStats, RebalanceCluster, ReceivedEvent } from '../testing/index.js';
import type { ChaosTarget, NodeJoin, NodeLeave, PathFault } from './chaos/runner.js';
import type { FleetServer } from './fleet-types.js';
import { forkChild, IpcClient } from './child.js';


/** Options of {@link startEmbeddedCluster}. */
export interface EmbeddedClusterOptions {
  /** Number of nodes, named `node1` … `nodeN`. */
  nodes: number;
  /** The agent keys every node knows. */
  keys: readonly AgentKey[];
  /**
   * Transport the nodes serve.
   * @default 'tcp'
   */
  protocol?: 'tcp' | 'udp';
  /**
   * Run the cluster in a child process (needs the compiled build).
   * @default false
   */
  forked?: boolean;
  /**
   * Also run an authd (enrollment) on the shared key store.
   * @default false
   */
  authd?: boolean;
  /**
   * Put a FaultProxy in front of every node (TCP only): {@link EmbeddedCluster.servers} are then the
   * proxies, and the `blackhole`, `latency`, `reset` and `cut` chaos steps act on them.
   * @default false
   */
  faultPaths?: boolean;
  /**
   * Clock of the nodes' and proxies' timers (in this process only).
   * @default systemClock
   */
  clock?: Clock;
  /** Called with every event a node receives (in this process only). */
  onEvent?: (event: ReceivedEvent) => void;
}

/** What {@link EmbeddedCluster.rebalance} did. */
export interface ClusterRebalanceResult {
  /** Agents told to reconnect (`#!-force_reconnect`). */
  moved: number;
  /** Whether the cluster was already balanced. */
  balanced: boolean;
  /** Connected agents per node the decision was based on. */
  before: Record<string, number>;
}

/** How a node leaving an {@link EmbeddedCluster} drains (`MockCluster.removeNode`); 100 agents every 200 ms, 15 s at most by default. */
const REMOVE_DRAIN = { chunkSize: 100, chunkDelay: 200, timeout: 15_000 };

/**
 * An embedded mock cluster, in-process or forked; the target of the chaos steps. Its `agentsOnNode`
 * and `reconnectAgents` are what a HAProxy rebalancer in front of it needs (a `RebalanceCluster`).
 */
export interface EmbeddedCluster extends ChaosTarget {
  /** The nodes as a fleet's server list, in node order (the proxies in front of them with `faultPaths`). */
  readonly servers: readonly FleetServer[];
  /** The nodes' own addresses, in node order (the same as {@link EmbeddedCluster.servers} without `faultPaths`). */
  readonly directServers: readonly FleetServer[];
  /** The authd port, when one runs. */
  readonly authdPort: number | undefined;
  /** Whether the cluster runs in a child process. */
  readonly forked: boolean;
  /** The child process id, when forked. */
  readonly pid: number | undefined;
  /** Kills a node (connections reset, port closed). */
  kill(node: string): Promise<void>;
  /** Restarts a node on the same port. */
  restart(node: string): Promise<void>;
  /**
   * The HAProxy helper's rebalance: excess agents of overloaded nodes are told to reconnect.
   * @param options - chunk size and the delay between chunks.
   */
  rebalance(options?: { chunkSize?: number; chunkDelay?: number }): Promise<ClusterRebalanceResult>;
  /** Connected agents per node, as the managers see them. */
  distribution(): Promise<Record<string, number>>;
  /** Workload events received by every node since the start (restarts included; agent-generated events excluded). */
  received(): Promise<number>;
  /** Counters of the proxy in front of each node, by node (empty without `faultPaths`). */
  faultPathStats(): Promise<Record<string, FaultProxyStats>>;
  /**
   * A node joins (`MockCluster.addNode`; with fault paths a FaultProxy in front of it too). Only a
   * balancer that learns of it sends agents there: the agents' server lists do not name it.
   * @param node - its name.
   */
  addNode(node: string): Promise<NodeJoin>;
  /**
   * A node leaves (`MockCluster.removeNode`): it refuses new connections, its agents are asked to
   * reconnect (100 every 200 ms) and it stops once none is left or after 15 s.
   * @param node - its name.
   */
  removeNode(node: string): Promise<NodeLeave>;
  /** Connected agents of a node, in id order. */
  agentsOnNode(node: string, limit: number): Promise<readonly string[]>;
  /** Sends `#!-force_reconnect` to these agents of a node; returns how many were told. */
  reconnectAgents(node: string, ids: readonly string[]): Promise<number>;
  /** Stops every node (and the child process). */
  close(): Promise<void>;
}

/**
 * A MockCluster that counts received workload events (events the agents generate themselves, at
 * location `wazuh-agent`, and the managers' own `Agent stopped` events are left out, so that the
 * count compares exactly with what the fleet sent).
 */
class LocalCluster implements EmbeddedCluster {
  readonly forked = false;
  readonly pid = undefined;
  readonly faultPaths: boolean;
  readonly agents: number;
  readonly #cluster: MockCluster;
  readonly #agentsView: RebalanceCluster;
  readonly #keys: readonly AgentKey[];
  readonly #clock: Clock | undefined;
  readonly #proxies = new Map<string, FaultProxy>();
  #received = 0;
  servers: FleetServer[] = [];
  directServers: FleetServer[] = [];
  authdPort: number | undefined;

  constructor(options: EmbeddedClusterOptions) {
    this.faultPaths = options.faultPaths === true;
    this.#keys = options.keys;
    this.agents = options.keys.length;
    this.#clock = options.clock;
    this.#cluster = new MockCluster({
      nodes: options.nodes,
      keys: options.keys,
      protocols: [options.protocol ?? 'tcp'],
      authd: options.authd === true,
      managerOptions: { eventHistory: 0 },
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.#agentsView = rebalanceClusterOf(this.#cluster);
    const onEvent = options.onEvent;
    this.#cluster.on('event', (e) => {
      if (isProgramEvent(e)) this.#received++;
      onEvent?.(e);
    });
  }

  get nodes(): readonly string[] {
    return this.#cluster.nodeNames;
  }

  async start(): Promise<void> {
    const started = await this.#cluster.start();
    this.authdPort = started.authd;
    const direct = this.#cluster.servers().map((s) => ({ address: s.address, port: s.port, protocol: s.protocol, node: s.name }));
    this.directServers = direct;
    if (!this.faultPaths) {
      this.servers = direct;
      return;
    }
    for (const s of direct) await this.#startProxy(s.node, s.port);
    this.servers = direct.map((s) => ({ ...this.#proxy(s.node).address, node: s.node }));
  }

  async #startProxy(node: string, port: number): Promise<void> {
    const p = new FaultProxy({ target: { port }, ...(this.#clock ? { clock: this.#clock } : {}) });
    this.#proxies.set(node, p);
    await p.start();
  }

  async addNode(node: string): Promise<NodeJoin> {
    const s = await this.#cluster.addNode(node);
    const direct: FleetServer = { address: s.address, port: s.port, protocol: s.protocol, node };
    this.directServers.push(direct);
    if (!this.faultPaths) {
      this.servers.push(direct);
      return { address: s.address, port: s.port, moved: 0 };
    }
    await this.#startProxy(node, s.port);
    const proxied = { ...this.#proxy(node).address, node };
    this.servers.push(proxied);
    return { address: proxied.address, port: proxied.port, moved: 0 };
  }

  async removeNode(node: string): Promise<NodeLeave> {
    const r = await this.#cluster.removeNode(node, REMOVE_DRAIN);
    const p = this.#proxies.get(node);
    this.#proxies.delete(node);
    await p?.close();
    this.servers = this.servers.filter((s) => s.node !== node);
    this.directServers = this.directServers.filter((s) => s.node !== node);
    return { moved: r.asked, leftBehind: r.leftBehind };
  }

  async agentsOnNode(node: string, limit: number): Promise<readonly string[]> {
    return this.#agentsView.agentsOnNode(node, limit);
  }

  async reconnectAgents(node: string, ids: readonly string[]): Promise<number> {
    return this.#agentsView.reconnectAgents(node, ids);
  }

  kill(node: string): Promise<void> {
    return this.#cluster.kill(node);
  }

  async restart(node: string): Promise<void> {
    await this.#cluster.restart(node);
  }

  async hang(node: string, on: boolean): Promise<void> {
    if (this.#cluster.isAlive(node)) await this.#cluster.node(node).setFaults({ blackhole: on });
  }

  async resetConnections(node: string): Promise<number> {
    return this.#cluster.isAlive(node) ? this.#cluster.node(node).resetConnections() : 0;
  }

  async pathFault(node: string, fault: PathFault): Promise<number> {
    const p = this.#proxy(node);
    switch (fault.kind) {
      case 'blackhole':
        p.blackhole = fault.on;
        return p.connections;
      case 'latency':
        p.latencyMs = fault.ms;
        return p.connections;
      case 'reset':
        return p.reset();
      case 'cut':
        return p.cutMidFrame(fault.direction);
    }
  }

  async forceReconnect(agents: readonly number[]): Promise<number> {
    let told = 0;
    for (const i of agents) {
      const id = this.#keys[i]?.id;
      const on = id === undefined ? undefined : this.#cluster.agentNode(id);
      if (on !== undefined) told += this.#cluster.node(on).forceReconnect([id!]);
    }
    return told;
  }

  async rebalance(options: { chunkSize?: number; chunkDelay?: number } = {}): Promise<ClusterRebalanceResult> {
    const r = await this.#cluster.rebalance(options);
    return { moved: r.moved, balanced: r.balanced, before: r.before };
  }

  async distribution(): Promise<Record<string, number>> {
    return this.#cluster.distribution();
  }

  async received(): Promise<number> {
    return this.#received;
  }

  async faultPathStats(): Promise<Record<string, FaultProxyStats>> {
    return Object.fromEntries([...this.#proxies].map(([node, p]) => [node, p.stats()]));
  }

  async close(): Promise<void> {
    for (const p of [...this.#proxies.values()].reverse()) await p.close();
    await this.#cluster.close();
  }

  #proxy(node: string): FaultProxy {
    const p = this.#proxies.get(node);
    if (!p) {
      throw new ToolError(
        this.faultPaths ? `unknown node '${node}'` : `no fault proxy in front of ${node}: start the cluster with faultPaths`,
        'ERR_USAGE',
      );
    }
    return p;
  }
}

class ForkedCluster implements EmbeddedCluster {
  readonly forked = true;
  readonly faultPaths: boolean;
  readonly agents: number;
  readonly #ipc: IpcClient;
  servers: FleetServer[] = [];
  directServers: FleetServer[] = [];
  nodes: readonly string[] = [];
  authdPort: number | undefined;
  #closed = false;

  constructor(options: EmbeddedClusterOptions) {
    if (options.clock !== undefined || options.onEvent !== undefined) {
      throw new ToolError('startEmbeddedCluster: clock and onEvent work in this process only; drop them or forked', 'ERR_USAGE');
    }
    this.faultPaths = options.faultPaths === true;
    this.agents = options.keys.length;
    this.#ipc = new IpcClient(forkChild('cluster-process'), 'cluster process');
  }

  get pid(): number | undefined {
    return this.#ipc.child.pid;
  }

  async start(options: EmbeddedClusterOptions): Promise<void> {
    const r = await this.#ipc.request<{ servers: FleetServer[]; directServers: FleetServer[]; nodes: string[]; authdPort?: number }>('start', {
      nodes: options.nodes,
      keys: options.keys,
      protocol: options.protocol ?? 'tcp',
      authd: options.authd === true,
      faultPaths: this.faultPaths,
    });
    this.servers = r.servers;
    this.directServers = r.directServers;
    this.nodes = r.nodes;
    this.authdPort = r.authdPort;
  }

  kill(node: string): Promise<void> {
    return this.#ipc.request('kill', { node });
  }

  restart(node: string): Promise<void> {
    return this.#ipc.request('restart', { node });
  }

  async addNode(node: string): Promise<NodeJoin> {
    const r = await this.#ipc.request<{ join: NodeJoin; servers: FleetServer[]; directServers: FleetServer[]; nodes: string[] }>('addNode', { node });
    this.#membership(r);
    return r.join;
  }

  async removeNode(node: string): Promise<NodeLeave> {
    const r = await this.#ipc.request<{ leave: NodeLeave; servers: FleetServer[]; directServers: FleetServer[]; nodes: string[] }>('removeNode', { node });
    this.#membership(r);
    return r.leave;
  }

  #membership(r: { servers: FleetServer[]; directServers: FleetServer[]; nodes: string[] }): void {
    this.servers = r.servers;
    this.directServers = r.directServers;
    this.nodes = r.nodes;
  }

  agentsOnNode(node: string, limit: number): Promise<readonly string[]> {
    return this.#ipc.request('agentsOnNode', { node, limit });
  }

  reconnectAgents(node: string, ids: readonly string[]): Promise<number> {
    return this.#ipc.request('reconnectAgents', { node, ids });
  }

  hang(node: string, on: boolean): Promise<void> {
    return this.#ipc.request('hang', { node, on });
  }

  resetConnections(node: string): Promise<number> {
    return this.#ipc.request('resetConnections', { node });
  }

  pathFault(node: string, fault: PathFault): Promise<number> {
    return this.#ipc.request('pathFault', { node, fault });
  }

  forceReconnect(agents: readonly number[]): Promise<number> {
    return this.#ipc.request('forceReconnect', { agents });
  }

  rebalance(options: { chunkSize?: number; chunkDelay?: number } = {}): Promise<ClusterRebalanceResult> {
    return this.#ipc.request('rebalance', { options });
  }

  distribution(): Promise<Record<string, number>> {
    return this.#ipc.request('distribution');
  }

  received(): Promise<number> {
    return this.#ipc.request('received');
  }

  faultPathStats(): Promise<Record<string, FaultProxyStats>> {
    return this.#ipc.request('faultPathStats');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#ipc.request('close').catch(() => undefined);
    await this.#ipc.exit(5000);
  }
}

/**
 * Starts an embedded mock cluster: nodes `node1` … `nodeN` on 127.0.0.1, ports chosen by the OS.
 *
 * @param options - nodes, keys, protocol, fault proxies, and whether to run it in a child process.
 * @returns the running cluster; close it with {@link EmbeddedCluster.close}.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for fault proxies over UDP, or `clock` / `onEvent` with `forked`.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  if (options.faultPaths && options.protocol === 'udp') {
    throw new ToolError('startEmbeddedCluster: fault proxies carry TCP only; drop faultPaths or use protocol tcp', 'ERR_USAGE');
  }
  if (options.forked) {
    const c = new ForkedCluster(options);
    try {
      await c.start(options);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }
  const c = new LocalCluster(options);
  try {
    await c.start();
  } catch (err) {
    await c.close();
    throw err;
  }
  return c;
}
