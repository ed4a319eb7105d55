/**
 * Helpers for the enrollment integration tests: every resource is closed by `onTestFinished`,
 * registered right after it is created. Loopback 127.0.0.1 only, port 0.
 */
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { onTestFinished } from 'vitest';
import type { Clock } from '../../../src/index.js';
import { MockAuthd, TEST_SERVER_CERT, TEST_SERVER_KEY, KeyStore } from '../../../src/testing/index.js';
import type { MockAuthdOptions } from '../../../src/testing/index.js';

export const HOST = '127.0.0.1';

/** Starts a MockAuthd on 127.0.0.1:0 and closes it after the test. */
export async function startAuthd(options: Partial<MockAuthdOptions> = {}): Promise<{ authd: MockAuthd; keyStore: KeyStore; port: number }> {
  const keyStore = options.keyStore ?? new KeyStore();
  const authd = new MockAuthd({ ...options, keyStore });
  onTestFinished(() => authd.close());
  const { port } = await authd.start();
  return { authd, keyStore, port };
}

/** A plain TCP server on 127.0.0.1:0 that runs `onSocket` per connection; counts connections. */
export async function startTcpServer(onSocket: (socket: Socket) => void): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createTcpServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

/** A TLS server (test certificate) on 127.0.0.1:0 that runs `onSocket` per connection; counts connections. */
export async function startTlsServer(onSocket: (socket: TLSSocket) => void): Promise<{ port: number; connections: () => number }> {
  const sockets = new Set<TLSSocket>();
  let count = 0;
  const server = createTlsServer({ cert: TEST_SERVER_CERT, key: TEST_SERVER_KEY }, (socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => count };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A clock whose timers record their delay and fire on the next macrotask, so a back-off loop runs
 * without waiting while the test still sees every delay it asked for.
 */
export function recordingClock(): { clock: Clock; delays: number[] } {
  const delays: number[] = [];
  const clock: Clock = {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, 0);
    },
    clearTimeout: (h) => {
      if (h !== undefined) clearTimeout(h as ReturnType<typeof setTimeout>);
    },
  };
  return { clock, delays };
}
