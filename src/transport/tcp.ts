/**
 * The TCP transport (protocol.md 3.2): one `node:net` socket, payloads framed with a 4-byte
 * little-endian length, whole payloads delivered as `payload` events.
 *
 * @module
 */
import * as net from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { AbortError, AgentlinkError, ConnectionError, StateError, toConnectionError } from '../errors.js';
import { FRAME_HEADER_SIZE, FrameDecoder } from '../protocol/framing.js';
import { detach, guardConnect, where } from './connect-guard.js';
import type { ConnectGuard } from './connect-guard.js';
import { FrameWriter } from './frame-writer.js';
import { resetSocket } from './raw.js';
import type { Transport, TransportConnectOptions, TransportEvents, TransportState, TransportTarget } from './types.js';

/** Default TCP keepalive idle time before the first probe, in milliseconds. */
export const DEFAULT_TCP_KEEPALIVE_DELAY = 30_000;

/** Default time `close()` waits for pending writes to flush before it destroys the socket, in milliseconds. */
export const DEFAULT_TCP_CLOSE_TIMEOUT = 5_000;

/**
 * Builds the unconnected-or-connecting socket for a {@link TcpTransport}; `net.connect` by default.
 * Tests inject one to simulate a connect that never completes.
 */
export type TcpSocketFactory = (options: net.TcpNetConnectOpts) => net.Socket;

/** Options of a {@link TcpTransport}: the per-connection options plus injectable parts. */
export interface TcpTransportOptions extends TransportConnectOptions {
  /**
   * Clock for the connect deadline and the close grace period.
   * @default systemClock
   */
  clock?: Clock | undefined;
  /**
   * Idle milliseconds before the kernel sends TCP keepalive probes (helps detect half-open
   * connections; the agent's `timeReconnect` rule remains the main detector). 0 disables keepalive.
   * @default 30000
   */
  keepAliveDelay?: number | undefined;
  /**
   * Milliseconds `close()` lets pending writes flush (FIN after them) before it destroys the socket,
   * so a peer that stops reading cannot keep it open. 0: wait without a limit.
   * @default 5000
   */
  closeTimeout?: number | undefined;
  /**
   * Creates the socket and starts connecting.
   * @default net.connect
   */
  createSocket?: TcpSocketFactory | undefined;
}

/**
 * Strips the IPv4-mapped prefix (`::ffff:`) Node reports for IPv4 peers on dual-stack sockets.
 *
 * @param address - an address as reported by a socket.
 * @returns the plain address, or undefined for an empty or missing one.
 * @internal
 */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** The socket's property naming the transport that owns it: the socket's listeners are shared by all transports. */
const kOwner = Symbol('agentlink.tcpTransport');

/** A released socket's `error` listener: errors after the release concern no one. */
function ignore(): void {}

/** A socket of a {@link TcpTransport}, with its owner. */
interface OwnedSocket extends net.Socket {
  [kOwner]?: TcpTransport;
}

/**
 * One TCP connection to one manager. Resolves host names at every `connect()` (through
 * `net.connect`), enforces `connectTimeout`, binds `localAddress` when given, disables Nagle,
 * enables TCP keepalive, and reassembles frames with one {@link FrameDecoder}. Nothing else is
 * buffered by the transport itself.
 *
 * `close` is emitted exactly once, after a successful `connect()`, when the socket is released:
 * with no error after `close()`/`destroy()`, with `ConnectionError` `ERR_CONNECTION_LOST` on a
 * server EOF or a socket error, with `DecodeError` `ERR_DECODE_FRAME_TOO_LARGE` when the server
 * announced a frame above 65536 bytes (the socket is destroyed, as the Wazuh agent does after
 * "Corrupt payload (exceeding size) received.").
 *
 * @example
 * ```ts
 * const t = createTcpTransport({ address: 'manager', port: 1514, protocol: 'tcp' }, { connectTimeout: 10_000 });
 * t.on('payload', (p) => handle(p));
 * t.on('close', (err) => reconnectLater(err));
 * await t.connect();
 * t.send(encodedMessage);
 * ```
 */
export class TcpTransport extends EventEmitter<TransportEvents> implements Transport {
  /** The server this transport talks to. */
  readonly target: TransportTarget;
  readonly #options: TcpTransportOptions;
  readonly #clock: Clock;
  #state: TransportState = 'idle';
  #socket: net.Socket | undefined = undefined;
  #decoder: FrameDecoder | undefined = undefined;
  #writer: FrameWriter | undefined = undefined;
  #closeTimer: TimerHandle | undefined = undefined;
  /** The pending connect; set only while connecting. */
  #connecting: ConnectGuard | undefined = undefined;
  /** Why the socket is going away, when the peer or the stream is at fault. */
  #closeReason: AgentlinkError | undefined = undefined;
  #localAddress: string | undefined = undefined;
  #ref = true;
  #bytesIn = 0;
  #bytesOut = 0;

  /**
   * @param target - the server; `protocol` should be `tcp`.
   * @param options - connect deadline, local address, signal, and injectable parts.
   */
  constructor(target: TransportTarget, options: TcpTransportOptions) {
    super();
    this.target = { address: target.address, port: target.port, protocol: 'tcp' };
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Life-cycle state: `idle`, `connecting`, `open`, `closing` (after `close()`), `closed`. */
  get state(): TransportState {
    return this.#state;
  }

  /** The local address of the socket once connected, without a `::ffff:` prefix. */
  get localAddress(): string | undefined {
    return this.#localAddress;
  }

  /** Bytes read from the socket, frame headers included. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Bytes handed to the socket, frame headers included. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  /** Bytes of an incomplete frame held by the decoder (at most one frame plus its header). */
  get bufferedIn(): number {
    return this.#decoder?.buffered ?? 0;
  }

  /**
   * Connects. Host names are resolved at every call (as Wazuh does).
   *
   * @returns resolves once the socket is connected.
   * @throws {@link ConnectionError} `ERR_CONNECT` (refused, unreachable, DNS failure) or
   *   `ERR_CONNECT_TIMEOUT`; {@link AbortError} when the signal fires or the transport is closed
   *   meanwhile; {@link StateError} `ERR_INVALID_STATE` when called twice.
   */
  connect(): Promise<void> {
    const { localAddress } = this.#options;
    const guard = guardConnect('TCP', this.target, this.#state, this.#options, this.#clock, (error) => {
      this.#connecting = undefined;
      if (error !== undefined) this.#abandon();
    });
    if (!guard.pending) return guard.promise;
    this.#state = 'connecting';
    this.#connecting = guard;
    const connectOptions: net.TcpNetConnectOpts = { host: this.target.address, port: this.target.port };
    if (localAddress !== undefined) connectOptions.localAddress = localAddress;
    let socket: net.Socket;
    try {
      socket = (this.#options.createSocket ?? net.connect)(connectOptions);
    } catch (err) {
      // net.connect throws synchronously on invalid options (bad port, bad localAddress).
      guard.settle(toConnectionError(err, this.target, 'connect'));
      return guard.promise;
    }
    this.#socket = socket;
    if (!this.#ref) socket.unref();
    // one set of listeners for every socket, each finding its transport on the socket: no closures
    // per connection (10 000 idle agents hold 10 000 sockets)
    (socket as OwnedSocket)[kOwner] = this;
    socket.once('connect', TcpTransport.#socketConnect);
    socket.on('error', TcpTransport.#socketError);
    socket.on('close', TcpTransport.#socketClose);
    return guard.promise;
  }

  /** A failed connect: `closed`, and the socket released without its events. */
  #abandon(): void {
    this.#state = 'closed';
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    (socket as OwnedSocket)[kOwner] = undefined;
    detach(socket).destroy();
  }

  /**
   * Sends one payload as one frame. Frames sent during one turn of the event loop leave together,
   * in one socket write, when the turn ends.
   *
   * @param payload - the payload, at most 65536 bytes; it must not change until the turn ends.
   * @returns false when the socket's send buffer is above its high-water mark (the frame is still
   *   sent); false when the transport is not open (nothing sent) or the payload is too large
   *   (nothing sent, an `error` event with `ERR_MESSAGE_TOO_LARGE`).
   */
  send(payload: Buffer): boolean {
    const writer = this.#writer;
    if (this.#state !== 'open' || writer === undefined) return false;
    let ok: boolean;
    try {
      ok = writer.send(payload);
    } catch (err) {
      // The codec's EncodeError, told at the transport boundary as the other transports tell it.
      this.emit('error', new ConnectionError(`${(err as Error).message} (to ${where(this.target)})`, 'ERR_MESSAGE_TOO_LARGE', { server: this.target, cause: err }));
      return false;
    }
    this.#bytesOut += FRAME_HEADER_SIZE + payload.length;
    return ok;
  }

  /**
   * Closes gracefully: pending writes are flushed, then FIN; the socket keeps reading (payloads that
   * arrive are ignored) until the server closes its side, and is released then, or after at most
   * `closeTimeout`. Releasing it earlier, with a reply of the server still unread, would make the
   * kernel answer with a reset that discards what it has not sent yet (the last events, the shutdown
   * message). Emits `close` with no error once the socket is released. Idempotent; during a connect
   * it aborts the connect.
   */
  close(): void {
    if (this.#state === 'connecting') {
      this.#connecting?.settle(new AbortError(`Connect to ${where(this.target)} aborted by close()`));
      return;
    }
    if (this.#state === 'idle') {
      this.#state = 'closed';
      return;
    }
    if (this.#state !== 'open') return;
    const socket = this.#socket;
    this.#state = 'closing';
    if (socket === undefined) return;
    const closeTimeout = this.#options.closeTimeout ?? DEFAULT_TCP_CLOSE_TIMEOUT;
    if (closeTimeout > 0) {
      this.#closeTimer = unrefTimeout(this.#clock, () => socket.destroy(), closeTimeout);
    }
    this.#writer?.flush();
    socket.end(); // allowHalfOpen is off: the socket closes itself once the server's FIN arrives
  }

  /**
   * Closes at once: pending writes are dropped and the connection is reset (RST) where possible.
   * Emits `close` with no error once the socket is released. Idempotent; during a connect it aborts
   * the connect.
   */
  destroy(): void {
    if (this.#state === 'connecting') {
      this.#connecting?.settle(new AbortError(`Connect to ${where(this.target)} aborted by destroy()`));
      return;
    }
    if (this.#state === 'idle') {
      this.#state = 'closed';
      return;
    }
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    this.#state = 'closing';
    this.#writer?.discard();
    if (socket === undefined) return;
    resetSocket(socket);
  }

  /** The socket keeps the process alive (the default); also for a socket created later by `connect()`. */
  ref(): void {
    this.#ref = true;
    this.#socket?.ref();
  }

  /** The process may exit while the socket is open; also for a socket created later by `connect()`. */
  unref(): void {
    this.#ref = false;
    this.#socket?.unref();
  }

  #onConnect(socket: net.Socket): void {
    if (this.#state !== 'connecting' || socket !== this.#socket) return;
    this.#localAddress = normalizeAddress(socket.localAddress);
    socket.setNoDelay(true);
    const keepAliveDelay = this.#options.keepAliveDelay ?? DEFAULT_TCP_KEEPALIVE_DELAY;
    if (keepAliveDelay > 0) socket.setKeepAlive(true, keepAliveDelay);
    this.#decoder = new FrameDecoder();
    this.#writer = new FrameWriter(socket);
    socket.on('data', TcpTransport.#socketData);
    socket.on('end', TcpTransport.#socketEnd);
    this.#state = 'open';
    this.#connecting?.settle();
  }

  // The socket's listeners (`this` is the socket): each passes the event to the socket's transport.
  static #socketConnect(this: OwnedSocket): void {
    const owner = this[kOwner];
    if (owner !== undefined) owner.#onConnect(this);
  }

  static #socketError(this: OwnedSocket, err: Error): void {
    const owner = this[kOwner];
    if (owner !== undefined) owner.#onError(this, err);
  }

  static #socketClose(this: OwnedSocket): void {
    const owner = this[kOwner];
    if (owner !== undefined) owner.#onSocketClose(this);
  }

  static #socketData(this: OwnedSocket, chunk: Buffer): void {
    const owner = this[kOwner];
    if (owner !== undefined && owner.#decoder !== undefined) owner.#onData(this, owner.#decoder, chunk);
  }

  static #socketEnd(this: OwnedSocket): void {
    const owner = this[kOwner];
    if (owner === undefined) return;
    owner.#fail(this, new ConnectionError(`Lost connection with ${where(owner.target)}: connection closed by the server`, 'ERR_CONNECTION_LOST', { server: owner.target }));
  }

  #onData(socket: net.Socket, decoder: FrameDecoder, chunk: Buffer): void {
    this.#bytesIn += chunk.length;
    if (this.#state !== 'open') return;
    let listenerFailed = false;
    try {
      decoder.decode(chunk, (payload) => {
        // A listener may have closed the transport while earlier frames of this chunk were delivered.
        if (this.#state !== 'open') return;
        listenerFailed = true;
        this.emit('payload', payload);
        listenerFailed = false;
      });
    } catch (err) {
      if (listenerFailed) {
        // The rest of the chunk is lost, so the stream is out of step: drop the connection, then
        // let the listener's exception surface.
        this.#fail(socket, toConnectionError(err, this.target, 'io'));
        throw err;
      }
      this.#fail(socket, toConnectionError(err, this.target, 'io'));
    }
  }

  #onError(socket: net.Socket, err: Error): void {
    if (this.#state === 'connecting') {
      this.#connecting?.settle(toConnectionError(err, this.target, 'connect'));
      return;
    }
    this.#fail(socket, toConnectionError(err, this.target, 'io'));
  }

  /** The peer or the stream failed while open: remember the first reason and release the socket. */
  #fail(socket: net.Socket, reason: AgentlinkError): void {
    // While closing, close() owns the socket: pending writes still flush and no error is reported.
    if (this.#state !== 'open') return;
    this.#closeReason ??= reason;
    if (!socket.destroyed) socket.destroy();
  }

  #onSocketClose(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    if (this.#state === 'connecting') {
      // Closed without an 'error' (should not happen with net.connect): still a failed connect.
      this.#connecting?.settle(new ConnectionError(`Unable to connect to ${where(this.target)}: socket closed while connecting`, 'ERR_CONNECT', { server: this.target }));
      return;
    }
    const reason = this.#state === 'open' ? this.#closeReason : undefined;
    this.#state = 'closed';
    this.#clock.clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#socket = undefined;
    this.#decoder = undefined;
    this.#writer?.discard();
    this.#writer = undefined;
    this.#closeReason = undefined;
    (socket as OwnedSocket)[kOwner] = undefined;
    socket.removeAllListeners();
    socket.on('error', ignore);
    this.emit('close', reason);
  }
}

/**
 * Creates a {@link TcpTransport}; the shape of a {@link TransportFactory}.
 *
 * @param target - the server.
 * @param options - connect deadline, local address, signal, and injectable parts.
 * @returns an unconnected transport: call `connect()`.
 */
export function createTcpTransport(target: TransportTarget, options: TcpTransportOptions): TcpTransport {
  return new TcpTransport(target, options);
}
