/**
 * Keepalive cadence and server-silence detection (protocol.md 5.4 and the first row of 5.5).
 *
 * @module
 */
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { ConfigError } from '../errors.js';

/** What a {@link Keepalive} calls back into: the connection that owns it. */
export interface KeepaliveOwner {
  /**
   * Sends one keepalive (notify) message now.
   *
   * @param dueAt - monotonic time (`clock.monotonic()`) the keepalive was due: its timer's
   *   deadline, earlier than now when the event loop ran the timer late.
   */
  sendKeepalive(dueAt: number): void;
  /**
   * No control message arrived for at least `timeReconnect`: the server is lost. Called once; the
   * keepalive has already stopped itself when this runs.
   *
   * @param silentForMs - milliseconds since the last contact.
   */
  onServerSilent(silentForMs: number): void;
}

/** Options of a {@link Keepalive}. */
export interface KeepaliveOptions {
  /** Keepalive period in milliseconds (`notifyTime`), greater than 0. */
  notifyTime: number;
  /** Silence in milliseconds after which the server is lost (`timeReconnect`), greater than 0. */
  timeReconnect: number;
  /**
   * Clock for time and timers.
   * @default systemClock
   */
  clock?: Clock;
}

/**
 * Sends a keepalive at once and then every `notifyTime`, and reports the server as silent when no
 * control message arrived for `timeReconnect` (Wazuh's `available_server` check).
 *
 * Two timers at most, both unref'd and both owned here: the keepalive timer and the silence timer.
 * {@link Keepalive.touch} is O(1) and reschedules nothing: when the silence timer fires it looks at
 * the last contact and re-arms for the remainder, so a busy connection costs one timer wake-up per
 * `timeReconnect` at most. Durations use the clock's monotonic time.
 *
 * @example
 * ```ts
 * const ka = new Keepalive({ sendKeepalive: () => send(notify()), onServerSilent: (ms) => reconnect(ms) },
 *   { notifyTime: 20_000, timeReconnect: 60_000 });
 * ka.start();            // after the startup ACK
 * ka.touch();            // on every control message from the server
 * ka.stop();             // on disconnect
 * ```
 */
export class Keepalive {
  readonly #owner: KeepaliveOwner;
  readonly #notifyTime: number;
  readonly #timeReconnect: number;
  readonly #clock: Clock;
  #notifyTimer: TimerHandle | undefined;
  #silenceTimer: TimerHandle | undefined;
  #lastContact: number | undefined;
  #running = false;
  /** Monotonic deadline of the armed keepalive timer. */
  #dueAt = 0;

  /**
   * @param owner - receives the keepalive and silence callbacks.
   * @param options - period, silence limit and clock.
   * @throws `ERR_CONFIG` ({@link ConfigError}) when `notifyTime` or `timeReconnect` is not a positive finite number.
   */
  constructor(owner: KeepaliveOwner, options: KeepaliveOptions) {
    for (const name of ['notifyTime', 'timeReconnect'] as const) {
      const v = options[name];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw new ConfigError(`${name} must be a positive number of milliseconds, got ${String(v)}`, { element: name, value: v });
      }
    }
    this.#owner = owner;
    this.#notifyTime = options.notifyTime;
    this.#timeReconnect = options.timeReconnect;
    this.#clock = options.clock ?? systemClock;
  }

  /** Monotonic time (`clock.monotonic()`) of the last contact: `start()` or `touch()`; undefined before either. */
  get lastContact(): number | undefined {
    return this.#lastContact;
  }

  /** Whether the timers run (between `start()` and `stop()` or the silence report). */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Starts (or restarts) the cadence: sends one keepalive at once (protocol.md 5.4 SDK recommendation),
   * then one every `notifyTime`; starts the silence watch with the last contact set to now.
   */
  start(): void {
    this.stop();
    this.#running = true;
    this.#lastContact = this.#clock.monotonic();
    this.#armSilence(this.#timeReconnect);
    this.#armNotify();
    this.#owner.sendKeepalive(this.#lastContact);
  }

  /** A control message arrived from the server: records the contact time. O(1), no timer work. */
  touch(): void {
    this.#lastContact = this.#clock.monotonic();
  }

  /** Clears both timers. Idempotent. */
  stop(): void {
    this.#running = false;
    this.#clock.clearTimeout(this.#notifyTimer);
    this.#clock.clearTimeout(this.#silenceTimer);
    this.#notifyTimer = undefined;
    this.#silenceTimer = undefined;
  }

  #armNotify(): void {
    this.#dueAt = this.#clock.monotonic() + this.#notifyTime;
    this.#notifyTimer = unrefTimeout(this.#clock, () => this.#onNotify(), this.#notifyTime);
  }

  #onNotify(): void {
    this.#notifyTimer = undefined;
    if (!this.#running) return;
    // Re-arm first so an owner that throws or stops us from inside the callback leaves a consistent state.
    const due = this.#dueAt;
    this.#armNotify();
    this.#owner.sendKeepalive(due);
  }

  #armSilence(ms: number): void {
    this.#silenceTimer = unrefTimeout(this.#clock, () => this.#onSilenceCheck(), ms);
  }

  #onSilenceCheck(): void {
    this.#silenceTimer = undefined;
    if (!this.#running) return;
    const silent = this.#clock.monotonic() - (this.#lastContact ?? 0);
    if (silent >= this.#timeReconnect) {
      this.stop();
      this.#owner.onServerSilent(silent);
      return;
    }
    this.#armSilence(this.#timeReconnect - silent);
  }
}
