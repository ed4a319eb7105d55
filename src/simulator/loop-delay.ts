/**
 * How late the simulator's own event loop ran. Every agent timer of a fleet (keepalives, the
 * silence check of `timeReconnect`, the workload) runs on it: a process with more agents than its
 * core can serve runs them late, and its agents then report slow managers, or give up servers that
 * were alive, because of the simulator and not of the cluster. A report that says how late the loop
 * ran lets the reader tell the two apart.
 *
 * @module
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay of the simulator's processes during a run, in milliseconds. */
export interface LoopDelay {
  /** Median delay. */
  p50Ms: number;
  /** 99th percentile. */
  p99Ms: number;
  /** Longest stall. */
  maxMs: number;
}

/** The sampling resolution of the monitor, ms: delays shorter than this are not seen. */
export const LOOP_DELAY_RESOLUTION_MS = 20;

/** A p99 from which the report warns that latencies include the simulator's own delay. */
export const LOOP_DELAY_WARN_P99_MS = 250;

const round = (ns: number): number => Math.round(ns / 1e4) / 100;

/** Measures this process's event-loop delay between {@link LoopDelayMonitor.start} and {@link LoopDelayMonitor.stop}. */
export class LoopDelayMonitor {
  #histogram: IntervalHistogram | undefined;

  /** Starts sampling (idempotent). */
  start(): void {
    if (this.#histogram) return;
    this.#histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.#histogram.enable();
  }

  /**
   * Stops sampling.
   *
   * @returns the delays seen; zeros when nothing was sampled. The monitor's own period is taken
   *   off, so an idle loop reads about 0.
   */
  stop(): LoopDelay {
    const h = this.#histogram;
    this.#histogram = undefined;
    if (!h) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
    h.disable();
    if (h.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const period = LOOP_DELAY_RESOLUTION_MS * 1e6;
    const late = (ns: number): number => round(Math.max(0, ns - period));
    return { p50Ms: late(h.percentile(50)), p99Ms: late(h.percentile(99)), maxMs: late(h.max) };
  }
}

/**
 * The delays of several processes (workers, shards) as one: the worst of each, since one late
 * process is enough to make its agents' numbers wrong.
 *
 * @param list - the delays of each process.
 * @returns the worst p50, p99 and max.
 */
export function mergeLoopDelays(list: readonly LoopDelay[]): LoopDelay {
  return {
    p50Ms: Math.max(0, ...list.map((d) => d.p50Ms)),
    p99Ms: Math.max(0, ...list.map((d) => d.p99Ms)),
    maxMs: Math.max(0, ...list.map((d) => d.maxMs)),
  };
}

/**
 * The warning a report carries when the simulator itself was too slow for its numbers to be the
 * cluster's: a stall of half the agents' `timeReconnect` or more (an agent may have given up a
 * server that was alive), or a p99 delay of {@link LOOP_DELAY_WARN_P99_MS} or more (latencies and
 * rates include the simulator's own delay).
 *
 * @param delay - the run's loop delay.
 * @param timeReconnectMs - the agents' `timeReconnect`.
 * @returns one sentence, or undefined when the loop kept up.
 */
export function loopDelayWarning(delay: LoopDelay, timeReconnectMs: number): string | undefined {
  const advice = 'run fewer agents per process (--workers N) or on a less busy machine';
  if (delay.maxMs >= timeReconnectMs / 2) {
    return (
      `the simulator itself stalled for up to ${Math.round(delay.maxMs)} ms (event loop; p99 ${Math.round(delay.p99Ms)} ms), ` +
      `at least half the agents' time-reconnect of ${timeReconnectMs} ms: some lost connections, failovers and latencies may be the simulator's, not the cluster's; ${advice}`
    );
  }
  if (delay.p99Ms >= LOOP_DELAY_WARN_P99_MS) {
    return `the simulator's event loop ran up to ${Math.round(delay.p99Ms)} ms late (p99; max ${Math.round(delay.maxMs)} ms): latencies and rates include that delay; ${advice}`;
  }
  return undefined;
}
