/**
 * Plain TCP servers and clients for the load-balancer tests. A client says `hello <id>\n`; the
 * server answers with its name, so the client knows where the balancer sent it. Health-check
 * connections (connect, then close without a word) are therefore never counted as sessions.
 * Later lines (`hb <id>\n`) are recorded as heartbeats.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** A backend that counts the sessions it serves. */
export class CountingServer {
  /** Sessions (connections that said hello) ever served. */
  sessions = 0;
  /** Sessions open now. */
  active = 0;
  /** Last heartbeat time per client id. */
  readonly lastSeen = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;

  private constructor(readonly name: string) {}

  /**
   * Starts a server on 127.0.0.1.
   *
   * @param name - the name it answers with.
   * @param port - 0 for any free port.
   */
  static async start(name: string, port = 0): Promise<CountingServer> {
    const server = new CountingServer(name);
    await server.#listen(port);
    return server;
  }

  /** The listening port (kept across kill/restart). */
  get port(): number {
    return this.#port;
  }

  /** Whether it is listening. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  async #listen(port: number): Promise<void> {
    const server = createServer((socket) => this.#onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => resolve());
    });
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#server = server;
  }

  #onConnection(socket: Socket): void {
    this.#sockets.add(socket);
    let buffered = '';
    let counted = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        const [verb, id = ''] = line.split(' ');
        if (verb === 'hello' && !counted) {
          counted = true;
          this.sessions++;
          this.active++;
          this.lastSeen.set(id, Date.now());
          socket.write(`${this.name}\n`);
        } else if (verb === 'hb') {
          this.lastSeen.set(id, Date.now());
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (counted) this.active--;
    });
  }

  /** Simulates a node crash: stops listening and resets every open connection. */
  async kill(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port after {@link kill}. */
  async restart(): Promise<void> {
    if (!this.#server) await this.#listen(this.#port);
  }

  /** Same as kill: used in cleanup. */
  close(): Promise<void> {
    return this.kill();
  }
}

/** A client connection through the balancer. */
export interface Client {
  /** The socket. */
  socket: Socket;
  /** Name of the backend that answered. */
  server: string;
}

/**
 * Connects to 127.0.0.1:port, says hello and waits for the backend's name.
 *
 * @param port - the balancer port.
 * @param id - client id.
 * @param timeoutMs - deadline.
 */
export function openClient(port: number, id: string, timeoutMs = 5_000): Promise<Client> {
  return new Promise<Client>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`client ${id}: no answer through port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    const onData = (chunk: string): void => {
      buffered += chunk;
      const at = buffered.indexOf('\n');
      if (at < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ socket, server: buffered.slice(0, at) });
    };
    socket.on('data', onData);
    socket.once('connect', () => socket.write(`hello ${id}\n`));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`client ${id}: closed before an answer through port ${port}`));
    });
  });
}

/**
 * Opens `count` clients, at most `concurrency` connecting at once.
 *
 * @param port - the balancer port.
 * @param count - how many.
 * @param options - id prefix, concurrency, and the list to push each client into as soon as it connects (for cleanup).
 */
export async function openClients(
  port: number,
  count: number,
  options: { prefix?: string; concurrency?: number; into: Client[] },
): Promise<Client[]> {
  const result: Client[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const client = await openClient(port, `${options.prefix ?? 'c'}${i}`);
      options.into.push(client);
      result.push(client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 20, count) }, worker));
  return result;
}

/**
 * Counts clients per backend name.
 *
 * @param clients - the clients.
 */
export function countByServer(clients: readonly Client[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of clients) counts[c.server] = (counts[c.server] ?? 0) + 1;
  return counts;
}

/**
 * Waits until `predicate` holds, polling every 50 ms.
 *
 * @param predicate - the condition.
 * @param timeoutMs - deadline.
 * @param what - description for the error.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Destroys every client and empties the list.
 *
 * @param clients - the list.
 */
export function closeClients(clients: Client[]): void {
  for (const c of clients.splice(0)) c.socket.destroy();
}

/** Open child processes and pipes (child stdio, unix sockets) of this process, to check that a stop leaves none. */
export function processAndPipeHandles(): { processes: number; pipes: number } {
  const info = process.getActiveResourcesInfo();
  return { processes: info.filter((r) => r === 'ProcessWrap').length, pipes: info.filter((r) => r === 'PipeWrap').length };
}
