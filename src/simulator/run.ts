/**
 * One simulation run, end to end: resolve the target ({@link resolveTarget}), start the fleet (in
 * this process or over worker processes), run the chaos schedule ({@link ChaosRunner}), show
 * progress, stop with a drain, settle and reconcile the event counts exactly against the managers
 * ({@link settle}, {@link accountEvents}), and write the JSON and HTML reports.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { AbortError, DEFAULT_DELAY_AFTER_ENROLLMENT, ToolError, systemClock } from '../index.js';
import type { Clock, ServerOptions } from '../index.js';
import { ChaosRunner } from './chaos/runner.js';
import { needsFaultPaths } from './chaos/steps.js';
import type { ChaosStep } from './chaos/steps.js';
import type { EmbeddedCluster } from './cluster-host.js';
import { parseCompressionLevel, shardAgentIndexes } from './flags.js';
import type { SimulateConfig } from './flags.js';
import { Fleet } from './fleet.js';
import type { FleetClientOptions, FleetServer, FleetTotals } from './fleet-types.js';
import { effectiveConfig } from './effective-config.js';
import { loopDelayWarning } from './loop-delay.js';
import { TimeSeriesWriter } from './time-series.js';
import { chaosMarkers, renderHtmlReport } from './html.js';
import type { ChartMarker } from './charts.js';
import { autoSourceAddresses, simulatedIdentities } from './identities.js';
import { DEFAULT_TIMELINE_BUCKET_MS, FleetMetrics, nextSample } from './metrics.js';
import type { FleetEventCounts } from './metrics.js';
import { LocalPart, WorkerPart, mergeLimits, mergeTotals, sumProgress } from './parts.js';
import type { FleetPart } from './parts.js';
import { ProgressReporter } from './progress.js';
import type { ProgressSnapshot } from './progress.js';
import { LiveEndpoints } from './dashboard.js';
import { createReport, stringifyReport } from './report.js';
import type { LbReport } from './lb.js';
import type { FleetReport, LimitHit } from './report.js';
import { accountEvents, eventIdentityProblems, settle } from './settle.js';
import { CLUSTER_PROCESS_THRESHOLD, asLimitError, resolveTarget } from './target.js';
import type { RunTarget } from './target.js';
import type { WorkerSpec } from './worker.js';
import { workloadFactory } from './workloads.js';
import { parseThresholds } from './thresholds.js';
import type { Verdicts } from './thresholds.js';
import { checkOutputPaths, writeOutput } from './outputs.js';
import { START_AT_TOLERANCE_MS, formatDistance, sleep, waitUntil } from './start-at.js';
import { RunGuard, clampEps, connectDeadline, finalVerdicts, noConnectionProblem } from './verdicts.js';

export { CLUSTER_PROCESS_THRESHOLD } from './target.js';

/** A chaos step of {@link SimulateOptions.chaos}: the one {@link ChaosStep} union (this name is kept for compatibility). */
export type SimulationChaosStep = ChaosStep;

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
  /**
   * Aborting it ends the run early; the report is still written. Aborted during the wait for
   * `--start-at`, before any agent started, {@link simulate} throws an `AbortError` instead.
   */
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
   * Lines the user needs at once, even with `--quiet`: where the dashboard and the Prometheus
   * endpoint listen, and the warning when they listen beyond this machine.
   * @default `log`
   */
  notice?: (line: string) => void;
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
  /** Threshold expressions (`failover.p99<2s`); replace `config.thresholds` when given. */
  thresholds?: readonly string[];
  /** End the run when a threshold that can be judged during the run fails; replaces `config.abortOnFail` when given. */
  abortOnFail?: boolean;
  /** Chaos steps; replace `config.chaos` when given. */
  chaos?: readonly ChaosStep[];
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
  /** The thresholds' verdicts (also in `report.verdicts`), when thresholds were given. */
  verdicts: Verdicts | undefined;
}


/** Everything one run works with, fixed before the fleet starts. */
interface RunContext {
  config: SimulateConfig;
  cwd: string;
  clock: Clock;
  log: (line: string) => void;
  bucketMs: number;
  /** The agents of this shard. */
  indexes: readonly number[];
  /** Processes sharing them. */
  workers: number;
  target: RunTarget;
  /** Node names as reports show them (behind a balancer: the cluster's nodes). */
  nodes: string[];
  /** Milliseconds since the run started. */
  elapsed: () => number;
  /** Watches the live counts; ends the run early. */
  guard: RunGuard;
  /** `--out`: the per-second time series, written as the run goes. */
  series: TimeSeriesWriter | undefined;
}

/** Received events as the managers count them (only an embedded cluster counts), into the run's metrics. */
class ReceivedCounter {
  readonly known: boolean;
  value = 0;
  readonly #cluster: EmbeddedCluster | undefined;
  readonly #metrics: FleetMetrics;

  constructor(cluster: EmbeddedCluster | undefined, metrics: FleetMetrics) {
    this.#cluster = cluster;
    this.known = cluster !== undefined;
    this.#metrics = metrics;
  }

  /**
   * @param atMs - the timeline time the new events are counted at (the bucket a tick samples); now when omitted.
   */
  async read(atMs?: number): Promise<number> {
    if (!this.#cluster) return 0;
    const r = await this.#cluster.received().catch(() => this.value);
    if (r > this.value) {
      this.#metrics.countReceived(r - this.value, atMs);
      this.value = r;
    }
    return this.value;
  }
}

/** Progress, the live endpoints (Prometheus, dashboard) and the received timeline, sampled once per timeline bucket. */
class RunTicker {
  readonly #ctx: RunContext;
  readonly #parts: readonly FleetPart[];
  readonly #received: ReceivedCounter;
  readonly #metrics: FleetMetrics;
  readonly #live: LiveEndpoints;
  readonly #markers: () => ChartMarker[];
  readonly #progress: ProgressReporter | undefined;
  #lastGenerated = 0;
  #lastAt = 0;
  #lastBucket = -1;
  #ticking = false;
  #timer: ReturnType<Clock['setTimeout']> | undefined;
  /** The last snapshot shown. */
  last: ProgressSnapshot | undefined;
  /** Agents per node as the cluster sees them (behind a balancer). */
  clusterView: Record<string, number> | undefined;

  constructor(
    ctx: RunContext,
    parts: readonly FleetPart[],
    received: ReceivedCounter,
    metrics: FleetMetrics,
    live: LiveEndpoints,
    progress: ProgressReporter | undefined,
    markers: () => ChartMarker[],
  ) {
    this.#ctx = ctx;
    this.#parts = parts;
    this.#received = received;
    this.#metrics = metrics;
    this.#live = live;
    this.#markers = markers;
    this.#progress = progress;
  }

  /**
   * Reads the parts' progress and the managers' count, and publishes them.
   *
   * @param bucket - the timeline bucket that just ended, for a tick: what the managers received
   *   since the last tick is counted in it, and the `--out` line is written for it (`t` its start).
   */
  async snapshot(bucket?: number): Promise<ProgressSnapshot> {
    const ctx = this.#ctx;
    const bucketStart = bucket === undefined ? undefined : bucket * ctx.bucketMs;
    const each = await Promise.all(this.#parts.map((p) => p.progress()));
    const sum = sumProgress(each, ctx.indexes.length, ctx.nodes);
    const r = this.#received.known ? await this.#received.read(bucketStart) : null;
    ctx.guard.observe(sum, r, ctx.elapsed());
    if (ctx.target.lb && ctx.target.cluster) {
      this.clusterView = await ctx.target.cluster.distribution().catch(() => this.clusterView);
      if (this.clusterView) sum.perNode = { ...this.clusterView };
    }
    const e = ctx.elapsed();
    // the rate over the interval since the previous tick (the bucket that just ended, for a tick)
    const dt = (e - this.#lastAt) / 1000;
    const eps = dt > 0 ? Math.max(0, (sum.eventsGenerated - this.#lastGenerated) / dt) : 0;
    if (bucketStart !== undefined) {
      this.#lastGenerated = sum.eventsGenerated;
      this.#lastAt = e;
    }
    // a tick's sample is the state at the end of its bucket: the dashboard draws it there, so its
    // rates cover exactly the report's bucket, whatever the timer's lateness
    this.#live.update(bucketStart !== undefined ? bucketStart + ctx.bucketMs : e, sum, each, r, this.#markers());
    this.last = {
      elapsedMs: e,
      durationMs: ctx.config.durationMs,
      agents: ctx.indexes.length,
      connected: sum.connected,
      reconnecting: sum.reconnecting,
      ...progressEvents(sum),
      eventsReceived: r,
      eventsPerSec: eps,
      perNode: sum.perNode,
    };
    if (bucketStart !== undefined) ctx.series?.write(this.last, bucketStart);
    return this.last;
  }

  async start(): Promise<void> {
    this.#ticking = true;
    this.#progress?.update(await this.snapshot());
    this.#progress?.start();
    this.#schedule();
  }

  stop(): void {
    this.#ticking = false;
    this.#ctx.clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    const next = nextSample(this.#ctx.elapsed(), this.#ctx.bucketMs, this.#lastBucket);
    this.#lastBucket = next.bucket;
    this.#timer = this.#ctx.clock.setTimeout(() => void this.#tick(), next.delay);
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#ticking) return;
    const bucket = this.#lastBucket;
    const snap = await this.snapshot(bucket);
    this.#metrics.sample({ connected: 0, reconnecting: 0, perNode: this.clusterView ?? {} }, bucket * this.#ctx.bucketMs);
    this.#progress?.update(snap);
    if (this.#ticking) this.#schedule();
  }
}

/** The fleet: in this process, or split over worker processes by position. */
async function createParts(ctx: RunContext, onLimit: (hit: LimitHit) => void, cleanups: (() => Promise<unknown>)[]): Promise<FleetPart[]> {
  const { config, target, indexes, workers, cwd, clock, bucketMs } = ctx;
  const perProcess = Math.ceil(indexes.length / workers);
  const sourceAddresses = config.sourceIps > 0 ? config.sourceIps : target.loopback ? autoSourceAddresses(perProcess) : 0;
  if (config.sourceIps === 0 && sourceAddresses > 0) ctx.log(`spreading source addresses over 127.0.0.1..127.0.0.${sourceAddresses} (${perProcess} agents per process)`);
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
      ...(config.stages ? { stages: config.stages } : {}),
      ...(config.durationMs > 0 ? { eventsUntil: config.durationMs } : {}),
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
    return parts;
  }
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
      ...(config.stages ? { stages: config.stages } : {}),
      ...(config.durationMs > 0 ? { eventsUntil: config.durationMs } : {}),
      workload: config.workload,
      cwd,
      seed: config.seed,
      sourceAddresses,
      balanced: target.lb !== undefined,
      bucketMs,
    });
  }
  ctx.log(`${workers} worker processes share ${indexes.length} agents`);
  return parts;
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** The event counts the progress display, `--out` and the final line show. */
function progressEvents(c: FleetEventCounts): Pick<ProgressSnapshot, 'eventsGenerated' | 'eventsAccepted' | 'eventsWritten' | 'eventsDropped'> {
  return { eventsGenerated: c.eventsGenerated, eventsAccepted: c.eventsAccepted, eventsWritten: c.eventsWritten, eventsDropped: c.eventsDropped };
}

/** The problems that make a finished run a failure, from its totals. */
function runProblems(ctx: RunContext, totals: FleetTotals, eventsUntil: number): { problems: string[]; limitError: ToolError | undefined } {
  const problems: string[] = [];
  problems.push(...eventIdentityProblems(totals));
  let limitError: ToolError | undefined;
  const limits = mergeLimits([totals.limits]);
  if (limits.length > 0) {
    const first = limits[0]!;
    limitError = new ToolError(`system limit hit ${first.count} times (${first.limit}): ${first.message}`, 'ERR_RESOURCE_LIMIT');
    problems.push(`${limitError.message} (${limitError.code})`);
  }
  if (totals.connectedEver === 0) {
    const servers = ctx.target.servers.map((s) => `${s.address}:${s.port ?? 1514}`);
    const failedFast = ctx.guard.failedFastAfterMs;
    problems.push(noConnectionProblem(totals, { text: formatDuration(Math.round(failedFast ?? eventsUntil)), deadline: failedFast !== undefined }, servers));
  }
  return { problems, limitError };
}

/**
 * `--start-at`: waits, once everything but the agents is ready, until the planned start; a run
 * ready only after it starts at once, with a warning when it is late by more than the tolerance.
 *
 * @throws {@link agentlink!AbortError} when the signal aborts the wait (no agent started, no report).
 */
async function waitForStart(
  at: number,
  run: { clock: Clock; signal: AbortSignal | undefined; notice: (line: string) => void; warn: (line: string) => void },
): Promise<void> {
  const planned = new Date(at).toISOString();
  const lead = at - run.clock.now();
  if (lead > 0) {
    run.notice(`waiting until ${planned} (in ${formatDistance(lead)}) to start the agents (--start-at)`);
    if (!(await waitUntil(at, run.clock, run.signal))) {
      run.notice('interrupted while waiting for --start-at: no agent was started, no report written');
      throw new AbortError(`interrupted while waiting for --start-at ${planned}`, { cause: run.signal?.reason });
    }
  } else if (-lead > START_AT_TOLERANCE_MS) {
    run.warn(`the run was ready only ${formatDistance(-lead)} after --start-at ${planned} and started at once, that much late`);
  }
}

/**
 * Runs one simulation (or one shard of it) and writes its reports.
 *
 * @param flags - the parsed `simulate` flags.
 * @param options - streams, signal, and programmatic extras (chaos steps, short timers).
 * @returns the report, the fleet's totals, and the problems that make the run a failure.
 * @throws {@link agentlink!AbortError} when the signal aborts the wait for `--start-at` (no agent was started, no report is written).
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for bad input found before the run (unreadable files, a compression level outside 0 to 9,
 *   too few keys, a bad workload, chaos without an embedded cluster) and `ERR_RESOURCE_LIMIT` when the
 *   cluster cannot even start; `ConfigError` for a bad ossec.conf.
 */
export async function simulate(flags: SimulateConfig, options: SimulateOptions = {}): Promise<SimulationResult> {
  let config: SimulateConfig = {
    ...flags,
    ...(options.thresholds ? { thresholds: parseThresholds(options.thresholds) } : {}),
    ...(options.abortOnFail !== undefined ? { abortOnFail: options.abortOnFail } : {}),
  };
  const cwd = options.cwd ?? process.cwd();
  const clock = options.clock ?? systemClock;
  const log = options.log ?? ((): void => {});
  const notice = options.notice ?? log;
  const signal = options.signal;
  const indexes = shardAgentIndexes(config.agents, config.shard);
  const steps = options.chaos ?? config.chaos;

  // fail on bad input before anything starts
  const reportPath = config.reportPath !== undefined ? resolve(cwd, config.reportPath) : undefined;
  const htmlPath = config.htmlPath !== undefined ? resolve(cwd, config.htmlPath) : undefined;
  const outPath = config.outPath !== undefined ? resolve(cwd, config.outPath) : undefined;
  await checkOutputPaths([
    ...(outPath ? [{ flag: '--out', path: outPath }] : []),
    ...(reportPath ? [{ flag: '--report', path: reportPath }] : []),
    ...(htmlPath ? [{ flag: '--html', path: htmlPath }] : []),
  ]);
  workloadFactory(config.workload, { cwd });
  if (config.compressionLevel !== undefined) parseCompressionLevel(config.compressionLevel);
  if (steps.length > 0 && config.target.kind !== 'cluster') throw new ToolError('chaos steps need an embedded cluster (--cluster N)', 'ERR_USAGE');

  const target = await resolveTarget(config, { ...options, faultPaths: needsFaultPaths(steps) }, indexes, cwd, log);
  // what makes the numbers less than they seem: in the report, and on the terminal as it is found
  const warnings: string[] = [];
  const warn = (line: string): void => {
    warnings.push(line);
    log(line);
  };
  const runId = config.runId ?? randomUUID();
  const clamped = clampEps(config.eps, target.client.buffer);
  if (clamped.warning !== undefined) {
    warn(clamped.warning);
    config = { ...config, eps: clamped.eps };
  }
  const cleanups: (() => Promise<unknown>)[] = [];
  if (target.cluster) cleanups.push(() => target.cluster!.close());
  if (target.lb) cleanups.push(() => target.lb!.stop());
  let startMono = clock.monotonic();
  const ctx: RunContext = {
    config,
    cwd,
    clock,
    log,
    bucketMs: options.bucketMs ?? DEFAULT_TIMELINE_BUCKET_MS,
    indexes,
    workers: Math.max(1, Math.min(config.workers, indexes.length)),
    target,
    // behind a balancer the agents see one server; agents per node come from the cluster's view
    nodes: target.lb ? [...target.lb.nodes] : [...new Set(target.servers.map((s) => s.node ?? `${s.address}:${s.port ?? 1514}`))],
    elapsed: () => clock.monotonic() - startMono,
    series: undefined,
    guard: new RunGuard(config, connectDeadline(config.connectDeadlineMs, target.client.enrollment, DEFAULT_DELAY_AFTER_ENROLLMENT), signal),
  };
  let progress: ProgressReporter | undefined;
  try {
    if (outPath) {
      const series = new TimeSeriesWriter(outPath, log);
      ctx.series = series;
      cleanups.push(async () => series.close());
    }
    const effective = effectiveConfig(config, target, steps);
    const chaos =
      steps.length > 0
        ? new ChaosRunner({ target: target.cluster!, steps, clock, elapsed: ctx.elapsed, seed: config.seed, ...(options.rebalance ? { rebalance: options.rebalance } : {}), log })
        : undefined;
    const limitsSeen = new Set<string>();
    const parts = await createParts(
      ctx,
      (hit) => {
        if (limitsSeen.has(hit.limit)) return;
        limitsSeen.add(hit.limit);
        log(`limit hit: ${hit.message}`);
      },
      cleanups,
    );
    const live = await LiveEndpoints.start(config, notice);
    cleanups.push(() => live.close());
    if (!config.quiet && options.progress) {
      progress = new ProgressReporter({ stream: options.progress as NodeJS.WritableStream, intervalMs: options.progressIntervalMs ?? 1000, clock });
    }
    // received events are counted by the run (the managers are one for the whole fleet)
    const runMetrics = new FleetMetrics({ clock, bucketMs: ctx.bucketMs });
    const received = new ReceivedCounter(target.cluster, runMetrics);

    if (config.startAt !== undefined) await waitForStart(config.startAt, { clock, signal, notice, warn });
    const runStartedAt = clock.now();
    startMono = clock.monotonic();
    runMetrics.start();
    try {
      for (const p of parts) await p.start(runStartedAt);
    } catch (err) {
      throw asLimitError(err, 'starting the fleet');
    }
    options.onStarted?.({ servers: target.servers, cluster: target.cluster });
    const ticker = new RunTicker(ctx, parts, received, runMetrics, live, progress, () => chaosMarkers(chaos?.events ?? []));
    await ticker.start();
    chaos?.start();

    // run until the duration passes or the signal aborts
    await sleep(clock, config.durationMs > 0 ? config.durationMs : 2_147_483_647, ctx.guard.signal);
    const interrupted = signal?.aborted === true;
    const eventsUntil = Math.min(ctx.elapsed(), config.durationMs > 0 ? config.durationMs : Infinity);
    await chaos?.stop();

    // stop: no more events, drain, shutdown; then settle and count what the managers got
    const atStop = await ticker.snapshot();
    const lbReport = target.lb ? await target.lb.report().catch(() => undefined) : undefined;
    const endView = ticker.clusterView;
    const drain = interrupted ? Math.min(config.drainMs, 2000) : config.drainMs;
    const stopped = await Promise.all(parts.map((p) => p.stop(drain, eventsUntil)));
    ticker.stop();
    const totals = mergeTotals(stopped.map((s) => s.totals));
    const { problems, limitError } = runProblems(ctx, totals, eventsUntil);
    const stalled = loopDelayWarning(totals.loopDelay, effective.timeReconnectMs);
    if (stalled !== undefined) warn(stalled);

    let lost: number | null = null;
    if (received.known) {
      // the managers may still be reading the last frames of the closed connections
      const floor = totals.eventsWritten - totals.eventsUnconfirmedOnLostConnections;
      await settle({
        read: () => received.read(),
        enough: (r) => r >= totals.eventsWritten,
        steady: (r, prev) => r >= floor && r === prev,
        quietMs: 500,
        timeoutMs: 5000,
        clock,
      });
      const account = accountEvents([
        { generated: totals.eventsGenerated, written: totals.eventsWritten, dropped: totals.eventsDropped, unconfirmed: totals.eventsUnconfirmedOnLostConnections, received: received.value },
      ]);
      lost = account.lost;
      if (lost < 0) {
        problems.unshift(`the managers received ${-lost} more events than the agents wrote (written ${account.written}, received ${account.received}): accounting error`);
        lost = 0;
      }
      runMetrics.countLost(lost);
    }
    runMetrics.sample({ connected: 0, reconnecting: 0, perNode: endView ?? {} }, Math.min(ctx.elapsed(), Math.max(0, eventsUntil + drain)));
    const lostExplained: Record<string, number> = {};
    if (lost !== null) lostExplained.inFlightOnLostConnections = Math.min(lost, totals.eventsUnconfirmedOnLostConnections);

    const merged = FleetMetrics.merge([runMetrics.snapshot(), ...stopped.map((s) => s.snapshot)]);
    const lbNode = target.lb ? config.lb : undefined;
    if (lbNode !== undefined) {
      // the agents' view holds only the balancer: keep the cluster's per-node counts
      for (const p of merged.timeline) delete p.perNode[lbNode];
      if (endView) totals.distribution = { ...endView };
    }
    const report = createReport({
      metrics: merged,
      startedAt: runStartedAt,
      durationMs: Math.round(eventsUntil),
      config: effective,
      shard: config.shard,
      agents: { total: indexes.length, connected: totals.connectedAtEnd, neverConnected: totals.neverConnected },
      distribution: totals.distribution,
      receivedKnown: received.known,
      lostExplained,
      chaos: chaos ? [...chaos.events] : [],
      limits: mergeLimits([totals.limits]),
      loopDelay: totals.loopDelay,
      errors: totals.errors,
      warnings,
      runId,
      ...(config.startAt !== undefined ? { plannedStartAt: config.startAt } : {}),
    });
    if (lbReport) (report as FleetReport & { lb?: LbReport }).lb = lbReport;
    const verdicts = finalVerdicts(report, config, ctx.guard);
    progress?.stop({ ...(ticker.last ?? atStop), elapsedMs: eventsUntil, ...progressEvents(totals), eventsReceived: received.known ? received.value : null });
    progress = undefined;

    if (reportPath) await writeOutput({ flag: '--report', path: reportPath }, stringifyReport(report));
    if (htmlPath) await writeOutput({ flag: '--html', path: htmlPath }, renderHtmlReport(report));
    live.finish(report);
    return { report, totals, problems, limitError, interrupted, reportPath, htmlPath, verdicts };
  } finally {
    progress?.stop();
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}
