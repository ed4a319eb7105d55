/**
 * The public types of {@link MockCluster}: its options, events, counters, and what its rebalance
 * and node removal return.
 *
 * @module
 */
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { AgentKey } from '../protocol/index.js';
import type { MockAuthdOptions } from './authd.js';
import type { KeyStore } from './keystore.js';
import type { AgentStatus, ManagerProtocol, MockManagerOptions, MockManagerStats, ReceivedEvent } from './manager/types.js';

/** Options of `new MockCluster(options)`. */
export interface MockClusterOptions {
  /** Number of nodes (named `node1` … `nodeN`) or their names. */
  nodes: number | readonly string[];
  /** Known agents, shared by every node. @default an empty store */
  keys?: KeyStore | readonly AgentKey[] | string;
  /** Transports of every node. @default ['tcp'] */
  protocols?: readonly ManagerProtocol[];
  /** Address every node listens on. @default '127.0.0.1' */
  host?: string;
  /** One {@link MockAuthd} on the shared key store: `true` or its options. @default false */
  authd?: boolean | Partial<MockAuthdOptions>;
  /**
   * Options given to every node (keys, name, host, port, protocols and authd are set by the cluster;
   * so is the counter store: each node has its own, which its restarts keep).
   */
  managerOptions?: Omit<MockManagerOptions, 'keys' | 'name' | 'host' | 'port' | 'protocols' | 'authd' | 'counterStore'>;
  /** Logger. @default silent */
  logger?: Logger;
  /** Clock (also given to the nodes unless `managerOptions.clock` is set). @default the system clock */
  clock?: Clock;
}

/** Options of {@link MockCluster.rebalance}. */
export interface RebalanceOptions {
  /** `agent_tolerance`: a node may carry this fraction more or less than the mean. @default 0.1 */
  tolerance?: number;
  /** `agent_reconnection_chunk_size`: agents asked to reconnect at a time. @default 100 */
  chunkSize?: number;
  /** `agent_reconnection_time`: milliseconds between chunks. @default 5000 */
  chunkDelay?: number;
  /**
   * Connections per node to judge the balance on (for example HAProxy's `scur` per server, read
   * through its runtime API); by default the cluster's own {@link MockCluster.distribution}.
   */
  counts?: Readonly<Record<string, number>>;
  /** Stops between chunks. */
  signal?: AbortSignal;
}

/** What {@link MockCluster.rebalance} did. */
export interface RebalanceResult {
  /** The counts the decision was based on. */
  before: Record<string, number>;
  /** Agents sent `#!-force_reconnect`. */
  moved: number;
  /** Whether the distribution was already balanced (nothing was done). */
  balanced: boolean;
  /** `floor(total / nodes)`. */
  mean: number;
  /** Excess agents per node above the mean. */
  excess: Record<string, number>;
}

/** A node in {@link MockCluster.servers}. */
export interface ClusterServer {
  /** Node name. */
  name: string;
  /** Listening address. */
  address: string;
  /** Port (kept across restarts). */
  port: number;
  /** First protocol of the node. */
  protocol: ManagerProtocol;
}

/** Events of a {@link MockCluster}. */
export interface MockClusterEvents {
  /** An agent's status changed on a node. */
  agentStatus: [node: string, id: string, status: AgentStatus, previous: AgentStatus];
  /** A node received an event. */
  event: [event: ReceivedEvent];
  /** A node was killed. */
  nodeDown: [node: string];
  /** A node was (re)started. */
  nodeUp: [node: string, port: number];
  /** A node joined the cluster ({@link MockCluster.addNode}; `nodeUp` follows). */
  nodeAdded: [node: string, port: number];
  /** A node left the cluster ({@link MockCluster.removeNode}). */
  nodeRemoved: [node: string, result: NodeRemoval];
}

/** Options of {@link MockCluster.removeNode}. */
export interface RemoveNodeOptions {
  /**
   * Move the node's agents off before it stops: it stops accepting connections, its agents are sent
   * `#!-force_reconnect` in chunks, and it waits until none is connected (or `timeout`). With
   * `false` the node stops at once, as {@link MockCluster.kill} does, and its agents lose their connections.
   * @default true
   */
  drain?: boolean;
  /** Agents asked to reconnect at a time. @default 100 */
  chunkSize?: number;
  /** Milliseconds between chunks. @default 1000 */
  chunkDelay?: number;
  /** Milliseconds to wait, after the last chunk, for the agents to leave; the rest are reset. @default 10000 */
  timeout?: number;
}

/** What {@link MockCluster.removeNode} did. */
export interface NodeRemoval {
  /** The node. */
  node: string;
  /** Agents connected when the removal began. */
  agentsBefore: number;
  /** Agents sent `#!-force_reconnect` by the drain. */
  asked: number;
  /** Agents still connected when the node stopped (their connections were reset): 0 when none was left behind. */
  leftBehind: number;
  /** Milliseconds the drain took. */
  drainedMs: number;
}

/** Counters of a {@link MockCluster}. */
export interface MockClusterStats {
  /** Per node: its counters and whether it is up. */
  nodes: Record<string, MockManagerStats & { alive: boolean }>;
  /** Agents with a live connection, cluster-wide. */
  connectedAgents: number;
  /** Events received, cluster-wide (counters restart with a node). */
  eventsReceived: number;
  /** Decode errors, cluster-wide. */
  decodeErrors: number;
}
