/**
 * The types of a {@link Fleet}: its options, its gauges and totals, its events and its run states.
 *
 * @module
 */
import type { AgentClientOptions, AgentIdentityOptions, Clock, ServerOptions, TransportFactory } from '../index.js';
import type { Fleet } from './fleet.js';
import type { FleetEventCounts, FleetMetrics, FleetGauges, TimelinePoint } from './metrics.js';
import type { LoopDelay } from './loop-delay.js';
import type { LimitHit } from './report.js';
import type { Stage } from './stages.js';
import type { WorkloadFactory } from './workloads.js';

/** One manager in the fleet's ordered server list, with the node name the reports use. */
export interface FleetServer extends ServerOptions {
  /**
   * Name shown in per-node counts (`node1`).
   * @default `address:port`
   */
  node?: string;
}

/** Client options every agent of a fleet shares (identity, servers, bind address and logger are the fleet's). */
export type FleetClientOptions = Omit<AgentClientOptions, 'agent' | 'keys' | 'servers' | 'localAddress' | 'signal'>;

/** Options of `new Fleet(options)`. Milliseconds everywhere. */
export interface FleetOptions {
  /**
   * The 0-based indexes, in the whole fleet, of the agents this Fleet runs (its shard or worker
   * part). The index decides the agent's place in the ramp, its server-list rotation, its source
   * address and its workload phase, so a fleet split over shards or workers behaves as one.
   */
  indexes: readonly number[];
  /**
   * One identity per index (same order); an `undefined` entry (or no list at all) means the agent
   * enrolls, named `sim-NNNNNN` after its index, which needs `client.enrollment` settings.
   */
  identities?: readonly (AgentIdentityOptions | undefined)[];
  /** The ordered server list (failover order), at least one. */
  servers: readonly FleetServer[];
  /**
   * Rotate each agent's server list so agent i starts at server i mod N, as administrators spread a
   * fleet by configuration; false gives every agent the same order.
   * @default true
   */
  spread?: boolean;
  /** Options every agent shares: notifyTime, timeReconnect, reconnect, cryptoMethod, buffer, enrollment, ... */
  client?: FleetClientOptions;
  /**
   * Agents started per second, by index (agent i starts at i / rate seconds); 0 starts them all at once.
   * @default 500
   */
  rampPerSecond?: number;
  /**
   * Events per second per agent (fractions allowed); 0 sends none.
   * @default 0
   */
  eps?: number;
  /**
   * End of the event schedule, in ms after the run start: no event due later is generated, however
   * late a timer fires on a loaded machine (`simulate --duration` sets it, so the number of events
   * depends only on the seed, the agents and the duration). Unset: the schedule runs until `stop()`.
   */
  eventsUntil?: number;
  /**
   * Load stages: agents ramp linearly to each stage's `agents` and send its `eps`; when given, they
   * replace `rampPerSecond` (if a stage sets `agents`) and `eps` (from the first stage that sets it).
   */
  stages?: readonly Stage[];
  /**
   * The workload: a `--workload` spec (`syslog`, `fim`, `mixed`, a file) or a factory.
   * @default 'syslog'
   */
  workload?: string | WorkloadFactory;
  /**
   * Seed of the workloads, so runs and shards repeat.
   * @default 'agentlink'
   */
  seed?: string;
  /**
   * Spread source addresses over this many addresses of 127.0.0.0/8 (agent i binds 127.0.0.(i mod N + 1));
   * 0 lets the OS choose.
   * @default 0
   */
  sourceAddresses?: number;
  /**
   * Wall-clock start of the run (ms since the epoch): the ramp, the workload schedule and the
   * timeline count from here, so workers started at slightly different times share one time axis.
   * @default the time of {@link Fleet.start}
   */
  runStartedAt?: number;
  /**
   * The servers are load balancers in front of the manager nodes: a reconnection counts as a
   * failover when the connection was lost (the balancer picks a live node), and not when the
   * manager asked for it (`#!-force_reconnect`, as a rebalance does). Without a balancer a
   * failover is a reconnection to a different server of the agent's list.
   * @default false
   */
  balanced?: boolean;
  /**
   * Workload timer period.
   * @default 100
   */
  tickMs?: number;
  /**
   * The metrics to record into.
   * @default a new FleetMetrics
   */
  metrics?: FleetMetrics;
  /**
   * Clock of the fleet's own timers and of the agents.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Transport factory of the agents.
   * @default real TCP/UDP sockets
   */
  transport?: TransportFactory;
}

/** Gauges of a fleet now. */
export interface FleetProgress extends FleetGauges, FleetEventCounts {
  /** Agents in the fleet. */
  agents: number;
  /** Agents started so far (the ramp). */
  started: number;
  /** Agents that got a startup ACK at least once. */
  connectedEver: number;
  /** Errors the agents emitted so far, by code (`ERR_CONNECT`, `ERR_SERVER_SILENT`, ...). */
  errors: Record<string, number>;
  /** Connect and failover latency histograms so far, encoded, when asked for (they merge across worker processes; the live dashboard's percentiles). */
  latency?: { connect: string; failover: string };
}

/** What a stopped fleet did, for exact event accounting. */
export interface FleetTotals extends FleetEventCounts {
  /** Agents in the fleet. */
  agents: number;
  /** Agents started. */
  started: number;
  /** Agents connected when {@link Fleet.stop} was called. */
  connectedAtEnd: number;
  /** Connected agents per node when {@link Fleet.stop} was called. */
  distribution: Record<string, number>;
  /** Agents that got a startup ACK at least once. */
  connectedEver: number;
  /** Agents that never did. */
  neverConnected: number;
  /** Events written to connections that were lost before an ACK confirmed them (`eventsUnconfirmedOnLostConnections` summed). */
  eventsUnconfirmedOnLostConnections: number;
  /** Failed connection attempts. */
  connectFailures: number;
  /** Successful connections after the first one. */
  reconnects: number;
  /** Reconnections that landed on another server. */
  failovers: number;
  /** The last error of agents that never connected, by code (what kept them out). */
  neverConnectedReasons: Record<string, number>;
  /** The first error message seen for each error code (one example per code). */
  errorSamples: Record<string, string>;
  /** Errors the agents emitted, by code: failed attempts, lost connections, bad messages. */
  errors: Record<string, number>;
  /** System limits hit. */
  limits: LimitHit[];
  /** How late this process's event loop ran between start and stop (several processes: the worst). */
  loopDelay: LoopDelay;
}

/** Options of {@link Fleet.stop}. */
export interface FleetStopOptions {
  /**
   * How long the agents get to flush their buffers (waiting for reconnections too) before they are stopped.
   * @default 5000
   */
  drainTimeout?: number;
  /**
   * Generate the events due up to this many milliseconds after the run start, then no more (makes
   * the event count independent of when `stop()` runs). Without it, generation stops now.
   */
  eventsUntil?: number;
}

/** Typed events of a {@link Fleet}. */
export interface FleetEvents {
  /** A system limit was hit for the first time (later hits are counted in {@link FleetTotals.limits}). */
  limit: [hit: LimitHit];
  /** Every agent has been started. */
  rampDone: [];
  /** A timeline sample was taken (once per bucket). */
  sample: [point: TimelinePoint, progress: FleetProgress];
  /** The run state changed (see {@link FLEET_TRANSITIONS}). */
  stateChange: [change: { from: FleetState; to: FleetState }];
}

/** Run states of a {@link Fleet}: `new` until {@link Fleet.start}, `stopping` while {@link Fleet.stop} drains. */
export type FleetState = 'new' | 'running' | 'stopping' | 'stopped';

/** Allowed transitions of a {@link Fleet}: the only way its state changes. */
export const FLEET_TRANSITIONS: Readonly<Record<FleetState, readonly FleetState[]>> = {
  new: ['running', 'stopping'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};
