/**
 * What ends a run early and what a finished run is judged by: the {@link RunGuard} watches the live
 * counts (`--abort-on-fail`), and {@link finalVerdicts} judges the thresholds against the report.
 *
 * @module
 */
import { DEFAULT_EVENTS_PER_SECOND, MIN_EVENTS_PER_SECOND } from '../config/index.js';
import type { FleetProgress, FleetTotals } from './fleet-types.js';
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
  readonly #deadlineMs: number;
  readonly #stop = new AbortController();
  /** Aborted when the run must end now (the user's signal, or a guard below). */
  readonly signal: AbortSignal;
  /** Set when `--abort-on-fail` ended the run: the threshold, and when. */
  aborted: Verdicts['aborted'];
  /** Set when no agent had connected by the connect deadline, which ended the run: the deadline. */
  failedFastAfterMs: number | undefined;

  /**
   * @param config - the thresholds and `abortOnFail`.
   * @param deadlineMs - end the run when no agent has connected after this long (0: never).
   * @param signal - the user's signal (Ctrl-C), which ends the run too.
   */
  constructor(config: Pick<SimulateConfig, 'thresholds' | 'abortOnFail'>, deadlineMs: number, signal?: AbortSignal) {
    this.#config = config;
    this.#deadlineMs = deadlineMs;
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
    if (this.#stop.signal.aborted) return;
    if (this.#deadlineMs > 0 && elapsedMs >= this.#deadlineMs && progress.connectedEver === 0) {
      this.failedFastAfterMs = this.#deadlineMs;
      this.#stop.abort();
      return;
    }
    if (!this.#config.abortOnFail) return;
    const failed = failedLive(this.#config.thresholds, {
      'events.generated': progress.eventsGenerated,
      'events.accepted': progress.eventsAccepted,
      'events.written': progress.eventsWritten,
      'events.dropped': progress.eventsDropped,
      'events.received': received,
    });
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

/**
 * The deadline for the first connection: `--connect-deadline`, plus the wait after enrollment when
 * the agents enroll first (Wazuh's agents wait 20 s before connecting).
 *
 * @param deadlineMs - `--connect-deadline` (0: none).
 * @param enrollment - the agents' enrollment settings.
 * @param defaultDelay - the default wait after enrollment.
 * @returns milliseconds since the start of the run, 0 for none.
 */
export function connectDeadline(deadlineMs: number, enrollment: { enabled?: boolean; delayAfterEnrollment?: number } | undefined, defaultDelay: number): number {
  if (deadlineMs <= 0) return 0;
  return enrollment?.enabled === true ? deadlineMs + (enrollment.delayAfterEnrollment ?? defaultDelay) : deadlineMs;
}

/**
 * Formats errors by code, most frequent first: `ERR_CONNECT 120, ERR_SERVER_SILENT 3`.
 *
 * @param errors - counts by code.
 * @param max - at most this many codes, then `+N more`.
 * @returns the text, empty when there are none.
 */
export function formatErrorCounts(errors: Readonly<Record<string, number>>, max = Infinity): string {
  const entries = Object.entries(errors)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries.slice(0, max).map(([code, n]) => `${code} ${n}`);
  if (entries.length > max) shown.push(`+${entries.length - max} more`);
  return shown.join(', ');
}

/**
 * The one line saying why no agent connected: the most common last errors of the agents, with
 * counts and an example message, and what to check.
 *
 * @param totals - the fleet's totals.
 * @param within - how long the agents had (`15s`), and whether the connect deadline ended the run.
 * @param servers - the addresses the agents tried (`host:port`).
 * @returns the line.
 */
export function noConnectionProblem(totals: FleetTotals, within: { text: string; deadline: boolean }, servers: readonly string[]): string {
  const reasons = Object.entries(totals.neverConnectedReasons).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const [code, count] = reasons[0] ?? ['ERR_CONNECT', totals.agents];
  const sample = totals.errorSamples[code];
  const others = reasons
    .slice(1, 3)
    .map(([c, n]) => `, ${n} with ${c}`)
    .join('');
  const when = within.deadline ? `within --connect-deadline ${within.text} (the run was stopped)` : `within ${within.text}`;
  return (
    `no agent connected ${when}: ${count} of ${totals.agents} failed with ${code}${sample ? ` (${sample})` : ''}${others}; ` +
    (code.startsWith('ERR_ENROLLMENT')
      ? `check --enroll, --password-file and --groups against the manager's authd`
      : `check that the managers at ${servers.join(', ')} are reachable and know the agent keys`)
  );
}

/**
 * Clamps `--eps` to what an agent's client buffer lets out: it drains at most `eventsPerSecond`
 * per agent (500 by default, at least 50 as Wazuh enforces), so a higher rate only fills it and
 * drops the rest.
 *
 * @param eps - `--eps`, events per second per agent.
 * @param buffer - the agents' client buffer settings.
 * @returns the rate to run, and the warning when it was clamped.
 */
export function clampEps(eps: number, buffer: { disabled?: boolean; eventsPerSecond?: number } | undefined): { eps: number; warning?: string } {
  if (buffer?.disabled === true) return { eps };
  const limit = Math.max(buffer?.eventsPerSecond ?? DEFAULT_EVENTS_PER_SECOND, MIN_EVENTS_PER_SECOND);
  if (eps <= limit) return { eps };
  return {
    eps: limit,
    warning: `--eps ${eps} is above the ${limit} events/s per agent the client buffer lets out (<client_buffer> events_per_second): clamped to ${limit}, or every second would drop ${Number((eps - limit).toFixed(3))} events per agent`,
  };
}

/** Matches the warning of {@link dropWarning} (recomputed when reports merge). */
export const DROP_WARNING_PATTERN = /of the events generated \(\d+ of \d+\) were dropped by the agents' client buffers/;

/** Dropped share of the generated events from which a run gets a warning. */
export const DROP_WARNING_SHARE = 0.01;

/**
 * The warning for a run whose agents dropped a noticeable share of the events (at least
 * {@link DROP_WARNING_SHARE}), louder when most were dropped.
 *
 * @param events - the report's event counts.
 * @returns the warning, or undefined.
 */
export function dropWarning(events: { generated: number; dropped: number }): string | undefined {
  if (events.generated === 0 || events.dropped / events.generated < DROP_WARNING_SHARE) return undefined;
  const pct = Number(((events.dropped / events.generated) * 100).toPrecision(3));
  const head = events.dropped * 2 > events.generated ? 'MOST EVENTS WERE DROPPED: ' : '';
  return (
    `${head}${pct} % of the events generated (${events.dropped} of ${events.generated}) were dropped by the agents' client buffers, ` +
    `so the managers got only part of the load asked for; buffers drop when agents stay disconnected longer than queue_size / eps, ` +
    `or events are still queued when --drain runs out`
  );
}
