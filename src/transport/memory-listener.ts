/**
 * The server seam on the in-memory network: a {@link Listener} built on {@link MemoryNetwork.listen},
 * so a test server written against the seam (the mock manager) runs without sockets, under fake
 * timers if need be.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { FRAME_HEADER_SIZE, MAX_FRAME_SIZE } from '../protocol/framing.js';
import type { DatagramPeer, ListenOptions, Listener, ServerConnection, ServerConnectionEvents } from './listener.js';
import { ListenerBase } from './listener-base.js';
import type { MemoryConnection, MemoryNetwork, MemoryServer } from './memory.js';

/** A TCP connection of the memory network, seen through the seam. Nothing is ever buffered. */
class MemoryServerConnection extends EventEmitter<ServerConnectionEvents> implements ServerConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly bufferedOut = 0;
  readonly bufferedIn = 0;
  readonly partialSince = 0;
  #closed = false;

  constructor(
    readonly id: number,
    readonly conn: MemoryConnection,
    owner: MemoryListener,
  ) {
    super();
    this.remoteAddress = conn.agentAddress;
    this.remotePort = conn.agentPort;
    conn.on('payload', (payload) => {
      owner.countIn(payload.length + FRAME_HEADER_SIZE);
      if (!this.#closed) this.emit('payload', payload);
    });
    conn.once('close', () => {
      this.#closed = true;
      this.emit('close');
    });
  }

  get closed(): boolean {
    return this.#closed || this.conn.closed;
  }

  send(payload: Buffer): boolean {
    if (this.closed) return false;
    this.conn.send(payload);
    return true;
  }

  sendOversizeFrame(): void {
    // The memory client sees a payload above the frame limit as a corrupt stream.
    if (!this.closed) this.conn.send(Buffer.alloc(MAX_FRAME_SIZE + 1));
  }

  end(): void {
    this.#closed = true;
    this.conn.end();
  }

  destroy(): void {
    this.#closed = true;
    this.conn.end();
  }

  reset(): void {
    this.#closed = true;
    this.conn.reset();
  }
}

class MemoryListener extends ListenerBase<MemoryServerConnection> {
  readonly #network: MemoryNetwork;
  /** UDP associations by `address|port`, for replies. */
  readonly #peers = new Map<string, MemoryConnection>();
  #tcp: MemoryServer | undefined;
  #udp: MemoryServer | undefined;

  constructor(network: MemoryNetwork, options: ListenOptions) {
    super(options);
    this.#network = network;
    let port = options.port;
    try {
      if (this.protocols.includes('tcp')) port = this.#listenTcp(port).port;
      if (this.protocols.includes('udp')) port = this.#listenUdp(port).port;
    } catch (err) {
      this.#tcp?.close();
      throw err;
    }
    this.bound(port);
  }

  #listenTcp(port: number): MemoryServer {
    const tcp = this.#network.listen(this.host, port, 'tcp');
    this.#tcp = tcp;
    tcp.on('connection', (conn) => {
      if (this.closed) conn.end();
      else this.adopt(new MemoryServerConnection(this.nextId(), conn, this));
    });
    return tcp;
  }

  #listenUdp(port: number): MemoryServer {
    const udp = this.#network.listen(this.host, port, 'udp');
    this.#udp = udp;
    udp.on('connection', (conn) => {
      const peer: DatagramPeer = { address: conn.agentAddress, port: conn.agentPort };
      const key = `${peer.address}|${peer.port}`;
      this.#peers.set(key, conn);
      conn.on('payload', (payload) => {
        this.countIn(payload.length);
        this.emit('datagram', payload, peer);
      });
      conn.once('close', () => {
        if (this.#peers.get(key) === conn) this.#peers.delete(key);
      });
    });
    return udp;
  }

  refuse(on: boolean): Promise<void> {
    if (this.closed || this.#tcp === undefined) return Promise.resolve();
    if (on) {
      this.#tcp.close();
      return Promise.resolve();
    }
    // Listen again on the same port, as the real listener does.
    if (this.#tcp.closed) this.#listenTcp(this.port);
    return Promise.resolve();
  }

  sendDatagram(payload: Buffer, peer: DatagramPeer): boolean {
    if (this.closed || this.#udp === undefined) return false;
    const conn = this.#peers.get(`${peer.address}|${peer.port}`);
    if (conn === undefined || conn.closed) return false;
    conn.send(payload);
    return true;
  }

  protected release(): Promise<void> {
    this.#tcp?.close();
    this.#udp?.close();
    this.#peers.clear();
    return Promise.resolve();
  }
}

/**
 * Listens on an in-memory network: the {@link ListenerFactory} of {@link MemoryNetwork.listenerFactory}.
 *
 * @param network - the network.
 * @param options - address (any string), port (0 allocates one), protocols, clock for `drain`.
 * @returns the listener, listening.
 * @throws {@link StateError} `ERR_INVALID_STATE` when the address and port are already taken.
 */
export function listenMemory(network: MemoryNetwork, options: ListenOptions): Promise<Listener> {
  try {
    return Promise.resolve(new MemoryListener(network, options));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
