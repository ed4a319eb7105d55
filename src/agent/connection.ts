/**
 * One established (or establishing) connection of an agent and what the manager confirmed on it.
 *
 * @module
 */
import type { ResolvedServer } from '../config/options.js';
import type { ServerRef } from '../errors.js';
import type { Transport } from '../transport/types.js';

/** Keepalive ACK markers kept per connection. */
const MAX_ACK_MARKERS = 64;

/**
 * @param server - a resolved server.
 * @returns the address, port and protocol errors carry.
 */
export function serverRef(server: ResolvedServer): ServerRef {
  return { address: server.address, port: server.port, protocol: server.protocol };
}

/** Told about a connection's barriers and confirmations (the at-least-once window listens). */
export interface ConfirmationListener {
  /** A startup or keepalive was written: its ACK will confirm every event written so far. */
  onBarrier(): void;
  /** An ACK confirmed `n` more events, the oldest unconfirmed ones of this connection. */
  onConfirm(n: number): void;
}

/**
 * A transport to one server, with the count of events written on it and how many of them the
 * manager confirmed. The manager ACKs every startup and keepalive in order, so an ACK confirms every
 * event written before the message it answers (TCP delivers in order).
 */
export class AgentConnection {
  /** Events written on this connection. */
  eventsSent = 0;
  /** Events confirmed: written before a startup or keepalive whose ACK arrived. */
  confirmed = 0;
  /**
   * One entry per startup/keepalive still waiting for its ACK, oldest first, run-length encoded:
   * `[eventsSent when written, how many barriers]`. Past MAX_ACK_MARKERS entries a new barrier joins
   * the last entry (it then confirms no more than that one: never too much), so memory stays bounded
   * when the manager stops answering while the one-ACK-per-barrier pairing holds.
   */
  readonly #markers: [at: number, count: number][] = [];
  /** Monotonic due time of each keepalive waiting for its ACK, oldest first (at most MAX_ACK_MARKERS; a startup has none). */
  readonly #due: (number | undefined)[] = [];

  /**
   * @param transport - the connection's transport.
   * @param index - the server's index in the list.
   * @param server - the server.
   * @param listener - told about barriers and confirmations.
   */
  constructor(
    readonly transport: Transport,
    readonly index: number,
    readonly server: ResolvedServer,
    readonly listener?: ConfirmationListener,
  ) {}

  /** Events written but not confirmed. */
  get unconfirmed(): number {
    return this.eventsSent - this.confirmed;
  }

  /**
   * A startup or keepalive was written: its ACK will confirm every event written so far.
   *
   * @param dueAt - for a keepalive, the monotonic time it was due (its ACK latency counts from there).
   */
  markBarrier(dueAt?: number): void {
    if (this.#due.length < MAX_ACK_MARKERS) this.#due.push(dueAt);
    const last = this.#markers[this.#markers.length - 1];
    if (last && (last[0] === this.eventsSent || this.#markers.length >= MAX_ACK_MARKERS)) last[1]++;
    else this.#markers.push([this.eventsSent, 1]);
    this.listener?.onBarrier();
  }

  /**
   * An ACK arrived: it answers the oldest barrier still waiting.
   *
   * @returns the monotonic time the keepalive it answers was due, or undefined (a startup, or none waiting).
   */
  acked(): number | undefined {
    const due = this.#due;
    const dueAt = due.shift();
    // an empty array keeps the 17 slots its first push made (about 120 B) unless its length is set:
    // an idle connection waits for no ACK between two keepalives
    if (due.length === 0) due.length = 0;
    const markers = this.#markers;
    const first = markers[0];
    if (!first) return undefined;
    if (--first[1] === 0) {
      markers.shift();
      if (markers.length === 0) markers.length = 0;
    }
    if (first[0] > this.confirmed) {
      const n = first[0] - this.confirmed;
      this.confirmed = first[0];
      this.listener?.onConfirm(n);
    }
    return dueAt;
  }
}
