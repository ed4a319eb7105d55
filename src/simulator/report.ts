/**
 * The fleet report (`--report out.json`): what a run did, in one JSON document that also carries
 * the raw histograms, so that the reports of several shards merge into exactly the report one run
 * over all their agents would have written ({@link mergeReports}).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../errors.js';
import { FleetMetrics, HISTOGRAM_NAMES, LatencyHistogram, TIMELINE_COUNTS } from './metrics.js';
import type { SimulateConfig } from './flags.js';
import type { FleetCounters, HistogramName, LatencySummary, MetricsSnapshot, TimelinePoint } from './metrics.js';
import type { ChaosAction } from './chaos/steps.js';
import type { EffectiveConfig } from './effective-config.js';
import type { Verdicts } from './thresholds.js';
import { DROP_WARNING_PATTERN, dropWarning } from './verdicts.js';
import { formatDistance } from './start-at.js';
import { mergeLoopDelays } from './loop-delay.js';
import type { LoopDelay } from './loop-delay.js';

/** The `format` tag of every fleet report; the number changes when the layout changes incompatibly. */
export const REPORT_FORMAT = 'agentlink-fleet-report/2';

/** A chaos action that happened during the run. */
export interface ChaosEvent {
  /** When, in milliseconds since the start of the run. */
  at: number;
  /** What was done: `kill`, `restart`, `blackhole`, `rebalance`, ... (a {@link ChaosAction}). */
  action: string;
  /** The node acted on, or the node behind the path (absent for fleet-wide actions such as `rebalance`). */
  node?: string;
  /** What it did: `down 5000 ms`, `300 ms for 2000 ms`, `12 connections`, `25 agents picked, 25 told`. */
  detail?: string;
  /** Set when the step could not apply then and did nothing: why (`already down`, `the last node up`). */
  skipped?: string;
  /** Set when the action failed: why. */
  error?: string;
  /**
   * `add` and `remove`: connected agents per node just before the step, and once as many agents
   * were connected again (after `settledMs`).
   */
  balance?: { before: Record<string, number>; after: Record<string, number>; settledMs: number };
  /** `kill`: agents connected to the node just before it was killed (each of them has to fail over). */
  connected?: number;
}

/**
 * One line for a chaos step as it ran: `kill node1 (down 5000 ms)`, `hang node2 (skipped: node down
 * or hung)`, `restart node1 (failed: ...)`.
 *
 * @param c - the step's record.
 * @param short - leave out the detail and say only `(skipped)` or `(failed)` (chart labels).
 * @returns the text.
 */
export function describeChaosEvent(c: ChaosEvent, short = false): string {
  const what = `${c.action}${c.node ? ` ${c.node}` : ''}`;
  if (c.error !== undefined) return short ? `${what} (failed)` : `${what} (failed: ${c.error})`;
  if (c.skipped !== undefined) return short ? `${what} (skipped)` : `${what} (skipped: ${c.skipped})`;
  return c.detail !== undefined && !short ? `${what} (${c.detail})` : what;
}

/** A system limit the run ran into. */
export interface LimitHit {
  /** Which limit: `open-files`, `ephemeral-ports`, `memory`, ... */
  limit: string;
  /** How many times it was hit. */
  count: number;
  /** What happened and what to change (`raise ulimit -n above 10240`). */
  message: string;
}

/** Which part of a fleet a report covers. */
export interface ShardInfo {
  /** This shard's number, 1-based (1 for an unsharded run). */
  index: number;
  /** How many shards the fleet was split into (1 for an unsharded run). */
  count: number;
}

/** The JSON document `agentlink simulate --report` writes. Times in milliseconds. */
export interface FleetReport {
  /** Always {@link REPORT_FORMAT}. */
  format: typeof REPORT_FORMAT;
  /** agentlink version that wrote the report. */
  version: string;
  /** When the run started (ISO 8601); for a merged report, the earliest start. */
  startedAt: string;
  /**
   * With `--start-at`: the planned start (ISO 8601), which `startedAt`, the actual start, follows by
   * the timer's delay (or by more, when the run was ready only after it). For a merged report, the
   * earliest shard's.
   */
  plannedStartAt?: string;
  /**
   * How far apart the shards this report covers really started: the latest actual start minus the
   * earliest (0 in the report of one run or shard); above a second a merged report gets a warning.
   * A threshold can judge it: `agentlink report merge --threshold startSkew<500ms`.
   */
  startSkewMs: number;
  /** How long the run lasted; for a merged report, the longest shard. */
  durationMs: number;
  /**
   * The run's id (`--run-id`, random by default): the shards of one fleet share it, and
   * `agentlink report merge` refuses reports of different runs. Empty in reports written before it existed.
   */
  runId: string;
  /** The part of the fleet this report covers. */
  shard: ShardInfo;
  /** Shard numbers included: `[index]` for one run, all merged numbers for a merged report. */
  shards: number[];
  /** The run's effective settings ({@link EffectiveConfig}: the flags after the ossec.conf, the defaults and the programmatic options). For a merged report, the first input's. */
  config: Record<string, unknown>;
  /** Agent counts at the end of the run. */
  agents: {
    /** Agents in the fleet (this shard). */
    total: number;
    /** Agents connected at the end. */
    connected: number;
    /** Agents that never got a startup ACK. */
    neverConnected: number;
  };
  /**
   * Event counts. They add up (the run fails when they do not): `generated = accepted + droppedBy.refused`,
   * `accepted = written + droppedBy.evicted + droppedBy.cleared + droppedBy.unwritable`, so
   * `generated = written + dropped`; and with agentlink's managers `lost = written - received`, never negative.
   */
  events: {
    /** Events the workload generated (`sendEvent` calls). */
    generated: number;
    /** Events the agents' client buffers accepted. */
    accepted: number;
    /** Events written to the wire (each once; retransmissions not counted). */
    written: number;
    /** Events dropped without being written, every reason (the sum of `droppedBy`). */
    dropped: number;
    /** Dropped events by reason. */
    droppedBy: {
      /** Refused by a full buffer (or by an agent that had stopped): never accepted. */
      refused: number;
      /** Accepted, then pushed out of a full buffer by a newer event (`drop-oldest`). */
      evicted: number;
      /** Accepted, still queued at the drain deadline when the agent stopped. */
      cleared: number;
      /** Accepted, but too large to encode. */
      unwritable: number;
    };
    /** Events the managers received; `null` when the managers are not agentlink's. */
    received: number | null;
    /** Events written but not received (`written - received`); `null` when `received` is unknown. */
    lost: number | null;
  };
  /** First-connection latency (attempt start to startup ACK). */
  connect: LatencySummary;
  /** TCP connect latency. */
  tcpConnect: LatencySummary;
  /** Disconnect to startup ACK on another server, per agent and occurrence. */
  failover: LatencySummary;
  /** Keepalive to ACK, from the time each keepalive was due (a slow manager or a late agent timer shows here). */
  ackLatency: LatencySummary;
  /** Reconnections: `total`, and the disconnect-to-ACK latency on any server. */
  reconnects: LatencySummary & { total: number };
  /** Failed connection attempts. */
  connectFailures: number;
  /** Errors the agents emitted, by code (`ERR_CONNECT`, `ERR_SERVER_SILENT`, ...): failed attempts, lost connections, bad messages. */
  errors: Record<string, number>;
  /** Connected agents per node at the end. */
  distribution: Record<string, number>;
  /** Width of one {@link FleetReport.timeline} bucket. */
  timelineBucketMs: number;
  /** Connected agents, events and agents per node over time. */
  timeline: TimelinePoint[];
  /**
   * Why events were lost, by cause (`inFlightOnKilledConnections`, `droppedByBuffer`, ...);
   * `unexplained` holds what the causes do not cover.
   */
  lostExplained: Record<string, number>;
  /** The chaos actions, in time order. */
  chaos: ChaosEvent[];
  /** System limits hit during the run. */
  limits: { hit: LimitHit[] };
  /**
   * How late the simulator's own event loop ran (the worst of its processes): agent timers run on
   * it, so a late loop shows up as slow managers or as lost connections that are the simulator's.
   * Zeros in reports written before it was measured.
   */
  loopDelay: LoopDelay;
  /** Raw histograms (HdrHistogram V2 compressed base64, microseconds), for merging. */
  histograms: { unit: 'us' } & Record<HistogramName, string>;
  /**
   * What makes the numbers less than they seem, one sentence each: most events dropped by the
   * buffers, `--eps` clamped to the buffer's rate.
   */
  warnings: string[];
  /** The `--threshold` verdicts, when thresholds were given (to `simulate`, or to `report merge` for a merged report). */
  verdicts?: Verdicts;
}

/** What the fleet knows at the end of a run, for {@link createReport}. */
export interface ReportInput {
  /** The fleet's metrics (or a merged snapshot of its workers' metrics). */
  metrics: FleetMetrics | MetricsSnapshot;
  /** Wall-clock start of the run, in milliseconds since the epoch. */
  startedAt: number;
  /** With `--start-at`: the planned start, in milliseconds since the epoch. */
  plannedStartAt?: number;
  /** Run length in milliseconds. */
  durationMs: number;
  /** The run's settings (usually the {@link SimulateConfig}); must be JSON-serialisable. */
  config: object;
  /**
   * The part of the fleet this run covers.
   * @default { index: 1, count: 1 }
   */
  shard?: ShardInfo;
  /** Agents in the fleet, and how many are connected at the end. */
  agents: { total: number; connected: number; neverConnected?: number };
  /** Connected agents per node at the end. */
  distribution: Record<string, number>;
  /**
   * Whether the managers' received counts are known (mock managers run by agentlink).
   * @default true
   */
  receivedKnown?: boolean;
  /** Causes of lost events; the rest of `counters.eventsLost` is reported as `unexplained`. */
  lostExplained?: Record<string, number>;
  /** Chaos actions done. */
  chaos?: ChaosEvent[];
  /** System limits hit. */
  limits?: LimitHit[];
  /** How late the simulator's event loop ran (see {@link FleetReport.loopDelay}); zeros when not given. */
  loopDelay?: LoopDelay;
  /** Errors the agents emitted, by code. */
  errors?: Record<string, number>;
  /** Warnings about the run (see {@link FleetReport.warnings}); a warning for dropped events is added from the counts. */
  warnings?: string[];
  /**
   * The run's id; shards of one fleet share it.
   * @default '' (unknown)
   */
  runId?: string;
}

let cachedVersion: string | undefined;

/**
 * The installed agentlink version, read once from its package.json.
 *
 * @returns the version, or `0.0.0-unknown` when package.json cannot be found.
 */
export function agentlinkVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0-unknown';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'agentlink' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return cachedVersion;
}

function toSnapshot(m: FleetMetrics | MetricsSnapshot): MetricsSnapshot {
  return m instanceof FleetMetrics ? m.snapshot() : m;
}

function summaries(snapshot: MetricsSnapshot): Record<HistogramName, LatencySummary> {
  const out = {} as Record<HistogramName, LatencySummary>;
  for (const name of HISTOGRAM_NAMES) out[name] = LatencyHistogram.decode(snapshot.histograms[name] ?? '', `histograms.${name}`).summary();
  return out;
}

function explainLost(lost: number | null, causes: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let explained = 0;
  for (const [cause, n] of Object.entries(causes)) {
    if (cause === 'unexplained' || !Number.isFinite(n)) continue;
    out[cause] = n;
    explained += n;
  }
  out.unexplained = lost === null ? 0 : Math.max(0, lost - explained);
  return out;
}

function build(
  base: Pick<
    FleetReport,
    'version' | 'runId' | 'startedAt' | 'plannedStartAt' | 'startSkewMs' | 'durationMs' | 'shard' | 'shards' | 'config' | 'chaos' | 'distribution' | 'errors' | 'warnings'
  > & {
    agents: FleetReport['agents'];
    receivedKnown: boolean;
    lostExplained: Record<string, number>;
    limits: LimitHit[];
    loopDelay: LoopDelay;
  },
  snapshot: MetricsSnapshot,
): FleetReport {
  const c: FleetCounters = snapshot.counters;
  const s = summaries(snapshot);
  const lost = base.receivedKnown ? c.eventsLost : null;
  return {
    format: REPORT_FORMAT,
    version: base.version,
    runId: base.runId,
    startedAt: base.startedAt,
    ...(base.plannedStartAt !== undefined ? { plannedStartAt: base.plannedStartAt } : {}),
    startSkewMs: base.startSkewMs,
    durationMs: base.durationMs,
    shard: base.shard,
    shards: base.shards,
    config: base.config,
    agents: base.agents,
    events: {
      generated: c.eventsGenerated,
      accepted: c.eventsAccepted,
      written: c.eventsWritten,
      dropped: c.eventsDropped,
      droppedBy: { refused: c.eventsRefused, evicted: c.eventsEvicted, cleared: c.eventsCleared, unwritable: c.eventsUnwritable },
      received: base.receivedKnown ? c.eventsReceived : null,
      lost,
    },
    connect: s.connect,
    tcpConnect: s.tcpConnect,
    failover: s.failover,
    ackLatency: s.ackLatency,
    reconnects: { total: c.reconnects, ...s.reconnect },
    connectFailures: c.connectFailures,
    errors: Object.fromEntries(Object.entries(base.errors).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    distribution: base.distribution,
    timelineBucketMs: snapshot.bucketMs,
    timeline: snapshot.timeline,
    lostExplained: explainLost(lost, base.lostExplained),
    chaos: [...base.chaos].sort((a, b) => a.at - b.at),
    limits: { hit: base.limits },
    loopDelay: { ...base.loopDelay },
    warnings: withDropWarning(base.warnings, c),
    histograms: { unit: 'us', ...snapshot.histograms },
  };
}

/**
 * Builds the report of one run (or one shard) from its metrics and end state.
 *
 * @param input - metrics, times, settings and end state.
 * @returns the report; percentiles are computed from the histograms.
 */
export function createReport(input: ReportInput): FleetReport {
  const shard = input.shard ?? { index: 1, count: 1 };
  return build(
    {
      version: agentlinkVersion(),
      runId: input.runId ?? '',
      errors: { ...input.errors },
      warnings: input.warnings ?? [],
      startedAt: new Date(input.startedAt).toISOString(),
      ...(input.plannedStartAt !== undefined ? { plannedStartAt: new Date(input.plannedStartAt).toISOString() } : {}),
      startSkewMs: 0,
      durationMs: input.durationMs,
      shard: { ...shard },
      shards: [shard.index],
      config: JSON.parse(JSON.stringify(input.config)) as Record<string, unknown>,
      chaos: input.chaos ?? [],
      distribution: { ...input.distribution },
      agents: {
        total: input.agents.total,
        connected: input.agents.connected,
        neverConnected: input.agents.neverConnected ?? 0,
      },
      receivedKnown: input.receivedKnown ?? true,
      lostExplained: input.lostExplained ?? {},
      limits: input.limits ?? [],
      loopDelay: input.loopDelay ?? { p50Ms: 0, p99Ms: 0, maxMs: 0 },
    },
    toSnapshot(input.metrics),
  );
}

function reportSnapshot(r: FleetReport): MetricsSnapshot {
  return {
    counters: {
      eventsGenerated: r.events.generated,
      eventsAccepted: r.events.accepted,
      eventsWritten: r.events.written,
      eventsDropped: r.events.dropped,
      eventsRefused: r.events.droppedBy.refused,
      eventsEvicted: r.events.droppedBy.evicted,
      eventsCleared: r.events.droppedBy.cleared,
      eventsUnwritable: r.events.droppedBy.unwritable,
      eventsReceived: r.events.received ?? 0,
      eventsLost: r.events.lost ?? 0,
      reconnects: r.reconnects.total,
      connectFailures: r.connectFailures,
    },
    histograms: {
      connect: r.histograms.connect,
      tcpConnect: r.histograms.tcpConnect,
      failover: r.histograms.failover,
      reconnect: r.histograms.reconnect,
      // reports written before ackLatency existed have none
      ackLatency: r.histograms.ackLatency ?? '',
    },
    bucketMs: r.timelineBucketMs,
    timeline: r.timeline,
  };
}

/**
 * The warnings, each once, with the one `pattern` matches recomputed: the old one (from a shard, or
 * a merged report merged again) replaced by `fresh`, first, or dropped when there is none now.
 */
function withRecomputed(warnings: readonly string[], pattern: RegExp, fresh: string | undefined): string[] {
  const kept = warnings.filter((w) => !pattern.test(w));
  return [...new Set(fresh !== undefined ? [fresh, ...kept] : kept)];
}

/** The warnings, each once, with the one for dropped events recomputed from the counts. */
function withDropWarning(warnings: readonly string[], c: FleetCounters): string[] {
  return withRecomputed(warnings, DROP_WARNING_PATTERN, dropWarning({ generated: c.eventsGenerated, dropped: c.eventsDropped }));
}

function sumRecords(records: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Start skew above which a merged report gets a warning, in milliseconds. */
export const START_SKEW_WARNING_MS = 1_000;

/** Matches the warning of {@link withSkewWarning} (recomputed when merged reports merge again). */
const SKEW_WARNING_PATTERN = /^the shards started .* apart \(startSkewMs\)/;

/**
 * When the shards of reports really started: the earliest start, the earliest planned one, and the
 * skew (latest start minus earliest). A merged input stands for starts from its `startedAt` to
 * `startedAt + startSkewMs`, so merging merged reports gives the skew of all their shards.
 */
function shardStarts(reports: readonly FleetReport[]): { first: string; planned?: string; skewMs: number } {
  // parseReport checks the times; a report built by hand with a bad one is left out
  const timed = reports.filter((r) => Number.isFinite(Date.parse(r.startedAt)));
  if (timed.length === 0) return { first: reports[0]!.startedAt, skewMs: 0 };
  const from = Math.min(...timed.map((r) => Date.parse(r.startedAt)));
  const to = Math.max(...timed.map((r) => Date.parse(r.startedAt) + (Number.isFinite(r.startSkewMs) ? r.startSkewMs : 0)));
  const planned = reports.map((r) => Date.parse(r.plannedStartAt ?? '')).filter((t) => Number.isFinite(t));
  return {
    first: new Date(from).toISOString(),
    ...(planned.length > 0 ? { planned: new Date(Math.min(...planned)).toISOString() } : {}),
    skewMs: to - from,
  };
}

/** The warnings, with the one for a start skew above {@link START_SKEW_WARNING_MS} recomputed. */
function withSkewWarning(warnings: readonly string[], skewMs: number): string[] {
  const fresh =
    skewMs > START_SKEW_WARNING_MS
      ? `the shards started ${formatDistance(skewMs)} apart (startSkewMs): their load did not overlap for that long, so the fleet's peak was lower than planned; start every shard with the same --start-at`
      : undefined;
  return withRecomputed(warnings, SKEW_WARNING_PATTERN, fresh);
}

/**
 * Merges the reports of several shards (or several independent runs) into one: counts are
 * summed, histograms decoded and added exactly, percentiles recomputed from the merged histograms,
 * distributions summed per node, timelines summed per time bucket, chaos actions united.
 *
 * @param reports - at least one report, all with the same shard count and timeline bucket width.
 * @param names - a name per report for error messages (file names).
 * @returns the merged report.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` when there is nothing to merge, when the shard counts or
 *   bucket widths differ, when the same shard appears twice, when the run ids differ (reports of
 *   different runs), or when the targets differ.
 */
export function mergeReports(reports: readonly FleetReport[], names?: readonly string[]): FleetReport {
  const first = reports[0];
  if (!first) throw new ToolError('nothing to merge: give at least one report', 'ERR_USAGE');
  const name = (i: number): string => names?.[i] ?? `report ${i + 1}`;
  const seen = new Map<number, number>();
  for (const [i, r] of reports.entries()) {
    if (r.shard.count !== first.shard.count) {
      throw new ToolError(
        `${name(i)} is shard ${r.shard.index}/${r.shard.count} but ${name(0)} is shard ${first.shard.index}/${first.shard.count}: merge shards of one fleet only`,
        'ERR_USAGE',
      );
    }
    if (r.timelineBucketMs !== first.timelineBucketMs) {
      throw new ToolError(
        `${name(i)} has ${r.timelineBucketMs} ms timeline buckets but ${name(0)} has ${first.timelineBucketMs} ms: merge runs made with the same agentlink version`,
        'ERR_USAGE',
      );
    }
    if (r.runId !== '' && first.runId !== '' && r.runId !== first.runId) {
      throw new ToolError(
        `${name(i)} is from run ${r.runId} but ${name(0)} is from run ${first.runId}: merge the shards of one run (start every shard with the same --run-id)`,
        'ERR_USAGE',
      );
    }
    const target = JSON.stringify(r.config.target);
    const firstTarget = JSON.stringify(first.config.target);
    if (r.config.target !== undefined && first.config.target !== undefined && target !== firstTarget) {
      throw new ToolError(`${name(i)} ran against ${target} but ${name(0)} against ${firstTarget}: merge shards that share one target`, 'ERR_USAGE');
    }
    for (const s of r.shards) {
      const other = seen.get(s);
      if (other !== undefined) {
        throw new ToolError(`shard ${s}/${first.shard.count} is in both ${name(other)} and ${name(i)}: give each shard once`, 'ERR_USAGE');
      }
      seen.set(s, i);
    }
  }
  let snapshot: MetricsSnapshot;
  try {
    snapshot = FleetMetrics.merge(reports.map(reportSnapshot));
  } catch (err) {
    if (err instanceof ToolError) throw new ToolError(`cannot merge the reports: ${err.message}`, 'ERR_USAGE', { cause: err });
    throw err;
  }
  const receivedKnown = reports.every((r) => r.events.received !== null);
  const shards = [...new Set(reports.flatMap((r) => r.shards))].sort((a, b) => a - b);
  const chaosKeys = new Set<string>();
  const chaos: ChaosEvent[] = [];
  for (const r of reports) {
    for (const c of r.chaos) {
      const key = `${c.at}|${c.action}|${c.node ?? ''}|${c.error ?? ''}`;
      if (chaosKeys.has(key)) continue;
      chaosKeys.add(key);
      chaos.push({ ...c });
    }
  }
  const limits = new Map<string, LimitHit>();
  for (const r of reports) {
    for (const l of r.limits.hit) {
      const m = limits.get(l.limit);
      if (m) m.count += l.count;
      else limits.set(l.limit, { ...l });
    }
  }
  const starts = shardStarts(reports);
  const lostCauses = sumRecords(reports.map((r) => r.lostExplained));
  delete lostCauses.unexplained;
  return build(
    {
      version: agentlinkVersion(),
      runId: first.runId,
      errors: sumRecords(reports.map((r) => r.errors)),
      warnings: withSkewWarning(reports.flatMap((r) => r.warnings), starts.skewMs),
      startedAt: starts.first,
      ...(starts.planned !== undefined ? { plannedStartAt: starts.planned } : {}),
      startSkewMs: starts.skewMs,
      durationMs: Math.max(...reports.map((r) => r.durationMs)),
      shard: { index: shards[0] ?? first.shard.index, count: first.shard.count },
      shards,
      config: first.config,
      chaos,
      distribution: sumRecords(reports.map((r) => r.distribution)),
      agents: {
        total: reports.reduce((n, r) => n + r.agents.total, 0),
        connected: reports.reduce((n, r) => n + r.agents.connected, 0),
        neverConnected: reports.reduce((n, r) => n + r.agents.neverConnected, 0),
      },
      receivedKnown,
      lostExplained: lostCauses,
      limits: [...limits.values()],
      loopDelay: mergeLoopDelays(reports.map((r) => r.loopDelay)),
    },
    snapshot,
  );
}

/**
 * Checks that parsed JSON is a fleet report and returns it typed.
 *
 * @param value - the parsed JSON.
 * @param source - where it came from (a file name), for error messages.
 * @returns the report.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the first missing or mistyped field.
 */
export function parseReport(value: unknown, source = 'the report'): FleetReport {
  const fail = (what: string): never => {
    throw new ToolError(`${source} is not an agentlink fleet report: ${what} (write it with agentlink simulate --report)`, 'ERR_USAGE');
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.format === 'agentlink-fleet-report/1') {
    throw new ToolError(
      `${source} is an agentlink-fleet-report/1, written by an earlier agentlink: it has no accepted or written event counts, so it cannot be merged with or judged as an ${REPORT_FORMAT}; read it with the agentlink that wrote it, or run again`,
      'ERR_USAGE',
    );
  }
  if (r.format !== REPORT_FORMAT) return fail(`format is ${JSON.stringify(r.format)}, expected "${REPORT_FORMAT}"`);
  const obj = (path: string): Record<string, unknown> => {
    let v: unknown = r;
    for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${path} is missing or not an object`);
    return v as Record<string, unknown>;
  };
  const num = (path: string, nullable = false): void => {
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? r : obj(path.slice(0, dot));
    const v = parent[path.slice(dot + 1)];
    if (nullable && v === null) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${path} is missing or not a non-negative number`);
  };
  const counts = (path: string): void => {
    for (const [k, v] of Object.entries(obj(path))) if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${path}.${k} is not a number`);
  };
  for (const p of ['durationMs', 'timelineBucketMs', 'connectFailures', 'agents.total', 'agents.connected', 'agents.neverConnected']) num(p);
  for (const p of ['events.generated', 'events.accepted', 'events.written', 'events.dropped', 'reconnects.total', 'shard.index', 'shard.count']) num(p);
  for (const p of ['refused', 'evicted', 'cleared', 'unwritable']) num(`events.droppedBy.${p}`);
  num('events.received', true);
  num('events.lost', true);
  if (typeof r.startedAt !== 'string' || !Number.isFinite(Date.parse(r.startedAt))) fail('startedAt is missing or not a time');
  if (r.plannedStartAt !== undefined && (typeof r.plannedStartAt !== 'string' || !Number.isFinite(Date.parse(r.plannedStartAt)))) fail('plannedStartAt is not a time');
  if (r.startSkewMs === undefined) r.startSkewMs = 0; // written before it existed
  num('startSkewMs');
  if (r.loopDelay === undefined) r.loopDelay = { p50Ms: 0, p99Ms: 0, maxMs: 0 }; // written before it was measured
  for (const p of ['p50Ms', 'p99Ms', 'maxMs']) num(`loopDelay.${p}`);
  if (typeof r.version !== 'string') fail('version is missing');
  obj('config');
  // written before these fields existed: an unknown run, no errors counted
  if (r.runId === undefined) r.runId = '';
  if (typeof r.runId !== 'string') fail('runId is not a string');
  if (r.errors === undefined) r.errors = {};
  if (r.warnings === undefined) r.warnings = [];
  if (!Array.isArray(r.warnings) || !r.warnings.every((w) => typeof w === 'string')) fail('warnings is not a list of strings');
  counts('errors');
  counts('distribution');
  counts('lostExplained');
  if (!Array.isArray(r.shards) || !r.shards.every((s) => Number.isInteger(s))) fail('shards is not a list of shard numbers');
  if (!Array.isArray(r.timeline)) fail('timeline is not a list');
  for (const [i, p] of (r.timeline as unknown[]).entries()) {
    const point = p as Record<string, unknown> | null;
    if (
      typeof point !== 'object' ||
      point === null ||
      !['t', ...TIMELINE_COUNTS].every((k) => typeof point[k] === 'number') ||
      typeof point.perNode !== 'object' ||
      point.perNode === null
    ) {
      fail(`timeline[${i}] is not a timeline point`);
    }
  }
  if (!Array.isArray(r.chaos)) fail('chaos is not a list');
  for (const [i, c] of (r.chaos as unknown[]).entries()) {
    const ev = c as Record<string, unknown> | null;
    if (typeof ev !== 'object' || ev === null || typeof ev.at !== 'number' || typeof ev.action !== 'string') fail(`chaos[${i}] is not a chaos action`);
  }
  const limits = obj('limits');
  if (!Array.isArray(limits.hit)) fail('limits.hit is not a list');
  const h = obj('histograms');
  for (const name of HISTOGRAM_NAMES) {
    if (name === 'ackLatency' && h[name] === undefined) continue; // reports from before it was measured
    if (typeof h[name] !== 'string') fail(`histograms.${name} is missing`);
    LatencyHistogram.decode(h[name] as string, `histograms.${name} in ${source}`);
  }
  // percentile fields are recomputed from the histograms whenever they matter (merge)
  for (const p of ['connect', 'tcpConnect', 'failover', 'reconnects']) obj(p);
  return value as FleetReport;
}

/**
 * Serialises a report as pretty JSON with a trailing newline.
 *
 * @param report - the report.
 * @returns the JSON text.
 */
export function stringifyReport(report: FleetReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
