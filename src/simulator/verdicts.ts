/**
 * What ends a run early and what a finished run is judged by: the {@link RunGuard} watches the live
 * counts (`--abort-on-fail`), and {@link finalVerdicts} judges the thresholds against the report.
 *
 * @module
 */
import type { FleetProgress } from './fleet-types.js';
import type { SimulateConfig } from './flags.js';
import type { FleetReport } from './report.js';
import { failedLive, judgeThresholds } from './thresholds.js';
import type { Verdicts } from './thresholds.js';

/**
 * Watches a run's live counts and ends the run early, through {@link RunGuard.signal}, when an
 * `--abort-on-fail` threshold has failed.
 */
export class RunGuard {
  readonly #config: Pick<SimulateConfig, 'thresholds' | 'abortOnFail'>;
  readonly #stop = new AbortController();
  /** Aborted when the run must end now (the user's signal, or a guard below). */
  readonly signal: AbortSignal;
  /** Set when `--abort-on-fail` ended the run: the threshold, and when. */
  aborted: Verdicts['aborted'];

  /**
   * @param config - the thresholds and `abortOnFail`.
   * @param signal - the user's signal (Ctrl-C), which ends the run too.
   */
  constructor(config: Pick<SimulateConfig, 'thresholds' | 'abortOnFail'>, signal?: AbortSignal) {
    this.#config = config;
    this.signal = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
  }

  /**
   * Looks at the counts of one sample.
   *
   * @param progress - the fleet's counts, all parts summed.
   * @param received - events the managers received, `null` when unknown.
   * @param elapsedMs - milliseconds since the run started.
   */
  observe(progress: FleetProgress, received: number | null, elapsedMs: number): void {
    if (this.#stop.signal.aborted || !this.#config.abortOnFail) return;
    const failed = failedLive(this.#config.thresholds, { 'events.sent': progress.eventsSent, 'events.dropped': progress.eventsDropped, 'events.received': received });
    if (failed) {
      this.aborted = { threshold: failed.expression, atMs: Math.round(elapsedMs) };
      this.#stop.abort();
    }
  }
}

/**
 * Judges the run's thresholds against its report and puts the verdicts in it.
 *
 * @param report - the finished report (gets `verdicts` when there are thresholds).
 * @param config - the thresholds.
 * @param guard - the run's guard (whether `--abort-on-fail` ended it).
 * @returns the verdicts, or undefined without thresholds.
 */
export function finalVerdicts(report: FleetReport, config: Pick<SimulateConfig, 'thresholds'>, guard: RunGuard): Verdicts | undefined {
  if (config.thresholds.length === 0) return undefined;
  report.verdicts = judgeThresholds(config.thresholds, report, guard.aborted);
  return report.verdicts;
}
