/**
 * An in-memory network for unit tests of code that takes a {@link TransportFactory} (the agent state
 * machine above all): servers listen on any address string, connections carry payloads both ways,
 * and faults (refused, blackholed, EOF, reset, corrupt frame) are switches.
 *
 * Everything is delivered through Promise microtasks, in order, and the only timer is the connect
 * deadline of a blackholed TCP connect, which runs on the injected {@link Clock}. So tests under
 * `vi.useFakeTimers()` are deterministic: `await vi.advanceTimersByTimeAsync(0)` flushes deliveries.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { AbortError, ConnectionError, DecodeError, StateError, toConnectionError } from '../errors.js';
import type { AgentlinkError } from '../errors.js';
import { FRAME_HEADER_SIZE, MAX_FRAME_SIZE } from '../protocol/framing.js';
import { guardConnect, where } from './connect-guard.js';
import type { ListenerFactory } from './listener.js';
import { listenMemory } from './memory-listener.js';
import type { ConnectGuard } from './connect-guard.js';
import { MAX_UDP_PAYLOAD_IPV4 } from './udp.js';
import type {
  Transport,
  TransportConnectOptions,
  TransportEvents,
  TransportFactory,
  TransportState,
  TransportTarget,
} from './types.js';

/** How {@link MemoryNetwork.setUnreachable} makes an `address:port` fail; `false` clears it. */
export type MemoryUnreachableMode = 'refuse' | 'blackhole' | false;

/** Events of a {@link MemoryServer}. */
export interface MemoryServerEvents {
  /** A client connected (TCP), or sent its first datagram on a new association (UDP). */
  connection: [connection: MemoryConnection];
}

/** Events of a {@link MemoryConnection}. */
export interface MemoryConnectionEvents {
  /** A payload from the client (one frame body or one datagram). */
  payload: [payload: Buffer];
  /** The connection is closed, by either side. Emitted once. */
  close: [];
}

/** The server side of a listener on a {@link MemoryNetwork}. */
export interface MemoryServer extends EventEmitter<MemoryServerEvents> {
  /** The address it listens on, as given to `listen()`. */
  readonly address: string;
  /** The port it listens on (allocated when `listen()` was given 0). */
  readonly port: number;
  /** `tcp` or `udp`. */
  readonly protocol: 'tcp' | 'udp';
  /** When true, new TCP connects are refused (`ERR_CONNECT`) and UDP datagrams get `ECONNREFUSED`. */
  refuse: boolean;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /**
   * Stops listening, as `net.Server#close` does: new connects are refused. Established TCP
   * connections stay open (end or reset them one by one); UDP associations are closed. Idempotent.
   */
  close(): void;
}

/** The server's view of one client connection (TCP) or association (UDP). */
export interface MemoryConnection extends EventEmitter<MemoryConnectionEvents> {
  /** The target the client connected to. */
  readonly target: TransportTarget;
  /** The client's local address (its `localAddress` option, or the network's default). */
  readonly agentAddress: string;
  /** The client's local port, allocated by the network (from 50000) when it connected. */
  readonly agentPort: number;
  /** Every payload received from the client, in order (copies). */
  readonly received: Buffer[];
  /** Whether the connection is closed on the server side. */
  readonly closed: boolean;
  /**
   * Sends a payload to the client. Ignored once closed. Over TCP a payload above 65536 bytes makes
   * the client see a corrupt frame: its transport closes with `ERR_DECODE_FRAME_TOO_LARGE`.
   *
   * @param payload - the payload (copied).
   * @throws {@link ConnectionError} `ERR_MESSAGE_TOO_LARGE` for a UDP payload above 65507 bytes.
   */
  send(payload: Buffer): void;
  /**
   * Closes from the server side after the payloads already sent. TCP: the client's transport
   * closes with `ERR_CONNECTION_LOST` (unless the path is blackholed: then the client never learns,
   * a half-open connection). UDP: the client is not told (there is no EOF); its next datagram
   * starts a new association.
   */
  end(): void;
  /**
   * Resets from the server side: payloads not yet delivered to the client are dropped and the
   * client's TCP transport closes with `ERR_CONNECTION_LOST` (cause `ECONNRESET`). UDP: as `end()`.
   */
  reset(): void;
}

/** An in-memory network: listeners, connections, and fault switches. */
export interface MemoryNetwork {
  /** The transport factory to give to the code under test. */
  readonly factory: TransportFactory;
  /**
   * The listener factory to give to a server written against the {@link Listener} seam, such as
   * `new MockManager({ listener: network.listenerFactory })`: it listens on this network.
   */
  readonly listenerFactory: ListenerFactory;
  /**
   * Starts a listener.
   *
   * @param address - any string (host name or IP); clients must use the same string.
   * @param port - the port; 0 allocates a free one (see `MemoryServer.port`).
   * @param protocol - `tcp` (default) or `udp`.
   * @returns the server.
   * @throws {@link StateError} `ERR_INVALID_STATE` when the address, port and protocol are already in use.
   */
  listen(address: string, port: number, protocol?: 'tcp' | 'udp'): MemoryServer;
  /** Every connection made on this network, open or closed, in creation order. */
  connections(): MemoryConnection[];
  /**
   * Makes an `address:port` (both protocols) fail until cleared with `false`. `refuse`: TCP
   * connects fail at once with `ERR_CONNECT`, UDP datagrams get `ECONNREFUSED` errors; established
   * TCP connections are not affected. `blackhole`: TCP connects hang until `connectTimeout` (on the
   * network's clock) and fail with `ERR_CONNECT_TIMEOUT`; on established connections every payload,
   * EOF and reset is lost in both directions (a half-open connection). A connect already hanging
   * stays hung when the blackhole is cleared.
   *
   * @param address - the address string.
   * @param port - the port.
   * @param mode - the fault, or false to clear it.
   */
  setUnreachable(address: string, port: number, mode: MemoryUnreachableMode): void;
}

/** Options of {@link createMemoryNetwork}. */
export interface MemoryNetworkOptions {
  /**
   * Clock for the connect deadline of blackholed connects.
   * @default systemClock (so `vi.useFakeTimers()` applies)
   */
  clock?: Clock | undefined;
  /**
   * Local address reported by transports that were given no `localAddress`.
   * @default '127.0.0.1'
   */
  localAddress?: string | undefined;
}

/** Runs `fn` in a Promise microtask (never faked by fake timers, unlike `queueMicrotask` can be). */
function defer(fn: () => void): void {
  void Promise.resolve().then(fn);
}

function sysError(code: 'ECONNREFUSED' | 'ECONNRESET', syscall: string, target: TransportTarget): NodeJS.ErrnoException {
  const errno = code === 'ECONNREFUSED' ? -111 : -104;
  return Object.assign(new Error(`${syscall} ${code} ${target.address}:${target.port}`), { code, errno, syscall });
}

/** First port handed out for `listen(address, 0)`. */
const FIRST_EPHEMERAL_PORT = 40_000;
const FIRST_CLIENT_PORT = 50_000;

class Network implements MemoryNetwork {
  readonly factory: TransportFactory;
  readonly listenerFactory: ListenerFactory;
  readonly clock: Clock;
  readonly defaultLocalAddress: string;
  readonly #servers = new Map<string, Server>();
  readonly #unreachable = new Map<string, 'refuse' | 'blackhole'>();
  readonly #connections: Connection[] = [];
  #nextPort = FIRST_EPHEMERAL_PORT;
  #nextClientPort = FIRST_CLIENT_PORT;

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock ?? systemClock;
    this.defaultLocalAddress = options.localAddress ?? '127.0.0.1';
    this.factory = (target, connectOptions) => new MemoryTransport(this, target, connectOptions);
    this.listenerFactory = (listenOptions) => listenMemory(this, listenOptions);
  }

  listen(address: string, port: number, protocol: 'tcp' | 'udp' = 'tcp'): MemoryServer {
    let p = port;
    if (p === 0) {
      while (this.#servers.has(serverKey(protocol, address, this.#nextPort))) this.#nextPort++;
      p = this.#nextPort++;
    }
    const key = serverKey(protocol, address, p);
    if (this.#servers.has(key)) {
      throw new StateError(`The memory network already has a ${protocol} listener on '[${address}]:${p}'`, 'ERR_INVALID_STATE');
    }
    const server = new Server(address, p, protocol, () => {
      if (this.#servers.get(key) === server) this.#servers.delete(key);
    });
    this.#servers.set(key, server);
    return server;
  }

  connections(): MemoryConnection[] {
    return [...this.#connections];
  }

  setUnreachable(address: string, port: number, mode: MemoryUnreachableMode): void {
    const key = `${address}|${port}`;
    if (mode === false) this.#unreachable.delete(key);
    else this.#unreachable.set(key, mode);
  }

  mode(target: TransportTarget): 'refuse' | 'blackhole' | undefined {
    return this.#unreachable.get(`${target.address}|${target.port}`);
  }

  server(target: TransportTarget): Server | undefined {
    return this.#servers.get(serverKey(target.protocol, target.address, target.port));
  }

  /** A local port for a client transport (wraps after 65535). */
  clientPort(): number {
    const p = this.#nextClientPort;
    this.#nextClientPort = p >= 65_535 ? FIRST_CLIENT_PORT : p + 1;
    return p;
  }

  addConnection(conn: Connection): void {
    this.#connections.push(conn);
  }
}

function serverKey(protocol: string, address: string, port: number): string {
  return `${protocol}|${address}|${port}`;
}

class Server extends EventEmitter<MemoryServerEvents> implements MemoryServer {
  refuse = false;
  #closed = false;
  readonly #onClose: () => void;
  /** UDP associations, closed with the server. */
  readonly udpConnections = new Set<Connection>();

  constructor(
    readonly address: string,
    readonly port: number,
    readonly protocol: 'tcp' | 'udp',
    onClose: () => void,
  ) {
    super();
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a new connect or datagram is accepted. */
  get accepting(): boolean {
    return !this.#closed && !this.refuse;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    for (const conn of this.udpConnections) conn.end();
    this.udpConnections.clear();
  }
}

/** The server end of one link. Its fate is tied to the client's {@link MemoryTransport}. */
class Connection extends EventEmitter<MemoryConnectionEvents> implements MemoryConnection {
  readonly received: Buffer[] = [];
  #closed = false;
  #closeEmitted = false;
  /** Bumped by reset(): deliveries to the client scheduled before it are dropped. */
  epoch = 0;

  constructor(
    readonly target: TransportTarget,
    readonly agentAddress: string,
    readonly agentPort: number,
    readonly transport: MemoryTransport,
    readonly server: Server,
  ) {
    super();
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(payload: Buffer): void {
    if (this.#closed) return;
    if (this.target.protocol === 'udp' && payload.length > MAX_UDP_PAYLOAD_IPV4) {
      throw new ConnectionError(
        `UDP payload of ${payload.length} bytes exceeds the ${MAX_UDP_PAYLOAD_IPV4}-byte datagram limit`,
        'ERR_MESSAGE_TOO_LARGE',
        { server: this.target },
      );
    }
    this.transport.fromServer(this, Buffer.from(payload));
  }

  end(): void {
    if (this.#closed) return;
    this.markClosed();
    this.transport.serverClosed(this, false);
  }

  reset(): void {
    if (this.#closed) return;
    this.epoch++;
    this.markClosed();
    this.transport.serverClosed(this, true);
  }

  /** Takes a payload from the client (called in a microtask). */
  deliver(payload: Buffer): void {
    if (this.#closed) return;
    this.received.push(payload);
    this.emit('payload', payload);
  }

  /** Marks the server side closed and emits `close` in a later microtask (after pending deliveries). */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.server.udpConnections.delete(this);
    defer(() => {
      if (this.#closeEmitted) return;
      this.#closeEmitted = true;
      this.emit('close');
    });
  }
}

/** The client end: a {@link Transport} over the memory network. */
class MemoryTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly target: TransportTarget;
  readonly #network: Network;
  readonly #options: TransportConnectOptions;
  #state: TransportState = 'idle';
  #conn: Connection | undefined = undefined;
  /** The pending connect; set only while connecting. */
  #connecting: ConnectGuard | undefined = undefined;
  readonly #localPort: number;
  #localAddress: string | undefined = undefined;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(network: Network, target: TransportTarget, options: TransportConnectOptions) {
    super();
    this.#network = network;
    this.#localPort = network.clientPort();
    this.target = { address: target.address, port: target.port, protocol: target.protocol };
    this.#options = options;
  }

  get state(): TransportState {
    return this.#state;
  }

  get localAddress(): string | undefined {
    return this.#localAddress;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  get bytesOut(): number {
    return this.#bytesOut;
  }

  connect(): Promise<void> {
    const guard = guardConnect('memory', this.target, this.#state, this.#options, this.#network.clock, (error) => {
      this.#connecting = undefined;
      if (error !== undefined) this.#state = 'closed';
    });
    if (!guard.pending) return guard.promise;
    this.#state = 'connecting';
    this.#connecting = guard;
    defer(() => this.#attempt());
    return guard.promise;
  }

  #attempt(): void {
    const guard = this.#connecting;
    if (this.#state !== 'connecting' || guard === undefined) return;
    const settle = (error?: AgentlinkError): void => guard.settle(error);
    const localAddress = this.#options.localAddress ?? this.#network.defaultLocalAddress;
    if (this.target.protocol === 'udp') {
      // A UDP connect is local: it succeeds whatever is (or is not) at the other end.
      this.#localAddress = localAddress;
      this.#state = 'open';
      settle();
      return;
    }
    const mode = this.#network.mode(this.target);
    if (mode === 'blackhole') return; // the connect deadline, the signal or close() ends it
    const server = this.#network.server(this.target);
    if (mode === 'refuse' || server === undefined || !server.accepting) {
      settle(toConnectionError(sysError('ECONNREFUSED', 'connect', this.target), this.target, 'connect'));
      return;
    }
    const conn = new Connection(this.target, localAddress, this.#localPort, this, server);
    this.#conn = conn;
    this.#localAddress = localAddress;
    this.#state = 'open';
    this.#network.addConnection(conn);
    server.emit('connection', conn);
    settle();
  }

  send(payload: Buffer): boolean {
    if (this.#state !== 'open') return false;
    const tcp = this.target.protocol === 'tcp';
    const max = tcp ? MAX_FRAME_SIZE : MAX_UDP_PAYLOAD_IPV4;
    if (payload.length > max) {
      this.emit(
        'error',
        new ConnectionError(`Payload of ${payload.length} bytes exceeds the ${max}-byte limit (to ${where(this.target)})`, 'ERR_MESSAGE_TOO_LARGE', {
          server: this.target,
        }),
      );
      return false;
    }
    this.#bytesOut += payload.length + (tcp ? FRAME_HEADER_SIZE : 0);
    const copy = Buffer.from(payload);
    if (this.#network.mode(this.target) === 'blackhole') return true; // lost on the way
    if (tcp) this.#sendTcp(copy);
    else this.#sendUdp(copy);
    return true;
  }

  #sendTcp(payload: Buffer): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    if (conn.closed) {
      // The server side is gone (closed while the path was blackholed): its stack answers with RST.
      defer(() => this.#lost(conn, 'connection reset by the server', sysError('ECONNRESET', 'read', this.target)));
      return;
    }
    defer(() => conn.deliver(payload));
  }

  #sendUdp(payload: Buffer): void {
    const server = this.#network.server(this.target);
    if (this.#network.mode(this.target) === 'refuse' || server === undefined || !server.accepting) {
      // ICMP port unreachable, reported by the kernel on the connected socket.
      defer(() => {
        if (this.#state !== 'open') return;
        const cause = sysError('ECONNREFUSED', 'recvmsg', this.target);
        this.emit(
          'error',
          new ConnectionError(`UDP I/O with ${where(this.target)} failed: ${cause.message} (ECONNREFUSED); the socket stays open`, 'ERR_CONNECTION_LOST', {
            server: this.target,
            cause,
          }),
        );
      });
      return;
    }
    let conn = this.#conn;
    if (conn === undefined || conn.closed || conn.server !== server) {
      const fresh = new Connection(this.target, this.#localAddress ?? this.#network.defaultLocalAddress, this.#localPort, this, server);
      conn = fresh;
      this.#conn = fresh;
      server.udpConnections.add(fresh);
      this.#network.addConnection(fresh);
      defer(() => {
        if (!fresh.closed) server.emit('connection', fresh);
      });
    }
    const target = conn;
    defer(() => target.deliver(payload));
  }

  /** A payload from the server side (already copied). */
  fromServer(conn: Connection, payload: Buffer): void {
    if (this.#network.mode(this.target) === 'blackhole') return;
    if (this.#state === 'closed') {
      // The client socket is gone (it closed while the path was blackholed): a TCP stack answers
      // with RST, closing the server side.
      if (this.target.protocol === 'tcp') conn.markClosed();
      return;
    }
    if (this.#state !== 'open') return; // closing: the client ignores what still arrives
    const epoch = conn.epoch;
    defer(() => {
      if (conn.epoch !== epoch || this.#state !== 'open' || this.#conn !== conn) return;
      if (this.target.protocol === 'tcp') {
        this.#bytesIn += payload.length + FRAME_HEADER_SIZE;
        if (payload.length > MAX_FRAME_SIZE) {
          conn.markClosed();
          this.#finish(
            new DecodeError(`TCP frame announces ${payload.length} bytes, more than the ${MAX_FRAME_SIZE}-byte limit`, 'ERR_DECODE_FRAME_TOO_LARGE'),
          );
          return;
        }
      } else {
        this.#bytesIn += payload.length;
      }
      this.emit('payload', payload);
    });
  }

  /** The server ended or reset `conn` (already marked closed). */
  serverClosed(conn: Connection, reset: boolean): void {
    if (this.target.protocol === 'udp') return; // no EOF on UDP
    if (this.#network.mode(this.target) === 'blackhole') return; // the FIN/RST is lost: half-open
    if (reset) {
      defer(() => this.#lost(conn, 'connection reset by the server', sysError('ECONNRESET', 'read', this.target)));
    } else {
      defer(() => this.#lost(conn, 'connection closed by the server'));
    }
  }

  #lost(conn: Connection, why: string, cause?: Error): void {
    if (this.#conn !== conn || this.#state !== 'open') return;
    this.#finish(new ConnectionError(`Lost connection with ${where(this.target)}: ${why}`, 'ERR_CONNECTION_LOST', { server: this.target, cause }));
  }

  /** Moves to `closed` and emits `close` once. */
  #finish(error?: AgentlinkError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.emit('close', error);
  }

  close(): void {
    this.#closeLocally(false);
  }

  destroy(): void {
    this.#closeLocally(true);
  }

  #closeLocally(abrupt: boolean): void {
    if (this.#state === 'connecting') {
      this.#connecting?.settle(new AbortError(`Connect to ${where(this.target)} aborted by ${abrupt ? 'destroy' : 'close'}()`));
      return;
    }
    if (this.#state === 'idle') {
      this.#state = 'closed';
      return;
    }
    if (this.#state === 'closed' || (this.#state === 'closing' && !abrupt)) return;
    this.#state = 'closing';
    const conn = this.#conn;
    const blackholed = this.#network.mode(this.target) === 'blackhole';
    // The server side learns first (its `close` is emitted in the microtask after markClosed), then
    // the client emits `close`.
    if (conn !== undefined && !conn.closed && !blackholed) {
      if (abrupt && this.target.protocol === 'tcp') {
        conn.markClosed(); // RST: payloads still in flight to the server are dropped
        defer(() => this.#finish());
      } else {
        defer(() => {
          conn.markClosed(); // FIN after the payloads already sent
          defer(() => this.#finish());
        });
      }
      return;
    }
    defer(() => this.#finish());
  }
}

/**
 * Creates an in-memory network.
 *
 * @param options - clock for connect deadlines, default local address.
 * @returns the network: give `network.factory` to the code under test, `listen()` to play the server.
 *
 * @example
 * ```ts
 * vi.useFakeTimers();
 * const network = createMemoryNetwork();
 * const server = network.listen('manager', 1514);
 * server.on('connection', (conn) => conn.on('payload', (p) => conn.send(reply(p))));
 * const agent = new AgentClient(options, { transport: network.factory });
 * ```
 */
export function createMemoryNetwork(options: MemoryNetworkOptions = {}): MemoryNetwork {
  return new Network(options);
}
