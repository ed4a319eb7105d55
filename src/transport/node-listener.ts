/**
 * The server seam on real sockets: {@link listenNode} (framed TCP connections and UDP datagrams on
 * one port, for the mock manager) and {@link TcpAcceptor}, the one listen / refuse / relisten
 * implementation, which the fault proxy also uses for its raw byte streams.
 *
 * @module
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { DecodeError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { FRAME_HEADER_SIZE, FrameDecoder, MAX_FRAME_SIZE } from '../protocol/framing.js';
import { FrameWriter } from './frame-writer.js';
import { RELISTEN_DEADLINE_MS } from './listener.js';
import { ListenerBase } from './listener-base.js';
import { resetSocket } from './raw.js';
import type { DatagramPeer, ListenOptions, Listener, ServerConnection, ServerConnectionEvents } from './listener.js';

/** Attempts to bind a TCP + UDP pair on port 0 when UDP finds the port TCP got already taken. */
const BIND_ATTEMPTS = 20;
/** Pause between relisten attempts. */
const RELISTEN_PAUSE_MS = 50;

/** Options of a {@link TcpAcceptor}. */
export interface TcpAcceptorOptions {
  /** Address to listen on. */
  host: string;
  /** Keep a socket writable after the peer's FIN (a proxy forwards the half-close). @default false */
  allowHalfOpen?: boolean | undefined;
  /** Called with every accepted socket. */
  onSocket: (socket: Socket) => void;
  /** Clock for the relisten pauses. @default systemClock */
  clock?: Clock | undefined;
  /** Logger. @default silent */
  logger?: Logger | undefined;
}

/**
 * One TCP listening socket that can be closed (`refuse(true)`: connects get `ECONNREFUSED`,
 * accepted sockets stay) and opened again on the same port (`refuse(false)`, retried for up to
 * {@link RELISTEN_DEADLINE_MS} while the port is held).
 *
 * @internal
 */
export class TcpAcceptor {
  readonly #opts: TcpAcceptorOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #server: Server | undefined;
  #port = 0;
  #refusing = false;
  #closed = false;
  #op: Promise<void> = Promise.resolve();
  #pause: { timer: TimerHandle; wake: () => void } | undefined;

  constructor(opts: TcpAcceptorOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger ?? silentLogger;
  }

  /** The bound port (0 before `listen()`). */
  get port(): number {
    return this.#port;
  }

  /** Whether connects are refused now (the listening socket is closed). */
  get refusing(): boolean {
    return this.#refusing;
  }

  /**
   * Listens for the first time.
   *
   * @returns the bound port.
   * @throws the system error (`EADDRINUSE`, `EACCES`, ...) when the port cannot be bound.
   */
  async listen(port: number): Promise<number> {
    const server = await this.#open(port);
    this.#server = server;
    this.#port = (server.address() as { port: number }).port;
    return this.#port;
  }

  /**
   * Closes or reopens the listening socket; calls are applied in order.
   *
   * @returns resolves once the socket follows this call (never rejects).
   */
  refuse(on: boolean): Promise<void> {
    this.#refusing = on;
    this.#op = this.#op.then(() => this.#apply()).catch(() => undefined);
    return this.#op;
  }

  /**
   * Stops listening for good (after a pending relisten gave up); resolves once the listening socket
   * is closed. Accepted sockets are the owner's to close.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pause?.wake();
    await this.#op;
    await this.#unlisten();
  }

  /** Closes the listening socket after a failed bind, so `listen()` can be tried again. */
  async unlisten(): Promise<void> {
    await this.#unlisten();
  }

  async #unlisten(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #apply(): Promise<void> {
    if (this.#closed) return;
    if (this.#refusing) {
      const server = this.#server;
      this.#server = undefined;
      server?.close();
      return;
    }
    if (this.#server !== undefined) return;
    const deadline = this.#clock.monotonic() + RELISTEN_DEADLINE_MS;
    for (;;) {
      try {
        const server = await this.#open(this.#port);
        if (this.#closed || this.#refusing) {
          server.close();
          return;
        }
        this.#server = server;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.#clock.monotonic() > deadline) {
          this.#log.error({ err: (err as Error).message, port: this.#port }, 'cannot listen again');
          return;
        }
        await this.#sleep(RELISTEN_PAUSE_MS);
        if (this.#closed) return;
      }
    }
  }

  #open(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer({ allowHalfOpen: this.#opts.allowHalfOpen ?? false, noDelay: true }, (socket) => this.#opts.onSocket(socket));
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: this.#opts.host, port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.#log.warn({ err: err.message }, 'TCP listener error'));
        resolve(server);
      });
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#clock.clearTimeout(timer);
        this.#pause = undefined;
        resolve();
      };
      const timer = unrefTimeout(this.#clock, wake, ms);
      this.#pause = { timer, wake };
    });
  }
}

/** A socket error is followed by 'close', which is what the connection acts on. */
function ignoreError(): void {}

/** The framed TCP connection of a {@link listenNode} listener. */
class NodeServerConnection extends EventEmitter<ServerConnectionEvents> implements ServerConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  #closed = false;
  #corrupt = false;
  #partialSince = 0;
  readonly #decoder = new FrameDecoder();
  readonly #writer: FrameWriter;

  constructor(
    readonly id: number,
    readonly socket: Socket,
    readonly owner: NodeListener,
  ) {
    super();
    // 'drain' once everything queued has reached the kernel (the socket's own 'drain' only follows
    // a write that went over its high-water mark)
    this.#writer = new FrameWriter(socket, () => {
      if (socket.writableLength === 0 && this.#writer.pending === 0) this.emit('drain');
    });
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', ignoreError);
    socket.on('close', () => {
      this.#closed = true;
      this.emit('close');
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bufferedOut(): number {
    return this.socket.writableLength + this.#writer.pending;
  }

  get bufferedIn(): number {
    return this.#decoder.buffered;
  }

  get partialSince(): number {
    return this.#partialSince;
  }

  send(payload: Buffer): boolean {
    if (this.#closed) return false;
    return this.#writer.send(payload);
  }

  sendOversizeFrame(): void {
    if (this.#closed) return;
    const frame = Buffer.alloc(FRAME_HEADER_SIZE + 16);
    frame.writeUInt32LE(MAX_FRAME_SIZE + 1 + Math.floor(Math.random() * (1 << 20)), 0);
    this.#writer.flush();
    this.socket.write(frame);
  }

  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.flush();
    this.socket.end();
  }

  destroy(): void {
    this.#closed = true;
    // what was sent this turn is handed to the kernel first, as when every send was its own write
    this.#writer.flush();
    this.socket.destroy();
  }

  reset(): void {
    this.#closed = true;
    this.#writer.discard();
    resetSocket(this.socket);
  }

  #emitBatch(batch: Buffer[] | undefined): void {
    if (batch === undefined || batch.length === 0 || this.#closed) return;
    if (batch.length === 1) this.emit('payload', batch[0]!);
    else this.emit('payloads', batch);
  }

  #onData(chunk: Buffer): void {
    this.owner.countIn(chunk.length);
    if (this.#closed || this.#corrupt) return;
    // with a 'payloads' listener, the frames of this read are handed over together (before an error
    // found after them, as one by one)
    const batch: Buffer[] | undefined = this.listenerCount('payloads') > 0 ? [] : undefined;
    try {
      this.#decoder.decode(chunk, (payload) => {
        this.#partialSince = 0;
        if (batch !== undefined) batch.push(payload);
        else if (!this.#closed) this.emit('payload', payload);
      });
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#emitBatch(batch);
      this.#corrupt = true;
      this.emit('error', err);
      return;
    }
    this.#emitBatch(batch);
    const buffered = this.#decoder.buffered;
    this.owner.noteBuffered(buffered);
    if (buffered === 0) this.#partialSince = 0;
    else if (this.#partialSince === 0) this.#partialSince = this.owner.clock.monotonic();
  }
}

class NodeListener extends ListenerBase<NodeServerConnection> {
  readonly #log: Logger;
  readonly #udpRecvBuffer: number | undefined;
  readonly #tcp: TcpAcceptor | undefined;
  #udp: UdpSocket | undefined;

  constructor(options: ListenOptions) {
    super(options);
    this.#log = options.logger ?? silentLogger;
    this.#udpRecvBuffer = options.udpReceiveBufferSize;
    if (this.protocols.includes('tcp')) {
      this.#tcp = new TcpAcceptor({ host: this.host, onSocket: (s) => this.#onSocket(s), clock: this.clock, logger: this.#log });
    }
  }

  /** Binds TCP first, then UDP on its port; with port 0 the pair is retried when UDP finds the port taken. */
  async bind(requested: number): Promise<void> {
    const wantUdp = this.protocols.includes('udp');
    let lastErr: unknown;
    for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
      let port = requested;
      const tcp = this.#tcp;
      try {
        if (tcp !== undefined) port = await tcp.listen(port);
        if (wantUdp) {
          this.#udp = await this.#bindUdp(port);
          port = this.#udp.address().port;
        }
        this.bound(port);
        return;
      } catch (err) {
        lastErr = err;
        await tcp?.unlisten();
        const code = (err as NodeJS.ErrnoException).code;
        if (!(requested === 0 && tcp !== undefined && wantUdp && code === 'EADDRINUSE')) break;
      }
    }
    await this.close();
    throw lastErr;
  }

  #bindUdp(port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: this.host.includes(':') ? 'udp6' : 'udp4' });
      const onError = (err: Error): void => {
        sock.close();
        reject(err);
      };
      sock.once('error', onError);
      sock.bind({ address: this.host, port, exclusive: true }, () => {
        sock.off('error', onError);
        if (this.#udpRecvBuffer !== undefined) {
          try {
            sock.setRecvBufferSize(this.#udpRecvBuffer);
          } catch {
            // the kernel refused the size: keep its default
          }
        }
        sock.on('error', (err) => this.#log.warn({ err: err.message }, 'UDP socket error'));
        sock.on('message', (msg, rinfo) => {
          this.countIn(msg.length);
          this.emit('datagram', msg, { address: rinfo.address, port: rinfo.port });
        });
        resolve(sock);
      });
    });
  }

  #onSocket(socket: Socket): void {
    if (this.closed) socket.destroy();
    else this.adopt(new NodeServerConnection(this.nextId(), socket, this));
  }

  refuse(on: boolean): Promise<void> {
    if (this.closed || this.#tcp === undefined) return Promise.resolve();
    return this.#tcp.refuse(on);
  }

  sendDatagram(payload: Buffer, peer: DatagramPeer): boolean {
    const udp = this.#udp;
    if (udp === undefined || this.closed) return false;
    udp.send(payload, peer.port, peer.address, (err) => {
      if (err) this.#log.debug({ err: err.message }, 'UDP send failed');
    });
    return true;
  }

  protected async release(): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    if (this.#tcp !== undefined) tasks.push(this.#tcp.close());
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp !== undefined) tasks.push(new Promise<void>((resolve) => udp.close(() => resolve())));
    await Promise.all(tasks);
  }
}

/**
 * Listens on real sockets: a TCP server (connections framed with the 4-byte length prefix) and/or a
 * UDP socket, on one port. With port 0 and both protocols, TCP is bound first and UDP on its port;
 * the pair is retried when the port is taken for UDP.
 *
 * @param options - address, port, protocols, UDP receive buffer, clock, logger.
 * @returns the listener, listening.
 * @throws the system error (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, ...) when a port cannot be bound.
 */
export async function listenNode(options: ListenOptions): Promise<Listener> {
  const listener = new NodeListener(options);
  await listener.bind(options.port);
  return listener;
}
