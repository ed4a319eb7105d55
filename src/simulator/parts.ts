/**
 * The parts a simulated fleet runs in: a {@link Fleet} in this process, or worker processes that
 * each run a share of the agents; and the sums of their progress, limits and totals.
 *
 * @module
 */
import { forkChild, IpcClient } from './child.js';
import type { Fleet } from './fleet.js';
import type { FleetProgress, FleetTotals } from './fleet-types.js';
import { mergeLoopDelays } from './loop-delay.js';
import { EVENT_COUNT_KEYS, addCounts, addRecord, emptyEventCounts } from './metrics.js';
import type { MetricsSnapshot } from './metrics.js';
import type { LimitHit } from './report.js';
import type { WorkerSpec } from './worker.js';

/** One part of the fleet: a Fleet in this process, or a worker process. */
export interface FleetPart {
  start(runStartedAt: number): Promise<void>;
  progress(): Promise<FleetProgress | undefined>;
  limits(): LimitHit[];
  stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }>;
  close(): Promise<void>;
}

/** A Fleet in this process. */
export class LocalPart implements FleetPart {
  readonly fleet: Fleet;

  constructor(fleet: Fleet) {
    this.fleet = fleet;
  }

  async start(runStartedAt: number): Promise<void> {
    this.fleet.start(runStartedAt);
  }

  async progress(): Promise<FleetProgress> {
    return this.fleet.progress({ latency: true });
  }

  limits(): LimitHit[] {
    return this.fleet.limits();
  }

  async stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }> {
    const totals = await this.fleet.stop({ drainTimeout, eventsUntil });
    return { totals, snapshot: this.fleet.metrics.snapshot() };
  }

  async close(): Promise<void> {
    await this.fleet.stop({ drainTimeout: 0 });
  }
}

/** A worker process that runs a Fleet of its own share of the agents (`worker.ts`). */
export class WorkerPart implements FleetPart {
  readonly #ipc: IpcClient;
  #progress: FleetProgress | undefined;
  readonly #limits = new Map<string, LimitHit>();

  constructor(onLimit: (hit: LimitHit) => void) {
    this.#ipc = new IpcClient(forkChild('worker'), 'fleet worker', (msg) => {
      if (msg.type === 'sample') this.#progress = msg.progress as FleetProgress;
      else if (msg.type === 'limit') {
        const hit = msg.hit as LimitHit;
        this.#limits.set(hit.limit, hit);
        onLimit(hit);
      }
    });
  }

  init(spec: WorkerSpec): Promise<void> {
    return this.#ipc.request('init', { spec });
  }

  start(runStartedAt: number): Promise<void> {
    return this.#ipc.request('start', { runStartedAt });
  }

  async progress(): Promise<FleetProgress | undefined> {
    // ask for the live gauges; fall back on the last per-bucket sample if the worker is busy
    const live = await Promise.race([
      this.#ipc.request<FleetProgress>('progress').catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 500).unref()),
    ]);
    if (live) this.#progress = live;
    return this.#progress;
  }

  limits(): LimitHit[] {
    return [...this.#limits.values()];
  }

  async stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }> {
    return this.#ipc.request('stop', { drainTimeout, eventsUntil });
  }

  async close(): Promise<void> {
    await this.#ipc.request('exit').catch(() => undefined);
    await this.#ipc.exit(5000);
  }
}

/** The gauges of every part, summed (per node too). */
export function sumProgress(parts: readonly (FleetProgress | undefined)[], agents: number, nodes: readonly string[]): FleetProgress {
  const out: FleetProgress = {
    agents,
    started: 0,
    connected: 0,
    reconnecting: 0,
    perNode: Object.fromEntries(nodes.map((n) => [n, 0])),
    connectedEver: 0,
    ...emptyEventCounts(),
    errors: {},
  };
  for (const p of parts) {
    if (!p) continue;
    addCounts(out, p, ['started', 'connected', 'reconnecting', 'connectedEver', ...EVENT_COUNT_KEYS]);
    addRecord(out.perNode, p.perNode);
    addRecord(out.errors, p.errors);
  }
  return out;
}

/** The limits hit by every part, one entry per limit with the counts summed. */
export function mergeLimits(lists: readonly LimitHit[][]): LimitHit[] {
  const m = new Map<string, LimitHit>();
  for (const list of lists) {
    for (const l of list) {
      const known = m.get(l.limit);
      if (known) known.count += l.count;
      else m.set(l.limit, { ...l });
    }
  }
  return [...m.values()];
}

/** The totals of every part, summed. */
export function mergeTotals(list: readonly FleetTotals[]): FleetTotals {
  const out: FleetTotals = {
    agents: 0,
    started: 0,
    connectedAtEnd: 0,
    distribution: {},
    connectedEver: 0,
    neverConnected: 0,
    ...emptyEventCounts(),
    eventsUnconfirmedOnLostConnections: 0,
    connectFailures: 0,
    reconnects: 0,
    failovers: 0,
    neverConnectedReasons: {},
    errorSamples: {},
    errors: {},
    limits: mergeLimits(list.map((t) => t.limits)),
    loopDelay: mergeLoopDelays(list.map((t) => t.loopDelay)),
  };
  for (const t of list) {
    addCounts(out, t, [
      'agents',
      'started',
      'connectedAtEnd',
      'connectedEver',
      'neverConnected',
      ...EVENT_COUNT_KEYS,
      'eventsUnconfirmedOnLostConnections',
      'connectFailures',
      'reconnects',
      'failovers',
    ]);
    addRecord(out.distribution, t.distribution);
    addRecord(out.neverConnectedReasons, t.neverConnectedReasons);
    addRecord(out.errors, t.errors);
    for (const [k, v] of Object.entries(t.errorSamples)) out.errorSamples[k] ??= v;
  }
  return out;
}

