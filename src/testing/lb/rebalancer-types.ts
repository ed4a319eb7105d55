/**
 * The settings, results and events of {@link HaproxyRebalancer}: the Wazuh HAProxy helper's
 * defaults, the options, and what each step returns.
 *
 * @module
 */
import type { Clock } from '../../clock.js';
import type { AgentlinkError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { MockClusterNodes, RebalanceCluster } from './membership.js';
import type { HaproxyRuntimeApi, ServerCheckOptions, ServerState } from './runtime-api.js';

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
/** How long {@link HaproxyRebalancer.removeNode} waits, by default, for the drained server's sessions to end, in milliseconds. */
export const DEFAULT_NODE_DRAIN_TIMEOUT = 60_000;

/** The runtime API calls the rebalancer makes (a {@link HaproxyRuntimeApi} has them). */
export type RebalancerRuntime = Pick<HaproxyRuntimeApi, 'serverRows' | 'setServerState' | 'addServer' | 'deleteServer'>;

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
   * Poll period while waiting for a node to be UP or a drained server to empty.
   * @default 1000
   */
  pollInterval?: number;
  /**
   * `remove_disconnected_node_after`: a server whose node left the cluster is deleted once it has been
   * down this long (step 2; only with a cluster that lists its nodes).
   * @default 3600000
   */
  removeDisconnectedAfter?: number;
  /**
   * How long {@link HaproxyRebalancer.removeNode} waits for the drained server's sessions to end
   * after its agents were asked to reconnect; the rest are cut when the server is deleted.
   * @default 60000
   */
  drainTimeout?: number;
  /**
   * Health check of the servers the rebalancer adds (`check inter … fall … rise …`); use the
   * balancer's own settings (`HaproxyBalancer.serverCheck`).
   * @default { inter: 1000, fall: 2, rise: 2 }
   */
  serverCheck?: ServerCheckOptions;
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
export interface RebalanceRunResult extends BalanceMoves {
  /** Servers found in DRAIN and set back to READY (step 1). */
  drainedBack: string[];
  /** Every server's state, after step 1. */
  states: Record<string, ServerState>;
  /**
   * What step 2 changed (only with a cluster that lists its nodes; undefined without). When it added
   * servers, the run migrated instead of judging the balance: the fields below are the migration's.
   */
  membership: MembershipResult | undefined;
}

/** What a balance check found and the agents it moved: the common part of {@link RebalanceRunResult} and {@link MigrationResult}. */
export interface BalanceMoves {
  /** Current sessions (`scur`) of the UP servers: what the balance was judged on. */
  sessions: Record<string, number>;
  /** Whether the distribution was within the tolerance (nothing to do). */
  balanced: boolean;
  /** `floor(total / UP servers)`. */
  mean: number;
  /** Excess sessions per server above the mean (for a migration: per old server); empty when balanced. */
  excess: Record<string, number>;
  /** Agents sent `#!-force_reconnect`. */
  moved: number;
  /** The same, per node. */
  movedPerNode: Record<string, number>;
}

/** What one {@link HaproxyRebalancer.onNodeBack} did (`sessions` are read once the nodes were UP). */
export interface MigrationResult extends BalanceMoves {
  /** The nodes that came back. */
  nodes: string[];
  /** Milliseconds until HAProxy reported them all UP. */
  waitedMs: number;
}

/** What step 2 ({@link HaproxyRebalancer.syncMembership}, or a run of the loop) changed in the backend. */
export interface MembershipResult {
  /** Servers added for nodes that joined the cluster. */
  added: string[];
  /** Servers deleted and added again because their node's address changed. */
  replaced: string[];
  /** Servers deleted because their node left the cluster (and was down long enough, or is being removed). */
  removed: string[];
  /** Servers of departed nodes kept for now: `up`, or milliseconds until they may be removed. */
  kept: Record<string, 'up' | number>;
  /** The migration that followed the additions (undefined when nothing was added). */
  migration: MigrationResult | undefined;
}

/** What one {@link HaproxyRebalancer.removeNode} did. */
export interface NodeRemovalResult {
  /** The node. */
  node: string;
  /** Current sessions per server before the removal. */
  before: Record<string, number>;
  /** Current sessions per server once the server was deleted. */
  after: Record<string, number>;
  /** Agents sent `#!-force_reconnect`. */
  moved: number;
  /** Milliseconds from the drain until the server had no session left (or the deadline). */
  drainedMs: number;
  /** Sessions the server still held at the deadline, cut when it was deleted (0 when every agent moved). */
  leftBehind: number;
}

/** Events of a {@link HaproxyRebalancer}. */
export interface HaproxyRebalancerEvents {
  /** A run of the loop (or a {@link HaproxyRebalancer.runOnce} call) finished. */
  run: [result: RebalanceRunResult];
  /** A migration after a node's return finished. */
  migration: [result: MigrationResult];
  /** Step 2 changed the backend's servers. */
  membership: [result: MembershipResult];
  /** {@link HaproxyRebalancer.removeNode} deleted a server. */
  removal: [result: NodeRemovalResult];
  /** A chunk of agents was asked to reconnect. */
  chunk: [info: { node: string; asked: number; sent: number }];
  /** A run of the loop failed (the loop goes on after `sleepTime`, as the helper does). */
  error: [error: AgentlinkError];
}
