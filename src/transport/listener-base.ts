/**
 * What every {@link Listener} implementation shares: the open connections, the counters, drain and
 * close. An implementation adds how it listens, refuses and sends datagrams.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { DatagramPeer, ListenOptions, Listener, ListenerEvents, ListenerProtocol, ServerConnection } from './listener.js';

/** The common part of a listener. @internal */
export abstract class ListenerBase<C extends ServerConnection> extends EventEmitter<ListenerEvents> implements Listener {
  readonly host: string;
  readonly protocols: readonly ListenerProtocol[];
  /** Clock of drain deadlines and partial-frame times. */
  readonly clock: Clock;
  readonly #conns = new Set<C>();
  #port = 0;
  #seq = 0;
  #bytesIn = 0;
  #maxBufferedIn = 0;
  #closed = false;

  constructor(options: ListenOptions) {
    super();
    this.host = options.host;
    this.protocols = [...new Set(options.protocols)];
    this.clock = options.clock ?? systemClock;
  }

  get port(): number {
    return this.#port;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  get maxBufferedIn(): number {
    return this.#maxBufferedIn;
  }

  get connections(): number {
    return this.#conns.size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Records the bound port. */
  protected bound(port: number): void {
    this.#port = port;
  }

  /** The next connection number. */
  protected nextId(): number {
    return ++this.#seq;
  }

  /** A new connection: kept until it closes, and announced. */
  protected adopt(conn: C): void {
    this.#conns.add(conn);
    conn.once('close', () => this.#conns.delete(conn));
    this.emit('connection', conn);
  }

  /** Counts received bytes (TCP chunks, datagrams). */
  countIn(bytes: number): void {
    this.#bytesIn += bytes;
  }

  /** Notes how much of an incomplete frame a connection holds. */
  noteBuffered(bytes: number): void {
    if (bytes > this.#maxBufferedIn) this.#maxBufferedIn = bytes;
  }

  abstract refuse(on: boolean): Promise<void>;

  abstract sendDatagram(payload: Buffer, peer: DatagramPeer): boolean;

  /** Releases the listening sockets (after the connections were destroyed). */
  protected abstract release(): Promise<void>;

  async drain(timeoutMs: number): Promise<void> {
    if (this.#closed) return;
    await this.refuse(true);
    const open = [...this.#conns];
    if (open.length > 0) {
      let timer: TimerHandle | undefined;
      const ended = open.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once('close', () => resolve());
            c.end();
          }),
      );
      await Promise.race([Promise.all(ended), new Promise<void>((resolve) => (timer = unrefTimeout(this.clock, resolve, timeoutMs)))]);
      this.clock.clearTimeout(timer);
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#conns]) c.destroy();
    await this.release();
  }
}
