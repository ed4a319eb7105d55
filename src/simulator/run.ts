/**
 * One simulation run, end to end: resolve the target (embedded mock cluster, manager list or
 * ossec.conf) and the identities, start the fleet (in this process or over worker processes), run
 * the chaos schedule, show progress, stop with a drain, reconcile the event counts exactly against
 * the managers, and write the JSON and HTML reports.
 *
 * @module
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  ToolError,
  loadEnrollmentFiles,
  parseOssecConf,
  systemClock,
} from '../index.js';
import type { AgentIdentityOptions, AgentKey, Clock, ServerOptions } from '../index.js';
import { forkChild, IpcClient } from './child.js';
import { startEmbeddedCluster } from './cluster-host.js';
import type { EmbeddedCluster } from './cluster-host.js';
import { shardAgentIndexes } from './flags.js';
import type { SimulateConfig } from './flags.js';
import { Fleet, nextSample, resourceLimitOf } from './fleet.js';
import type { FleetClientOptions, FleetProgress, FleetServer, FleetTotals } from './fleet.js';
import { renderHtmlReport } from './html.js';
import { autoSourceAddresses, loadKeysFile, simulatedIdentities } from './identities.js';
import { DEFAULT_TIMELINE_BUCKET_MS, FleetMetrics } from './metrics.js';
import type { MetricsSnapshot } from './metrics.js';
import { ProgressReporter } from './progress.js';
import type { ProgressSnapshot } from './progress.js';
import { startBalancerForCluster } from './lb.js';
import type { ClusterBalancer, LbReport } from './lb.js';
import { PrometheusExporter } from './prometheus.js';
import { createReport, stringifyReport } from './report.js';
import type { ChaosEvent, FleetReport, LimitHit } from './report.js';
import { workloadFactory } from './workloads.js';
import type { WorkerSpec } from './worker.js';

/** Fleets above this many agents (or any run with workers) get their embedded cluster in a child process. */
export const CLUSTER_PROCESS_THRESHOLD = 2000;

/**
 * A chaos step of {@link SimulateOptions.chaos}: like the `--chaos` steps, and the node may also be
 * chosen when the step runs: `busiest` (the node with the most connected agents) or `last-killed`.
 */
export type SimulationChaosStep =
  | {
      /** Kill or restart a node. */
      action: 'kill' | 'restart';
      /** `node1`…`nodeN`, `busiest` or `last-killed`. */
      node: string;
      /** When, in milliseconds after the start. */
      atMs: number;
    }
  | {
      /** The HAProxy helper's rebalance over the whole cluster. */
      action: 'rebalance';
      /** When, in milliseconds after the start. */
      atMs: number;
    };

/** A writable stream for live progress. */
export interface ProgressStream {
  /** Writes text. */
  write(chunk: string): unknown;
  /** Whether it is a terminal (redraw in place). */
  isTTY?: boolean | undefined;
  /** Terminal width. */
  columns?: number | undefined;
}

/** Options of {@link simulate} beyond the flags. */
export interface SimulateOptions {
  /**
   * Directory relative paths (keys, reports, workload files) are resolved against.
   * @default process.cwd()
   */
  cwd?: string;
  /** Aborting it ends the run early; the report is still written. */
  signal?: AbortSignal;
  /** Live progress goes here (unless `config.quiet`); none when omitted. */
  progress?: ProgressStream;
  /**
   * Milliseconds between progress updates.
   * @default 1000
   */
  progressIntervalMs?: number;
  /** Notes worth a line on the terminal (cluster process forked, limits hit, files written). */
  log?: (line: string) => void;
  /**
   * Where the embedded cluster runs: `auto` forks a cluster process above
   * {@link CLUSTER_PROCESS_THRESHOLD} agents or with workers; `true` always, `false` never.
   * @default 'auto'
   */
  clusterProcess?: 'auto' | boolean;
  /** `maxRetries` / `retryInterval` given to every server of every agent. */
  serverOptions?: Pick<ServerOptions, 'maxRetries' | 'retryInterval'>;
  /** Client options merged over those the flags give (the demo's short timers). */
  client?: Partial<FleetClientOptions>;
  /**
   * Chunking of `rebalance` chaos steps.
   * @default { chunkSize: 100, chunkDelay: 5000 } (the HAProxy helper's)
   */
  rebalance?: {
    /** Agents told to reconnect at a time. */
    chunkSize?: number;
    /** Milliseconds between chunks. */
    chunkDelay?: number;
  };
  /** Chaos steps with node selectors; replaces `config.chaos` when given. */
  chaos?: SimulationChaosStep[];
  /**
   * Timeline bucket width.
   * @default 1000
   */
  bucketMs?: number;
  /** Clock of the run's timers. */
  clock?: Clock;
  /** Called once the cluster and the fleet are started, with the server list. */
  onStarted?: (info: { servers: readonly FleetServer[]; cluster: EmbeddedCluster | undefined }) => void;
}

/** What {@link simulate} returns. */
export interface SimulationResult {
  /** The report (also written to `--report` / `--html` when given). */
  report: FleetReport;
  /** The fleet's totals (all workers). */
  totals: FleetTotals;
  /**
   * Why the run failed, one line each: no agent ever connected, a system limit, an accounting
   * mismatch. Empty when it succeeded.
   */
  problems: string[];
  /** The system limit error, when one was hit (`ERR_RESOURCE_LIMIT`). */
  limitError: ToolError | undefined;
  /** Whether the run was interrupted through the signal. */
  interrupted: boolean;
  /** Absolute path of the JSON report, when written. */
  reportPath: string | undefined;
  /** Absolute path of the HTML report, when written. */
  htmlPath: string | undefined;
}

/** One part of the fleet: a Fleet in this process, or a worker process. */
interface FleetPart {
  start(runStartedAt: number): Promise<void>;
  progress(): Promise<FleetProgress | undefined>;
  limits(): LimitHit[];
  stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }>;
  close(): Promise<void>;
}

class LocalPart implements FleetPart {
  readonly fleet: Fleet;

  constructor(fleet: Fleet) {
    this.fleet = fleet;
  }

  async start(runStartedAt: number): Promise<void> {
    this.fleet.start(runStartedAt);
  }

  async progress(): Promise<FleetProgress> {
    return this.fleet.progress();
  }

  limits(): LimitHit[] {
    return this.fleet.limits();
  }

  async stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }> {
    const totals = await this.fleet.stop({ drainTimeout, eventsUntil });
    return { totals, snapshot: this.fleet.metrics.snapshot() };
  }

  async close(): Promise<void> {
    await this.fleet.stop({ drainTimeout: 0 });
  }
}

class WorkerPart implements FleetPart {
  readonly #ipc: IpcClient;
  #progress: FleetProgress | undefined;
  readonly #limits = new Map<string, LimitHit>();

  constructor(onLimit: (hit: LimitHit) => void) {
    this.#ipc = new IpcClient(forkChild('worker'), 'fleet worker', (msg) => {
      if (msg.type === 'sample') this.#progress = msg.progress as FleetProgress;
      else if (msg.type === 'limit') {
        const hit = msg.hit as LimitHit;
        this.#limits.set(hit.limit, hit);
        onLimit(hit);
      }
    });
  }

  init(spec: WorkerSpec): Promise<void> {
    return this.#ipc.request('init', { spec });
  }

  start(runStartedAt: number): Promise<void> {
    return this.#ipc.request('start', { runStartedAt });
  }

  async progress(): Promise<FleetProgress | undefined> {
    // ask for the live gauges; fall back on the last per-bucket sample if the worker is busy
    const live = await Promise.race([
      this.#ipc.request<FleetProgress>('progress').catch(() => undefined),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 500).unref()),
    ]);
    if (live) this.#progress = live;
    return this.#progress;
  }

  limits(): LimitHit[] {
    return [...this.#limits.values()];
  }

  async stop(drainTimeout: number, eventsUntil: number): Promise<{ totals: FleetTotals; snapshot: MetricsSnapshot }> {
    return this.#ipc.request('stop', { drainTimeout, eventsUntil });
  }

  async close(): Promise<void> {
    await this.#ipc.request('exit').catch(() => undefined);
    await this.#ipc.exit(5000);
  }
}

function sumProgress(parts: readonly (FleetProgress | undefined)[], agents: number, nodes: readonly string[]): FleetProgress {
  const out: FleetProgress = {
    agents,
    started: 0,
    connected: 0,
    reconnecting: 0,
    perNode: Object.fromEntries(nodes.map((n) => [n, 0])),
    connectedEver: 0,
    eventsSent: 0,
    eventsDropped: 0,
  };
  for (const p of parts) {
    if (!p) continue;
    out.started += p.started;
    out.connected += p.connected;
    out.reconnecting += p.reconnecting;
    out.connectedEver += p.connectedEver;
    out.eventsSent += p.eventsSent;
    out.eventsDropped += p.eventsDropped;
    for (const [n, c] of Object.entries(p.perNode)) out.perNode[n] = (out.perNode[n] ?? 0) + c;
  }
  return out;
}

function mergeLimits(lists: readonly LimitHit[][]): LimitHit[] {
  const m = new Map<string, LimitHit>();
  for (const list of lists) {
    for (const l of list) {
      const known = m.get(l.limit);
      if (known) known.count += l.count;
      else m.set(l.limit, { ...l });
    }
  }
  return [...m.values()];
}

function sumRecord(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function mergeTotals(list: readonly FleetTotals[]): FleetTotals {
  const out: FleetTotals = {
    agents: 0,
    started: 0,
    connectedAtEnd: 0,
    distribution: {},
    connectedEver: 0,
    neverConnected: 0,
    eventsSent: 0,
    eventsWritten: 0,
    eventsDropped: 0,
    eventsUnconfirmedOnLostConnections: 0,
    connectFailures: 0,
    reconnects: 0,
    failovers: 0,
    neverConnectedReasons: {},
    errorSamples: {},
    limits: mergeLimits(list.map((t) => t.limits)),
  };
  for (const t of list) {
    out.agents += t.agents;
    out.started += t.started;
    out.connectedAtEnd += t.connectedAtEnd;
    out.connectedEver += t.connectedEver;
    out.neverConnected += t.neverConnected;
    out.eventsSent += t.eventsSent;
    out.eventsWritten += t.eventsWritten;
    out.eventsDropped += t.eventsDropped;
    out.eventsUnconfirmedOnLostConnections += t.eventsUnconfirmedOnLostConnections;
    out.connectFailures += t.connectFailures;
    out.reconnects += t.reconnects;
    out.failovers += t.failovers;
    sumRecord(out.distribution, t.distribution);
    sumRecord(out.neverConnectedReasons, t.neverConnectedReasons);
    for (const [k, v] of Object.entries(t.errorSamples)) out.errorSamples[k] ??= v;
  }
  return out;
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Turns a system-limit failure (EMFILE, EADDRNOTAVAIL, ...) into a one-line ToolError; other errors pass. */
function asLimitError(err: unknown, where: string): unknown {
  const hit = resourceLimitOf(err);
  if (!hit) return err;
  return new ToolError(`${where}: ${hit.code}: ${hit.message}`, 'ERR_RESOURCE_LIMIT', { cause: err });
}

interface Target {
  servers: FleetServer[];
  cluster: EmbeddedCluster | undefined;
  lb: ClusterBalancer | undefined;
  client: FleetClientOptions;
  identities: (AgentIdentityOptions | undefined)[] | undefined;
  generatedSeed: string | undefined;
  loopback: boolean;
}

async function readPasswordFile(path: string, cwd: string): Promise<string> {
  try {
    const text = await readFile(resolve(cwd, path), 'utf8');
    const first = text.split(/\r?\n/)[0] ?? '';
    if (first === '') throw new ToolError(`--password-file '${path}' is empty: put the authd password on its first line`, 'ERR_USAGE');
    return first;
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ToolError(`--password-file '${path}': cannot read the file (${code})`, 'ERR_USAGE', { cause: err });
  }
}

function clientFromFlags(config: SimulateConfig): FleetClientOptions {
  return {
    notifyTime: config.notifyTimeMs,
    timeReconnect: config.timeReconnectMs,
    cryptoMethod: config.crypto,
    reconnect:
      config.strategy === 'wazuh'
        ? { strategy: 'wazuh', jitter: config.jitter }
        : // the backoff strategy's own default is full jitter; --jitter overrides it when given
          { strategy: 'backoff', ...(config.jitter > 0 ? { jitter: config.jitter } : {}) },
  };
}

const isLoopback = (host: string): boolean => host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);

async function resolveTarget(config: SimulateConfig, options: SimulateOptions, indexes: readonly number[], cwd: string, log: (l: string) => void): Promise<Target> {
  let client = clientFromFlags(config);
  const serverExtra = options.serverOptions ?? {};
  let identities: (AgentIdentityOptions | undefined)[] | undefined;
  const enrollment = async (): Promise<FleetClientOptions['enrollment']> => {
    if (!config.enroll) return undefined;
    return {
      enabled: true,
      managerAddress: config.enroll.host,
      port: config.enroll.port,
      groups: config.groups,
      ...(config.passwordFile !== undefined ? { password: await readPasswordFile(config.passwordFile, cwd) } : {}),
    };
  };
  const fromKeys = (): void => {
    if (config.keysFile === undefined) return;
    const keys = loadKeysFile(config.keysFile, config.agents, cwd);
    identities = indexes.map((i) => keys[i]!);
  };

  if (config.target.kind === 'cluster') {
    if (config.enroll) throw new ToolError('--enroll cannot be used with --cluster: the embedded cluster generates the agent keys; drop --enroll', 'ERR_USAGE');
    const keys: AgentKey[] = simulatedIdentities(indexes, config.seed);
    const forked = options.clusterProcess === true || (options.clusterProcess !== false && (config.agents > CLUSTER_PROCESS_THRESHOLD || config.workers > 1));
    let cluster: EmbeddedCluster;
    try {
      cluster = await startEmbeddedCluster({ nodes: config.target.nodes, keys, protocol: config.protocol, forked });
    } catch (err) {
      throw asLimitError(err, 'starting the embedded cluster');
    }
    if (forked) log(`embedded cluster of ${config.target.nodes} nodes runs in its own process`);
    let lb: ClusterBalancer | undefined;
    if (config.lb) {
      try {
        lb = await startBalancerForCluster(config.lb, {
          servers: cluster.servers.map((n) => ({ address: n.address, port: n.port ?? 1514, node: n.node ?? n.address, protocol: n.protocol ?? 'tcp' })),
          authdPort: cluster.authdPort,
        });
      } catch (err) {
        await cluster.close();
        throw err;
      }
      log(`${config.lb} balances the agents over the ${config.target.nodes} nodes at ${lb.eventsServer.address}:${lb.eventsServer.port}`);
    }
    return {
      servers: lb
        ? [{ address: lb.eventsServer.address, port: lb.eventsServer.port, protocol: 'tcp', node: config.lb!, ...serverExtra }]
        : cluster.servers.map((s) => ({ ...s, ...serverExtra })),
      cluster,
      lb,
      client: withOverrides(client, options.client),
      identities: undefined,
      generatedSeed: config.seed,
      loopback: true,
    };
  }

  if (config.target.kind === 'managers') {
    fromKeys();
    const enroll = await enrollment();
    if (enroll) client.enrollment = enroll;
    return {
      servers: config.target.servers.map((s) => ({ address: s.host, port: s.port, protocol: config.protocol, node: `${s.host}:${s.port}`, ...serverExtra })),
      cluster: undefined,
      lb: undefined,
      client: withOverrides(client, options.client),
      identities,
      generatedSeed: undefined,
      loopback: config.target.servers.every((s) => isLoopback(s.host)),
    };
  }

  // --config ossec.conf: its servers and options, with the flags the user set on top
  const path = resolve(cwd, config.target.path);
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ToolError(`--config '${config.target.path}': cannot read the file (${code})`, 'ERR_USAGE', { cause: err });
  }
  let conf = parseOssecConf(xml);
  conf = await loadEnrollmentFiles(conf, { baseDir: cwd });
  for (const w of conf.warnings) log(`ossec.conf: ${w}`);
  const { servers, ...confOptions } = conf.options;
  const flags = clientFromFlags(config);
  client = { ...(confOptions as FleetClientOptions) };
  // a flag overrides the file only when it was set away from its default
  if (config.notifyTimeMs !== 20_000) client.notifyTime = flags.notifyTime;
  if (config.timeReconnectMs !== 60_000) client.timeReconnect = flags.timeReconnect;
  if (config.crypto !== 'aes') client.cryptoMethod = flags.cryptoMethod;
  if (config.strategy !== 'wazuh' || config.jitter > 0) client.reconnect = flags.reconnect;
  fromKeys();
  const enroll = await enrollment();
  if (enroll) client.enrollment = { ...client.enrollment, ...enroll };
  if (!identities && (!client.enrollment || client.enrollment.enabled === false)) {
    throw new ToolError(`--config '${config.target.path}' has no (enabled) <enrollment> section: give --keys client.keys or --enroll HOST:PORT for the agent identities`, 'ERR_USAGE');
  }
  if (servers.length === 0) throw new ConfigError(`--config '${config.target.path}' lists no <server>`, { element: 'client/server' });
  return {
    servers: servers.map((s) => ({ ...s, protocol: s.protocol ?? config.protocol, node: `${s.address}:${s.port ?? 1514}`, ...serverExtra })),
    cluster: undefined,
    lb: undefined,
    client: withOverrides(client, options.client),
    identities,
    generatedSeed: undefined,
    loopback: servers.every((s) => isLoopback(s.address)),
  };
}

/** The flags' client options with the programmatic ones on top (enrollment and buffer merged field by field). */
function withOverrides(client: FleetClientOptions, extra: Partial<FleetClientOptions> | undefined): FleetClientOptions {
  if (!extra) return client;
  const out: FleetClientOptions = { ...client, ...extra };
  if (client.enrollment && extra.enrollment) out.enrollment = { ...client.enrollment, ...extra.enrollment };
  if (client.buffer && extra.buffer) out.buffer = { ...client.buffer, ...extra.buffer };
  return out;
}

function sleep(ms: number, clock: Clock, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs one simulation (or one shard of it) and writes its reports.
 *
 * @param config - the parsed `simulate` flags.
 * @param options - streams, signal, and programmatic extras (chaos selectors, short timers).
 * @returns the report, the fleet's totals, and the problems that make the run a failure.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for bad input found before the run (unreadable files,
 *   too few keys, a bad workload) and `ERR_RESOURCE_LIMIT` when the cluster cannot even start;
 *   `ConfigError` for a bad ossec.conf.
 */
export async function simulate(config: SimulateConfig, options: SimulateOptions = {}): Promise<SimulationResult> {
  const cwd = options.cwd ?? process.cwd();
  const clock = options.clock ?? systemClock;
  const log = options.log ?? ((): void => {});
  const signal = options.signal;
  const bucketMs = options.bucketMs ?? DEFAULT_TIMELINE_BUCKET_MS;
  const indexes = shardAgentIndexes(config.agents, config.shard);
  const workers = Math.max(1, Math.min(config.workers, indexes.length));

  // fail on bad input before anything starts
  workloadFactory(config.workload, { cwd });

  const target = await resolveTarget(config, options, indexes, cwd, log);
  const cleanups: (() => Promise<unknown>)[] = [];
  if (target.cluster) cleanups.push(() => target.cluster!.close());
  if (target.lb) cleanups.push(() => target.lb!.stop());
  const problems: string[] = [];
  const chaosDone: ChaosEvent[] = [];
  let prometheus: PrometheusExporter | undefined;
  let progress: ProgressReporter | undefined;
  try {
    // behind a balancer the agents see one server; agents per node come from the cluster's view
    const lbNode = target.lb ? config.lb : undefined;
    const nodes = target.lb ? [...target.lb.nodes] : [...new Set(target.servers.map((s) => s.node ?? `${s.address}:${s.port ?? 1514}`))];
    let clusterView: Record<string, number> | undefined;
    const readClusterView = async (): Promise<Record<string, number> | undefined> => {
      if (!target.lb || !target.cluster) return undefined;
      clusterView = await target.cluster.distribution().catch(() => clusterView);
      return clusterView;
    };
    const perProcess = Math.ceil(indexes.length / workers);
    const sourceAddresses = config.sourceIps > 0 ? config.sourceIps : target.loopback ? autoSourceAddresses(perProcess) : 0;
    if (config.sourceIps === 0 && sourceAddresses > 0) log(`spreading source addresses over 127.0.0.1..127.0.0.${sourceAddresses} (${perProcess} agents per process)`);

    const limitsSeen = new Set<string>();
    const onLimit = (hit: LimitHit): void => {
      if (limitsSeen.has(hit.limit)) return;
      limitsSeen.add(hit.limit);
      log(`limit hit: ${hit.message}`);
    };

    // the fleet: in this process, or split over worker processes by position
    const parts: FleetPart[] = [];
    if (workers === 1) {
      const fleet = new Fleet({
        indexes,
        ...(target.identities ? { identities: target.identities } : {}),
        ...(target.generatedSeed !== undefined ? { identities: simulatedIdentities(indexes, target.generatedSeed) } : {}),
        servers: target.servers,
        spread: config.spread,
        client: target.client,
        rampPerSecond: config.rampPerSecond,
        eps: config.eps,
        workload: workloadFactory(config.workload, { cwd }),
        seed: config.seed,
        sourceAddresses,
        balanced: target.lb !== undefined,
        clock,
        metrics: new FleetMetrics({ clock, bucketMs }),
      });
      fleet.on('limit', onLimit);
      parts.push(new LocalPart(fleet));
      cleanups.push(() => fleet.stop({ drainTimeout: 0 }));
    } else {
      for (let w = 0; w < workers; w++) {
        const own = indexes.filter((_, pos) => pos % workers === w);
        const part = new WorkerPart(onLimit);
        parts.push(part);
        cleanups.push(() => part.close());
        const ids: WorkerSpec['identities'] =
          target.generatedSeed !== undefined
            ? { kind: 'generated', seed: target.generatedSeed }
            : target.identities
              ? { kind: 'list', list: indexes.map((_, pos) => target.identities![pos]).filter((_, pos) => pos % workers === w) }
              : { kind: 'enroll' };
        const { logger: _logger, counterStore: _store, ...client } = target.client;
        await part.init({
          indexes: own,
          identities: ids,
          servers: target.servers,
          spread: config.spread,
          client,
          rampPerSecond: config.rampPerSecond,
          eps: config.eps,
          workload: config.workload,
          cwd,
          seed: config.seed,
          sourceAddresses,
          balanced: target.lb !== undefined,
          bucketMs,
        });
      }
      log(`${workers} worker processes share ${indexes.length} agents`);
    }

    if (config.prometheusPort !== undefined) {
      prometheus = await PrometheusExporter.start(config.prometheusPort);
      cleanups.push(() => prometheus!.close());
      log(`Prometheus metrics at http://127.0.0.1:${prometheus.port}/metrics`);
    }
    if (!config.quiet && options.progress) {
      progress = new ProgressReporter({ stream: options.progress as NodeJS.WritableStream, intervalMs: options.progressIntervalMs ?? 1000, clock });
    }

    // received events are counted by the run (the managers are one for the whole fleet)
    const runMetrics = new FleetMetrics({ clock, bucketMs });
    const receivedKnown = target.cluster !== undefined;
    let received = 0;
    const readReceived = async (): Promise<number> => {
      if (!target.cluster) return 0;
      const r = await target.cluster.received().catch(() => received);
      if (r > received) {
        runMetrics.countReceived(r - received);
        received = r;
      }
      return received;
    };

    const runStartedAt = clock.now();
    const startMono = clock.monotonic();
    const elapsed = (): number => clock.monotonic() - startMono;
    runMetrics.start();
    try {
      for (const p of parts) await p.start(runStartedAt);
    } catch (err) {
      throw asLimitError(err, 'starting the fleet');
    }
    options.onStarted?.({ servers: target.servers, cluster: target.cluster });

    // progress, Prometheus and the received timeline, once per bucket
    let lastSent = 0;
    let lastAt = 0;
    let ticking = true;
    let tickTimer: ReturnType<Clock['setTimeout']> | undefined;
    let lastProgress: ProgressSnapshot | undefined;
    const snapshotNow = async (): Promise<ProgressSnapshot> => {
      const sum = sumProgress(
        await Promise.all(parts.map((p) => p.progress())),
        indexes.length,
        nodes,
      );
      const r = receivedKnown ? await readReceived() : null;
      const view = await readClusterView();
      if (view) sum.perNode = { ...view };
      const e = elapsed();
      const dt = (e - lastAt) / 1000;
      const eps = dt > 0 ? Math.max(0, (sum.eventsSent - lastSent) / dt) : 0;
      lastSent = sum.eventsSent;
      lastAt = e;
      prometheus?.update({ ...sum, eventsReceived: r });
      lastProgress = {
        elapsedMs: e,
        durationMs: config.durationMs,
        agents: indexes.length,
        connected: sum.connected,
        reconnecting: sum.reconnecting,
        eventsSent: sum.eventsSent,
        eventsReceived: r,
        eventsPerSec: eps,
        perNode: sum.perNode,
      };
      return lastProgress;
    };
    const tick = async (): Promise<void> => {
      tickTimer = undefined;
      if (!ticking) return;
      const snap = await snapshotNow();
      runMetrics.sample({ connected: 0, reconnecting: 0, perNode: clusterView ?? {} }, elapsed());
      progress?.update(snap);
      if (!ticking) return;
      const next = nextSample(elapsed(), bucketMs, lastBucket);
      lastBucket = next.bucket;
      tickTimer = clock.setTimeout(() => void tick(), next.delay);
    };
    progress?.update(await snapshotNow());
    progress?.start();
    let lastBucket = -1;
    {
      const first = nextSample(elapsed(), bucketMs, lastBucket);
      lastBucket = first.bucket;
      tickTimer = clock.setTimeout(() => void tick(), first.delay);
    }

    // the chaos schedule
    const chaos: SimulationChaosStep[] = options.chaos ?? config.chaos.map((c) => (c.action === 'rebalance' ? { action: 'rebalance', atMs: c.atMs } : { action: c.action, node: c.node!, atMs: c.atMs }));
    if (chaos.length > 0 && !target.cluster) throw new ToolError('chaos steps need an embedded cluster (--cluster N)', 'ERR_USAGE');
    let lastKilled: string | undefined;
    const inFlight = new Set<Promise<void>>();
    const chaosTimers: ReturnType<Clock['setTimeout']>[] = [];
    const runStep = async (step: SimulationChaosStep): Promise<void> => {
      const cluster = target.cluster!;
      const at = Math.round(elapsed());
      const event: ChaosEvent = { at, action: step.action };
      try {
        if (step.action === 'rebalance') {
          const r = await cluster.rebalance(options.rebalance ?? {});
          log(`chaos at ${(at / 1000).toFixed(1)}s: rebalance (${r.balanced ? 'already balanced' : `${r.moved} agents told to reconnect`})`);
        } else {
          let node = step.node;
          if (node === 'busiest') {
            const dist = await cluster.distribution();
            node = Object.entries(dist).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? nodes[0]!;
          } else if (node === 'last-killed') node = lastKilled ?? nodes[0]!;
          event.node = node;
          if (step.action === 'kill') {
            await cluster.kill(node);
            lastKilled = node;
          } else await cluster.restart(node);
          log(`chaos at ${(at / 1000).toFixed(1)}s: ${step.action} ${node}`);
        }
      } catch (err) {
        event.error = err instanceof Error ? err.message : String(err);
        log(`chaos at ${(at / 1000).toFixed(1)}s: ${step.action} failed: ${event.error}`);
      }
      chaosDone.push(event);
    };
    for (const step of chaos) {
      chaosTimers.push(
        clock.setTimeout(() => {
          const p = runStep(step).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }, step.atMs),
      );
    }

    // run until the duration passes or the signal aborts
    if (config.durationMs > 0) await sleep(config.durationMs, clock, signal);
    else await sleep(2_147_483_647, clock, signal);
    const interrupted = signal?.aborted === true;
    const eventsUntil = Math.min(elapsed(), config.durationMs > 0 ? config.durationMs : Infinity);
    for (const t of chaosTimers) clock.clearTimeout(t);
    await Promise.all(inFlight);

    // stop: no more events, drain, shutdown; then read what the managers got
    const atStop = await snapshotNow();
    const lbReport = target.lb ? await target.lb.report().catch(() => undefined) : undefined;
    const endView = clusterView;
    const drain = interrupted ? Math.min(config.drainMs, 2000) : config.drainMs;
    const stopped = await Promise.all(parts.map((p) => p.stop(drain, eventsUntil)));
    ticking = false;
    clock.clearTimeout(tickTimer);
    const totals = mergeTotals(stopped.map((s) => s.totals));

    let lost: number | null = null;
    if (receivedKnown) {
      // the managers may still be reading the last frames of the closed connections
      const floor = totals.eventsWritten - totals.eventsUnconfirmedOnLostConnections;
      const deadline = clock.monotonic() + 5000;
      let stableSince = clock.monotonic();
      let prev = await readReceived();
      while (prev < totals.eventsWritten && clock.monotonic() < deadline) {
        await sleep(50, clock, undefined);
        const r = await readReceived();
        if (r !== prev) stableSince = clock.monotonic();
        prev = r;
        if (r >= floor && clock.monotonic() - stableSince >= 500) break;
      }
      lost = totals.eventsSent - received - totals.eventsDropped;
      if (lost < 0) {
        problems.push(`the managers received ${-lost} more events than the agents sent (sent ${totals.eventsSent}, dropped ${totals.eventsDropped}, received ${received}): accounting error`);
        lost = 0;
      }
      runMetrics.countLost(lost);
    }
    runMetrics.sample({ connected: 0, reconnecting: 0, perNode: endView ?? {} }, Math.min(elapsed(), Math.max(0, eventsUntil + drain)));
    if (totals.eventsSent !== totals.eventsWritten + totals.eventsDropped) {
      problems.push(
        `the agents account for ${totals.eventsWritten + totals.eventsDropped} events (written ${totals.eventsWritten} + dropped ${totals.eventsDropped}) but ${totals.eventsSent} were generated`,
      );
    }
    const unconfirmed = totals.eventsUnconfirmedOnLostConnections;
    const lostExplained: Record<string, number> = {};
    if (lost !== null) lostExplained.inFlightOnLostConnections = Math.min(lost, unconfirmed);

    const limits = mergeLimits([totals.limits]);
    let limitError: ToolError | undefined;
    if (limits.length > 0) {
      const first = limits[0]!;
      limitError = new ToolError(`system limit hit ${first.count} times (${first.limit}): ${first.message}`, 'ERR_RESOURCE_LIMIT');
      problems.push(`${limitError.message} (${limitError.code})`);
    }
    if (totals.connectedEver === 0) {
      const [code, count] = Object.entries(totals.neverConnectedReasons).sort((a, b) => b[1] - a[1])[0] ?? ['ERR_CONNECT', totals.agents];
      const sample = totals.errorSamples[code];
      const where = target.servers.map((s) => `${s.address}:${s.port ?? 1514}`).join(', ');
      problems.push(
        `no agent connected within ${formatDuration(Math.round(eventsUntil))}: ${count} of ${totals.agents} failed with ${code}${sample ? ` (${sample})` : ''}; ` +
          (code.startsWith('ERR_ENROLLMENT')
            ? `check --enroll, --password-file and --groups against the manager's authd`
            : `check that the managers at ${where} are reachable and know the agent keys`),
      );
    }

    const merged = FleetMetrics.merge([runMetrics.snapshot(), ...stopped.map((s) => s.snapshot)]);
    if (lbNode !== undefined) {
      // the agents' view holds only the balancer: keep the cluster's per-node counts
      for (const p of merged.timeline) delete p.perNode[lbNode];
      if (endView) totals.distribution = { ...endView };
    }
    const report = createReport({
      metrics: merged,
      startedAt: runStartedAt,
      durationMs: Math.round(eventsUntil),
      config,
      shard: config.shard,
      agents: { total: indexes.length, connected: totals.connectedAtEnd, neverConnected: totals.neverConnected },
      distribution: totals.distribution,
      receivedKnown,
      lostExplained,
      chaos: chaosDone,
      limits,
    });
    if (lbReport) (report as FleetReport & { lb?: LbReport }).lb = lbReport;
    progress?.stop({ ...(lastProgress ?? atStop), elapsedMs: eventsUntil, eventsSent: totals.eventsSent, eventsReceived: receivedKnown ? received : null });
    progress = undefined;

    const reportPath = config.reportPath !== undefined ? resolve(cwd, config.reportPath) : undefined;
    const htmlPath = config.htmlPath !== undefined ? resolve(cwd, config.htmlPath) : undefined;
    if (reportPath) await writeOutput(reportPath, stringifyReport(report), '--report');
    if (htmlPath) await writeOutput(htmlPath, renderHtmlReport(report), '--html');
    return { report, totals, problems, limitError, interrupted, reportPath, htmlPath };
  } finally {
    progress?.stop();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

async function writeOutput(path: string, text: string, flag: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'write error';
    throw new ToolError(`${flag} '${path}': cannot write the file (${code})`, 'ERR_USAGE', { cause: err });
  }
}
