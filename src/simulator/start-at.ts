/**
 * `simulate --start-at TIME`: shards that start together. The processes of one fleet (the pods of
 * a Kubernetes Indexed Job, shells on several machines) are given the same wall-clock time; each
 * gets ready (inputs and outputs checked, target resolved, embedded cluster and workers started),
 * then waits until that time before it starts its agents and its run clock, as k6-operator starts
 * its runners together. The report records the planned and the actual start, and
 * `agentlink report merge` says how far apart the shards really started.
 *
 * @module
 */
import type { Clock } from '../clock.js';
import { parseFlagDuration, usage } from './flag-values.js';

/** How far in the past `--start-at` may be (clocks of different machines differ a little). */
export const START_AT_TOLERANCE_MS = 1_000;
/** How far ahead `--start-at` may be. */
export const MAX_START_AHEAD_MS = 24 * 3_600_000;
/** The longest single timer of the wait: the wall clock is read again after each, so a clock step (NTP) is followed. */
const WAIT_SLICE_MS = 60_000;

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * Formats milliseconds as people read a distance in time: `850 ms`, `12.3 s`, `4 min 10 s`, `2 h 5 min`.
 *
 * @param ms - a duration, not negative.
 * @returns the text.
 */
export function formatDistance(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/**
 * Parses `--start-at`: an ISO 8601 date and time with a zone (`2026-12-06T18:00:00Z`,
 * `2026-12-06T19:00:00+01:00`) or `+DURATION` from now (`+30s`, `+2m`).
 *
 * @param text - the flag's value.
 * @param now - the wall clock now, in milliseconds since the epoch.
 * @returns the start time, in milliseconds since the epoch.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a value in neither form, a time without a zone,
 *   a time more than {@link START_AT_TOLERANCE_MS} in the past (saying by how much) or more than
 *   {@link MAX_START_AHEAD_MS} ahead.
 */
export function parseStartAt(text: string, now: number): number {
  const t = text.trim();
  let at: number;
  if (t.startsWith('+')) {
    at = now + parseFlagDuration(t.slice(1), '--start-at');
  } else {
    if (!ISO_WITH_ZONE.test(t)) {
      throw usage(
        `--start-at '${text}' must be an ISO 8601 time with its zone, e.g. --start-at 2026-12-06T18:00:00Z (or +01:00), or a delay from now, e.g. --start-at +30s`,
      );
    }
    at = Date.parse(t);
    // Date.parse rolls 2026-02-30 over to March 2: a day or hour that does not exist is refused
    if (!Number.isFinite(at) || !sameFields(t, at)) throw usage(`--start-at '${text}' is not a valid date and time, e.g. --start-at 2026-12-06T18:00:00Z`);
  }
  if (at < now - START_AT_TOLERANCE_MS) {
    throw usage(
      `--start-at ${new Date(at).toISOString()} is ${formatDistance(now - at)} in the past (now ${new Date(now).toISOString()}); give a later time, or a delay such as --start-at +30s`,
    );
  }
  if (at > now + MAX_START_AHEAD_MS) {
    throw usage(`--start-at ${new Date(at).toISOString()} is ${formatDistance(at - now)} ahead, more than the 24 h allowed; give a nearer time`);
  }
  return at;
}

/** Whether the date and time fields of an ISO text are those of the time it parsed to (no rollover). */
function sameFields(text: string, at: number): boolean {
  const zone = /(?:Z|([+-])(\d{2}):(\d{2}))$/i.exec(text);
  const offsetMin = zone?.[1] ? (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3])) : 0;
  const local = new Date(at + offsetMin * 60_000).toISOString();
  return local.slice(0, 16) === text.slice(0, 16).toUpperCase();
}

/**
 * Waits `ms` milliseconds on `clock`, or until `signal` aborts.
 *
 * @param clock - the clock of the timer.
 * @param ms - the delay.
 * @param signal - ends the wait early when aborted.
 * @returns resolves when the delay is over or the signal aborted (never rejects).
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits until the wall clock reaches `at`, in slices of at most a minute (so a clock adjusted
 * during a long wait is followed), and never returns before `at` unless aborted.
 *
 * @param at - the time to wait for, in milliseconds since the epoch.
 * @param clock - the clock.
 * @param signal - ends the wait early when aborted.
 * @returns true when `at` was reached, false when the signal aborted the wait.
 */
export async function waitUntil(at: number, clock: Clock, signal: AbortSignal | undefined): Promise<boolean> {
  for (;;) {
    if (signal?.aborted) return false;
    const remaining = at - clock.now();
    if (remaining <= 0) return true;
    await sleep(clock, Math.min(remaining, WAIT_SLICE_MS), signal);
  }
}
