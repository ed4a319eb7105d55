/**
 * The server seam: what a test server (the mock manager) needs from the network, so it runs on real
 * sockets ({@link listenNode}) or on the in-memory network alike. Like the client {@link Transport},
 * a `Listener` carries whole payloads: TCP frames are reassembled below it.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DecodeError } from '../errors.js';

/** How long a listener keeps retrying to listen again on its port after `refuse(false)` (the port may be in TIME_WAIT or briefly held). */
export const RELISTEN_DEADLINE_MS = 5000;

/** Transport a listener serves. */
export type ListenerProtocol = 'tcp' | 'udp';

/** Options of a {@link ListenerFactory}. */
export interface ListenOptions {
  /** Address to listen on. */
  host: string;
  /** Port; 0 picks a free one. With both protocols, TCP and UDP share the port number. */
  port: number;
  /** Transports to serve (at least one). */
  protocols: readonly ListenerProtocol[];
  /** Receive buffer of the UDP socket, in bytes (the kernel may cap it). @default the kernel's */
  udpReceiveBufferSize?: number | undefined;
  /** Clock for relisten pauses and partial-frame times. @default systemClock */
  clock?: Clock | undefined;
  /** Logger. @default silent */
  logger?: Logger | undefined;
}

/** The sender of a UDP datagram, and where a reply goes. */
export interface DatagramPeer {
  /** Source address. */
  readonly address: string;
  /** Source port. */
  readonly port: number;
}

/** Events of a {@link Listener}. */
export interface ListenerEvents {
  /** A TCP connection was accepted. */
  connection: [connection: ServerConnection];
  /** A UDP datagram arrived. */
  datagram: [payload: Buffer, peer: DatagramPeer];
}

/**
 * Listening sockets on one port (TCP, UDP or both). Created listening by a {@link ListenerFactory};
 * `refuse(true)` closes the TCP listening socket (connects are refused, established connections
 * stay), `refuse(false)` listens again on the same port.
 */
export interface Listener extends EventEmitter<ListenerEvents> {
  /** The address listened on. */
  readonly host: string;
  /** The bound port (TCP and UDP share it). */
  readonly port: number;
  /** Transports served. */
  readonly protocols: readonly ListenerProtocol[];
  /** Bytes received: TCP chunks and UDP datagrams, valid or not. */
  readonly bytesIn: number;
  /** Largest incomplete frame one TCP connection held (bytes; at most one frame plus its header). */
  readonly maxBufferedIn: number;
  /** TCP connections open now. */
  readonly connections: number;
  /**
   * Closes the TCP listening socket (`true`) or listens again on the same port (`false`), retrying
   * for up to {@link RELISTEN_DEADLINE_MS} while the port is held. Calls are applied in order.
   *
   * @returns resolves once the listening socket follows the call; never rejects (a failure to
   *   listen again is logged and leaves the listener refusing).
   */
  refuse(on: boolean): Promise<void>;
  /**
   * Sends one UDP datagram.
   *
   * @returns false when the listener serves no UDP or is closed.
   */
  sendDatagram(payload: Buffer, peer: DatagramPeer): boolean;
  /**
   * Stops listening, ends every TCP connection gracefully (FIN after pending writes) and waits up to
   * `timeoutMs` for them to close; the rest are destroyed. Then closes as {@link Listener.close}.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/** Events of a {@link ServerConnection}. */
export interface ServerConnectionEvents {
  /** A whole payload (a TCP frame body). */
  payload: [payload: Buffer];
  /**
   * Two or more whole payloads completed by one read from the socket, in order, emitted instead of
   * one `payload` each when this event has a listener (a single one still comes as `payload`; a
   * connection that cannot tell its reads apart emits `payload` only). The listener stops handling
   * them once it closes the connection.
   */
  payloads: [payloads: Buffer[]];
  /**
   * The stream is corrupt (a frame announcing more than 65536 bytes, `ERR_DECODE_FRAME_TOO_LARGE`):
   * nothing more is read. The connection stays open until its owner closes it.
   */
  error: [error: DecodeError];
  /** Everything sent so far has been handed to the kernel: the send queue is empty. */
  drain: [];
  /** The connection is closed, by either side. Emitted once. */
  close: [];
}

/** The server's end of one TCP connection accepted by a {@link Listener}. */
export interface ServerConnection extends EventEmitter<ServerConnectionEvents> {
  /** Connection number, unique within its listener (from 1). */
  readonly id: number;
  /** Peer address. */
  readonly remoteAddress: string;
  /** Peer port. */
  readonly remotePort: number;
  /** Whether the connection is closed or closing (after `end()`, `destroy()`, `reset()` or the peer's close). */
  readonly closed: boolean;
  /** Bytes queued for sending and not yet taken by the kernel. */
  readonly bufferedOut: number;
  /** Bytes of an incomplete frame held. */
  readonly bufferedIn: number;
  /** Monotonic time (the listener's clock) since when an incomplete frame is held; 0 when none. */
  readonly partialSince: number;
  /**
   * Sends one payload as one frame.
   *
   * @returns false when the connection is closed (nothing sent); otherwise the socket's write result
   *   (false: queued in user space, still sent).
   */
  send(payload: Buffer): boolean;
  /** Sends a frame header announcing more than 65536 bytes: the peer must treat the stream as corrupt. */
  sendOversizeFrame(): void;
  /** Closes gracefully: FIN after pending writes. */
  end(): void;
  /** Closes at once (pending writes dropped). */
  destroy(): void;
  /** Closes with a TCP RST. */
  reset(): void;
}

/** Starts listening; the factory of real sockets is {@link listenNode}, the in-memory network has its own. */
export type ListenerFactory = (options: ListenOptions) => Promise<Listener>;
