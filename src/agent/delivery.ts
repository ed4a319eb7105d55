/**
 * At-least-once delivery: the retransmit window of the events written but not yet confirmed, and
 * the barrier keepalives that confirm them.
 *
 * The manager ACKs every keepalive (protocol.md 8.4) and TCP delivers in order, so the ACK of a
 * keepalive proves the manager read every event written before it on that connection: a keepalive is
 * a confirmation barrier. Events stay in the window until a barrier written after them is ACKed;
 * when a connection is lost, everything still in the window is written again first on the next
 * connection, in order. A duplicate is possible (the manager read the event, the ACK was lost), a
 * loss is not.
 *
 * @module
 */
import { unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { DeliveryMode, ResolvedRetransmitOptions } from '../config/options.js';
import type { ClientBuffer } from './client-buffer.js';
import type { AgentConnection, ConfirmationListener } from './connection.js';
import type { AgentSender } from './sender.js';
import type { AgentCounters } from './stats.js';
import type { AgentEvent } from './types.js';

/** Counters of the at-least-once retransmit window, in `stats().retransmitWindow`. */
export interface RetransmitWindowStats {
  /** Events written and not yet confirmed now. */
  events: number;
  /** Their bytes (UTF-8 of location and message). */
  bytes: number;
  /** Most events ever held at once. */
  highWaterEvents: number;
  /** Most bytes ever held at once. */
  highWaterBytes: number;
  /** Times sending waited because the window was full (the client buffer held the events meanwhile). */
  fullStalls: number;
  /** Barrier keepalives sent besides the regular ones (half-full window, `barrierInterval`, `stop()`). */
  extraKeepalives: number;
}

/** What a {@link RetransmitWindow} calls back into: the agent. */
export interface RetransmitWindowOwner {
  /** Writes a barrier keepalive on the current connection now (it then calls {@link RetransmitWindow.barrier}). */
  sendBarrier(): void;
  /** The window has room again: sending may resume. */
  resume(): void;
}

interface Entry {
  event: AgentEvent;
  bytes: number;
}

/**
 * The events written but not yet confirmed, oldest first, bounded by `maxEvents` and `maxBytes`.
 * Barriers: a keepalive goes out at once when the events written since the last barrier reach half of
 * either limit, and `barrierInterval` after the first event written since the last barrier otherwise
 * (a regular keepalive is a barrier too). When the window is full, {@link RetransmitWindow.full} is
 * true and the owner stops sending until an ACK makes room: nothing is ever dropped from the window.
 * One unref'd timer (the barrier interval) and one per {@link RetransmitWindow.waitEmpty} call.
 */
export class RetransmitWindow {
  readonly #o: ResolvedRetransmitOptions;
  readonly #owner: RetransmitWindowOwner;
  readonly #clock: Clock;
  #entries: Entry[] = [];
  #head = 0;
  #bytes = 0;
  #unbarriered = 0;
  #unbarrieredBytes = 0;
  #timer: TimerHandle | undefined;
  #stalled = false;
  readonly #stats = { highWaterEvents: 0, highWaterBytes: 0, fullStalls: 0, extraKeepalives: 0 };
  readonly #waiters = new Set<{ resolve: (empty: boolean) => void; timer: TimerHandle | undefined }>();

  /**
   * @param options - limits and barrier interval.
   * @param owner - sends barriers and resumes sending.
   * @param clock - clock of the barrier timer.
   */
  constructor(options: ResolvedRetransmitOptions, owner: RetransmitWindowOwner, clock: Clock) {
    this.#o = options;
    this.#owner = owner;
    this.#clock = clock;
  }

  /** Events held. */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Whether one more event would exceed a limit; the owner sends nothing new while true. */
  get full(): boolean {
    return this.size >= this.#o.maxEvents || this.#bytes >= this.#o.maxBytes;
  }

  /**
   * The owner could not send because the window is full: counts the stall once, and sends a barrier
   * when the events written since the last one are not covered yet.
   */
  stall(): void {
    if (!this.#stalled) {
      this.#stalled = true;
      this.#stats.fullStalls++;
    }
    if (this.#unbarriered > 0) this.#extraBarrier();
  }

  /** Sends a barrier now when events were written since the last one (`stop()` wants them confirmed). */
  confirmNow(): void {
    if (this.#unbarriered > 0) this.#extraBarrier();
  }

  /**
   * An event was written on the current connection for the first time: it joins the window.
   *
   * @param event - the event.
   */
  written(event: AgentEvent): void {
    const bytes = Buffer.byteLength(event.location) + Buffer.byteLength(event.message);
    this.#entries.push({ event, bytes });
    this.#bytes += bytes;
    this.#unbarriered++;
    this.#unbarrieredBytes += bytes;
    const s = this.#stats;
    if (this.size > s.highWaterEvents) s.highWaterEvents = this.size;
    if (this.#bytes > s.highWaterBytes) s.highWaterBytes = this.#bytes;
    if (this.#unbarriered * 2 >= this.#o.maxEvents || this.#unbarrieredBytes * 2 >= this.#o.maxBytes) this.#extraBarrier();
    else this.#timer ??= unrefTimeout(this.#clock, () => this.#onBarrierTimer(), this.#o.barrierInterval);
  }

  /** A keepalive (regular or extra) was written: it covers every event written so far. */
  barrier(): void {
    this.#unbarriered = 0;
    this.#unbarrieredBytes = 0;
    this.#clearTimer();
  }

  /**
   * An ACK confirmed the oldest `n` events: they leave the window.
   *
   * @param n - how many.
   */
  confirm(n: number): void {
    for (let k = 0; k < n && this.size > 0; k++) {
      this.#bytes -= this.#entries[this.#head]!.bytes;
      this.#entries[this.#head++] = undefined as unknown as Entry;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    if (this.size === 0) {
      this.#bytes = 0;
      this.#entries = [];
      this.#head = 0;
      this.#settleWaiters(true);
    }
    if (this.#stalled && !this.full) {
      this.#stalled = false;
      this.#owner.resume();
    }
  }

  /**
   * The connection was lost: the barrier timer stops; every event held is to be written again, first,
   * on the next connection ({@link RetransmitWindow.events}).
   */
  lost(): void {
    this.#clearTimer();
    this.#unbarriered = 0;
    this.#unbarrieredBytes = 0;
    this.#stalled = false;
  }

  /**
   * The events held, oldest first, to write again on a new connection. The caller writes them all
   * before anything else; they stay in the window (and count as unbarriered) until confirmed there.
   *
   * @returns the events.
   */
  events(): AgentEvent[] {
    const out: AgentEvent[] = [];
    for (let k = this.#head; k < this.#entries.length; k++) out.push(this.#entries[k]!.event);
    this.#unbarriered = out.length;
    this.#unbarrieredBytes = this.#bytes;
    return out;
  }

  /**
   * Waits until every event held is confirmed.
   *
   * @param timeoutMs - deadline.
   * @returns true when empty, false at the deadline or at `clear()` with events left.
   */
  waitEmpty(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return Promise.resolve(true);
    if (!(timeoutMs > 0)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: { resolve: (empty: boolean) => void; timer: TimerHandle | undefined } = { resolve, timer: undefined };
      waiter.timer = unrefTimeout(
        this.#clock,
        () => {
          this.#waiters.delete(waiter);
          resolve(this.size === 0);
        },
        timeoutMs,
      );
      this.#waiters.add(waiter);
    });
  }

  /**
   * Empties the window (the agent stops), clears every timer and settles the waiters.
   *
   * @returns how many events were still unconfirmed.
   */
  clear(): number {
    const left = this.size;
    this.#entries = [];
    this.#head = 0;
    this.#bytes = 0;
    this.lost();
    this.#settleWaiters(left === 0);
    return left;
  }

  /** @returns a copy of the counters. */
  stats(): RetransmitWindowStats {
    return { events: this.size, bytes: this.#bytes, ...this.#stats };
  }

  #extraBarrier(): void {
    this.#stats.extraKeepalives++;
    this.#owner.sendBarrier();
  }

  #onBarrierTimer(): void {
    this.#timer = undefined;
    if (this.#unbarriered > 0) this.#extraBarrier();
  }

  #clearTimer(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #settleWaiters(empty: boolean): void {
    for (const w of this.#waiters) {
      this.#clock.clearTimeout(w.timer);
      w.resolve(empty);
    }
    this.#waiters.clear();
  }
}

/** What a {@link Delivery} needs from its agent. */
export interface DeliveryDeps {
  /** Writes events. */
  sender: AgentSender;
  /** The agent's counters (`eventsUnconfirmedOnLostConnections`). */
  stats: AgentCounters;
  /** Clock of the window's timers. */
  clock: Clock;
  /** Writes a barrier keepalive on the current connection now. */
  sendBarrier(): void;
  /** The window has room again: the client buffer may resume. */
  resume(): void;
}

const NO_WINDOW: Readonly<RetransmitWindowStats> = { events: 0, bytes: 0, highWaterEvents: 0, highWaterBytes: 0, fullStalls: 0, extraKeepalives: 0 };

/**
 * The agent's delivery guarantee, one per agent. `at-most-once` writes each event once and counts
 * what a lost connection had not confirmed; `at-least-once` keeps those events in a
 * {@link RetransmitWindow} and writes them again first on the next connection.
 */
export class Delivery {
  readonly #d: DeliveryDeps;
  readonly #window: RetransmitWindow | undefined;
  readonly #listener: ConfirmationListener | undefined;

  /**
   * @param mode - the delivery guarantee.
   * @param options - the retransmit window's limits (at-least-once).
   * @param deps - sender, counters, clock and callbacks.
   */
  constructor(mode: DeliveryMode, options: ResolvedRetransmitOptions, deps: DeliveryDeps) {
    this.#d = deps;
    if (mode === 'at-least-once') {
      const window = new RetransmitWindow(options, { sendBarrier: () => deps.sendBarrier(), resume: () => deps.resume() }, deps.clock);
      this.#window = window;
      this.#listener = { onBarrier: () => window.barrier(), onConfirm: (n) => window.confirm(n) };
    }
  }

  /** What a new connection tells about its barriers and confirmations (at-least-once only). */
  get listener(): ConfirmationListener | undefined {
    return this.#listener;
  }

  /**
   * Writes one event from the client buffer.
   *
   * @param event - the event.
   * @param conn - the connection.
   * @returns false when the window is full (the buffer keeps the event and pauses until `resume`).
   */
  write(event: AgentEvent, conn: AgentConnection): boolean {
    const window = this.#window;
    if (!window) return this.#d.sender.sendEvent(event, conn);
    if (window.full) {
      window.stall();
      return false;
    }
    const before = conn.eventsSent;
    this.#d.sender.sendEvent(event, conn);
    if (conn.eventsSent > before) window.written(event);
    return true;
  }

  /**
   * A connection was just established: writes again, in order, what earlier connections did not
   * confirm (the keepalive sent next is their barrier).
   *
   * @param conn - the new connection.
   */
  resend(conn: AgentConnection): void {
    if (!this.#window) return;
    for (const event of this.#window.events()) this.#d.sender.sendEvent(event, conn, true);
  }

  /**
   * A connection was lost: at-most-once counts what it had not confirmed as possibly lost;
   * at-least-once keeps those events for the next connection.
   *
   * @param conn - the lost connection.
   */
  lost(conn: AgentConnection): void {
    if (this.#window) this.#window.lost();
    else this.#d.stats.unconfirmed += conn.unconfirmed;
  }

  /**
   * `stop()`'s drain: what is queued goes out at once (without the buffer's rate limit); at-least-once,
   * a barrier follows and the manager's ACK is awaited, all within `timeoutMs`. Ends early when `gone`
   * resolves (the connection went away). What is left is the caller's to clear.
   *
   * @param buffer - the client buffer.
   * @param timeoutMs - the drain deadline.
   * @param gone - resolves when the connection goes away.
   */
  async drain(buffer: ClientBuffer<AgentEvent>, timeoutMs: number, gone: Promise<void>): Promise<void> {
    const deadline = this.#d.clock.monotonic() + timeoutMs;
    buffer.rush();
    let connected = true;
    const lost = gone.then(() => {
      connected = false;
    });
    await Promise.race([buffer.drain(timeoutMs), lost]);
    const window = this.#window;
    const left = deadline - this.#d.clock.monotonic();
    if (!window || window.size === 0 || !connected || !(left > 0)) return;
    window.confirmNow();
    await Promise.race([window.waitEmpty(left), lost]);
  }

  /** The agent closes: what is still unconfirmed is counted as possibly lost; every timer is cleared. */
  close(): void {
    if (this.#window) this.#d.stats.unconfirmed += this.#window.clear();
  }

  /** @returns the window's counters (zeros at-most-once). */
  stats(): RetransmitWindowStats {
    return this.#window?.stats() ?? { ...NO_WINDOW };
  }
}
