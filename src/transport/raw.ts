/**
 * Raw TCP byte streams, for the fault proxy: it forwards bytes as they come (and cuts them where it
 * likes), so it works below the framing. It listens through {@link TcpAcceptor} and connects
 * upstream with {@link connectRaw}; like the rest of the test kit it touches no socket module itself.
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
