/**
 * Helpers for the transport integration tests: cleanup registry, handle-leak check, TCP servers
 * on 127.0.0.1 port 0, and a listener whose accept queue is full (for connect timeouts).
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as net from 'node:net';
import { setImmediate as nextLoop, setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect } from 'vitest';
import { systemClock } from '../../../src/index.js';
import type { Clock, TimerHandle } from '../../../src/index.js';

const cleanups: (() => unknown)[] = [];

/** Registers a cleanup to run (last registered first) after the current test. */
export function cleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/**
 * Resource kinds our tests may create. Vitest's own pipes are left out, and so are `Timeout`s:
 * vitest keeps a short timer of its own that comes and goes between tests. The transports' timers
 * are checked precisely through {@link trackingClock} instead.
 */
const TRACKED = /^(TCPSocketWrap|TCPServerWrap|UDPWrap|TCPConnectWrap|GetAddrInfoReqWrap|ShutdownWrap|SimpleShutdownWrap|WriteWrap)$/;

function tracked(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => TRACKED.test(r))
    .sort();
}

/** A clock over {@link systemClock} that counts timers set and not yet fired or cleared. */
export const trackingClock: Clock & { readonly pending: number } = (() => {
  const live = new Set<TimerHandle>();
  return {
    now: () => systemClock.now(),
    monotonic: () => systemClock.monotonic(),
    setTimeout(fn: () => void, ms: number): TimerHandle {
      const handle = systemClock.setTimeout(() => {
        live.delete(handle);
        fn();
      }, ms);
      live.add(handle);
      return handle;
    },
    clearTimeout(handle: TimerHandle | undefined): void {
      if (handle !== undefined) live.delete(handle);
      systemClock.clearTimeout(handle);
    },
    get pending(): number {
      return live.size;
    },
  };
})();

/** The handles in `now` beyond those in `before`, counted per kind. */
function surplus(now: string[], before: string[]): string[] {
  const left = [...before];
  return now.filter((kind) => {
    const i = left.indexOf(kind);
    if (i === -1) return true;
    left.splice(i, 1);
    return false;
  });
}

/**
 * Installs hooks that snapshot the tracked handles before each test and, after the test's cleanups,
 * wait (at most 2 s) until no kind has more handles than in the snapshot, then assert it.
 */
export function useHandleCheck(): void {
  let baseline: string[] = [];
  beforeEach(() => {
    baseline = tracked();
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    // A kind may end with fewer handles than it started with (left over from an earlier file), never more.
    const extra = (): string[] => surplus(tracked(), baseline);
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && (extra().length > 0 || trackingClock.pending > 0)) await sleep(10);
    expect(extra()).toEqual([]);
    expect(trackingClock.pending, 'timers left on the transports clock').toBe(0);
  });
}

/** Resolves when `cond()` is true, checking once per event-loop turn; rejects after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await nextLoop();
  }
}

/** Waits for one event with a 5 s guard. */
export async function next<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return (await once(emitter, event, { signal: AbortSignal.timeout(5000) })) as T;
}

/** An independent frame builder: 4-byte little-endian length, then the payload. */
export function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

/** An independent frame parser for what the transport writes. */
export function parseFrames(stream: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let off = 0;
  while (stream.length - off >= 4) {
    const len = stream.readUInt32LE(off);
    if (stream.length - off - 4 < len) break;
    frames.push(stream.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return { frames, rest: stream.subarray(off) };
}

/** A TCP server on 127.0.0.1 port 0 that records accepted sockets and what they sent. */
export interface TestTcpServer {
  server: net.Server;
  port: number;
  sockets: net.Socket[];
  /** Bytes received per accepted socket, in accept order. */
  received: Buffer[][];
  /** Resolves with the next accepted socket. */
  accepted(): Promise<net.Socket>;
}

/** Starts a {@link TestTcpServer}; it and its sockets are destroyed after the test. */
export async function listenTcp(): Promise<TestTcpServer> {
  const server = net.createServer();
  const sockets: net.Socket[] = [];
  const received: Buffer[][] = [];
  const waiters: ((s: net.Socket) => void)[] = [];
  let consumed = 0;
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    sockets.push(socket);
    received.push(chunks);
    waiters.shift()?.(socket);
  });
  server.listen(0, '127.0.0.1');
  cleanup(async () => {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise((r) => server.close(r));
  });
  await next(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    sockets,
    received,
    accepted: () => {
      const socket = sockets[consumed++];
      return socket !== undefined ? Promise.resolve(socket) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** A 127.0.0.1 TCP port with nothing listening (bound, read, then released). */
export async function closedTcpPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await next(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A 127.0.0.1 UDP port with nothing bound (bound, read, then released). */
export async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await next(socket, 'listening');
  const port = socket.address().port;
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}

/**
 * A listener on 127.0.0.1 whose accept queue is full, so the kernel drops new SYNs and a connect
 * stays in SYN-SENT (Linux behaviour). The listener lives in a worker thread that is blocked in
 * `Atomics.wait`, so nothing accepts; filler connections occupy the queue (backlog 1).
 */
export async function stalledListener(): Promise<{ port: number }> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const net = require('node:net');
    const server = net.createServer();
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(workerData, 0, 0, 30000);
      server.close();
    });
    `,
    { eval: true, workerData: gate },
  );
  const fillers: net.Socket[] = [];
  cleanup(async () => {
    for (const s of fillers) s.destroy();
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await worker.terminate();
  });
  const [port] = await next<[number]>(worker, 'message');
  // Fill the accept queue: the kernel completes handshakes until it is full, then drops SYNs.
  for (let i = 0; i < 16; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await Promise.race([once(socket, 'connect').then(() => true), sleep(500).then(() => false)]);
    if (!connected) return { port };
  }
  throw new Error('could not fill the accept queue of the stalled listener');
}
