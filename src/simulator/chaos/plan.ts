/**
 * Seeded random chaos schedules: the faults of the reliability soak, drawn as ordinary
 * {@link ChaosStep}s, so a plan runs through the same {@link ChaosRunner} as `simulate --chaos`
 * and prints in the same text form.
 *
 * @module
 */
import { ToolError } from '../../errors.js';
import { SeededRandom } from '../workloads.js';
import { CHAOS_ACTIONS } from './steps.js';
import type { ChaosAction, ChaosStep } from './steps.js';

/** How often and how hard the chaos strikes. Ranges are `[min, max]`, drawn uniformly. */
export interface ChaosSettings {
  /**
   * Mean time between two faults, in milliseconds (gaps are exponentially distributed).
   * @default 3000
   */
  meanIntervalMs: number;
  /**
   * Relative weight of each action (0 or absent disables one).
   * @default kill 2, hang 1, blackhole 2, latency 2, reset 1, cut 1, force-reconnect 2
   */
  weights: Partial<Record<ChaosAction, number>>;
  /**
   * How long a killed node stays down, in milliseconds.
   * @default [3000, 15000]
   */
  killMs: readonly [number, number];
  /**
   * How long a node hangs, in milliseconds.
   * @default [2000, 10000]
   */
  hangMs: readonly [number, number];
  /**
   * How long a path blackholes, in milliseconds.
   * @default [2000, 12000]
   */
  blackholeMs: readonly [number, number];
  /**
   * One-way delay of a latency spike, in milliseconds.
   * @default [200, 800]
   */
  latencyMs: readonly [number, number];
  /**
   * How long a latency spike lasts, in milliseconds.
   * @default [2000, 10000]
   */
  latencyForMs: readonly [number, number];
  /**
   * Fraction of the fleet one `force-reconnect` picks.
   * @default [0.005, 0.03]
   */
  forceFraction: readonly [number, number];
}

/** The chaos of the 5-minute soak of `npm run soak`. */
export const DEFAULT_CHAOS_SETTINGS: ChaosSettings = {
  meanIntervalMs: 3000,
  weights: { kill: 2, hang: 1, blackhole: 2, latency: 2, reset: 1, cut: 1, 'force-reconnect': 2 },
  killMs: [3000, 15_000],
  hangMs: [2000, 10_000],
  blackholeMs: [2000, 12_000],
  latencyMs: [200, 800],
  latencyForMs: [2000, 10_000],
  forceFraction: [0.005, 0.03],
};

/** Options of {@link planChaos}. */
export interface PlanChaosOptions {
  /** Length of the chaos, in milliseconds: no fault starts after it. */
  durationMs: number;
  /** Number of nodes (`node1`…`nodeN`). */
  nodes: number;
  /** Number of agents, for the size of `force-reconnect` steps. */
  agents: number;
  /** Seed: the same seed and options give the same plan. */
  seed: string | number;
  /** Overrides of {@link DEFAULT_CHAOS_SETTINGS}. */
  settings?: Partial<ChaosSettings>;
}

/**
 * The settings with the defaults filled in, checked.
 *
 * @param over - overrides of {@link DEFAULT_CHAOS_SETTINGS}.
 * @returns the complete settings.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a non-positive interval, no action with weight, or a bad range.
 */
export function resolveChaosSettings(over: Partial<ChaosSettings> | undefined): ChaosSettings {
  const s: ChaosSettings = { ...DEFAULT_CHAOS_SETTINGS, ...over, weights: { ...DEFAULT_CHAOS_SETTINGS.weights, ...over?.weights } };
  if (!(s.meanIntervalMs > 0) || !Number.isFinite(s.meanIntervalMs)) {
    throw new ToolError(`chaos meanIntervalMs must be a positive number of milliseconds, got ${String(s.meanIntervalMs)}`, 'ERR_USAGE');
  }
  if (!CHAOS_ACTIONS.some((a) => (s.weights[a] ?? 0) > 0)) throw new ToolError('chaos weights: give at least one action a weight above 0', 'ERR_USAGE');
  for (const name of ['killMs', 'hangMs', 'blackholeMs', 'latencyMs', 'latencyForMs', 'forceFraction'] as const) {
    const [lo, hi] = s[name];
    if (!(lo >= 0) || !(hi >= lo) || !Number.isFinite(hi)) throw new ToolError(`chaos ${name} must be [min, max] with 0 <= min <= max, got [${lo}, ${hi}]`, 'ERR_USAGE');
  }
  return s;
}

/**
 * Draws a chaos schedule from a seed: fault times with exponential gaps, the action by weight, its
 * node, duration and strength. Whether a fault can run (a node already down, the last node up) is
 * decided by the runner when it is due, so the plan itself never changes with timing.
 *
 * @param options - length, cluster and fleet size, seed and settings.
 * @returns the steps, in time order.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a non-positive interval, no action with weight, or a bad range.
 */
export function planChaos(options: PlanChaosOptions): ChaosStep[] {
  const s = resolveChaosSettings(options.settings);
  const rng = new SeededRandom(`chaos\0${String(options.seed)}`);
  const uniform = (r: readonly [number, number]): number => Math.round(r[0] + (r[1] - r[0]) * rng.next());
  const actions = CHAOS_ACTIONS.filter((a) => (s.weights[a] ?? 0) > 0);
  const total = actions.reduce((n, a) => n + (s.weights[a] ?? 0), 0);
  const steps: ChaosStep[] = [];
  let t = 0;
  for (;;) {
    t += -Math.log(1 - rng.next()) * s.meanIntervalMs;
    if (t >= options.durationMs) break;
    let pick = rng.next() * total;
    let action = actions[actions.length - 1]!;
    for (const a of actions) {
      pick -= s.weights[a] ?? 0;
      if (pick < 0) {
        action = a;
        break;
      }
    }
    const atMs = Math.round(t);
    const node = `node${rng.int(options.nodes) + 1}`;
    switch (action) {
      case 'kill':
        steps.push({ action, node, atMs, forMs: uniform(s.killMs) });
        break;
      case 'hang':
        steps.push({ action, node, atMs, forMs: uniform(s.hangMs) });
        break;
      case 'blackhole':
        steps.push({ action, node, atMs, forMs: uniform(s.blackholeMs) });
        break;
      case 'latency': {
        const latencyMs = uniform(s.latencyMs);
        steps.push({ action, node, atMs, latencyMs, forMs: uniform(s.latencyForMs) });
        break;
      }
      case 'cut':
        steps.push({ action, node, atMs, direction: (['up', 'down', 'both'] as const)[rng.int(3)]! });
        break;
      case 'force-reconnect': {
        const f = s.forceFraction[0] + (s.forceFraction[1] - s.forceFraction[0]) * rng.next();
        steps.push({ action, atMs, count: Math.max(1, Math.min(options.agents, Math.round(f * options.agents))) });
        break;
      }
      case 'rebalance':
        steps.push({ action, atMs });
        break;
      default:
        steps.push({ action, node, atMs });
    }
  }
  return steps;
}
