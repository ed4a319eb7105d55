/**
 * The one executor of chaos schedules: `simulate --chaos`, the demo, {@link simulate}'s `chaos`
 * option and the reliability soak all hand their {@link ChaosStep}s to a {@link ChaosRunner}, which
 * runs each at its time against a {@link ChaosTarget} (an embedded cluster), decides when a step
 * cannot apply (a node already down, the last node up), ends timed faults, and records every step
 * as a {@link ChaosEvent}.
 *
 * @module
 */
import { systemClock } from '../../clock.js';
import type { Clock, TimerHandle } from '../../clock.js';
import { ToolError } from '../../errors.js';
import type { ClusterRebalanceResult } from '../cluster-host.js';
import type { ChaosEvent } from '../report.js';
import { SeededRandom } from '../workloads.js';
import { PATH_ACTIONS } from './steps.js';
import type { ChaosStep, NodeChaosStep } from './steps.js';

/** A fault on the path to a node (the FaultProxy in front of it). */
export type PathFault =
  /** Forward nothing (`on`), or forward again. */
  | { kind: 'blackhole'; on: boolean }
  /** Delay each direction by `ms` (0 turns it off). */
  | { kind: 'latency'; ms: number }
  /** Reset every connection. */
  | { kind: 'reset' }
  /** Close every connection in the middle of its next frame. */
  | { kind: 'cut'; direction: 'up' | 'down' | 'both' };

/** What {@link ChaosTarget.addNode} did. */
export interface NodeJoin {
  /** Where the new node listens (its fault proxy's address with fault paths). */
  address: string;
  /** Its port. */
  port: number;
  /** Agents asked to reconnect so that they move to it (behind HAProxy: each old node's excess). */
  moved: number;
}

/** What {@link ChaosTarget.removeNode} did. */
export interface NodeLeave {
  /** Agents asked to reconnect so that they move off it. */
  moved: number;
  /** Agents still connected to it when it stopped (their connections reset): 0 when none was left behind. */
  leftBehind: number;
}

/** What a {@link ChaosRunner} acts on: an embedded cluster ({@link EmbeddedCluster} is one). */
export interface ChaosTarget {
  /** Node names, `node1`…`nodeN` (and the nodes `add` steps added). */
  readonly nodes: readonly string[];
  /** Agents the cluster knows (positions 0…agents-1), for `force-reconnect` picks. */
  readonly agents: number;
  /** Whether a FaultProxy stands in front of every node (needed by `blackhole`, `latency`, `reset`, `cut`). */
  readonly faultPaths: boolean;
  /** Kills a node (connections reset, port closed). */
  kill(node: string): Promise<void>;
  /** Restarts a node on its port. */
  restart(node: string): Promise<void>;
  /** Makes a node read and answer nothing (`on`), or answer again. A node that is down is left alone. */
  hang(node: string, on: boolean): Promise<void>;
  /** Resets every connection of a node; returns how many. */
  resetConnections(node: string): Promise<number>;
  /** Applies a fault to the path to a node; returns how many connections it touched. */
  pathFault(node: string, fault: PathFault): Promise<number>;
  /** Sends `#!-force_reconnect` to the agents at these positions that are connected; returns how many were told. */
  forceReconnect(agents: readonly number[]): Promise<number>;
  /** Connected agents per node. */
  distribution(): Promise<Record<string, number>>;
  /** The Wazuh HAProxy helper's rebalance. */
  rebalance(options?: { chunkSize?: number; chunkDelay?: number }): Promise<ClusterRebalanceResult>;
  /** A node joins the cluster (behind HAProxy: added as a server, its share of agents moved to it). */
  addNode(node: string): Promise<NodeJoin>;
  /** A node leaves the cluster, its agents moved off first (behind HAProxy: drained and deleted as a server). */
  removeNode(node: string): Promise<NodeLeave>;
}

/** Options of `new ChaosRunner(options)`. */
export interface ChaosRunnerOptions {
  /** What the steps act on. */
  target: ChaosTarget;
  /** The schedule; each step's `atMs` counts from {@link ChaosRunner.start}. */
  steps: readonly ChaosStep[];
  /**
   * Clock of the step timers.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * The time stamped on each {@link ChaosEvent}, in milliseconds.
   * @default milliseconds since {@link ChaosRunner.start}
   */
  elapsed?: () => number;
  /**
   * Seed of the `force-reconnect` picks.
   * @default 'agentlink'
   */
  seed?: string;
  /**
   * Skip a `kill` that would leave no node up.
   * @default false
   */
  keepOneNodeUp?: boolean;
  /**
   * End every blackhole and hang with a reset of the connections that lived through it. A
   * blackhole discards bytes in the middle of a stream and a hung node reads and discards, which
   * no TCP path does: a connection that survived one has a hole in its stream, and the keepalive
   * ACKs after it confirm events that never arrived. `false` keeps such connections.
   * @default true
   */
  resetAfterBlackhole?: boolean;
  /** Chunking of `rebalance` steps (the HAProxy helper's by default: 100 agents every 5 s). */
  rebalance?: {
    /** Agents told to reconnect at a time. */
    chunkSize?: number;
    /** Milliseconds between chunks. */
    chunkDelay?: number;
  };
  /**
   * After an `add` or `remove` step, how long to wait for every agent connected before it to be
   * connected again before the balance after it is read, in milliseconds.
   * @default 30000
   */
  settleTimeoutMs?: number;
  /** One line per step (`chaos at 10.0s: kill node1 (down 5000 ms)`). */
  log?: (line: string) => void;
  /** Called with every step's record as it is made. */
  onEvent?: (event: ChaosEvent) => void;
}

/** What a step did: `detail` when done, `skipped` when it could not apply. */
type Outcome = { node?: string; detail?: string; skipped?: string; balance?: NonNullable<ChaosEvent['balance']>; connected?: number };

const total = (d: Record<string, number>): number => Object.values(d).reduce((a, b) => a + b, 0);
const describeBalance = (d: Record<string, number>): string =>
  Object.entries(d)
    .map(([n, c]) => `${n} ${c}`)
    .join(' · ');

/**
 * Runs a chaos schedule against a cluster.
 *
 * @example
 * ```ts
 * import { ChaosRunner, parseChaos, startEmbeddedCluster } from 'agentlink/simulator';
 *
 * const cluster = await startEmbeddedCluster({ nodes: 3, keys, faultPaths: true });
 * const chaos = new ChaosRunner({ target: cluster, steps: parseChaos('kill:node1@5s+10s,blackhole:node2@8s+3s', 3) });
 * chaos.start();
 * // ... run a fleet against cluster.servers ...
 * await chaos.stop(); // every fault ends
 * console.log(chaos.events);
 * ```
 */
export class ChaosRunner {
  readonly #target: ChaosTarget;
  readonly #steps: readonly ChaosStep[];
  readonly #clock: Clock;
  readonly #elapsed: () => number;
  readonly #rng: SeededRandom;
  readonly #keepOneUp: boolean;
  readonly #resetAfter: boolean;
  readonly #rebalance: { chunkSize?: number; chunkDelay?: number };
  readonly #settleTimeoutMs: number;
  readonly #log: (line: string) => void;
  readonly #onEvent: ((event: ChaosEvent) => void) | undefined;
  readonly #events: ChaosEvent[] = [];
  readonly #timers = new Set<TimerHandle>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Pauses of steps in progress, woken by {@link ChaosRunner.stop}. */
  readonly #wakers = new Set<() => void>();
  /** Faults in force that end: `action:node` → the end, and its timer when timed. */
  readonly #ends = new Map<string, { timer: TimerHandle | undefined; end: () => Promise<void> }>();
  /** Nodes this runner killed and has not restarted. */
  readonly #down = new Set<string>();
  /** Hung nodes → the hang's token (a kill or restart ends the hang with the incarnation). */
  readonly #hung = new Map<string, object>();
  #lastKilled: string | undefined;
  #startedAt = 0;
  #fired = 0;
  #state: 'new' | 'running' | 'stopped' = 'new';

  /**
   * @param options - the target, the steps and how to run them.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when a step acts on a path and the target has no fault proxies.
   */
  constructor(options: ChaosRunnerOptions) {
    this.#target = options.target;
    this.#steps = [...options.steps].sort((a, b) => a.atMs - b.atMs);
    this.#clock = options.clock ?? systemClock;
    this.#elapsed = options.elapsed ?? (() => this.#clock.monotonic() - this.#startedAt);
    this.#rng = new SeededRandom(`chaos-picks\0${options.seed ?? 'agentlink'}`);
    this.#keepOneUp = options.keepOneNodeUp ?? false;
    this.#resetAfter = options.resetAfterBlackhole ?? true;
    this.#rebalance = options.rebalance ?? {};
    this.#settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
    this.#log = options.log ?? (() => undefined);
    this.#onEvent = options.onEvent;
    const path = this.#steps.find((s) => PATH_ACTIONS.includes(s.action));
    if (path && !this.#target.faultPaths) {
      throw new ToolError(`chaos step ${path.action} acts on the path to a node: start the cluster with a fault proxy in front of every node (faultPaths)`, 'ERR_USAGE');
    }
  }

  /** Every step run so far, in the order they ran. */
  get events(): readonly ChaosEvent[] {
    return this.#events;
  }

  /** Steps whose time came (run, skipped or failed). */
  get fired(): number {
    return this.#fired;
  }

  /** Steps in the schedule. */
  get planned(): number {
    return this.#steps.length;
  }

  /**
   * Starts the schedule: each step runs `atMs` after now.
   *
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when called twice.
   */
  start(): void {
    if (this.#state !== 'new') throw new ToolError('ChaosRunner.start() was already called', 'ERR_USAGE');
    this.#state = 'running';
    this.#startedAt = this.#clock.monotonic();
    for (const step of this.#steps) {
      const timer = this.#clock.setTimeout(() => {
        this.#timers.delete(timer);
        this.#fired++;
        this.#track(this.#run(step));
      }, step.atMs);
      this.#timers.add(timer);
    }
  }

  /**
   * Stops the schedule: steps not yet due never run, steps running finish, and every fault in force
   * ends now (timed kills restart their node, hangs and blackholes end with their reset, latency
   * goes). A `kill` without a duration stays: the node is down until something restarts it.
   * Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return this.#settle();
    this.#state = 'stopped';
    for (const wake of [...this.#wakers]) wake();
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    await this.#settle();
    while (this.#ends.size > 0) {
      const ends = [...this.#ends.values()];
      this.#ends.clear();
      for (const e of ends) {
        this.#clock.clearTimeout(e.timer);
        this.#track(e.end());
      }
      await this.#settle();
    }
  }

  /** Resolves after `ms`, or at once when {@link ChaosRunner.stop} is called. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        this.#clock.clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = this.#clock.setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  async #settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  #track(p: Promise<void>): void {
    const tracked = p.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Registers the end of a fault, run after `forMs` (or at {@link ChaosRunner.stop} when undefined). */
  #endLater(key: string, forMs: number | undefined, step: NodeChaosStep, node: string, end: () => Promise<void>): void {
    const guarded = async (): Promise<void> => {
      try {
        await end();
      } catch (err) {
        this.#record(step, { node }, Math.round(this.#elapsed()), `ending it failed: ${(err as Error).message}`);
      }
    };
    const entry: { timer: TimerHandle | undefined; end: () => Promise<void> } = { timer: undefined, end: guarded };
    if (forMs !== undefined) {
      entry.timer = this.#clock.setTimeout(() => {
        if (this.#ends.get(key) !== entry) return;
        this.#ends.delete(key);
        this.#track(guarded());
      }, forMs);
    }
    this.#ends.set(key, entry);
  }

  /** Drops the pending end of a fault without running it. */
  #cancelEnd(key: string): void {
    const e = this.#ends.get(key);
    if (!e) return;
    this.#clock.clearTimeout(e.timer);
    this.#ends.delete(key);
  }

  async #run(step: ChaosStep): Promise<void> {
    const at = Math.round(this.#elapsed());
    let outcome: Outcome = {};
    try {
      outcome = await this.#apply(step);
    } catch (err) {
      this.#record(step, outcome, at, err instanceof Error ? err.message : String(err));
      return;
    }
    this.#record(step, outcome, at);
  }

  #record(step: ChaosStep, outcome: Outcome, at: number, error?: string): void {
    const event: ChaosEvent = { at, action: step.action };
    if (outcome.node !== undefined) event.node = outcome.node;
    if (outcome.detail !== undefined) event.detail = outcome.detail;
    if (outcome.skipped !== undefined) event.skipped = outcome.skipped;
    if (outcome.balance !== undefined) event.balance = outcome.balance;
    if (outcome.connected !== undefined) event.connected = outcome.connected;
    if (error !== undefined) event.error = error;
    this.#events.push(event);
    const what = `${step.action}${event.node ? ` ${event.node}` : ''}`;
    const when = `chaos at ${(at / 1000).toFixed(1)}s`;
    if (error !== undefined) this.#log(`${when}: ${what} failed: ${error}`);
    else if (event.skipped !== undefined) this.#log(`${when}: ${what} skipped: ${event.skipped}`);
    else this.#log(`${when}: ${what}${event.detail ? ` (${event.detail})` : ''}`);
    this.#onEvent?.(event);
  }

  async #node(selector: string): Promise<string> {
    const nodes = this.#target.nodes;
    let node = selector;
    if (selector === 'busiest') {
      const dist = await this.#target.distribution();
      node = Object.entries(dist).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? nodes[0]!;
    } else if (selector === 'last-killed') node = this.#lastKilled ?? nodes[0]!;
    if (!nodes.includes(node)) throw new ToolError(`unknown node '${node}'; the cluster has ${nodes.join(', ')}`, 'ERR_USAGE');
    return node;
  }

  async #apply(step: ChaosStep): Promise<Outcome> {
    const t = this.#target;
    switch (step.action) {
      case 'rebalance': {
        const r = await t.rebalance(this.#rebalance);
        return { detail: r.balanced ? 'already balanced' : `${r.moved} agents told to reconnect` };
      }
      case 'force-reconnect': {
        const n = t.agents;
        const k = Math.max(0, Math.min(n, step.count ?? Math.max(1, Math.round((step.fraction ?? 0) * n))));
        const picked = new Set<number>();
        while (picked.size < k) picked.add(this.#rng.int(n));
        const told = await t.forceReconnect([...picked].sort((a, b) => a - b));
        return { detail: `${k} agents picked, ${told} told` };
      }
      default:
        return this.#applyToNode(step);
    }
  }

  /**
   * An `add` or `remove` step: the agents per node before it, the change, then the agents per node
   * once as many agents are connected as before (or at `settleTimeoutMs`, or when the chaos stops).
   */
  async #membership(step: Extract<ChaosStep, { action: 'add' | 'remove' }>): Promise<Outcome> {
    const t = this.#target;
    const adding = step.action === 'add';
    const node = adding ? step.node : await this.#node(step.node);
    if (adding && t.nodes.includes(node)) return { node, skipped: 'already in the cluster' };
    if (!adding && t.nodes.length === 1) return { node, skipped: 'the last node' };
    const before = await t.distribution();
    let detail: string;
    if (adding) {
      const j = await t.addNode(node);
      detail = `${j.moved} agents moved to it`;
    } else {
      this.#cancelEnd(`kill:${node}`);
      this.#cancelEnd(`hang:${node}`);
      const l = await t.removeNode(node);
      this.#down.delete(node);
      this.#hung.delete(node);
      detail = `${l.moved} agents moved off, ${l.leftBehind} left behind`;
    }
    const started = this.#clock.monotonic();
    let after = await t.distribution();
    while (total(after) < total(before) && this.#state === 'running' && this.#clock.monotonic() - started < this.#settleTimeoutMs) {
      await this.#pause(100);
      after = await t.distribution();
    }
    const settledMs = Math.round(this.#clock.monotonic() - started);
    detail += `; agents per node before: ${describeBalance(before)}; after (${settledMs} ms): ${describeBalance(after)}`;
    return { node, detail, balance: { before, after, settledMs } };
  }

  async #applyToNode(step: NodeChaosStep): Promise<Outcome> {
    if (step.action === 'add' || step.action === 'remove') return this.#membership(step);
    const t = this.#target;
    const node = await this.#node(step.node);
    const key = `${step.action}:${node}`;
    switch (step.action) {
      case 'kill': {
        if (this.#down.has(node)) return { node, skipped: 'already down' };
        if (this.#keepOneUp && this.#down.size + 1 >= t.nodes.length) return { node, skipped: 'the last node up' };
        this.#down.add(node);
        this.#hung.delete(node);
        this.#cancelEnd(`hang:${node}`);
        // the agents it takes down with it: each of them has to fail over
        const connected = (await t.distribution().catch(() => undefined))?.[node];
        await t.kill(node);
        this.#lastKilled = node;
        const withCount = connected !== undefined ? { connected } : {};
        if (step.forMs === undefined) return { node, ...withCount };
        this.#endLater(key, step.forMs, step, node, async () => {
          await t.restart(node);
          this.#down.delete(node);
        });
        return { node, detail: `down ${step.forMs} ms`, ...withCount };
      }
      case 'restart':
        this.#cancelEnd(`kill:${node}`);
        this.#cancelEnd(`hang:${node}`);
        this.#hung.delete(node);
        await t.restart(node);
        this.#down.delete(node);
        return { node };
      case 'hang': {
        if (this.#down.has(node) || this.#hung.has(node)) return { node, skipped: 'node down or hung' };
        const token = {};
        this.#hung.set(node, token);
        await t.hang(node, true);
        this.#endLater(key, step.forMs, step, node, async () => {
          if (this.#hung.get(node) !== token) return;
          this.#hung.delete(node);
          await t.hang(node, false);
          if (this.#resetAfter) await t.resetConnections(node);
        });
        return { node, detail: step.forMs === undefined ? 'until the chaos stops' : `${step.forMs} ms` };
      }
      case 'blackhole': {
        if (this.#ends.has(key)) return { node, skipped: 'already blackholed' };
        await t.pathFault(node, { kind: 'blackhole', on: true });
        this.#endLater(key, step.forMs, step, node, async () => {
          // the streams that lived through it have holes: reset them, as a firewall that forgot them would
          await t.pathFault(node, { kind: 'blackhole', on: false });
          if (this.#resetAfter) await t.pathFault(node, { kind: 'reset' });
        });
        return { node, detail: step.forMs === undefined ? 'until the chaos stops' : `${step.forMs} ms` };
      }
      case 'latency': {
        if (this.#ends.has(key)) return { node, skipped: 'already delayed' };
        await t.pathFault(node, { kind: 'latency', ms: step.latencyMs });
        this.#endLater(key, step.forMs, step, node, async () => {
          await t.pathFault(node, { kind: 'latency', ms: 0 });
        });
        return { node, detail: `${step.latencyMs} ms${step.forMs === undefined ? '' : ` for ${step.forMs} ms`}` };
      }
      case 'reset':
        return { node, detail: `${await t.pathFault(node, { kind: 'reset' })} connections` };
      case 'cut': {
        const direction = step.direction ?? 'both';
        return { node, detail: `${direction}, ${await t.pathFault(node, { kind: 'cut', direction })} connections armed` };
      }
    }
  }
}
