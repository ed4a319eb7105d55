/**
 * The injectable clock every timer in agentlink goes through, so tests can use fake time.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = { ref?: () => unknown; unref?: () => unknown } | number;

/** Time source and timers. The default reads the globals at call time, so vitest fake timers apply. */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds, for durations. */
  monotonic(): number;
  /** Schedules `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from {@link Clock.setTimeout}; ignores undefined. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The clock backed by the global timers and `Date.now()` / `performance.now()`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    return handle;
  },
  clearTimeout: (handle) => {
    if (handle !== undefined) clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * Runs `fn` after `ms` on `clock` and unrefs the timer so it never keeps the process alive.
 *
 * @param clock - the clock to use.
 * @param fn - the callback.
 * @param ms - delay in milliseconds.
 * @returns the handle, for {@link Clock.clearTimeout}.
 */
export function unrefTimeout(clock: Clock, fn: () => void, ms: number): TimerHandle {
  const handle = clock.setTimeout(fn, ms);
  if (typeof handle === 'object' && typeof handle.unref === 'function') handle.unref();
  return handle;
}
