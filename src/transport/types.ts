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

/**
 * Life cycle of a transport: `idle` (created), `connecting`, `open`, `closing` (after `close()` or
 * `destroy()`, until the socket is released), `closed`. A failed connect goes from `connecting`
 * straight to `closed`.
 */
export type TransportState = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

/** Events a transport emits. */
export interface TransportEvents {
  /**
   * One complete payload (a TCP frame body or a UDP datagram). The Buffer may be a view into a
   * larger socket chunk: copy it before keeping it for long.
   */
  payload: [payload: Buffer];
  /**
   * A problem that does not close the transport by itself: a UDP read or send error (for example
   * `ECONNREFUSED` from an ICMP port-unreachable), or a payload too large to send.
   */
  error: [error: AgentlinkError];
  /**
   * The transport is closed and its socket released. Emitted exactly once, and only after
   * `connect()` resolved (a failed connect rejects instead). No `error` when the transport was closed
   * locally by `close()` or `destroy()`; otherwise the reason: `ConnectionError` `ERR_CONNECTION_LOST`
   * (EOF or socket error) or `DecodeError` `ERR_DECODE_FRAME_TOO_LARGE` (corrupt TCP stream).
   */
  close: [error?: AgentlinkError];
}

/**
 * One connection to one server. `connect()` resolves once the socket is usable; after that,
 * `payload` events carry whole payloads and `close` is emitted exactly once.
 */
export interface Transport extends EventEmitter<TransportEvents> {
  /** The server this transport talks to. */
  readonly target: TransportTarget;
  /** Where the transport is in its life cycle. */
  readonly state: TransportState;
  /**
   * The local address of the socket once connected (the keepalive's `_agent_ip`), without an
   * IPv4-mapped `::ffff:` prefix; undefined before connect. Kept after close.
   */
  readonly localAddress: string | undefined;
  /** Bytes received on the wire (TCP: frame headers included). */
  readonly bytesIn: number;
  /** Bytes handed to the socket (TCP: frame headers included). */
  readonly bytesOut: number;
  /**
   * Opens the socket. Call it once. Rejects with a `ConnectionError` (`ERR_CONNECT`,
   * `ERR_CONNECT_TIMEOUT`), an `AbortError` (signal, or `close()`/`destroy()` during the connect), or a
   * `StateError` when called twice. A rejected connect releases everything and emits no `close`.
   */
  connect(): Promise<void>;
  /**
   * Sends one payload (the transport adds TCP framing). Never throws. Returns false when the payload
   * was not handed to the kernel at once: the socket buffer is full (TCP: the payload is still queued
   * and will be sent), the transport is not open (dropped), or the payload is too large (dropped, and
   * an `error` event carries `ERR_MESSAGE_TOO_LARGE`).
   */
  send(payload: Buffer): boolean;
  /** Closes gracefully (TCP: FIN after pending writes). Idempotent. */
  close(): void;
  /** Closes at once, dropping pending writes (TCP: RST where possible). Idempotent. */
  destroy(): void;
  /**
   * Lets the socket keep the process alive again (the default), as `net.Socket.ref()`. Applies to
   * the socket created later by `connect()` too. Optional: a transport without sockets leaves it out.
   */
  ref?(): void;
  /** Lets the process exit while this socket is open, as `net.Socket.unref()`; see {@link Transport.ref}. */
  unref?(): void;
}

/** Builds a transport for a target; the agent calls it for every connection attempt. */
export type TransportFactory = (target: TransportTarget, options: TransportConnectOptions) => Transport;
