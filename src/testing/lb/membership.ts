/**
 * The manager cluster as the Wazuh HAProxy helper (`framework/wazuh/core/cluster/hap_helper/`) sees
 * it: its nodes and the agents each carries ({@link RebalanceCluster}), and step 2 of the helper as a
 * pure function: which cluster nodes the HAProxy backend lacks, which servers point at an old
 * address, and which servers of departed nodes may go. The {@link HaproxyRebalancer} applies the
 * plan through the runtime API.
 *
 * @module
 */
import type { ServerState, StatRow } from './runtime-api.js';
import { toServerState } from './runtime-api.js';

/** Default `remove_disconnected_node_after` of the helper, in milliseconds (60 minutes). */
export const DEFAULT_REMOVE_DISCONNECTED_NODE_AFTER = 3_600_000;

/** A node of the manager cluster, as the backend should list it. */
export interface ClusterMember {
  /** Node name: the HAProxy server name. */
  name: string;
  /** Address of the node's remoted (events) listener. */
  address: string;
  /** Its port. */
  port: number;
}

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
  /**
   * The cluster's nodes now (the helper's `GET /cluster/nodes`), for step 2: nodes the backend
   * lacks are added, servers of departed nodes removed. Without it the rebalancer leaves the
   * backend's membership alone (use {@link HaproxyRebalancer.addNode} / {@link HaproxyRebalancer.removeNode}).
   *
   * @returns the nodes, each with its events address.
   */
  nodes?(): readonly ClusterMember[] | Promise<readonly ClusterMember[]>;
}

/** The part of a `MockCluster` {@link rebalanceClusterOf} uses (a MockCluster has it). */
export interface MockClusterNodes {
  /** The manager of a node. */
  node(name: string): { connectedAgentIds(): string[]; forceReconnect(ids: readonly string[]): number };
  /** Whether the node is up. */
  isAlive(name: string): boolean;
  /** The nodes and their addresses (`MockCluster.servers()`); gives the rebalancer the membership. */
  servers?(): readonly ClusterMember[];
}

function isRebalanceCluster(value: RebalanceCluster | MockClusterNodes): value is RebalanceCluster {
  return typeof (value as Partial<RebalanceCluster>).agentsOnNode === 'function' && typeof (value as Partial<RebalanceCluster>).reconnectAgents === 'function';
}

/**
 * Orders agent ids numerically (`002` before `010`), then as text.
 *
 * @param a - an id.
 * @param b - another id.
 * @returns the comparison for `Array.prototype.sort`.
 */
export function compareIds(a: string, b: string): number {
  return Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The {@link RebalanceCluster} of a cluster: returned as is when it already is one; for a
 * `MockCluster`, agents are picked from a node's live connections in id order (as the Wazuh
 * API lists them) and sent `#!-force_reconnect` by that node. A node that is down carries no agents;
 * the membership is `servers()` (every node of the cluster, killed ones included, as they come back).
 *
 * @param cluster - a MockCluster, or anything implementing {@link RebalanceCluster}.
 * @returns the interface the rebalancer calls.
 * @throws {@link agentlink!ConfigError} (later, from the returned functions) for a node name the MockCluster does not have.
 */
export function rebalanceClusterOf(cluster: RebalanceCluster | MockClusterNodes): RebalanceCluster {
  if (isRebalanceCluster(cluster)) return cluster;
  const view: RebalanceCluster = {
    agentsOnNode: (node, limit) => (cluster.isAlive(node) ? cluster.node(node).connectedAgentIds().sort(compareIds).slice(0, limit) : []),
    reconnectAgents: (node, ids) => (cluster.isAlive(node) ? cluster.node(node).forceReconnect(ids) : 0),
  };
  const servers = cluster.servers?.bind(cluster);
  if (servers !== undefined) view.nodes = () => servers().map(({ name, address, port }) => ({ name, address, port }));
  return view;
}

/** A server of the backend, as `show stat` describes it. */
export interface BackendServer {
  /** Server name. */
  name: string;
  /** Its address (`addr` column), undefined when HAProxy shows none. */
  address: string | undefined;
  /** Its port, undefined when HAProxy shows none. */
  port: number | undefined;
  /** Its state. */
  state: ServerState;
  /** Milliseconds since its last state change (`lastchg`). */
  sinceChangeMs: number;
}

/** What {@link planMembership} decided. */
export interface MembershipPlan {
  /** Nodes the backend lacks: add them. */
  add: ClusterMember[];
  /** Nodes whose server has another address: delete the server and add it again. */
  replace: ClusterMember[];
  /** Servers whose node left the cluster and that have been down for `removeAfterMs`: delete them. */
  remove: string[];
  /** Servers whose node left the cluster but that stay for now: name → why (`up`, or milliseconds until removable). */
  kept: Record<string, 'up' | number>;
}

/**
 * Splits the `addr` column of `show stat` (`127.0.0.1:1514`, `[::1]:1514`).
 *
 * @param addr - the column's text.
 * @returns the address and port, or undefined parts when the text has none.
 */
export function parseServerAddress(addr: string | undefined): { address: string | undefined; port: number | undefined } {
  if (addr === undefined || addr === '') return { address: undefined, port: undefined };
  const at = addr.lastIndexOf(':');
  if (at < 0) return { address: addr, port: undefined };
  const host = addr.slice(0, at);
  const port = Number(addr.slice(at + 1));
  return { address: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port: Number.isInteger(port) && port > 0 ? port : undefined };
}

/**
 * The backend's servers from `show stat` rows.
 *
 * @param rows - the server rows of one backend (`HaproxyRuntimeApi.serverRows`).
 * @returns one entry per server.
 */
export function backendServersOf(rows: readonly StatRow[]): BackendServer[] {
  return rows.map((row) => ({
    name: row.svname,
    ...parseServerAddress(row.addr),
    state: toServerState(row.status),
    sinceChangeMs: (row.lastchg ?? 0) * 1000,
  }));
}

/**
 * Compares the cluster's nodes with the backend's servers as the helper does: a node without a
 * server is added; a node whose server has another address or port is replaced; a server whose node
 * is gone is removed once it has been down (any state but UP) for `removeAfterMs`, while an UP server
 * of a departed node is kept (the helper leaves it to the health check). Nodes in `excluded` (the
 * helper's excluded nodes; the rebalancer's nodes being removed) are never added, and their servers
 * are removed whatever their state.
 *
 * @param members - the cluster's nodes.
 * @param servers - the backend's servers.
 * @param options - `removeAfterMs` (the helper's `remove_disconnected_node_after`), `excluded` node names.
 * @returns the plan; empty lists when the backend is up to date.
 * @example
 * ```ts
 * planMembership([{ name: 'node1', address: '10.0.0.1', port: 1514 }, { name: 'node4', address: '10.0.0.4', port: 1514 }], servers, { removeAfterMs: 3_600_000 });
 * // { add: [node4], replace: [], remove: [], kept: { node2: 'up' } }
 * ```
 */
export function planMembership(
  members: readonly ClusterMember[],
  servers: readonly BackendServer[],
  options: { removeAfterMs: number; excluded?: ReadonlySet<string> },
): MembershipPlan {
  const excluded = options.excluded ?? new Set<string>();
  const byName = new Map(servers.map((s) => [s.name, s]));
  const memberNames = new Set(members.map((m) => m.name));
  const plan: MembershipPlan = { add: [], replace: [], remove: [], kept: {} };
  for (const member of members) {
    if (excluded.has(member.name)) continue;
    const server = byName.get(member.name);
    if (server === undefined) plan.add.push(member);
    else if (server.address !== member.address || server.port !== member.port) plan.replace.push(member);
  }
  for (const server of servers) {
    if (excluded.has(server.name)) plan.remove.push(server.name);
    else if (memberNames.has(server.name)) continue;
    else if (server.state === 'UP') plan.kept[server.name] = 'up';
    else if (server.sinceChangeMs >= options.removeAfterMs) plan.remove.push(server.name);
    else plan.kept[server.name] = options.removeAfterMs - server.sinceChangeMs;
  }
  return plan;
}
