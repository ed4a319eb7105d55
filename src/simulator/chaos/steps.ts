/**
 * The chaos vocabulary of the simulator: one step union ({@link ChaosStep}) for `simulate --chaos`,
 * the demo, {@link simulate}'s `chaos` option and the reliability soak's seeded plans, its text form
 * (`kill:node1@20s+10s`), a parser and a formatter that are each other's inverse.
 *
 * Text form of one step: `ACTION[:TARGET[=VALUE]]@TIME[+FOR]`, steps separated by commas.
 * - `TARGET` is a node (`node1`…`nodeN`, or `busiest` / `last-killed`, chosen when the step runs);
 *   for `force-reconnect` it is how many agents (`25`) or what share of them (`5%`); for `add` the
 *   new node's name (`node4`: above the cluster's nodes); `remove` also takes a node an earlier `add` named.
 * - `VALUE` is the one-way delay of `latency` (`300ms`) or the direction of `cut` (`up`, `down`, `both`).
 * - `TIME` is when, after the start of the run (`20s`); `FOR` how long the fault lasts (`10s`):
 *   `kill:node1@20s+10s` restarts node1 at 30 s. A fault without `+FOR` lasts until the chaos stops.
 *
 * @module
 */
import { ToolError } from '../../errors.js';
import { parseFlagDuration } from '../flag-values.js';

/**
 * Every chaos action:
 * - `kill`: the node is killed (connections reset, port closed); restarted after `forMs` when given;
 * - `restart`: the node is restarted on its port (killed first when it is up);
 * - `hang`: the node reads everything and answers nothing (a hung remoted), then resets its connections;
 * - `blackhole`: the path to the node (a FaultProxy in front of it) forwards nothing, then resets
 *   the connections that lived through it;
 * - `latency`: the path to the node delays each direction by `latencyMs`;
 * - `reset`: the path to the node resets every connection (TCP RST both ways);
 * - `cut`: the path to the node closes every connection in the middle of the next frame;
 * - `force-reconnect`: the managers send `#!-force_reconnect` to agents picked at random;
 * - `rebalance`: the Wazuh HAProxy helper's rebalance over the whole cluster;
 * - `add`: a node joins the cluster (behind HAProxy: added as a server, its share of agents moved to it);
 * - `remove`: a node leaves the cluster (behind HAProxy: drained and deleted first), its agents moved off.
 */
export const CHAOS_ACTIONS = ['kill', 'restart', 'hang', 'blackhole', 'latency', 'reset', 'cut', 'force-reconnect', 'rebalance', 'add', 'remove'] as const;

/** One of {@link CHAOS_ACTIONS}. */
export type ChaosAction = (typeof CHAOS_ACTIONS)[number];

/** The actions that act on the path to a node: they need a FaultProxy in front of every node. */
export const PATH_ACTIONS: readonly ChaosAction[] = ['blackhole', 'latency', 'reset', 'cut'];

/** Node selectors resolved when the step runs, beside the node names. */
export const NODE_SELECTORS = ['busiest', 'last-killed'] as const;

/** Kill a node; restart it after `forMs` when given. */
export interface KillStep {
  /** `kill`. */
  action: 'kill';
  /** `node1`…`nodeN`, `busiest` (most connected agents when the step runs) or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
  /** How long the node stays down, in milliseconds; absent: until a `restart` step (or the end). */
  forMs?: number;
}

/** Restart a node on its port. */
export interface RestartStep {
  /** `restart`. */
  action: 'restart';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
}

/** Hang a node: it reads and answers nothing, then resets its connections. */
export interface HangStep {
  /** `hang`. */
  action: 'hang';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
  /** How long, in milliseconds; absent: until the chaos stops. */
  forMs?: number;
}

/** Blackhole the path to a node. */
export interface BlackholeStep {
  /** `blackhole`. */
  action: 'blackhole';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
  /** How long, in milliseconds; absent: until the chaos stops. */
  forMs?: number;
}

/** Delay the path to a node. */
export interface LatencyStep {
  /** `latency`. */
  action: 'latency';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
  /** One-way delay, in milliseconds (each direction). */
  latencyMs: number;
  /** How long, in milliseconds; absent: until the chaos stops. */
  forMs?: number;
}

/** Reset every connection on the path to a node. */
export interface ResetStep {
  /** `reset`. */
  action: 'reset';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
}

/** Close every connection on the path to a node in the middle of its next frame. */
export interface CutStep {
  /** `cut`. */
  action: 'cut';
  /** `node1`…`nodeN`, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
  /**
   * Which way the frame is cut: `up` (agent to manager), `down` or `both`.
   * @default 'both'
   */
  direction?: 'up' | 'down' | 'both';
}

/** Tell agents picked at random to reconnect (`#!-force_reconnect`). Give `count` or `fraction`. */
export interface ForceReconnectStep {
  /** `force-reconnect`. */
  action: 'force-reconnect';
  /** When, in milliseconds after the start. */
  atMs: number;
  /** How many agents. */
  count?: number;
  /** What share of the agents, in (0, 1]; at least one agent. */
  fraction?: number;
}

/** Rebalance the cluster as the Wazuh HAProxy helper does. */
export interface RebalanceStep {
  /** `rebalance`. */
  action: 'rebalance';
  /** When, in milliseconds after the start. */
  atMs: number;
}

/** A node joins the running cluster. */
export interface AddNodeStep {
  /** `add`. */
  action: 'add';
  /** The new node's name, `node<N+1>` or above. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
}

/** A node leaves the running cluster, its agents moved off first. */
export interface RemoveNodeStep {
  /** `remove`. */
  action: 'remove';
  /** `node1`…`nodeN`, a node an `add` step named, `busiest` or `last-killed`. */
  node: string;
  /** When, in milliseconds after the start. */
  atMs: number;
}

/** One step of a chaos schedule. Its text form is described in the module documentation. */
export type ChaosStep =
  | KillStep
  | RestartStep
  | HangStep
  | BlackholeStep
  | LatencyStep
  | ResetStep
  | CutStep
  | ForceReconnectStep
  | RebalanceStep
  | AddNodeStep
  | RemoveNodeStep;

/** A step that acts on one node (or the path to it). */
export type NodeChaosStep = Extract<ChaosStep, { node: string }>;

function usage(message: string): ToolError {
  return new ToolError(message, 'ERR_USAGE');
}

/** Compact duration text: `20s`, `1m`, `1500ms`. */
function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * The text form of a step, as `--chaos` takes it: `parseChaos(formatChaosStep(s), n)` gives `s` back.
 *
 * @param step - the step.
 * @returns e.g. `kill:node1@20s+10s`, `latency:node2=300ms@5s+2s`, `force-reconnect:5%@30s`.
 */
export function formatChaosStep(step: ChaosStep): string {
  let target = '';
  let value = '';
  let forMs: number | undefined;
  switch (step.action) {
    case 'rebalance':
      break;
    case 'force-reconnect':
      target = step.fraction !== undefined ? `${+(step.fraction * 100).toFixed(6)}%` : String(step.count ?? 1);
      break;
    case 'latency':
      target = step.node;
      value = formatDuration(step.latencyMs);
      forMs = step.forMs;
      break;
    case 'cut':
      target = step.node;
      value = step.direction ?? '';
      break;
    case 'kill':
    case 'hang':
    case 'blackhole':
      target = step.node;
      forMs = step.forMs;
      break;
    default:
      target = step.node;
  }
  return `${step.action}${target ? `:${target}` : ''}${value ? `=${value}` : ''}@${formatDuration(step.atMs)}${forMs !== undefined ? `+${formatDuration(forMs)}` : ''}`;
}

const STEP_FORM = /^([a-z-]+)(?::([^@=\s]+)(?:=([^@\s]+))?)?@([^+\s]+)(?:\+(\S+))?$/;

function checkNode(node: string | undefined, step: string, action: string, at: string, nodes: number, added: ReadonlySet<string>): string {
  if (node === undefined) throw usage(`--chaos step '${step}': name the node, e.g. ${action}:node1@${at}`);
  if ((NODE_SELECTORS as readonly string[]).includes(node)) return node;
  const n = /^node([1-9]\d*)$/.exec(node);
  if (action !== 'add' && added.has(node)) return node;
  if (action === 'add') {
    if (!n || Number(n[1]) <= nodes) throw usage(`--chaos step '${step}': add names a new node, node${nodes + 1} or above (the cluster has node1..node${nodes})`);
    return node;
  }
  if (!n || Number(n[1]) > nodes) {
    const more = added.size > 0 ? `, the nodes add steps name (${[...added].join(', ')})` : '';
    throw usage(`--chaos step '${step}': unknown node '${node}'; the cluster has node1..node${nodes} (--cluster ${nodes})${more}, or write busiest or last-killed`);
  }
  return node;
}

/**
 * Parses one step of a chaos schedule (see the module documentation for the form).
 *
 * @param text - e.g. `kill:node1@20s+10s`.
 * @param nodes - the cluster size, to check node names (`node1`…`nodeN`).
 * @param added - nodes beyond the cluster that `add` steps of the schedule name, which the other steps may also name.
 * @returns the step.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the step and what to write instead.
 */
export function parseChaosStep(text: string, nodes: number, added: ReadonlySet<string> = new Set()): ChaosStep {
  const step = text.trim();
  const m = STEP_FORM.exec(step);
  if (!m) throw usage(`--chaos step '${step}' must look like kill:node1@20s (ACTION:NODE@TIME, +FOR for a duration) or rebalance@30s`);
  const [, action = '', target, value, at = '', forText] = m;
  if (!(CHAOS_ACTIONS as readonly string[]).includes(action)) {
    throw usage(`--chaos step '${step}': unknown action '${action}'; use ${CHAOS_ACTIONS.join(', ')}`);
  }
  const atMs = parseFlagDuration(at, `--chaos step '${step}': time`);
  let forMs: number | undefined;
  if (forText !== undefined) {
    if (!['kill', 'hang', 'blackhole', 'latency'].includes(action)) {
      throw usage(`--chaos step '${step}': ${action} happens at once and takes no +duration; only kill, hang, blackhole and latency last`);
    }
    forMs = parseFlagDuration(forText, `--chaos step '${step}': duration`);
    if (forMs <= 0) throw usage(`--chaos step '${step}': the duration after + must be longer than 0`);
  }
  const noValue = (): void => {
    if (value !== undefined) throw usage(`--chaos step '${step}': ${action} takes no =value`);
  };
  switch (action) {
    case 'rebalance':
      if (target !== undefined) throw usage(`--chaos step '${step}': rebalance acts on the whole cluster; write rebalance@${at}`);
      return { action, atMs };
    case 'force-reconnect': {
      noValue();
      const amount = /^(\d+(?:\.\d+)?)(%?)$/.exec(target ?? '');
      const n = amount ? Number(amount[1]) : NaN;
      if (!amount || !(n > 0) || (amount[2] === '%' ? n > 100 : !Number.isInteger(n))) {
        throw usage(`--chaos step '${step}': say how many agents, e.g. force-reconnect:25@${at} or force-reconnect:5%@${at}`);
      }
      return amount[2] === '%' ? { action, atMs, fraction: n / 100 } : { action, atMs, count: n };
    }
    case 'latency': {
      const node = checkNode(target, step, action, at, nodes, added);
      if (value === undefined) throw usage(`--chaos step '${step}': give the delay, e.g. latency:${node}=300ms@${at}`);
      const latencyMs = parseFlagDuration(value, `--chaos step '${step}': delay`);
      if (latencyMs <= 0) throw usage(`--chaos step '${step}': the delay must be longer than 0`);
      return forMs === undefined ? { action, node, atMs, latencyMs } : { action, node, atMs, latencyMs, forMs };
    }
    case 'cut': {
      const node = checkNode(target, step, action, at, nodes, added);
      if (value === undefined) return { action, node, atMs };
      if (value !== 'up' && value !== 'down' && value !== 'both') throw usage(`--chaos step '${step}': cut=up, cut=down or cut=both, not '${value}'`);
      return { action, node, atMs, direction: value };
    }
    default: {
      noValue();
      const node = checkNode(target, step, action, at, nodes, added);
      const a = action as 'kill' | 'restart' | 'hang' | 'blackhole' | 'reset' | 'add' | 'remove';
      if (a === 'restart' || a === 'reset' || a === 'add' || a === 'remove') return { action: a, node, atMs };
      return forMs === undefined ? { action: a, node, atMs } : { action: a, node, atMs, forMs };
    }
  }
}

/**
 * Parses a chaos schedule: comma-separated steps (see the module documentation for the form).
 *
 * @param text - e.g. `kill:node1@20s,restart:node1@40s` or `blackhole:node2@10s+5s,rebalance@30s`.
 * @param nodes - the cluster size, to check node names (`node1`…`nodeN`).
 * @returns the steps, in time order.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the bad step.
 */
export function parseChaos(text: string, nodes: number): ChaosStep[] {
  const pieces = text.split(',').filter((raw) => raw.trim() !== '');
  // the nodes add steps name first: the other steps may name them too, from the add on
  const adds = new Map<string, number>();
  for (const raw of pieces) {
    if (!raw.trim().startsWith('add:')) continue;
    const step = parseChaosStep(raw, nodes) as AddNodeStep;
    if (adds.has(step.node)) throw usage(`--chaos step '${raw.trim()}': ${step.node} is added twice`);
    adds.set(step.node, step.atMs);
  }
  const added = new Set(adds.keys());
  const steps = pieces.map((raw) => parseChaosStep(raw, nodes, added));
  for (const s of steps) {
    const node = 'node' in s && s.action !== 'add' ? s.node : undefined;
    const addedAt = node === undefined ? undefined : adds.get(node);
    if (addedAt !== undefined && s.atMs <= addedAt) throw usage(`--chaos step '${formatChaosStep(s)}': ${node} joins at ${formatDuration(addedAt)}; act on it after that`);
  }
  return steps.sort((a, b) => a.atMs - b.atMs);
}

/**
 * Whether a schedule has a step that acts on the path to a node (and so needs a FaultProxy in front of every node).
 *
 * @param steps - the schedule.
 * @returns true when one step is `blackhole`, `latency`, `reset` or `cut`.
 */
export function needsFaultPaths(steps: readonly ChaosStep[]): boolean {
  return steps.some((s) => PATH_ACTIONS.includes(s.action));
}
