/**
 * Transports: the only code that touches sockets, on both sides. `createDefaultTransportFactory()`
 * gives the agent real TCP and UDP sockets; `listenNode()` is the server side of the same seam (a
 * {@link Listener}). The in-memory network for unit tests, with both sides, is in `agentlink/testing`.
 *
 * @module
 */
import type { Clock } from '../clock.js';
import { TcpTransport } from './tcp.js';
import type { TcpTransportOptions } from './tcp.js';
import type { TransportFactory } from './types.js';
import { UdpTransport } from './udp.js';

export type {
  Transport,
  TransportConnectOptions,
  TransportEvents,
  TransportFactory,
  TransportState,
  TransportTarget,
} from './types.js';
export { TcpTransport, createTcpTransport, DEFAULT_TCP_KEEPALIVE_DELAY, DEFAULT_TCP_CLOSE_TIMEOUT } from './tcp.js';
export type { TcpTransportOptions, TcpSocketFactory } from './tcp.js';
export { UdpTransport, createUdpTransport, MAX_UDP_PAYLOAD_IPV4, MAX_UDP_PAYLOAD_IPV6 } from './udp.js';
export type { UdpTransportOptions } from './udp.js';
export { RELISTEN_DEADLINE_MS } from './listener.js';
export type {
  DatagramPeer,
  ListenOptions,
  Listener,
  ListenerEvents,
  ListenerFactory,
  ListenerProtocol,
  ServerConnection,
  ServerConnectionEvents,
} from './listener.js';
export { listenNode } from './node-listener.js';
export type {
  MemoryConnection,
  MemoryConnectionEvents,
  MemoryNetwork,
  MemoryNetworkOptions,
  MemoryServer,
  MemoryServerEvents,
  MemoryUnreachableMode,
} from './memory.js';

/** Options of {@link createDefaultTransportFactory}, applied to every transport it creates. */
export interface DefaultTransportFactoryOptions {
  /**
   * Clock for connect deadlines and the TCP close grace period.
   * @default systemClock
   */
  clock?: Clock | undefined;
  /**
   * TCP keepalive idle time in milliseconds; 0 disables TCP keepalive.
   * @default 30000
   */
  keepAliveDelay?: number | undefined;
  /**
   * Milliseconds a TCP `close()` waits for pending writes before it destroys the socket; 0: no limit.
   * @default 5000
   */
  closeTimeout?: number | undefined;
}

/**
 * The factory the agent uses by default: a {@link TcpTransport} or a {@link UdpTransport} according
 * to `target.protocol`.
 *
 * @param defaults - clock and TCP tuning applied to every transport.
 * @returns a {@link TransportFactory}.
 */
export function createDefaultTransportFactory(defaults: DefaultTransportFactoryOptions = {}): TransportFactory {
  // The options are written out, not spread: on Node 20, after a few objects built by
  // `{ ...options, more }` V8 gives each new one hidden classes of its own (measured: 1 988 of 2 000
  // connections' options had their own, 0.2-0.3 KB of heap per idle agent).
  return (target, options) => {
    const { connectTimeout, localAddress, signal } = options;
    if (target.protocol === 'udp') return new UdpTransport(target, { connectTimeout, localAddress, signal, clock: defaults.clock });
    const tcpOptions: TcpTransportOptions = {
      connectTimeout,
      localAddress,
      signal,
      clock: defaults.clock,
      keepAliveDelay: defaults.keepAliveDelay,
      closeTimeout: defaults.closeTimeout,
    };
    return new TcpTransport(target, tcpOptions);
  };
}
