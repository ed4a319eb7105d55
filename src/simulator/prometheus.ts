/**
 * Prometheus metrics of a running simulation (`--prometheus PORT`), served with prom-client on
 * 127.0.0.1 only: gauges of connected and reconnecting agents (in total and per node), counters
 * of events sent, received and dropped, and reconnections.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { ToolError } from '../index.js';

/** The values the exporter publishes, updated by {@link PrometheusExporter.update}. */
export interface PrometheusValues {
  /** Agents connected now. */
  connected: number;
  /** Agents connecting or reconnecting now. */
  reconnecting: number;
  /** Connected agents per node now. */
  perNode: Record<string, number>;
  /** Events sent so far (cumulative). */
  eventsSent: number;
  /** Events the managers received so far; null when unknown. */
  eventsReceived: number | null;
  /** Events dropped so far. */
  eventsDropped: number;
}

/**
 * Serves the simulation's metrics at `http://127.0.0.1:PORT/metrics`.
 *
 * @example
 * ```ts
 * const prom = await PrometheusExporter.start(9464);
 * prom.update({ connected: 10, reconnecting: 0, perNode: { node1: 10 }, eventsSent: 5, eventsReceived: 5, eventsDropped: 0 });
 * await prom.close();
 * ```
 */
export class PrometheusExporter {
  /** The prom-client registry (for tests and extra metrics). */
  readonly registry = new Registry();
  readonly #server: Server;
  readonly #connected: Gauge;
  readonly #reconnecting: Gauge;
  readonly #perNode: Gauge<'node'>;
  readonly #sent: Counter;
  readonly #received: Counter;
  readonly #dropped: Counter;
  #last = { sent: 0, received: 0, dropped: 0 };

  private constructor(server: Server) {
    this.#server = server;
    const registers = [this.registry];
    this.#connected = new Gauge({ name: 'agentlink_agents_connected', help: 'Simulated agents connected (startup ACKed) now', registers });
    this.#reconnecting = new Gauge({ name: 'agentlink_agents_reconnecting', help: 'Simulated agents connecting or reconnecting now', registers });
    this.#perNode = new Gauge({ name: 'agentlink_agents_per_node', help: 'Connected simulated agents per manager node', labelNames: ['node'], registers });
    this.#sent = new Counter({ name: 'agentlink_events_sent_total', help: 'Events the simulated agents generated', registers });
    this.#received = new Counter({ name: 'agentlink_events_received_total', help: 'Events the embedded mock managers received', registers });
    this.#dropped = new Counter({ name: 'agentlink_events_dropped_total', help: 'Events the agents’ client buffers dropped', registers });
  }

  /**
   * Starts the HTTP server on 127.0.0.1.
   *
   * @param port - the port; 0 picks a free one.
   * @returns the running exporter.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the port cannot be bound (names it).
   */
  static async start(port: number): Promise<PrometheusExporter> {
    const server = createServer();
    const exporter = new PrometheusExporter(server);
    server.on('request', (req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('agentlink: metrics are at /metrics\n');
        return;
      }
      exporter.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': exporter.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ToolError(`--prometheus ${port}: cannot listen on 127.0.0.1:${port} (${err.code ?? err.message}); pick another port`, 'ERR_USAGE', { cause: err })),
      );
      server.listen(port, '127.0.0.1', () => resolve());
    });
    server.unref();
    return exporter;
  }

  /** The bound port. */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /**
   * Publishes new values (counters advance by the difference to the previous update).
   *
   * @param v - the current values.
   */
  update(v: PrometheusValues): void {
    this.#connected.set(v.connected);
    this.#reconnecting.set(v.reconnecting);
    for (const [node, n] of Object.entries(v.perNode)) this.#perNode.set({ node }, n);
    const inc = (c: Counter, key: 'sent' | 'received' | 'dropped', value: number): void => {
      if (value > this.#last[key]) c.inc(value - this.#last[key]);
      this.#last[key] = Math.max(this.#last[key], value);
    };
    inc(this.#sent, 'sent', v.eventsSent);
    if (v.eventsReceived !== null) inc(this.#received, 'received', v.eventsReceived);
    inc(this.#dropped, 'dropped', v.eventsDropped);
  }

  /** Stops the HTTP server. */
  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
