/**
 * A cancellable wait on one timer slot (the reconnect delay, the delay after enrollment), and the
 * abort-signal binding of the agent's life cycle.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../clock.js';

/**
 * One wait at a time on a clock timer. While the agent is ref'd the timer keeps the process alive
 * (it is then the agent's only handle: no socket is open); unref'd, it does not.
 */
export class Wait {
  readonly #clock: Clock;
  #ref: boolean;
  #timer: TimerHandle | undefined;
  #done: (() => void) | undefined;

  /**
   * @param clock - clock of the timer.
   * @param ref - whether the timer keeps the process alive.
   */
  constructor(clock: Clock, ref: boolean) {
    this.#clock = clock;
    this.#ref = ref;
  }

  /**
   * Waits `ms` milliseconds, or until {@link Wait.wake}. A pending wait is cancelled (never resolved).
   *
   * @param ms - the delay.
   * @returns resolves when the delay ends or on `wake()`.
   */
  sleep(ms: number): Promise<void> {
    this.#clear();
    this.#done = undefined;
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        this.#done = undefined;
        resolve();
      }, ms);
      this.#applyRef();
    });
  }

  /** Ends the pending wait now (it resolves) and clears its timer. Idempotent. */
  wake(): void {
    this.#clear();
    const done = this.#done;
    this.#done = undefined;
    done?.();
  }

  /**
   * Whether the timer keeps the process alive; applies to the pending wait too.
   *
   * @param ref - true to keep the process alive.
   */
  setRef(ref: boolean): void {
    this.#ref = ref;
    this.#applyRef();
  }

  #applyRef(): void {
    const t = this.#timer;
    if (typeof t !== 'object') return;
    if (this.#ref) t.ref?.();
    else t.unref?.();
  }

  #clear(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** What {@link onAbort} returns for no signal: one function for all (a client keeps it for its lifetime). */
function nothingToRemove(): void {}

/**
 * Calls `fn` once when `signal` aborts (in a microtask when it already has).
 *
 * @param signal - the signal, or undefined for none.
 * @param fn - what to do on abort.
 * @returns removes the listener; idempotent.
 */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return nothingToRemove;
  if (signal.aborted) {
    let cancelled = false;
    queueMicrotask(() => {
      if (!cancelled) fn();
    });
    return () => {
      cancelled = true;
    };
  }
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
