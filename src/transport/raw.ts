/**
 * Raw TCP byte streams, for the fault proxy: it forwards bytes as they come (and cuts them where it
 * likes), so it works below the framing. It listens through {@link TcpAcceptor} and connects
 * upstream with {@link connectRaw}; like the rest of the test kit it touches no socket module itself.
 * And {@link resetSocket}, the one way every layer (agent transport, manager listener, fault proxy)
 * closes a TCP socket with a reset.
 *
 * @module
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** A raw TCP byte stream (a `node:net` socket). */
export type RawSocket = Socket;

/**
 * Opens a raw TCP connection with Nagle off.
 *
 * @param target - where to connect.
 * @param opts - `allowHalfOpen`: keep the socket writable after the peer's FIN.
 * @returns the connecting socket.
 */
export function connectRaw(target: { host: string; port: number }, opts: { allowHalfOpen?: boolean } = {}): RawSocket {
  return connect({ host: target.host, port: target.port, allowHalfOpen: opts.allowHalfOpen ?? false, noDelay: true });
}

/**
 * Closes a TCP socket with a reset (RST) where that is safe, and always releases it: `close` follows.
 *
 * `socket.resetAndDestroy()` alone is not safe on every socket. During a connect it waits for the
 * connect to complete (a SYN dropped by a full accept queue is retried after 1 s, 3 s, ...). After
 * `end()`, while the shutdown is still in progress (until the next turn of the event loop at least),
 * libuv refuses the reset (`EINVAL`) and Node 20 then drops the handle without closing it: no
 * `close` event ever, and a `TCPSocketWrap` left for the life of the process. Such a socket is
 * destroyed instead: the kernel closes it (with a reset of its own when unread data is left).
 *
 * @param socket - the socket; nothing happens when it is already destroyed.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || (socket.writableEnded && !socket.writableFinished)) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // not a TCP handle (an injected socket): a plain destroy is the best there is
    socket.destroy();
  }
}
