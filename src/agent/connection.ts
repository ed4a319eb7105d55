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
  /** `eventsSent` at each startup/keepalive still waiting for its ACK, oldest first. */
  readonly #markers: number[] = [];

  /**
   * @param transport - the connection's transport.
   * @param index - the server's index in the list.
   * @param server - the server.
   */
  constructor(
    readonly transport: Transport,
    readonly index: number,
    readonly server: ResolvedServer,
  ) {}

  /** Events written but not confirmed. */
  get unconfirmed(): number {
    return this.eventsSent - this.confirmed;
  }

  /** A startup or keepalive was written: its ACK will confirm every event written so far. */
  markBarrier(): void {
    if (this.#markers.length < MAX_ACK_MARKERS) this.#markers.push(this.eventsSent);
  }

  /** An ACK arrived: it answers the oldest barrier still waiting. */
  acked(): void {
    const marker = this.#markers.shift();
    if (marker !== undefined && marker > this.confirmed) this.confirmed = marker;
  }
}
