/**
 * The counters behind {@link AgentClient.stats}.
 *
 * @module
 */
import type { AgentClient } from './client.js';
import type { AgentClientStats } from './types.js';

/** The counters an {@link AgentClient} keeps itself (state, server and buffer come from elsewhere). */
export type AgentCounterSnapshot = Omit<AgentClientStats, 'state' | 'server' | 'serverIndex' | 'buffer' | 'retransmitWindow'>;

/** Mutable counters of one agent; {@link AgentCounters.snapshot} copies them for `stats()`. */
export class AgentCounters {
  /** Bytes received (payloads). */
  bytesIn = 0;
  /** Bytes sent (payloads). */
  bytesOut = 0;
  /** Messages received and decoded. */
  messagesIn = 0;
  /** Messages sent. */
  messagesOut = 0;
  /** Events written to a connection. */
  eventsSent = 0;
  /** Events accepted by `sendEvent`. */
  eventsAccepted = 0;
  /** Events the client refused itself. */
  eventsRejected = 0;
  /** ACKs received. */
  acks = 0;
  /** Successful connections. */
  connects = 0;
  /** Connections lost or left after being established. */
  disconnects = 0;
  /** Connections on a different server than the previous one. */
  failovers = 0;
  /** Failed connection attempts. */
  failedAttempts = 0;
  /** Bad data from the manager. */
  decodeErrors = 0;
  /** Events written to connections lost before the manager confirmed them. */
  unconfirmed = 0;
  /** Events written again after a lost connection (at-least-once). */
  eventsRetransmitted = 0;
  /** Wall-clock time of the last ACK. */
  lastAckAt: number | undefined = undefined;
  /** Wall-clock time of the last keepalive sent. */
  lastKeepaliveAt: number | undefined = undefined;
  /** Successful connections per server index. */
  readonly connectsPerServer: number[];

  /** @param servers - how many servers the agent has. */
  constructor(servers: number) {
    this.connectsPerServer = new Array<number>(servers).fill(0);
  }

  /** @returns a copy of the counters. */
  snapshot(): AgentCounterSnapshot {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
      eventsSent: this.eventsSent,
      eventsAccepted: this.eventsAccepted,
      eventsRejected: this.eventsRejected,
      acks: this.acks,
      connects: this.connects,
      disconnects: this.disconnects,
      failovers: this.failovers,
      failedAttempts: this.failedAttempts,
      connectsPerServer: [...this.connectsPerServer],
      decodeErrors: this.decodeErrors,
      eventsUnconfirmedOnLostConnections: this.unconfirmed,
      eventsRetransmitted: this.eventsRetransmitted,
      lastAckAt: this.lastAckAt,
      lastKeepaliveAt: this.lastKeepaliveAt,
    };
  }
}
