/**
 * Prometheus metrics of a running simulation (prom-client): gauges of connected and reconnecting
 * agents (in total and per node), counters of events generated, accepted, written, received and dropped.
 * {@link PrometheusMetrics} holds them; {@link PrometheusExporter} serves them (`--prometheus PORT`,
 * on 127.0.0.1 unless `--prometheus-host` says otherwise), and the live dashboard serves the same
 * registry at its own `/metrics`.
 *
 * @module
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { DEFAULT_HTTP_HOST, listenHttp, serverUrl } from './http-listen.js';

/** The values the metrics publish, updated by {@link PrometheusMetrics.update}. */
export interface PrometheusValues {
  /** Agents connected now. */
  connected: number;
  /** Agents connecting or reconnecting now. */
  reconnecting: number;
  /** Connected agents per node now. */
  perNode: Record<string, number>;
  /** Events the workload generated so far (cumulative). */
  eventsGenerated: number;
  /** Events the agents' client buffers accepted so far. */
  eventsAccepted: number;
  /** Events written to the wire so far. */
  eventsWritten: number;
  /** Events the managers received so far; null when unknown. */
  eventsReceived: number | null;
  /** Events dropped so far (every reason). */
  eventsDropped: number;
}

const COUNTER_KEYS = ['eventsGenerated', 'eventsAccepted', 'eventsWritten', 'eventsReceived', 'eventsDropped'] as const;
type CounterKey = (typeof COUNTER_KEYS)[number];

/**
 * The simulation's metrics in a prom-client registry, without a server.
 *
 * @example
 * ```ts
 * const metrics = new PrometheusMetrics();
 * metrics.update({ connected: 10, reconnecting: 0, perNode: { node1: 10 }, eventsGenerated: 5, eventsAccepted: 5, eventsWritten: 5, eventsReceived: 5, eventsDropped: 0 });
 * await metrics.registry.metrics(); // the text exposition format
 * ```
 */
export class PrometheusMetrics {
  /** The prom-client registry (for tests and extra metrics). */
  readonly registry = new Registry();
  readonly #connected: Gauge;
  readonly #reconnecting: Gauge;
  readonly #perNode: Gauge<'node'>;
  readonly #counters: Record<CounterKey, Counter>;
  readonly #last: Record<CounterKey, number> = { eventsGenerated: 0, eventsAccepted: 0, eventsWritten: 0, eventsReceived: 0, eventsDropped: 0 };

  constructor() {
    const registers = [this.registry];
    this.#connected = new Gauge({ name: 'agentlink_agents_connected', help: 'Simulated agents connected (startup ACKed) now', registers });
    this.#reconnecting = new Gauge({ name: 'agentlink_agents_reconnecting', help: 'Simulated agents connecting or reconnecting now', registers });
    this.#perNode = new Gauge({ name: 'agentlink_agents_per_node', help: 'Connected simulated agents per manager node', labelNames: ['node'], registers });
    const counter = (name: string, help: string): Counter => new Counter({ name: `agentlink_events_${name}_total`, help, registers });
    this.#counters = {
      eventsGenerated: counter('generated', 'Events the workload generated (sendEvent calls, accepted or refused)'),
      eventsAccepted: counter('accepted', 'Events the simulated agents’ client buffers accepted'),
      eventsWritten: counter('written', 'Events the simulated agents wrote to their connections (each once, retransmissions not counted)'),
      eventsReceived: counter('received', 'Events the embedded mock managers received'),
      eventsDropped: counter('dropped', 'Events dropped without being written: refused by a full buffer, evicted, or still queued at the drain deadline'),
    };
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
    for (const key of COUNTER_KEYS) {
      const value = v[key];
      if (value === null) continue; // received: unknown against foreign managers
      if (value > this.#last[key]) this.#counters[key].inc(value - this.#last[key]);
      this.#last[key] = Math.max(this.#last[key], value);
    }
  }

  /**
   * Answers an HTTP request with the metrics in the text exposition format.
   *
   * @param _req - the request.
   * @param res - the response.
   */
  serve(_req: IncomingMessage, res: ServerResponse): void {
    this.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(err)}\n`),
    );
  }
}

/** Options of {@link PrometheusExporter.start}. */
export interface PrometheusExporterOptions {
  /**
   * The address to listen on (`--prometheus-host`).
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The metrics to serve (shared with the dashboard).
   * @default new metrics
   */
  metrics?: PrometheusMetrics;
}

/**
 * Serves the simulation's metrics at `http://127.0.0.1:PORT/metrics`.
 *
 * @example
 * ```ts
 * const prom = await PrometheusExporter.start(9464);
 * prom.update({ connected: 10, reconnecting: 0, perNode: { node1: 10 }, eventsGenerated: 5, eventsAccepted: 5, eventsWritten: 5, eventsReceived: 5, eventsDropped: 0 });
 * await prom.close();
 * ```
 */
export class PrometheusExporter {
  /** The metrics served. */
  readonly metrics: PrometheusMetrics;
  readonly #server: Server;
  readonly #host: string;

  private constructor(server: Server, metrics: PrometheusMetrics, host: string) {
    this.#server = server;
    this.metrics = metrics;
    this.#host = host;
  }

  /** The prom-client registry (for tests and extra metrics). */
  get registry(): Registry {
    return this.metrics.registry;
  }

  /**
   * Starts the HTTP server.
   *
   * @param port - the port; 0 picks a free one.
   * @param options - the address (127.0.0.1 unless told otherwise) and the metrics to serve.
   * @returns the running exporter.
   * @throws {@link agentlink!ToolError} `ERR_LISTEN` when the port cannot be bound (names `--prometheus`, the address and why).
   */
  static async start(port: number, options: PrometheusExporterOptions = {}): Promise<PrometheusExporter> {
    const host = options.host ?? DEFAULT_HTTP_HOST;
    const server = createServer();
    const exporter = new PrometheusExporter(server, options.metrics ?? new PrometheusMetrics(), host);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('agentlink: metrics are at /metrics\n');
        return;
      }
      exporter.metrics.serve(req, res);
    });
    await listenHttp(server, port, host, '--prometheus');
    server.unref();
    return exporter;
  }

  /** The bound port. */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** The metrics URL (`http://127.0.0.1:PORT/metrics`). */
  get url(): string {
    return serverUrl(this.#server, this.#host, '/metrics');
  }

  /**
   * Publishes new values (see {@link PrometheusMetrics.update}).
   *
   * @param v - the current values.
   */
  update(v: PrometheusValues): void {
    this.metrics.update(v);
  }

  /** Stops the HTTP server. */
  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
