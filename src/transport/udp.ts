/**
 * The UDP transport (protocol.md 3.2, 5.9): one connected `node:dgram` socket, one datagram per
 * payload. There is no EOF on UDP: read and send errors are reported as `error` events and never
 * close the transport; only the agent's time rules (protocol.md 5.5) detect a lost manager.
 *
 * @module
 */
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import { EventEmitter } from 'eventemitter3';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { AbortError, ConnectionError, StateError, toConnectionError } from '../errors.js';
import { detach, guardConnect, where } from './connect-guard.js';
import { normalizeAddress } from './tcp.js';
import type { ConnectGuard } from './connect-guard.js';
import type { Transport, TransportConnectOptions, TransportEvents, TransportState, TransportTarget } from './types.js';

/** Largest UDP payload over IPv4 (65535 − 20-byte IP header − 8-byte UDP header). */
export const MAX_UDP_PAYLOAD_IPV4 = 65_507;
/** Largest UDP payload over IPv6 without jumbograms (65535 − 8-byte UDP header). */
export const MAX_UDP_PAYLOAD_IPV6 = 65_527;

/** Options of a {@link UdpTransport}: the per-connection options plus an injectable clock. */
export interface UdpTransportOptions extends TransportConnectOptions {
  /**
   * Clock for the connect deadline (which covers the name lookup and the socket setup).
   * @default systemClock
   */
  clock?: Clock | undefined;
}

/**
 * One connected UDP socket to one manager. `connect()` resolves the host name (at every call),
 * creates a `udp4` or `udp6` socket to match the address family, binds `localAddress` when given
 * and connects the socket, so the kernel filters datagrams from other peers and reports ICMP
 * port-unreachable as `ECONNREFUSED`.
 *
 * Every received datagram is one `payload` event. `error` events (`ConnectionError`
 * `ERR_CONNECTION_LOST` with the system error as `cause`, or `ERR_MESSAGE_TOO_LARGE`) leave the
 * transport open. `close` is emitted once, with no error, after `close()`/`destroy()`.
 */
export class UdpTransport extends EventEmitter<TransportEvents> implements Transport {
  /** The server this transport talks to. */
  readonly target: TransportTarget;
  readonly #options: UdpTransportOptions;
  readonly #clock: Clock;
  #state: TransportState = 'idle';
  #socket: dgram.Socket | undefined = undefined;
  #maxPayload = MAX_UDP_PAYLOAD_IPV4;
  /** The pending connect; set only while connecting. */
  #connecting: ConnectGuard | undefined = undefined;
  #localAddress: string | undefined = undefined;
  #ref = true;
  #bytesIn = 0;
  #bytesOut = 0;

  /**
   * @param target - the server; `protocol` should be `udp`.
   * @param options - connect deadline, local address, signal, clock.
   */
  constructor(target: TransportTarget, options: UdpTransportOptions) {
    super();
    this.target = { address: target.address, port: target.port, protocol: 'udp' };
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Life-cycle state: `idle`, `connecting`, `open`, `closing`, `closed`. */
  get state(): TransportState {
    return this.#state;
  }

  /** The local address the kernel chose (or `localAddress`) once connected, without a `::ffff:` prefix. */
  get localAddress(): string | undefined {
    return this.#localAddress;
  }

  /** Bytes received in datagrams. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Bytes handed to the socket in datagrams. */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  /**
   * Resolves the host name, creates the socket and connects it.
   *
   * @returns resolves once the socket is connected.
   * @throws {@link ConnectionError} `ERR_CONNECT` (DNS failure, bind or connect error) or
   *   `ERR_CONNECT_TIMEOUT` (the lookup took longer than `connectTimeout`); {@link AbortError};
   *   {@link StateError} `ERR_INVALID_STATE` when called twice.
   */
  connect(): Promise<void> {
    const { localAddress } = this.#options;
    const guard = guardConnect('UDP', this.target, this.#state, this.#options, this.#clock, (error) => {
      this.#connecting = undefined;
      if (error !== undefined) this.#abandon();
    });
    if (!guard.pending) return guard.promise;
    this.#state = 'connecting';
    this.#connecting = guard;
    dns.lookup(this.target.address, (err, address, family) => {
      if (this.#state !== 'connecting' || this.#connecting !== guard) return;
      if (err) {
        guard.settle(new ConnectionError(`Could not resolve hostname '${this.target.address}': ${err.message}`, 'ERR_CONNECT', { server: this.target, cause: err }));
        return;
      }
      this.#open(address, family, localAddress);
    });
    return guard.promise;
  }

  /** A failed connect: `closed`, and the socket released without its events. */
  #abandon(): void {
    this.#state = 'closed';
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined) return;
    try {
      detach(socket).close();
    } catch {
      // already closed
    }
  }

  /** The socket keeps the process alive (the default); also for the socket `connect()` creates later. */
  ref(): void {
    this.#ref = true;
    this.#socket?.ref();
  }

  /** The process may exit while the socket is open; also for the socket `connect()` creates later. */
  unref(): void {
    this.#ref = false;
    this.#socket?.unref();
  }

  #open(address: string, family: number, localAddress: string | undefined): void {
    let socket: dgram.Socket;
    try {
      socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    } catch (err) {
      this.#connecting?.settle(toConnectionError(err, this.target, 'connect'));
      return;
    }
    this.#socket = socket;
    if (!this.#ref) socket.unref();
    this.#maxPayload = family === 6 ? MAX_UDP_PAYLOAD_IPV6 : MAX_UDP_PAYLOAD_IPV4;
    socket.on('error', (err) => this.#onError(socket, err));
    socket.on('close', () => this.#onSocketClose(socket));
    const connectSocket = (): void => {
      if (socket !== this.#socket || this.#state !== 'connecting') return;
      try {
        // On failure Node calls this callback with the error instead of emitting 'error'.
        socket.connect(this.target.port, address, (err?: Error | null) => {
          if (err) this.#onError(socket, err);
          else this.#onConnect(socket);
        });
      } catch (err) {
        this.#connecting?.settle(toConnectionError(err, this.target, 'connect'));
      }
    };
    try {
      if (localAddress === undefined) connectSocket();
      else socket.bind({ address: localAddress, port: 0 }, connectSocket);
    } catch (err) {
      this.#connecting?.settle(toConnectionError(err, this.target, 'connect'));
    }
  }

  #onConnect(socket: dgram.Socket): void {
    if (socket !== this.#socket || this.#state !== 'connecting') return;
    try {
      this.#localAddress = normalizeAddress(socket.address().address);
    } catch {
      this.#localAddress = undefined;
    }
    socket.on('message', (msg) => {
      this.#bytesIn += msg.length;
      if (this.#state === 'open') this.emit('payload', msg);
    });
    this.#state = 'open';
    this.#connecting?.settle();
  }

  /**
   * Sends one payload as one datagram.
   *
   * @param payload - at most 65507 bytes over IPv4 (65527 over IPv6).
   * @returns true when the datagram was queued; false when the transport is not open or the payload
   *   is too large (then an `error` event carries `ERR_MESSAGE_TOO_LARGE`). Send failures reported
   *   later by the kernel arrive as `error` events.
   */
  send(payload: Buffer): boolean {
    const socket = this.#socket;
    if (this.#state !== 'open' || socket === undefined) return false;
    if (payload.length > this.#maxPayload) {
      this.emit(
        'error',
        new ConnectionError(`UDP payload of ${payload.length} bytes exceeds the ${this.#maxPayload}-byte datagram limit (to ${where(this.target)})`, 'ERR_MESSAGE_TOO_LARGE', {
          server: this.target,
        }),
      );
      return false;
    }
    this.#bytesOut += payload.length;
    try {
      socket.send(payload, (err) => {
        if (err) this.#onError(socket, err);
      });
    } catch (err) {
      this.#onError(socket, err as Error);
      return false;
    }
    return true;
  }

  /** Closes the socket; `close` follows with no error. Idempotent; during a connect it aborts the connect. */
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
    this.#state = 'closing';
    try {
      this.#socket?.close();
    } catch {
      // already closed: 'close' has been or will be emitted
    }
  }

  /** Same as {@link UdpTransport.close}: UDP has no pending writes to drop. */
  destroy(): void {
    this.close();
  }

  #onError(socket: dgram.Socket, err: Error): void {
    if (socket !== this.#socket) return;
    if (this.#state === 'connecting') {
      this.#connecting?.settle(toConnectionError(err, this.target, 'connect'));
      return;
    }
    if (this.#state !== 'open') return;
    const sysCode = (err as NodeJS.ErrnoException).code;
    this.emit(
      'error',
      new ConnectionError(
        `UDP I/O with ${where(this.target)} failed: ${err.message}${sysCode ? ` (${sysCode})` : ''}; the socket stays open`,
        'ERR_CONNECTION_LOST',
        { server: this.target, cause: err },
      ),
    );
  }

  #onSocketClose(socket: dgram.Socket): void {
    if (socket !== this.#socket) return;
    if (this.#state === 'connecting') {
      this.#connecting?.settle(new ConnectionError(`Unable to connect to ${where(this.target)}: socket closed while connecting`, 'ERR_CONNECT', { server: this.target }));
      return;
    }
    this.#state = 'closed';
    this.#socket = undefined;
    socket.removeAllListeners();
    this.emit('close');
  }
}

/**
 * Creates a {@link UdpTransport}; the shape of a {@link TransportFactory}.
 *
 * @param target - the server.
 * @param options - connect deadline, local address, signal, clock.
 * @returns an unconnected transport: call `connect()`.
 */
export function createUdpTransport(target: TransportTarget, options: UdpTransportOptions): UdpTransport {
  return new UdpTransport(target, options);
}
