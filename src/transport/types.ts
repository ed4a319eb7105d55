/**
 * The transport boundary: the only place that touches sockets. The agent works over this
 * interface, so unit tests inject an in-memory transport and integration tests real sockets.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { AgentlinkError } from '../errors.js';

/** Where a transport connects. */
export interface TransportTarget {
  /** Host name or IP address; host names are resolved at every connect, as Wazuh does. */
  address: string;
  /** Port number. */
  port: number;
  /** `tcp` (length-prefixed frames) or `udp` (one datagram per payload). */
  protocol: 'tcp' | 'udp';
}

/** Options given to a transport factory for one connection. */
export interface TransportConnectOptions {
  /** Deadline for the TCP connect, in milliseconds (0: no deadline). */
  connectTimeout: number;
  /** Local address to bind before connecting (to spread source addresses over 127.0.0.0/8). */
  localAddress?: string | undefined;
  /** Aborts the connect. */
  signal?: AbortSignal | undefined;
}

/** Events a transport emits. */
export interface TransportEvents {
  /** One complete payload (a TCP frame body or a UDP datagram). */
  payload: [payload: Buffer];
  /** A problem that does not close the transport by itself (e.g. a UDP read error). */
  error: [error: AgentlinkError];
  /** The transport is closed; `error` says why when it was not closed by `close()`. Emitted once. */
  close: [error?: AgentlinkError];
}

/**
 * One connection to one server. `connect()` resolves once the socket is usable; after that,
 * `payload` events carry whole payloads and `close` is emitted exactly once.
 */
export interface Transport extends EventEmitter<TransportEvents> {
  /** The server this transport talks to. */
  readonly target: TransportTarget;
  /** The local address of the socket once connected (the keepalive's `_agent_ip`), if known. */
  readonly localAddress: string | undefined;
  /** Opens the socket. Rejects with a `ConnectionError` (`ERR_CONNECT`, `ERR_CONNECT_TIMEOUT`) or an `AbortError`. */
  connect(): Promise<void>;
  /** Sends one payload (the transport adds TCP framing). Returns false when the socket buffer is full (still queued on TCP). */
  send(payload: Buffer): boolean;
  /** Closes gracefully (TCP: FIN after pending writes). Idempotent. */
  close(): void;
  /** Closes at once, dropping pending writes (TCP: RST where possible). Idempotent. */
  destroy(): void;
}

/** Builds a transport for a target; the agent calls it for every connection attempt. */
export type TransportFactory = (target: TransportTarget, options: TransportConnectOptions) => Transport;
