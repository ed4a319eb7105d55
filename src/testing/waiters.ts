/**
 * Waits of the test kit's servers ({@link MockManager}, {@link MockCluster}): a promise settled when
 * a condition holds, at a deadline (`StateError` `ERR_TIMEOUT`) or when the owner closes
 * (`ERR_CLOSED`), and sleeps that the owner's close cuts short.
 *
 * @module
 */
import { unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { StateError } from '../errors.js';
import { AGENT_LOCATION } from '../protocol/messages.js';
import type { ReceivedEvent, WaitForEventsOptions } from './manager/types.js';

/** Default deadline of `waitForAgents` and `waitForEvents`, in milliseconds. */
export const DEFAULT_WAIT_TIMEOUT = 10_000;

interface Waiter {
  check: () => void;
  fail: (err: Error) => void;
}

/**
 * Whether an event is one the agent's program sent: not one of the agent's own notices (location
 * `wazuh-agent`: `Agent started` after the first ACK, buffer levels, invalid remote configuration)
 * and not one the manager generated itself (`Agent stopped`). `waitForEvents(n)` counts these.
 *
 * @param e - a received event.
 * @returns `true` for an event of the agent's program.
 */
export function isProgramEvent(e: ReceivedEvent): boolean {
  return !e.generated && e.location !== AGENT_LOCATION;
}

/** The pending waits and sleeps of one owner. */
export class Waiters {
  readonly #clock: Clock;
  readonly #closedError: () => Error;
  readonly #waiters = new Set<Waiter>();
  readonly #sleepers = new Set<() => void>();
  #closed = false;

  /**
   * @param clock - for the deadlines and sleeps.
   * @param closedError - the error a wait gets when the owner closes (or is closed already).
   */
  constructor(clock: Clock, closedError: () => Error) {
    this.#clock = clock;
    this.#closedError = closedError;
  }

  /** Waits in progress. */
  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves with what `collect` returns once it returns something: now, or at a later
   * {@link Waiters.check}.
   *
   * @param collect - the condition: a value when it holds, undefined otherwise.
   * @param timeout - deadline in milliseconds.
   * @param describe - the timeout message.
   * @param cleanup - called once when the wait ends, however it ends.
   */
  until<T>(collect: () => T | undefined, timeout: number, describe: () => string, cleanup?: () => void): Promise<T> {
    const now = collect();
    if (now !== undefined) {
      cleanup?.();
      return Promise.resolve(now);
    }
    if (this.#closed) {
      cleanup?.();
      return Promise.reject(this.#closedError());
    }
    return new Promise<T>((resolve, reject) => {
      const finish = (value: T | undefined, err?: Error): void => {
        this.#clock.clearTimeout(timer);
        this.#waiters.delete(waiter);
        cleanup?.();
        if (err !== undefined) reject(err);
        else resolve(value as T);
      };
      const waiter: Waiter = {
        check: () => {
          const v = collect();
          if (v !== undefined) finish(v);
        },
        fail: (err) => finish(undefined, err),
      };
      const timer: TimerHandle = unrefTimeout(this.#clock, () => finish(undefined, new StateError(describe(), 'ERR_TIMEOUT')), timeout);
      this.#waiters.add(waiter);
    });
  }

  /**
   * Waits for received events: with a number, until that many events of the agents' programs
   * arrived ({@link isProgramEvent}); with a predicate, until `count` (default 1) kept or new events
   * match (every event is offered to it).
   *
   * @param kept - the events received so far.
   * @param subscribe - registers a listener for new events; returns its removal.
   * @param what - a count or a predicate.
   * @param opts - `count`, `timeout`.
   * @param where - names the owner in the timeout message.
   * @returns the first matching events (exactly the number asked for).
   */
  events(
    kept: readonly ReceivedEvent[],
    subscribe: (listener: (e: ReceivedEvent) => void) => () => void,
    what: number | ((e: ReceivedEvent) => boolean),
    opts: WaitForEventsOptions,
    where: string,
  ): Promise<ReceivedEvent[]> {
    const pred = typeof what === 'number' ? isProgramEvent : what;
    const need = typeof what === 'number' ? what : (opts.count ?? 1);
    const found = kept.filter(pred);
    const collect = (): ReceivedEvent[] | undefined => (found.length >= need ? found.slice(0, need) : undefined);
    if (collect() !== undefined || this.#closed) return this.until(collect, 0, () => '');
    const unsubscribe = subscribe((e) => {
      if (!pred(e)) return;
      found.push(e);
      if (found.length >= need) this.check();
    });
    return this.until(collect, opts.timeout ?? DEFAULT_WAIT_TIMEOUT, () => `Timed out waiting for ${need} event(s) on ${where} (have ${found.length})`, unsubscribe);
  }

  /** Re-evaluates every wait (after a change of what they look at). */
  check(): void {
    if (this.#waiters.size === 0) return;
    for (const w of [...this.#waiters]) w.check();
  }

  /**
   * Sleeps; the owner's close (or `signal`) wakes it early.
   *
   * @param ms - milliseconds.
   * @param signal - wakes the sleep when aborted.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimeout(handle);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const handle = unrefTimeout(this.#clock, wake, ms);
      this.#sleepers.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** The owner closes: every wait rejects, every sleep ends, and later waits reject at once. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#sleepers]) wake();
    this.#sleepers.clear();
    const err = this.#closedError();
    for (const w of [...this.#waiters]) w.fail(err);
    this.#waiters.clear();
  }
}
