/**
 * What the simulator's HTTP endpoints (`--prometheus`, `--dashboard`) share: listening on an
 * address with an error that names the flag, and the rule that they listen on 127.0.0.1 unless a
 * host flag says otherwise.
 *
 * @module
 */
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import { toListenError } from '../errors.js';

/** Where the simulator's HTTP endpoints listen unless a host flag says otherwise. */
export const DEFAULT_HTTP_HOST = '127.0.0.1';

/**
 * Starts `server` listening on `host:port`.
 *
 * @param server - the HTTP server.
 * @param port - the port; 0 picks a free one.
 * @param host - the address.
 * @param flag - the flag that chose the port, for the error (`--dashboard`).
 * @throws {@link agentlink!ToolError} `ERR_LISTEN` naming the flag, the address and the reason.
 */
export async function listenHttp(server: Server, port: number, host: string, flag: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(toListenError(err, flag, host, port));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * The URL of a listening server, with a host a browser can open (`0.0.0.0` and `::` become the
 * loopback address).
 *
 * @param server - a listening server.
 * @param host - the address it was asked to listen on.
 * @param path - the path (`/metrics`).
 * @returns the URL.
 */
export function serverUrl(server: Server, host: string, path: string): string {
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${isIP(shown) === 6 ? `[${shown}]` : shown}:${port}${path}`;
}

/**
 * Whether a host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`): only this machine
 * reaches it.
 *
 * @param host - an address or name.
 * @returns true for loopback.
 */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The warning printed when an endpoint is told to listen beyond this machine.
 *
 * @param what - the endpoint (`the dashboard`).
 * @param flag - the host flag (`--dashboard-host`).
 * @param host - the address given.
 * @returns the warning line, or `undefined` for a loopback address.
 */
export function exposureWarning(what: string, flag: string, host: string): string | undefined {
  if (isLoopback(host)) return undefined;
  return `warning: ${what} listens on ${host} (${flag}): anyone who can reach this address sees the agent names and the cluster addresses`;
}
