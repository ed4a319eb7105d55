/**
 * The client buffer (protocol.md 5.8): a bounded FIFO drained at a fixed rate while connected, with
 * Wazuh's usage levels and an overflow policy that counts and reports every dropped item.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { DEFAULT_BUFFER_NORMAL_LEVEL, DEFAULT_BUFFER_WARN_LEVEL } from '../config/options.js';
import type { OverflowPolicy, ResolvedBufferOptions } from '../config/options.js';
import { ConfigError } from '../errors.js';

/** Buffer usage level, as Wazuh's buffer state machine (`NORMAL`, `WARNING`, `FULL`, `FLOOD`). */
export type BufferLevel = 'normal' | 'warning' | 'full' | 'flooded';

/**
 * Why an item left the buffer without being sent: `full` (drop-newest on a full buffer), `evicted`
 * (drop-oldest pushed it out), `rejected` (reject policy on a full buffer), `cleared` ({@link ClientBuffer.clear}).
 */
export type DropReason = 'full' | 'evicted' | 'rejected' | 'cleared';

/** Counters of a {@link ClientBuffer}. */
export interface ClientBufferStats {
  /** Items waiting now. */
  queued: number;
  /** Items accepted by `push` since creation. */
  accepted: number;
  /** Items handed to `send` that it took (returned true). */
  sent: number;
  /** Items dropped, all reasons. */
  dropped: number;
  /** Items dropped, per reason. */
  droppedByReason: Record<DropReason, number>;
  /** Current level. */
  level: BufferLevel;
  /** Largest number of items ever queued at once. */
  highWater: number;
}

/** Events of a {@link ClientBuffer} (eventemitter3 typed map). */
export interface ClientBufferEvents<T> {
  /** The level changed; emitted on every change. */
  level: [level: BufferLevel, previous: BufferLevel];
  /** An item was dropped (never silently). */
  drop: [item: T, reason: DropReason];
}

/** Construction options of a {@link ClientBuffer}: the resolved buffer options plus Wazuh's internal levels. */
export type ClientBufferOptions = ResolvedBufferOptions & {
  /**
   * Usage percent at which the level rises to `warning` (`agent.warn_level`).
   * @default 90
   */
  warnLevel?: number;
  /**
   * Usage percent at or below which the level falls back to `normal` (`agent.normal_level`).
   * @default 70
   */
  normalLevel?: number;
};

/** What a {@link ClientBuffer} needs from its owner. */
export interface ClientBufferDeps<T> {
  /**
   * Sends one item now. Returns false when it cannot be sent now (disconnected): the buffer keeps the
   * item at the head, in order, and pauses until {@link ClientBuffer.resume}. A throw is treated the
   * same way and reported to `onError`.
   */
  send: (item: T) => boolean;
  /**
   * Clock for time and timers.
   * @default systemClock
   */
  clock?: Clock;
  /** Told when `send` throws (the item is kept and the buffer pauses). */
  onError?: (error: unknown) => void;
}

/** Smallest drain tick in milliseconds: at high rates items leave in small batches rather than one timer each. */
const MIN_TICK_MS = 10;
/** Items sent per tick when the buffer is disabled (no rate limit, but the event loop still breathes). */
const DISABLED_BATCH = 1000;
/** Ring capacity at the first item; it grows by doubling. An agent that never queued an item holds an empty array. */
const INITIAL_RING = 16;

/**
 * A bounded FIFO with a leaky-bucket drain and Wazuh's buffer levels.
 *
 * **Drain.** Items leave in order, only while resumed, at most `eventsPerSecond` per second: a token
 * bucket refilled continuously from the monotonic clock, holding at most one tick's worth of tokens
 * (tick = `max(1000 / eventsPerSecond, 10)` ms), so a lone item goes out at once and a backlog leaves in
 * small batches, one timer per tick. No timer exists while the buffer is empty, paused or torn down.
 * When `send` returns false the item stays at the head and the buffer pauses.
 *
 * **Levels** (protocol.md 5.8, checked as Wazuh's `buffer.c` does): rising levels are checked on
 * `push`, on the number queued before the new item: `normal` → `full` when it is at capacity, else
 * `normal` → `warning` when usage ≥ `warnLevel`%; `warning` → `full` at capacity; `full` → `flooded`
 * on a push at least `tolerance` ms after the level became `full` (with `tolerance` 0 the push that
 * makes it `full` makes it `flooded` at once, emitting both). Falling levels are checked on each
 * successful dispatch, on the number queued before the item left: `warning` → `normal` at usage ≤
 * `normalLevel`%; `full`/`flooded` → `warning` at usage ≤ `warnLevel`%, or straight to `normal` at ≤
 * `normalLevel`%. `clear()` returns the level to `normal`. Every change emits `level`; the owner sends
 * Wazuh's buffer events.
 *
 * **Overflow** when `queueSize` items wait: `drop-newest` drops the pushed item (reason `full`),
 * `reject` refuses it (reason `rejected`), both make `push` return false; `drop-oldest` evicts the head
 * (reason `evicted`) and accepts the new item. Every drop is counted and emitted as `drop`.
 *
 * **Disabled** (`disabled: true`, Wazuh `<disabled>yes`): no rate limit and no levels; items are sent
 * at once. While the owner cannot send (paused, or `send` returned false) items are still queued, up to
 * `queueSize` with the same overflow policy, so nothing is lost silently; they leave in order, in
 * batches of 1000 per timer turn, after `resume()`.
 *
 * A new buffer starts paused: call {@link ClientBuffer.resume} once connected.
 */
export class ClientBuffer<T> extends EventEmitter<ClientBufferEvents<T>> {
  readonly #capacity: number;
  readonly #eps: number;
  readonly #overflow: OverflowPolicy;
  readonly #tolerance: number;
  readonly #warnLevel: number;
  readonly #normalLevel: number;
  readonly #disabled: boolean;
  readonly #tickMs: number;
  readonly #burst: number;
  readonly #send: (item: T) => boolean;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #clock: Clock;

  #ring: (T | undefined)[] = [];
  #head = 0;
  #size = 0;
  #paused = true;
  #closed = false;
  #rush = false;
  #pumping = false;
  #timer: TimerHandle | undefined;
  #tokens: number;
  #lastRefill: number;
  #level: BufferLevel = 'normal';
  #fullSince = 0;
  #accepted = 0;
  #sent = 0;
  #dropped = 0;
  readonly #droppedByReason: Record<DropReason, number> = { full: 0, evicted: 0, rejected: 0, cleared: 0 };
  #highWater = 0;
  /** Pending `drain()` calls; created by the first one (most buffers never drain). */
  #waiters: Set<{ resolve: (ok: boolean) => void; timer: TimerHandle | undefined }> | undefined;

  /**
   * @param options - resolved buffer options, plus `warnLevel` / `normalLevel` percents.
   * @param deps - the `send` function, and optionally a clock and an error sink.
   * @throws `ERR_CONFIG` ({@link ConfigError}) for an impossible option (names the option).
   */
  constructor(options: ClientBufferOptions, deps: ClientBufferDeps<T>) {
    super();
    const warnLevel = options.warnLevel ?? DEFAULT_BUFFER_WARN_LEVEL;
    const normalLevel = options.normalLevel ?? DEFAULT_BUFFER_NORMAL_LEVEL;
    check(Number.isInteger(options.queueSize) && options.queueSize >= 1, 'buffer.queueSize', options.queueSize, 'a whole number ≥ 1');
    check(Number.isFinite(options.eventsPerSecond) && options.eventsPerSecond > 0, 'buffer.eventsPerSecond', options.eventsPerSecond, 'a number > 0');
    check(Number.isFinite(options.tolerance) && options.tolerance >= 0, 'buffer.tolerance', options.tolerance, 'a number of milliseconds ≥ 0');
    check(['drop-newest', 'drop-oldest', 'reject'].includes(options.overflow), 'buffer.overflow', options.overflow, "'drop-newest', 'drop-oldest' or 'reject'");
    check(Number.isFinite(warnLevel) && warnLevel > 0 && warnLevel <= 100, 'warnLevel', warnLevel, 'a percent in 1..100');
    check(Number.isFinite(normalLevel) && normalLevel >= 0 && normalLevel < warnLevel, 'normalLevel', normalLevel, 'a percent ≥ 0 below warnLevel');
    this.#capacity = options.queueSize;
    this.#eps = options.eventsPerSecond;
    this.#overflow = options.overflow;
    this.#tolerance = options.tolerance;
    this.#warnLevel = warnLevel;
    this.#normalLevel = normalLevel;
    this.#disabled = options.disabled;
    this.#tickMs = Math.max(1000 / this.#eps, MIN_TICK_MS);
    this.#burst = Math.max(1, (this.#eps * this.#tickMs) / 1000);
    this.#send = deps.send;
    this.#onError = deps.onError;
    this.#clock = deps.clock ?? systemClock;
    this.#tokens = this.#burst;
    this.#lastRefill = this.#clock.monotonic();
  }

  /** Items waiting. */
  get size(): number {
    return this.#size;
  }

  /** Current level. */
  get level(): BufferLevel {
    return this.#level;
  }

  /** Whether draining is paused (initially, after `pause()`, after `send` returned false, after `teardown()`). */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Queues an item (and sends at once when allowed).
   *
   * @param item - the item.
   * @returns true when accepted; false when the buffer was full and the policy is `drop-newest` or
   *   `reject` (the item is counted and emitted as `drop`).
   */
  push(item: T): boolean {
    if (!this.#disabled) this.#checkRising(this.#size);
    if (this.#size >= this.#capacity) {
      if (this.#overflow === 'drop-oldest') {
        const evicted = this.#shift();
        this.#countDrop(evicted, 'evicted');
      } else {
        this.#countDrop(item, this.#overflow === 'reject' ? 'rejected' : 'full');
        return false;
      }
    }
    this.#accepted++;
    this.#pushTail(item);
    this.#pump();
    return true;
  }

  /** Starts draining (the owner is connected). No effect after `teardown()`. */
  resume(): void {
    if (this.#closed) return;
    this.#paused = false;
    this.#pump();
  }

  /**
   * From now on drains without the rate limit, in batches of 1000 per turn of the event loop (the
   * owner is stopping: what is queued goes out as fast as the connection takes it). Levels still fall
   * as the queue empties. No way back; no effect after `teardown()`.
   */
  rush(): void {
    if (this.#closed || this.#rush) return;
    this.#rush = true;
    this.#cancelTimer();
    this.#pump();
  }

  /** Stops draining (the owner is disconnected); queued items stay, in order. */
  pause(): void {
    this.#paused = true;
    this.#cancelTimer();
  }

  /**
   * Waits until the buffer is empty. Draining keeps its rate; this only watches.
   *
   * @param timeoutMs - deadline in milliseconds.
   * @returns true once the buffer is empty (for any reason, including `clear()`), false at the deadline
   *   or at `teardown()` with items left.
   */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.#size === 0) return Promise.resolve(true);
    if (this.#closed || !(timeoutMs > 0)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: { resolve: (ok: boolean) => void; timer: TimerHandle | undefined } = { resolve, timer: undefined };
      waiter.timer = unrefTimeout(
        this.#clock,
        () => {
          this.#waiters?.delete(waiter);
          resolve(this.#size === 0);
        },
        timeoutMs,
      );
      (this.#waiters ??= new Set()).add(waiter);
    });
  }

  /**
   * Removes every queued item, in order.
   *
   * @param reason - when given, each item is counted and emitted as dropped with this reason; when
   *   undefined the items are only returned and become the caller's responsibility.
   * @returns the removed items, oldest first.
   */
  clear(reason?: DropReason): T[] {
    const items: T[] = [];
    while (this.#size > 0) items.push(this.#shift());
    this.#cancelTimer();
    if (reason !== undefined) for (const item of items) this.#countDrop(item, reason);
    this.#setLevel('normal');
    this.#settleWaiters();
    return items;
  }

  /** @returns a copy of the counters. */
  stats(): ClientBufferStats {
    return {
      queued: this.#size,
      accepted: this.#accepted,
      sent: this.#sent,
      dropped: this.#dropped,
      droppedByReason: { ...this.#droppedByReason },
      level: this.#level,
      highWater: this.#highWater,
    };
  }

  /** Clears every timer, pauses for good and settles pending `drain()` calls. Queued items stay. Idempotent. */
  teardown(): void {
    this.#closed = true;
    this.#paused = true;
    this.#cancelTimer();
    const waiters = this.#waiters;
    this.#waiters = undefined;
    for (const w of waiters ?? []) {
      this.#clock.clearTimeout(w.timer);
      w.resolve(this.#size === 0);
    }
  }

  /** Sends what the rate allows now, then arms one tick timer if a backlog remains. */
  #pump(): void {
    if (this.#paused || this.#closed || this.#pumping || this.#size === 0) return;
    this.#pumping = true;
    try {
      let budget: number;
      const unlimited = this.#disabled || this.#rush;
      if (unlimited) {
        budget = DISABLED_BATCH;
      } else {
        const now = this.#clock.monotonic();
        this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#lastRefill) * this.#eps) / 1000);
        this.#lastRefill = now;
        budget = Math.floor(this.#tokens);
      }
      while (budget > 0 && this.#size > 0 && !this.#paused && !this.#closed) {
        const before = this.#size;
        const item = this.#shift();
        let ok: boolean;
        try {
          ok = this.#send(item) === true;
        } catch (err) {
          ok = false;
          this.#onError?.(err);
        }
        if (!ok) {
          this.#pushHead(item);
          this.#paused = true;
          break;
        }
        budget--;
        if (!unlimited) this.#tokens--;
        this.#sent++;
        if (!this.#disabled) this.#checkFalling(before);
      }
    } finally {
      this.#pumping = false;
    }
    if (this.#size === 0) this.#settleWaiters();
    else if (!this.#paused && !this.#closed && this.#timer === undefined) {
      this.#timer = unrefTimeout(
        this.#clock,
        () => {
          this.#timer = undefined;
          this.#pump();
        },
        this.#disabled || this.#rush ? 0 : this.#tickMs,
      );
    }
  }

  #checkRising(queued: number): void {
    const cap = this.#capacity;
    switch (this.#level) {
      case 'normal':
        if (queued >= cap) this.#becomeFull();
        else if (queued * 100 >= this.#warnLevel * cap) this.#setLevel('warning');
        break;
      case 'warning':
        if (queued >= cap) this.#becomeFull();
        break;
      case 'full':
        if (this.#clock.monotonic() - this.#fullSince >= this.#tolerance) this.#setLevel('flooded');
        break;
      case 'flooded':
        break;
    }
  }

  #becomeFull(): void {
    this.#fullSince = this.#clock.monotonic();
    this.#setLevel('full');
    if (this.#tolerance <= 0 && this.#level === 'full') this.#setLevel('flooded');
  }

  #checkFalling(queued: number): void {
    const cap = this.#capacity;
    const level = this.#level;
    if (level === 'normal') return;
    let to: BufferLevel = level;
    if (level !== 'warning' && queued * 100 <= this.#warnLevel * cap) to = 'warning';
    if (queued * 100 <= this.#normalLevel * cap) to = 'normal';
    this.#setLevel(to);
  }

  #setLevel(to: BufferLevel): void {
    const previous = this.#level;
    if (to === previous) return;
    this.#level = to;
    this.emit('level', to, previous);
  }

  #countDrop(item: T, reason: DropReason): void {
    this.#dropped++;
    this.#droppedByReason[reason]++;
    this.emit('drop', item, reason);
  }

  #settleWaiters(): void {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    for (const w of waiters) {
      this.#clock.clearTimeout(w.timer);
      w.resolve(true);
    }
  }

  #cancelTimer(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #grow(): void {
    const old = this.#ring;
    const next = new Array<T | undefined>(Math.max(INITIAL_RING, old.length * 2));
    for (let k = 0; k < this.#size; k++) next[k] = old[(this.#head + k) % old.length];
    this.#ring = next;
    this.#head = 0;
  }

  #pushTail(item: T): void {
    if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) % this.#ring.length] = item;
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  #pushHead(item: T): void {
    if (this.#size === this.#ring.length) this.#grow();
    this.#head = (this.#head - 1 + this.#ring.length) % this.#ring.length;
    this.#ring[this.#head] = item;
    this.#size++;
    if (this.#size > this.#highWater) this.#highWater = this.#size;
  }

  /** Removes and returns the head; the caller checks `#size > 0`. */
  #shift(): T {
    const item = this.#ring[this.#head] as T;
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#ring.length;
    this.#size--;
    if (this.#size === 0) {
      this.#head = 0;
      // Give a burst's memory back: an idle agent in a 10 000-agent fleet keeps a tiny ring.
      if (this.#ring.length > INITIAL_RING * 4) this.#ring = new Array<T | undefined>(INITIAL_RING);
    }
    return item;
  }
}

function check(ok: boolean, element: string, value: unknown, allowed: string): void {
  if (!ok) throw new ConfigError(`${element} must be ${allowed}, got ${String(value)}`, { element, value });
}
