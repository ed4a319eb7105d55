/**
 * The embedded mock cluster of a simulation (`--cluster N`), in this process or in a child process
 * of its own (so a large fleet and its cluster do not share one process's open-file limit). Both
 * behave the same through {@link EmbeddedCluster}.
 *
 * @module
 */
import type { AgentKey } from '../index.js';
import { MockCluster } from '../testing/index.js';
import type { FleetServer } from './fleet.js';
import { forkChild, IpcClient } from './child.js';

/** Location of agent-generated events (`Agent started`, buffer levels): not part of the workload. */
const AGENT_LOCATION = 'wazuh-agent';

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

/** An embedded mock cluster, in-process or forked. */
export interface EmbeddedCluster {
  /** The nodes as a fleet's server list, in node order. */
  readonly servers: readonly FleetServer[];
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
  readonly #cluster: MockCluster;
  #received = 0;
  servers: FleetServer[] = [];
  authdPort: number | undefined;

  constructor(options: EmbeddedClusterOptions) {
    this.#cluster = new MockCluster({
      nodes: options.nodes,
      keys: options.keys,
      protocols: [options.protocol ?? 'tcp'],
      authd: options.authd === true,
      managerOptions: { eventHistory: 0 },
    });
    this.#cluster.on('event', (e) => {
      if (!e.generated && e.location !== AGENT_LOCATION) this.#received++;
    });
  }

  async start(): Promise<void> {
    const started = await this.#cluster.start();
    this.authdPort = started.authd;
    this.servers = this.#cluster.servers().map((s) => ({ address: s.address, port: s.port, protocol: s.protocol, node: s.name }));
  }

  kill(node: string): Promise<void> {
    return this.#cluster.kill(node);
  }

  async restart(node: string): Promise<void> {
    await this.#cluster.restart(node);
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

  close(): Promise<void> {
    return this.#cluster.close();
  }
}

class ForkedCluster implements EmbeddedCluster {
  readonly forked = true;
  readonly #ipc: IpcClient;
  servers: FleetServer[] = [];
  authdPort: number | undefined;
  #closed = false;

  constructor() {
    this.#ipc = new IpcClient(forkChild('cluster-process'), 'cluster process');
  }

  get pid(): number | undefined {
    return this.#ipc.child.pid;
  }

  async start(options: EmbeddedClusterOptions): Promise<void> {
    const r = await this.#ipc.request<{ servers: FleetServer[]; authdPort?: number }>('start', {
      nodes: options.nodes,
      keys: options.keys,
      protocol: options.protocol ?? 'tcp',
      authd: options.authd === true,
    });
    this.servers = r.servers;
    this.authdPort = r.authdPort;
  }

  kill(node: string): Promise<void> {
    return this.#ipc.request('kill', { node });
  }

  restart(node: string): Promise<void> {
    return this.#ipc.request('restart', { node });
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
 * @param options - nodes, keys, protocol, and whether to run it in a child process.
 * @returns the running cluster; close it with {@link EmbeddedCluster.close}.
 */
export async function startEmbeddedCluster(options: EmbeddedClusterOptions): Promise<EmbeddedCluster> {
  if (options.forked) {
    const c = new ForkedCluster();
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
