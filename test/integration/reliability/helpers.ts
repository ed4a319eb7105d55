/**
 * Shared pieces of the reliability tests: a cleanup registry, polling, an in-memory pino logger,
 * a seeded random source, a heap probe and a scripted raw-socket manager that can misbehave in
 * ways MockManager will not (stop reading, send garbage, oversize or truncated frames).
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import type { Logger, AgentKey, AgentMessage, MessageCounter } from '../../../src/index.js';
import {
  ACK_MESSAGE,
  FrameDecoder,
  decodeSecureMessage,
  encodeSecureFrame,
  encodeTcpFrame,
  nextCounter,
  parseAgentMessage,
} from '../../../src/index.js';
import { mulberry32 } from '../../helpers/prng.js';

/** Functions run after each test, newest first. */
export type Cleanups = (() => Promise<unknown> | unknown)[];

/** Runs every cleanup, newest first, and empties the list. Errors are collected and the first rethrown. */
export async function runCleanups(cleanups: Cleanups): Promise<void> {
  let first: unknown;
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/** Polls `pred` every 10 ms until it holds; rejects after `timeout` ms naming `what`. */
export function until(pred: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = (): void => {
      let ok = false;
      try {
        ok = pred();
      } catch (err) {
        reject(err as Error);
        return;
      }
      if (ok) return resolve();
      if (Date.now() - start > timeout) return reject(new Error(`${what} not met within ${timeout} ms`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** Resolves after `ms` real milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A pino logger at `level` whose output lines are kept in `lines`. */
export function memoryLogger(level: 'debug' | 'trace' = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = pino({ level }, stream) as unknown as Logger;
  return { logger, lines };
}

/** Deterministic PRNG (mulberry32), so fuzz runs are reproducible from their seed. */
export function seeded(seed: number): { next: () => number; int: (lo: number, hi: number) => number; bytes: (n: number) => Buffer } {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(0, 255);
    return b;
  };
  return { next, int, bytes };
}

let gcFn: (() => void) | undefined;
/** Heap in use after a full GC (bytes). Enables `gc` at run time if the process was not started with --expose-gc. */
export function heapAfterGc(): number {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}

/** What a {@link ScriptedTcpManager} does with a connection after it ACKs the startup. */
export type AfterHandshake = 'serve' | 'silent';

/** One connection accepted by a {@link ScriptedTcpManager}. */
export class ScriptedConn {
  readonly received: AgentMessage[] = [];
  readonly decoder = new FrameDecoder();
  closed = false;
  handshaken = false;
  decodeFailures = 0;
  #counter: MessageCounter;

  constructor(
    readonly socket: Socket,
    readonly key: AgentKey,
    counterStart: MessageCounter,
  ) {
    this.#counter = counterStart;
  }

  /** Encrypts `plaintext` as the manager would and writes it as one frame. */
  send(plaintext: string | Buffer): void {
    this.#counter = nextCounter(this.#counter);
    this.socket.write(encodeSecureFrame(plaintext, { key: this.key, method: 'aes', sender: 'manager', counter: this.#counter }));
  }

  /** Writes raw bytes (no framing added). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Writes one frame around a raw payload. */
  writeFrame(payload: Buffer): void {
    this.socket.write(encodeTcpFrame(payload));
  }

  /** Event messages received on this connection. */
  events(): string[] {
    return this.received.flatMap((m) => (m.type === 'event' ? [m.message.toString('utf8')] : []));
  }
}

/**
 * A raw `net.Server` on 127.0.0.1 that speaks just enough of the protocol: decodes the agent's
 * frames with its key, ACKs the startup, then either keeps ACKing keepalives (`serve`) or stops
 * reading and answering for good (`silent`: a half-open peer). Tests drive misbehaviour through
 * {@link ScriptedTcpManager.onHandshake}.
 */
export class ScriptedTcpManager {
  readonly conns: ScriptedConn[] = [];
  afterHandshake: AfterHandshake = 'serve';
  ackKeepalives = true;
  /** Called once per connection, right after the startup ACK was written. */
  onHandshake: ((conn: ScriptedConn) => void) | undefined;
  #server: Server | undefined;
  #port = 0;
  #counter: MessageCounter = { global: 7, local: 0 };

  constructor(readonly key: AgentKey) {}

  get port(): number {
    return this.#port;
  }

  /** The connection in use now (the newest one that is not closed). */
  get live(): ScriptedConn | undefined {
    return this.conns.filter((c) => !c.closed).at(-1);
  }

  /** Every event received, over every connection, in arrival order per connection. */
  events(): string[] {
    return this.conns.flatMap((c) => c.events());
  }

  async start(): Promise<number> {
    const server = createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as { port: number }).port;
    return this.#port;
  }

  /** Stops accepting connections (new connects are refused); established ones stay as they are. */
  stopListening(): void {
    this.#server?.close();
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #onConnection(socket: Socket): void {
    const conn = new ScriptedConn(socket, this.key, this.#counter);
    this.#counter = { global: this.#counter.global + 1, local: 0 };
    this.conns.push(conn);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      conn.closed = true;
    });
    socket.on('data', (chunk: Buffer) => {
      if (conn.handshaken && this.afterHandshake === 'silent') return;
      let payloads: Buffer[];
      try {
        payloads = conn.decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const p of payloads) {
        let msg: AgentMessage;
        try {
          msg = parseAgentMessage(decodeSecureMessage(p, { keys: [this.key] }).message);
        } catch {
          conn.decodeFailures++;
          continue;
        }
        conn.received.push(msg);
        if (msg.type === 'startup' && !conn.handshaken) {
          conn.send(ACK_MESSAGE);
          conn.handshaken = true;
          if (this.afterHandshake === 'silent') {
            // Stop reading and never answer again: the kernel keeps the connection open (no FIN, no RST).
            socket.pause();
            return;
          }
          this.onHandshake?.(conn);
        } else if (msg.type === 'keepalive' && this.ackKeepalives) {
          conn.send(ACK_MESSAGE);
        }
      }
    });
  }
}
