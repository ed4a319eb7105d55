/**
 * A fault-injecting TCP proxy to put between an agent and a manager: latency, bandwidth limits,
 * blackholes, resets, refused connections, and connections cut in the middle of a frame.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../logger.js';
import { ConfigError, StateError, toListenError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { FRAME_HEADER_SIZE } from '../protocol/index.js';
import { TcpAcceptor } from '../transport/node-listener.js';
import { connectRaw, resetSocket } from '../transport/raw.js';
import type { RawSocket as Socket } from '../transport/raw.js';

/** A value per direction: `up` is agent → manager, `down` is manager → agent. */
export interface PerDirection<T> {
  /** Agent (client) → manager (target). */
  up: T;
  /** Manager (target) → agent (client). */
  down: T;
}

/** Which way data flows through the proxy. */
export type ProxyDirection = 'up' | 'down';

/** Options of `new FaultProxy(options)`. */
export interface FaultProxyOptions {
  /** Where connections are forwarded. The host defaults to `127.0.0.1`. */
  target: { host?: string; port: number };
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** Added one-way delay in milliseconds, for both directions or per direction. @default 0 */
  latencyMs?: number | Partial<PerDirection<number>>;
  /** Throughput limit in bytes per second, for both directions or per direction; 0 is unlimited. @default 0 */
  bandwidthBytesPerSec?: number | Partial<PerDirection<number>>;
  /** Logger. @default silent */
  logger?: Logger;
  /** Clock for the delay timers. @default the system clock */
  clock?: Clock;
}

/** Counters of a {@link FaultProxy}. */
export interface FaultProxyStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since start. */
  connectionsTotal: number;
  /** Bytes forwarded agent → manager. */
  bytesUp: number;
  /** Bytes forwarded manager → agent. */
  bytesDown: number;
  /** Bytes discarded by the blackhole. */
  bytesDropped: number;
  /** Connections cut in the middle of a frame. */
  cuts: number;
  /** Connections reset by {@link FaultProxy.reset}. */
  resets: number;
  /** Connections closed because the target could not be reached. */
  targetFailures: number;
}

/** Events of a {@link FaultProxy}. */
export interface FaultProxyEvents {
  /** A client connected (the upstream connection is being opened). */
  connection: [info: { id: number; remoteAddress: string; remotePort: number }];
  /** A proxied connection ended. */
  close: [info: { id: number; reason: 'end' | 'error' | 'reset' | 'cut' | 'target' | 'proxy-closed' }];
}

/** Largest amount queued in one direction before the source socket is paused. */
const MAX_QUEUED = 1 << 20;

/** Tracks frame boundaries of a length-prefixed stream and finds where to cut it. */
class FrameTracker {
  #hdr = 0;
  #hdrBytes = 0;
  #remaining = 0;
  #len = 0;

  /**
   * Walks `data`; when `cut` is set, returns the offset inside `data` just before the middle byte of
   * the first frame whose middle has not been forwarded yet (frames shorter than 2 bytes are skipped).
   */
  scan(data: Buffer, cut: boolean): number {
    let off = 0;
    const n = data.length;
    while (off < n) {
      if (this.#remaining === 0) {
        // reading a header
        while (this.#hdrBytes < FRAME_HEADER_SIZE && off < n) {
          this.#hdr += data[off]! * 2 ** (8 * this.#hdrBytes);
          this.#hdrBytes++;
          off++;
        }
        if (this.#hdrBytes < FRAME_HEADER_SIZE) return -1;
        this.#len = this.#hdr;
        this.#remaining = this.#hdr;
        this.#hdr = 0;
        this.#hdrBytes = 0;
        continue;
      }
      const consumed = this.#len - this.#remaining;
      const mid = Math.floor(this.#len / 2);
      if (cut && this.#len >= 2 && consumed < mid) {
        const need = mid - consumed;
        if (n - off >= need) return off + need;
      }
      const take = Math.min(this.#remaining, n - off);
      this.#remaining -= take;
      off += take;
    }
    return -1;
  }
}

/** One direction of one proxied connection. */
class Pipe {
  readonly queue: { data: Buffer; due: number }[] = [];
  queued = 0;
  timer: TimerHandle | undefined;
  linkFreeAt = 0;
  ended = false;
  cutArmed = false;
  readonly tracker = new FrameTracker();

  constructor(
    readonly dir: ProxyDirection,
    readonly from: Socket,
    readonly to: Socket,
  ) {}
}

class ProxyConn {
  readonly up: Pipe;
  readonly down: Pipe;
  closed = false;
  connected = false;
  /** Set while a cut connection waits for its FINs. */
  release: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly client: Socket,
    readonly upstream: Socket,
  ) {
    this.up = new Pipe('up', client, upstream);
    this.down = new Pipe('down', upstream, client);
  }
}

function perDirection(name: string, v: number | Partial<PerDirection<number>> | undefined, prev: PerDirection<number>): PerDirection<number> {
  if (v === undefined) return prev;
  const out = typeof v === 'number' ? { up: v, down: v } : { up: v.up ?? prev.up, down: v.down ?? prev.down };
  for (const d of ['up', 'down'] as const) {
    if (!Number.isFinite(out[d]) || out[d] < 0) {
      throw new ConfigError(`FaultProxy ${name}.${d} must be a non-negative number, got ${String(out[d])}`, { element: name, value: v });
    }
  }
  return out;
}

/**
 * A TCP proxy on 127.0.0.1 that forwards to a manager and injects faults, switchable at run time.
 *
 * It understands the agent protocol's 4-byte little-endian length prefix only to find frame
 * boundaries, so {@link FaultProxy.cutMidFrame} can close a connection half-way through a frame.
 *
 * @example
 * ```ts
 * await using proxy = new FaultProxy({ target: { port: manager.port }, latencyMs: 50 });
 * const { port } = await proxy.start();
 * const client = new AgentClient({ agent, servers: [{ address: '127.0.0.1', port }] });
 * await client.start();
 * proxy.blackhole = true;   // the agent's keepalives go nowhere: it must reconnect after timeReconnect
 * ```
 */
export class FaultProxy extends EventEmitter<FaultProxyEvents> {
  readonly #host: string;
  readonly #requestedPort: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  #target: { host: string; port: number };
  #latency: PerDirection<number>;
  #bandwidth: PerDirection<number>;
  #blackhole = false;
  #refuse = false;
  readonly #acceptor: TcpAcceptor;
  #port = 0;
  #state: 'new' | 'running' | 'closed' = 'new';
  #seq = 0;
  #listenOp: Promise<void> = Promise.resolve();
  readonly #conns = new Set<ProxyConn>();
  readonly #cutting = new Set<ProxyConn>();
  /** Every socket of the proxy, client or upstream, until it has closed: close() waits for them all. */
  readonly #sockets = new Set<Socket>();
  readonly #stats = { connectionsTotal: 0, bytesUp: 0, bytesDown: 0, bytesDropped: 0, cuts: 0, resets: 0, targetFailures: 0 };

  /**
   * @param options - target, listen address, initial latency and bandwidth.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for a bad port, latency or bandwidth.
   */
  constructor(options: FaultProxyOptions) {
    super();
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`FaultProxy port must be an integer from 0 to 65535, got ${String(port)}`, { element: 'port', value: port });
    }
    const tp = options.target?.port;
    if (!Number.isInteger(tp) || tp < 1 || tp > 65535) {
      throw new ConfigError(`FaultProxy target.port must be an integer from 1 to 65535, got ${String(tp)}`, { element: 'target.port', value: tp });
    }
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = port;
    this.#target = { host: options.target.host ?? '127.0.0.1', port: tp };
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.logger ?? silentLogger).child({ component: 'fault-proxy' });
    this.#latency = perDirection('latencyMs', options.latencyMs, { up: 0, down: 0 });
    this.#bandwidth = perDirection('bandwidthBytesPerSec', options.bandwidthBytesPerSec, { up: 0, down: 0 });
    this.#acceptor = new TcpAcceptor({ host: this.#host, allowHalfOpen: true, onSocket: (s) => this.#onClient(s), clock: this.#clock, logger: this.#log });
  }

  /**
   * Starts listening.
   *
   * @returns the bound port.
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when already started, `ERR_CLOSED` after close.
   * @throws {@link agentlink!ToolError} `ERR_LISTEN` when it cannot listen (port in use, address not on this host).
   */
  async start(): Promise<{ port: number }> {
    if (this.#state === 'closed') throw new StateError('FaultProxy is closed', 'ERR_CLOSED');
    if (this.#state !== 'new') throw new StateError('FaultProxy.start() was already called', 'ERR_INVALID_STATE');
    this.#state = 'running';
    try {
      this.#port = await this.#acceptor.listen(this.#requestedPort);
    } catch (err) {
      this.#state = 'closed';
      throw toListenError(err, 'FaultProxy', this.#host, this.#requestedPort);
    }
    return { port: this.#port };
  }

  /** The listening port (0 before start). */
  get port(): number {
    return this.#port;
  }

  /** Where agents connect, in the shape of an AgentClient `servers[]` entry. */
  get address(): { address: string; port: number; protocol: 'tcp' } {
    return { address: this.#host, port: this.#port, protocol: 'tcp' };
  }

  /** Proxied connections open now. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Where new connections go. */
  get target(): { host: string; port: number } {
    return { ...this.#target };
  }

  /**
   * Sends new connections elsewhere (existing ones keep their upstream).
   *
   * @param target - the new target; the host defaults to `127.0.0.1`.
   */
  setTarget(target: { host?: string; port: number }): void {
    this.#target = { host: target.host ?? '127.0.0.1', port: target.port };
  }

  /** The one-way delay per direction, in milliseconds. */
  get latencyMs(): PerDirection<number> {
    return { ...this.#latency };
  }

  /** Sets the one-way delay (both directions, or per direction); applies to data read from now on. */
  set latencyMs(v: number | Partial<PerDirection<number>>) {
    this.#latency = perDirection('latencyMs', v, this.#latency);
  }

  /** The throughput limit per direction, in bytes per second (0: unlimited). */
  get bandwidthBytesPerSec(): PerDirection<number> {
    return { ...this.#bandwidth };
  }

  /** Sets the throughput limit (both directions, or per direction); 0 removes it. */
  set bandwidthBytesPerSec(v: number | Partial<PerDirection<number>>) {
    this.#bandwidth = perDirection('bandwidthBytesPerSec', v, this.#bandwidth);
    for (const c of this.#conns) {
      this.#pump(c, c.up);
      this.#pump(c, c.down);
    }
  }

  /**
   * Whether the proxy is a blackhole: sockets stay open and are read, but nothing is forwarded in
   * either direction (queued data is dropped too). The agent sees a silent, half-dead manager.
   */
  get blackhole(): boolean {
    return this.#blackhole;
  }

  /** Turns the blackhole on or off (see the getter). */
  set blackhole(on: boolean) {
    this.#blackhole = on;
    if (on) {
      for (const c of this.#conns) {
        for (const p of [c.up, c.down]) {
          this.#stats.bytesDropped += p.queued;
          p.queue.length = 0;
          p.queued = 0;
          p.from.resume();
        }
      }
    }
  }

  /**
   * Whether new connections are refused: the listening socket is closed, so connecting clients get
   * `ECONNREFUSED`. Established connections are kept. Turning it off listens again on the same port
   * (await {@link FaultProxy.ready} to be sure it is listening).
   */
  get refuse(): boolean {
    return this.#refuse;
  }

  /** Turns refusing new connections on or off (see the getter). */
  set refuse(on: boolean) {
    if (on === this.#refuse) return;
    this.#refuse = on;
    if (this.#state === 'running') this.#listenOp = this.#acceptor.refuse(on);
  }

  /** Resolves once the listener follows the last {@link FaultProxy.refuse} change. */
  ready(): Promise<void> {
    return this.#listenOp;
  }

  /**
   * Resets every connection now: both sides get a TCP RST.
   *
   * @returns how many connections were reset.
   */
  reset(): number {
    let n = 0;
    for (const c of [...this.#conns]) {
      this.#stats.resets++;
      this.#end(c, 'reset');
      n++;
    }
    return n;
  }

  /**
   * Arms every open connection to be closed in the middle of the next frame it forwards in the given
   * direction: the bytes before the frame's middle are delivered, then both sockets are closed.
   *
   * @param direction - `up` (agent → manager), `down` (manager → agent) or `both`.
   * @returns how many connections were armed.
   */
  cutMidFrame(direction: ProxyDirection | 'both' = 'both'): number {
    let n = 0;
    for (const c of this.#conns) {
      if (direction !== 'down') c.up.cutArmed = true;
      if (direction !== 'up') c.down.cutArmed = true;
      n++;
      for (const p of [c.up, c.down]) this.#pump(c, p);
    }
    return n;
  }

  /** @returns a snapshot of the counters. */
  stats(): FaultProxyStats {
    return { connections: this.#conns.size, ...this.#stats };
  }

  /** Stops listening and destroys every connection and timer. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const stopped = this.#acceptor.close();
    for (const c of [...this.#conns]) this.#end(c, 'proxy-closed');
    for (const c of [...this.#cutting]) c.release?.();
    this.#cutting.clear();
    // What is left is on its way out (a reset waiting for its connect, a FIN in flight): end it now,
    // and return once every socket has closed, so the proxy leaves no handle behind.
    const left = [...this.#sockets].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    for (const s of this.#sockets) s.destroy();
    await Promise.all([stopped, ...left]);
  }

  /** Tracks a socket until it closes. */
  #own(s: Socket): Socket {
    this.#sockets.add(s);
    s.once('close', () => this.#sockets.delete(s));
    return s;
  }

  /** Same as {@link FaultProxy.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #onClient(client: Socket): void {
    // A client that left while it waited in the accept queue has no peer address: nothing to forward.
    if (this.#state !== 'running' || this.#refuse || client.remoteAddress === undefined) {
      client.destroy();
      return;
    }
    this.#own(client);
    const upstream = this.#own(connectRaw(this.#target, { allowHalfOpen: true }));
    const c = new ProxyConn(++this.#seq, client, upstream);
    this.#conns.add(c);
    this.#stats.connectionsTotal++;
    this.emit('connection', { id: c.id, remoteAddress: client.remoteAddress ?? '', remotePort: client.remotePort ?? 0 });
    upstream.once('connect', () => {
      c.connected = true;
      this.#pump(c, c.up);
    });
    client.on('data', (d: Buffer) => this.#onData(c, c.up, d));
    upstream.on('data', (d: Buffer) => this.#onData(c, c.down, d));
    client.on('end', () => this.#onEnd(c, c.up));
    upstream.on('end', () => this.#onEnd(c, c.down));
    client.on('error', () => this.#end(c, 'error'));
    upstream.on('error', () => {
      if (!c.connected) {
        this.#stats.targetFailures++;
        this.#end(c, 'target');
      } else this.#end(c, 'error');
    });
    client.on('close', (hadError) => this.#onClose(c, c.up, hadError));
    upstream.on('close', (hadError) => this.#onClose(c, c.down, hadError));
  }

  #onData(c: ProxyConn, p: Pipe, data: Buffer): void {
    if (c.closed) return;
    if (this.#blackhole) {
      this.#stats.bytesDropped += data.length;
      return;
    }
    p.queue.push({ data, due: this.#clock.monotonic() + this.#latency[p.dir] });
    p.queued += data.length;
    if (p.queued > MAX_QUEUED) p.from.pause();
    this.#pump(c, p);
  }

  #onEnd(c: ProxyConn, p: Pipe): void {
    p.ended = true;
    this.#pump(c, p);
  }

  /** Sends what is due, respecting latency and bandwidth; arms one timer per pipe otherwise. */
  #pump(c: ProxyConn, p: Pipe): void {
    if (c.closed || p.timer !== undefined) return;
    if (p.dir === 'up' && !c.connected) return;
    while (p.queue.length > 0) {
      const head = p.queue[0]!;
      const now = this.#clock.monotonic();
      if (head.due > now) {
        this.#schedule(c, p, head.due - now);
        return;
      }
      const rate = this.#bandwidth[p.dir];
      let piece = head.data;
      if (rate > 0) {
        if (p.linkFreeAt > now) {
          this.#schedule(c, p, p.linkFreeAt - now);
          return;
        }
        const max = Math.max(1, Math.floor(rate / 20));
        if (piece.length > max) piece = piece.subarray(0, max);
        p.linkFreeAt = now + (piece.length * 1000) / rate;
      }
      if (piece.length === head.data.length) p.queue.shift();
      else head.data = head.data.subarray(piece.length);
      p.queued -= piece.length;
      if (!this.#forward(c, p, piece)) return;
    }
    if (p.queued <= MAX_QUEUED / 2 && p.from.isPaused()) p.from.resume();
    if (p.ended && p.queue.length === 0 && !p.to.writableEnded) p.to.end();
  }

  #schedule(c: ProxyConn, p: Pipe, ms: number): void {
    p.timer = unrefTimeout(
      this.#clock,
      () => {
        p.timer = undefined;
        this.#pump(c, p);
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  /** Writes a piece, cutting the connection mid-frame when armed. Returns false when the connection ended. */
  #forward(c: ProxyConn, p: Pipe, piece: Buffer): boolean {
    const cut = p.tracker.scan(piece, p.cutArmed);
    if (cut >= 0) {
      const head = piece.subarray(0, cut);
      if (p.dir === 'up') this.#stats.bytesUp += head.length;
      else this.#stats.bytesDown += head.length;
      this.#stats.cuts++;
      this.#log.debug({ conn: c.id, dir: p.dir, bytes: head.length }, 'cutting the connection mid-frame');
      p.to.end(head);
      p.from.end();
      c.closed = true;
      this.#clearTimers(c);
      this.#conns.delete(c);
      // Let the FINs (and the partial frame) go out, then release the sockets.
      this.#cutting.add(c);
      let timer: TimerHandle | undefined;
      const release = (): void => {
        this.#clock.clearTimeout(timer);
        this.#cutting.delete(c);
        c.client.destroy();
        c.upstream.destroy();
      };
      c.client.once('close', () => {
        if (c.upstream.closed) release();
      });
      c.upstream.once('close', () => {
        if (c.client.closed) release();
      });
      timer = unrefTimeout(this.#clock, release, 1000);
      c.release = release;
      this.emit('close', { id: c.id, reason: 'cut' });
      return false;
    }
    if (p.dir === 'up') this.#stats.bytesUp += piece.length;
    else this.#stats.bytesDown += piece.length;
    p.to.write(piece);
    return true;
  }

  #clearTimers(c: ProxyConn): void {
    for (const p of [c.up, c.down]) {
      this.#clock.clearTimeout(p.timer);
      p.timer = undefined;
      p.queue.length = 0;
      p.queued = 0;
    }
  }

  /**
   * A socket closed. Data it sent that is still delayed in its pipe is delivered first (the pipe ends
   * the other socket once drained, and that socket's close finishes the connection).
   */
  #onClose(c: ProxyConn, from: Pipe, hadError: boolean): void {
    if (c.closed) return;
    if (!hadError && from.ended && from.queue.length > 0 && !from.to.destroyed) return;
    this.#end(c, hadError ? 'error' : 'end');
  }

  #end(c: ProxyConn, reason: 'end' | 'error' | 'reset' | 'target' | 'proxy-closed'): void {
    if (c.closed) {
      if (reason === 'reset' || reason === 'proxy-closed') {
        c.client.destroy();
        c.upstream.destroy();
      }
      return;
    }
    c.closed = true;
    this.#clearTimers(c);
    this.#conns.delete(c);
    if (reason === 'reset' || reason === 'target' || reason === 'error') {
      resetSocket(c.client);
      resetSocket(c.upstream);
    } else {
      c.client.destroy();
      c.upstream.destroy();
    }
    this.emit('close', { id: c.id, reason });
  }
}
