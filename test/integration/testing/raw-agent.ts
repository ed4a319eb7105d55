/**
 * An independent "raw agent" for the test-kit tests: real sockets (or a transport of the in-memory
 * network), frames built with the codec, no AgentClient. It records every frame the manager sends
 * and whether the connection closed.
 */
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { FrameDecoder, encodeTcpFrame } from '../../../src/protocol/framing.js';
import { decodeSecureMessage, encodeSecureMessage, nextCounter } from '../../../src/protocol/secure.js';
import type { AgentKey, CryptoMethod, MessageCounter, Transport, TransportFactory } from '../../../src/index.js';

export const KEEPALIVE =
  '#!-Linux |agent1 |5.15.0 |#1 SMP |x86_64 [Ubuntu|ubuntu: 22.04.3 LTS (Jammy Jellyfish)] - Wazuh v4.14.7\n"env":prod\nx merged.mg\n#"_agent_ip":127.0.0.1\n';
export const STARTUP = '#!-agent startup {"version":"v4.14.7"}';
export const SHUTDOWN = '#!-agent shutdown ';
export const ACK = '#!-agent ack ';

export function keepaliveWithSum(sum: string): string {
  return KEEPALIVE.replace('x merged.mg', `${sum} merged.mg`);
}

/** What the manager sent, decoded (or the raw payload when it did not decode). */
export interface Incoming {
  raw: Buffer;
  text: string | undefined;
  data: Buffer | undefined;
  at: number;
}

interface Waiting {
  resolve: (m: Incoming) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RawAgent {
  readonly inbox: Incoming[] = [];
  counter: MessageCounter = { global: 0, local: 0 };
  closed = false;
  decodeFailures = 0;
  frameErrors = 0;
  readonly errors: string[] = [];
  bytesIn = 0;
  #socket: Socket | undefined;
  #udp: UdpSocket | undefined;
  #transport: Transport | undefined;
  #decoder = new FrameDecoder();
  #waiting: Waiting[] = [];
  #closeWaiters: (() => void)[] = [];

  constructor(
    readonly key: AgentKey,
    readonly method: CryptoMethod = 'aes',
  ) {}

  static async tcp(key: AgentKey, port: number, method: CryptoMethod = 'aes'): Promise<RawAgent> {
    const a = new RawAgent(key, method);
    await a.connect(port);
    return a;
  }

  static async udp(key: AgentKey, port: number, method: CryptoMethod = 'aes'): Promise<RawAgent> {
    const a = new RawAgent(key, method);
    await a.connectUdp(port);
    return a;
  }

  /** An agent over a client transport (the in-memory network's `factory`), TCP or UDP. */
  static async over(factory: TransportFactory, key: AgentKey, port: number, protocol: 'tcp' | 'udp', method: CryptoMethod = 'aes', host = '127.0.0.1'): Promise<RawAgent> {
    const a = new RawAgent(key, method);
    const t = factory({ address: host, port, protocol }, { connectTimeout: 1000 });
    a.#transport = t;
    t.on('payload', (p) => {
      a.bytesIn += p.length;
      a.#onPayload(p);
    });
    t.on('error', (e) => a.errors.push(e.code));
    t.on('close', () => a.#onClose());
    await t.connect();
    return a;
  }

  #onClose(): void {
    this.closed = true;
    for (const w of this.#closeWaiters.splice(0)) w();
    for (const w of this.#waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error('socket closed'));
    }
  }

  connect(port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port, noDelay: true });
      this.#socket = s;
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', (e: NodeJS.ErrnoException) => this.errors.push(e.code ?? e.message));
        resolve();
      });
      s.once('error', reject);
      s.on('data', (chunk: Buffer) => {
        this.bytesIn += chunk.length;
        try {
          for (const p of this.#decoder.push(chunk)) this.#onPayload(p);
        } catch {
          this.frameErrors++;
          s.destroy();
        }
      });
      s.on('close', () => this.#onClose());
    });
  }

  connectUdp(port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      this.#udp = s;
      s.once('error', reject);
      s.on('message', (msg) => this.#onPayload(msg));
      s.connect(port, host, () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        resolve();
      });
    });
  }

  /** Bytes of an incomplete frame held by the agent's decoder. */
  get partialBytes(): number {
    return this.#decoder.buffered;
  }

  get socket(): Socket {
    if (this.#socket === undefined) throw new Error('not a TCP agent');
    return this.#socket;
  }

  get localPort(): number {
    return this.#socket?.localPort ?? this.#udp?.address().port ?? 0;
  }

  #onPayload(payload: Buffer): void {
    const m: Incoming = { raw: Buffer.from(payload), text: undefined, data: undefined, at: performance.now() };
    try {
      const d = decodeSecureMessage(payload, { keys: [this.key] });
      m.data = Buffer.from(d.message);
      m.text = d.message.toString('latin1');
    } catch {
      this.decodeFailures++;
    }
    const w = this.#waiting.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      w.resolve(m);
    } else {
      this.inbox.push(m);
    }
  }

  /** Encodes the plaintext with the next counter. */
  encode(plaintext: string | Buffer, counter?: MessageCounter): Buffer {
    if (counter === undefined) {
      this.counter = nextCounter(this.counter);
      counter = this.counter;
    }
    return encodeSecureMessage(plaintext, { key: this.key, method: this.method, sender: 'agent', counter });
  }

  send(plaintext: string | Buffer, counter?: MessageCounter): void {
    this.sendPayload(this.encode(plaintext, counter));
  }

  sendPayload(payload: Buffer): void {
    if (this.#transport !== undefined) this.#transport.send(payload);
    else if (this.#udp !== undefined) this.#udp.send(payload);
    else this.socket.write(encodeTcpFrame(payload));
  }

  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Next message from the manager. */
  next(timeout = 3000): Promise<Incoming> {
    const m = this.inbox.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.closed) return Promise.reject(new Error('socket closed'));
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiting = this.#waiting.filter((x) => x !== w);
          reject(new Error(`no message from the manager within ${timeout} ms`));
        }, timeout),
      };
      this.#waiting.push(w);
    });
  }

  /** Resolves true if nothing arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    if (this.inbox.length > 0) return false;
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Sends a startup and returns the reply text. */
  async handshake(timeout = 3000): Promise<string | undefined> {
    this.send(STARTUP);
    return (await this.next(timeout)).text;
  }

  /** Sends a startup and a keepalive, each answered by an ACK (else throws): the agent is then active. */
  async activate(timeout = 3000): Promise<void> {
    for (const text of [STARTUP, KEEPALIVE]) {
      this.send(text);
      const reply = (await this.next(timeout)).text;
      if (reply !== ACK) throw new Error(`expected an ACK, got ${String(reply)}`);
    }
  }

  waitClosed(timeout = 3000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeout);
      this.#closeWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  close(): void {
    this.#transport?.destroy();
    this.#socket?.destroy();
    if (this.#udp !== undefined) {
      try {
        this.#udp.close();
      } catch {
        // already closed
      }
      this.#udp = undefined;
    }
  }
}

/**
 * A raw agent that stays connected: it handshakes, sends a keepalive, and reconnects (to the port
 * `pick()` returns) when the connection closes or the manager sends `#!-force_reconnect`. It stands
 * in for an agent behind a leastconn balancer.
 */
export class LoopAgent {
  current: RawAgent | undefined;
  port = 0;
  reconnects = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly key: AgentKey,
    readonly pick: () => number,
    readonly release: (port: number) => void = () => undefined,
  ) {}

  start(): void {
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const port = this.pick();
    const a = new RawAgent(this.key);
    try {
      await a.connect(port);
    } catch {
      this.release(port);
      this.#retry();
      return;
    }
    if (this.#stopped) {
      a.close();
      return;
    }
    this.current = a;
    this.port = port;
    a.socket.on('close', () => {
      if (this.current === a) this.current = undefined;
      this.release(port);
      this.#retry();
    });
    try {
      a.send(STARTUP);
      const r = await a.next(2000);
      if (r.text !== ACK) throw new Error('no ack');
      a.send(KEEPALIVE);
      await a.next(2000);
      for (;;) {
        const m = await a.next(60_000);
        if (m.text === '#!-force_reconnect') {
          a.close();
          return;
        }
      }
    } catch {
      a.close();
    }
  }

  #retry(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.reconnects++;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, 20);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.current?.close();
  }
}
