/**
 * A real load balancer (HAProxy or nginx `stream`) in front of a simulation's embedded mock
 * cluster: the fleet connects to the balancer instead of the nodes, and the report can show the
 * sessions HAProxy holds per backend server. Used by `agentlink simulate --cluster N --lb haproxy|nginx`.
 *
 * @module
 */
import { ToolError, silentLogger } from '../index.js';
import type { Clock, Logger } from '../index.js';
import type { EmbeddedCluster } from './cluster-host.js';
import { HAPROXY_EVENTS_BACKEND, HaproxyBalancer, HaproxyRebalancer, NginxStreamBalancer } from '../testing/index.js';
import type {
  HaproxyBalancerOptions,
  HaproxyRebalancerOptions,
  HaproxyRuntimeApi,
  LbBackend,
  MockClusterNodes,
  NginxStreamBalancerOptions,
  RebalanceCluster,
  ServerState,
} from '../testing/index.js';

/** The balancers {@link startBalancerForCluster} can start. */
export type LbKind = 'haproxy' | 'nginx';

/** One node of the cluster the balancer fronts: a MockCluster `servers()` entry or a fleet server (`node`). */
export interface ClusterNodeEndpoint {
  /** Address of the node's events (remoted) listener. */
  address: string;
  /**
   * Its port.
   * @default 1514
   */
  port?: number | undefined;
  /** Node name (MockCluster `servers()`). */
  name?: string;
  /** Node name (fleet server list, `EmbeddedCluster.servers`). */
  node?: string;
  /** Transport; HAProxy balances `tcp` only, nginx both (every node the same). */
  protocol?: 'tcp' | 'udp';
}

/**
 * The cluster behind the balancer: a `MockCluster` (`servers()`, `authd`) or the simulator's
 * `EmbeddedCluster` (`servers`, `authdPort`), or anything shaped alike.
 */
export interface BalancedCluster {
  /** The nodes, in order (an array, or a method returning one). Server names are the node names (`node1`, …). */
  servers: readonly ClusterNodeEndpoint[] | (() => readonly ClusterNodeEndpoint[]);
  /** authd port (`EmbeddedCluster.authdPort`); the enrollment frontend is added when known. */
  authdPort?: number | undefined;
  /** authd (`MockCluster.authd`); the enrollment frontend is added when present. */
  authd?: { readonly port: number } | undefined;
}

/** Options of {@link startBalancerForCluster}. */
export interface ClusterBalancerOptions {
  /**
   * Address the balancer listens on and reaches the nodes through.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port of the events (1514 role) frontend; 0 picks a free port.
   * @default 0
   */
  eventsPort?: number;
  /**
   * Port of the enrollment (1515 role) frontend; 0 picks a free port.
   * @default 0
   */
  enrollmentPort?: number;
  /**
   * Add the enrollment frontend in front of the cluster's authd.
   * @default true when the cluster has an authd
   */
  enrollment?: boolean;
  /**
   * HAProxy health-check interval (`inter`).
   * @default 1000
   */
  checkIntervalMs?: number;
  /**
   * Agent connections the balancer must hold at once (the fleet size): raises HAProxy's `maxconn`
   * (default 4000) to this plus a margin, and nginx's `worker_connections` (default 4096) to twice
   * this plus a margin (nginx uses one for the agent and one for the node). Below the defaults it
   * changes nothing. Explicit `haproxy.maxconn` / `nginx.workerConnections` win.
   */
  connections?: number;
  /** More HAProxy options (timeouts, rise/fall, binary, …). */
  haproxy?: Omit<HaproxyBalancerOptions, 'backends' | 'enrollmentBackends' | 'host' | 'eventsPort' | 'enrollmentPort'>;
  /** More nginx options (method, fail_timeout, binary, …); the transport is the nodes'. */
  nginx?: Omit<NginxStreamBalancerOptions, 'backends' | 'enrollmentBackends' | 'host' | 'eventsPort' | 'enrollmentPort' | 'protocol'>;
  /**
   * HAProxy only: a {@link HaproxyRebalancer} over the balancer's runtime API. `cluster` is the
   * cluster to ask agents to reconnect through (a MockCluster, or a `RebalanceCluster`); `start`
   * starts its periodic loop at once.
   */
  rebalance?: Omit<HaproxyRebalancerOptions, 'runtime' | 'backend' | 'cluster' | 'logger' | 'clock'> & {
    cluster: RebalanceCluster | MockClusterNodes;
    /**
     * Start the periodic loop (every `sleepTime`) right away.
     * @default false
     */
    start?: boolean;
  };
  /**
   * Logger (pino-compatible).
   * @default silent
   */
  logger?: Logger;
  /**
   * Clock of the balancer's and the rebalancer's waits.
   * @default systemClock
   */
  clock?: Clock;
}

/** The balancer's part of a simulation report (`report.lb`). */
export interface LbReport {
  /** Which balancer. */
  kind: LbKind;
  /** Balancing algorithm: `leastconn` (HAProxy) or `least_conn` (nginx). */
  balance: string;
  /** The events frontend, `address:port`. */
  eventsServer: string;
  /** The enrollment frontend, `address:port`, or null without one. */
  enrollmentServer: string | null;
  /** Current sessions per backend server (node) read from HAProxy's runtime API (`scur`); null for nginx (no API). */
  sessionsPerBackend: Record<string, number> | null;
  /** Each backend server's state (UP, DOWN, DRAIN, …) from HAProxy; null for nginx. */
  serverStates: Record<string, ServerState> | null;
}

/** A balancer running in front of a cluster. */
export interface ClusterBalancer {
  /** Which balancer. */
  readonly kind: LbKind;
  /** Where agents connect: the events (1514 role) frontend. */
  readonly eventsServer: { address: string; port: number };
  /** Transport of the events frontend (the nodes'): `udp` with nginx only. */
  readonly protocol: 'tcp' | 'udp';
  /** Where agents enroll: the enrollment (1515 role) frontend, when the cluster has an authd. */
  readonly enrollmentServer: { address: string; port: number } | undefined;
  /** The node names, which are the backend server names. */
  readonly nodes: readonly string[];
  /** The HAProxy harness (kind `haproxy`). */
  readonly haproxy: HaproxyBalancer | undefined;
  /** The nginx harness (kind `nginx`). */
  readonly nginx: NginxStreamBalancer | undefined;
  /** HAProxy's runtime API (kind `haproxy`). */
  readonly runtime: HaproxyRuntimeApi | undefined;
  /** The rebalancer, when `rebalance` was given (HAProxy only). */
  readonly rebalancer: HaproxyRebalancer | undefined;
  /**
   * Current sessions per node as HAProxy counts them (`scur` of each `wazuh_cluster` server).
   *
   * @returns node → sessions, or undefined for nginx (open-source nginx has no API for it).
   */
  sessionsPerNode(): Promise<Record<string, number> | undefined>;
  /**
   * The balancer's part of a report, read now (read it before the fleet stops, while the sessions are open).
   *
   * @returns the report section.
   */
  report(): Promise<LbReport>;
  /** Stops the rebalancer and the balancer. Idempotent. */
  stop(): Promise<void>;
}

const NODE_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function nodesOf(kind: LbKind, cluster: BalancedCluster): { backends: LbBackend[]; protocol: 'tcp' | 'udp' } {
  const list = typeof cluster.servers === 'function' ? cluster.servers() : cluster.servers;
  if (!Array.isArray(list) || list.length === 0) throw new ToolError('startBalancerForCluster: the cluster lists no node (servers is empty)', 'ERR_USAGE');
  const protocol = (list[0] as ClusterNodeEndpoint).protocol ?? 'tcp';
  const backends = list.map((s: ClusterNodeEndpoint, i) => {
    if ((s.protocol ?? 'tcp') !== protocol) throw new ToolError('startBalancerForCluster: the nodes mix TCP and UDP; one balancer proxies one transport', 'ERR_USAGE');
    if (protocol === 'udp' && kind === 'haproxy') {
      throw new ToolError(
        `startBalancerForCluster: node ${s.name ?? s.node ?? i + 1} serves UDP; HAProxy proxies TCP only: use nginx (stream, listen … udp) or TCP nodes`,
        'ERR_USAGE',
      );
    }
    const name = s.name ?? s.node ?? `node${i + 1}`;
    if (!NODE_NAME_RE.test(name)) {
      throw new ToolError(`startBalancerForCluster: node name ${JSON.stringify(name)} cannot be a balancer server name (letters, digits, '_', '.', '-')`, 'ERR_USAGE');
    }
    return { name, address: s.address, port: s.port ?? 1514 };
  });
  return { backends, protocol };
}

/**
 * Starts a real HAProxy (`balance leastconn`, the Wazuh documentation's layout) or nginx `stream`
 * (`least_conn`) in front of a cluster's nodes on 127.0.0.1: an events frontend over every node's
 * remoted listener and, when the cluster has an authd, an enrollment frontend over it. The fleet
 * then gets one server, {@link ClusterBalancer.eventsServer}.
 *
 * @param kind - `haproxy` or `nginx`.
 * @param cluster - the nodes (a MockCluster, the simulator's embedded cluster, or alike).
 * @param options - ports, health checks, balancer options, and an optional rebalancer (HAProxy).
 * @returns the running balancer; stop it with {@link ClusterBalancer.stop}.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for an unknown kind, UDP nodes, or a rebalancer with nginx;
 *   `ERR_EXTERNAL_PROGRAM` when the program is missing (naming the Debian package) or does not start;
 *   `ConfigError` for impossible balancer options.
 * @example
 * ```ts
 * const lb = await startBalancerForCluster('haproxy', cluster, { checkIntervalMs: 500 });
 * const fleet = new Fleet({ servers: [{ ...lb.eventsServer, node: 'haproxy' }], ... });
 * console.log(await lb.sessionsPerNode()); // { node1: 334, node2: 333, node3: 333 }
 * await lb.stop();
 * ```
 */
export async function startBalancerForCluster(kind: LbKind, cluster: BalancedCluster, options: ClusterBalancerOptions = {}): Promise<ClusterBalancer> {
  if (kind !== 'haproxy' && kind !== 'nginx') throw new ToolError(`startBalancerForCluster: kind must be 'haproxy' or 'nginx', not ${JSON.stringify(kind)}`, 'ERR_USAGE');
  if (kind === 'nginx' && options.rebalance !== undefined) {
    throw new ToolError('startBalancerForCluster: the rebalancer drives HAProxy through its runtime API; nginx has none (drop `rebalance` or use haproxy)', 'ERR_USAGE');
  }
  const { backends, protocol } = nodesOf(kind, cluster);
  const authdPort = cluster.authdPort ?? cluster.authd?.port;
  const withEnrollment = (options.enrollment ?? true) && authdPort !== undefined;
  const host = options.host ?? '127.0.0.1';
  const enrollmentBackends = withEnrollment ? [{ name: 'authd', address: backends[0]!.address, port: authdPort }] : undefined;
  const logger = options.logger ?? silentLogger;
  const common = {
    backends,
    ...(enrollmentBackends ? { enrollmentBackends } : {}),
    host,
    eventsPort: options.eventsPort ?? 0,
    enrollmentPort: options.enrollmentPort ?? 0,
    logger,
    ...(options.clock ? { clock: options.clock } : {}),
  };

  const connections = options.connections ?? 0;
  if (!Number.isInteger(connections) || connections < 0) {
    throw new ToolError(`startBalancerForCluster: connections must be a whole number >= 0, not ${String(options.connections)}`, 'ERR_USAGE');
  }

  if (kind === 'nginx') {
    const workerConnections = Math.max(4096, 2 * connections + 256);
    const nginx = await NginxStreamBalancer.start({ method: 'least_conn', workerConnections, ...options.nginx, ...common, protocol });
    return new RunningBalancer(kind, nginx.host, nginx.eventsPort, nginx.enrollmentPort, backends, undefined, nginx, undefined, options.nginx?.method ?? 'least_conn', protocol);
  }

  const maxconn = Math.max(4000, connections + 100);
  const haproxy = await HaproxyBalancer.start({ checkIntervalMs: options.checkIntervalMs ?? 1000, maxconn, ...options.haproxy, ...common });
  let rebalancer: HaproxyRebalancer | undefined;
  if (options.rebalance !== undefined) {
    const { start, ...rest } = options.rebalance;
    try {
      rebalancer = new HaproxyRebalancer({
        serverCheck: haproxy.serverCheck,
        ...rest,
        runtime: haproxy.runtime,
        backend: HAPROXY_EVENTS_BACKEND,
        logger,
        ...(options.clock ? { clock: options.clock } : {}),
      });
    } catch (err) {
      await haproxy.stop();
      throw err;
    }
    if (start === true) rebalancer.start();
  }
  return new RunningBalancer(kind, haproxy.host, haproxy.eventsPort, haproxy.enrollmentPort, backends, haproxy, undefined, rebalancer, options.haproxy?.balance ?? 'leastconn', 'tcp');
}

class RunningBalancer implements ClusterBalancer {
  readonly eventsServer: { address: string; port: number };
  readonly enrollmentServer: { address: string; port: number } | undefined;
  readonly nodes: readonly string[];
  readonly runtime: HaproxyRuntimeApi | undefined;
  #stopping: Promise<void> | undefined;

  constructor(
    readonly kind: LbKind,
    host: string,
    eventsPort: number,
    enrollmentPort: number | undefined,
    backends: readonly LbBackend[],
    readonly haproxy: HaproxyBalancer | undefined,
    readonly nginx: NginxStreamBalancer | undefined,
    readonly rebalancer: HaproxyRebalancer | undefined,
    readonly balance: string,
    readonly protocol: 'tcp' | 'udp',
  ) {
    this.eventsServer = { address: host, port: eventsPort };
    this.enrollmentServer = enrollmentPort === undefined ? undefined : { address: host, port: enrollmentPort };
    this.nodes = backends.map((b) => b.name);
    this.runtime = haproxy?.runtime;
  }

  async sessionsPerNode(): Promise<Record<string, number> | undefined> {
    return this.runtime?.sessionsPerServer(HAPROXY_EVENTS_BACKEND);
  }

  async report(): Promise<LbReport> {
    const at = (s: { address: string; port: number }): string => `${s.address}:${s.port}`;
    return {
      kind: this.kind,
      balance: this.balance,
      eventsServer: at(this.eventsServer),
      enrollmentServer: this.enrollmentServer ? at(this.enrollmentServer) : null,
      sessionsPerBackend: (await this.sessionsPerNode()) ?? null,
      serverStates: this.runtime ? await this.runtime.serverStates(HAPROXY_EVENTS_BACKEND) : null,
    };
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.rebalancer?.stop();
      await this.haproxy?.stop();
      await this.nginx?.stop({ graceful: false });
    })();
    return this.#stopping;
  }
}

/**
 * Settings of the rebalancer the simulator puts behind `--lb haproxy` for the `add` and `remove`
 * chaos steps: the helper's steps at a run's pace (no 25 s status sync or 60 s stability wait;
 * 100 agents every 500 ms).
 */
export const SIMULATOR_REBALANCER_OPTIONS = {
  chunkSize: 100,
  chunkDelay: 500,
  statusSyncTime: 0,
  adminStateDelay: 500,
  stabilityTime: 0,
  pollInterval: 200,
  nodeUpTimeout: 20_000,
  drainTimeout: 15_000,
} as const satisfies Omit<HaproxyRebalancerOptions, 'runtime' | 'cluster'>;

/**
 * The embedded cluster as the chaos steps see it behind a balancer with a rebalancer: `add` starts
 * the node and adds it as a server of the HAProxy backend, then moves each old node's excess to it
 * ({@link HaproxyRebalancer.addNode}); `remove` drains the node's server, moves its agents off and
 * deletes the server ({@link HaproxyRebalancer.removeNode}) before the node stops. Everything else is
 * the cluster's own.
 *
 * @param cluster - the embedded cluster.
 * @param rebalancer - the rebalancer over the balancer in front of it.
 * @returns the cluster with membership changes that go through the balancer.
 */
export function membershipThroughBalancer(cluster: EmbeddedCluster, rebalancer: HaproxyRebalancer): EmbeddedCluster {
  const addNode: EmbeddedCluster['addNode'] = async (node) => {
    const join = await cluster.addNode(node);
    const migration = await rebalancer.addNode({ name: node, address: join.address, port: join.port });
    return { ...join, moved: join.moved + migration.moved };
  };
  const removeNode: EmbeddedCluster['removeNode'] = async (node) => {
    const out = await rebalancer.removeNode(node);
    const leave = await cluster.removeNode(node);
    return { moved: out.moved + leave.moved, leftBehind: Math.max(out.leftBehind, leave.leftBehind) };
  };
  return new Proxy(cluster, {
    get(target, key) {
      if (key === 'addNode') return addNode;
      if (key === 'removeNode') return removeNode;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
