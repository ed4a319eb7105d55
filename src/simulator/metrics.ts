/**
 * Fleet metrics: latency histograms that merge exactly across workers and shards (HdrHistogram,
 * pure-JS build), event and reconnect counters, and a timeline sampled in fixed time buckets.
 *
 * Latencies are recorded in microseconds (so sub-millisecond connects on 127.0.0.1 stay visible)
 * and reported in milliseconds. Histograms travel as HdrHistogram V2 compressed base64 strings,
 * the format every HdrHistogram port reads.
 *
 * @module
 */
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { ToolError } from '../errors.js';

/** Significant decimal digits every fleet histogram keeps (0.1 % value resolution). */
export const HISTOGRAM_SIGNIFICANT_DIGITS = 3;

/** Default width of one timeline bucket, in milliseconds. */
export const DEFAULT_TIMELINE_BUCKET_MS = 1_000;

/** Percentiles and extremes of one latency histogram, in milliseconds (0 when empty). */
export interface LatencySummary {
  /** Number of recorded values. */
  count: number;
  /** Smallest recorded value. */
  minMs: number;
  /** Arithmetic mean. */
  meanMs: number;
  /** Median. */
  p50Ms: number;
  /** 90th percentile. */
  p90Ms: number;
  /** 99th percentile. */
  p99Ms: number;
  /** 99.9th percentile. */
  p999Ms: number;
  /** Largest recorded value. */
  maxMs: number;
}

/** One bar of a latency distribution: values in `[fromMs, toMs)` (the last bar includes `toMs`). */
export interface LatencyBin {
  /** Lower bound, in milliseconds. */
  fromMs: number;
  /** Upper bound, in milliseconds. */
  toMs: number;
  /** How many values fell in the bin. */
  count: number;
}

/** One point of a cumulative distribution. */
export interface CdfPoint {
  /** The latency, in milliseconds. */
  ms: number;
  /** Fraction of values at or below `ms`, 0 to 1. */
  fraction: number;
}

/**
 * A latency histogram in milliseconds with microsecond resolution, backed by a pure-JS
 * HdrHistogram that resizes itself. Two histograms merge exactly with {@link LatencyHistogram.merge}.
 *
 * @example
 * ```ts
 * const a = new LatencyHistogram();
 * a.record(12.5);
 * const b = LatencyHistogram.decode(a.encode());
 * b.merge(a);
 * b.summary().count; // 2
 * ```
 */
export class LatencyHistogram {
  readonly #h: Histogram;

  /**
   * @param histogram - an existing HdrHistogram in microseconds (used by {@link LatencyHistogram.decode}).
   */
  constructor(histogram?: Histogram) {
    this.#h =
      histogram ??
      hdr.build({
        useWebAssembly: false,
        autoResize: true,
        lowestDiscernibleValue: 1,
        numberOfSignificantValueDigits: HISTOGRAM_SIGNIFICANT_DIGITS,
      });
  }

  /**
   * Decodes a histogram written by {@link LatencyHistogram.encode}.
   *
   * @param encoded - HdrHistogram V2 compressed base64; an empty string gives an empty histogram.
   * @param what - what the string is, for the error message (`histograms.failover in a.json`).
   * @returns the histogram.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the text is not a compressed HdrHistogram.
   */
  static decode(encoded: string, what = 'histogram'): LatencyHistogram {
    if (encoded.trim() === '') return new LatencyHistogram();
    try {
      return new LatencyHistogram(hdr.decodeFromCompressedBase64(encoded, 32, false));
    } catch (err) {
      throw new ToolError(`${what} is not a compressed base64 HdrHistogram (re-create the report with agentlink simulate)`, 'ERR_USAGE', {
        cause: err,
      });
    }
  }

  /** Number of recorded values. */
  get count(): number {
    return this.#h.totalCount;
  }

  /**
   * Records one latency. Negative values count as 0; NaN and infinities are not latencies and
   * are ignored.
   *
   * @param ms - the latency in milliseconds.
   */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.#h.recordValue(Math.max(0, Math.round(ms * 1000)));
  }

  /**
   * Adds every value of `other` to this histogram (exact: counts per bucket are summed).
   *
   * @param other - the histogram to add; it is not changed.
   */
  merge(other: LatencyHistogram): void {
    this.#h.add(other.#h);
  }

  /**
   * The value at a percentile.
   *
   * @param percentile - 0 to 100.
   * @returns milliseconds, 0 when empty.
   */
  percentile(percentile: number): number {
    if (this.#h.totalCount === 0) return 0;
    return toMs(this.#h.getValueAtPercentile(percentile));
  }

  /** @returns count, mean, min, p50, p90, p99, p99.9 and max in milliseconds (all 0 when empty). */
  summary(): LatencySummary {
    const h = this.#h;
    if (h.totalCount === 0) return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      minMs: toMs(h.getValueAtPercentile(0)),
      meanMs: toMs(h.mean),
      p50Ms: toMs(h.getValueAtPercentile(50)),
      p90Ms: toMs(h.getValueAtPercentile(90)),
      p99Ms: toMs(h.getValueAtPercentile(99)),
      p999Ms: toMs(h.getValueAtPercentile(99.9)),
      // from the counts, not the raw maximum, so a decoded or merged histogram reports the same value
      maxMs: toMs(h.getValueAtPercentile(100)),
    };
  }

  /**
   * Splits the recorded values into equal-width bins between the smallest and largest value.
   *
   * @param bins - number of bins, at least 1.
   * @returns the bins (empty when nothing was recorded).
   */
  bins(bins = 20): LatencyBin[] {
    const h = this.#h;
    if (h.totalCount === 0) return [];
    const n = Math.max(1, Math.floor(bins));
    const lo = h.getValueAtPercentile(0);
    const hi = Math.max(lo, h.getValueAtPercentile(100));
    const width = Math.max(1, (hi - lo) / n);
    const out: LatencyBin[] = [];
    for (let i = 0; i < n; i++) out.push({ fromMs: toMs(lo + i * width), toMs: toMs(lo + (i + 1) * width), count: 0 });
    for (const { value, count } of this.#recorded()) {
      const i = Math.min(n - 1, Math.max(0, Math.floor((value - lo) / width)));
      out[i]!.count += count;
    }
    return out;
  }

  /**
   * The cumulative distribution at `points` evenly spaced percentiles.
   *
   * @param points - number of points, at least 2.
   * @returns points from the minimum (fraction 0) to the maximum (fraction 1); empty when nothing was recorded.
   */
  cdf(points = 101): CdfPoint[] {
    if (this.#h.totalCount === 0) return [];
    const n = Math.max(2, Math.floor(points));
    const out: CdfPoint[] = [];
    for (let i = 0; i < n; i++) {
      const fraction = i / (n - 1);
      out.push({ ms: toMs(this.#h.getValueAtPercentile(fraction * 100)), fraction });
    }
    return out;
  }

  /** @returns the histogram as HdrHistogram V2 compressed base64. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.#h);
  }

  /** Yields each distinct recorded value (µs, highest equivalent) with its count. */
  *#recorded(): Generator<{ value: number; count: number }> {
    const h = this.#h;
    if (h instanceof hdr.JsHistogram) {
      const it = h.recordedValuesIterator;
      it.reset();
      while (it.hasNext()) {
        const v = it.next();
        yield { value: v.valueIteratedTo, count: v.countAddedInThisIterationStep };
      }
      return;
    }
    // Not reached with the pure-JS build; fall back to percentiles.
    for (let p = 0; p <= 100; p++) yield { value: h.getValueAtPercentile(p), count: h.totalCount / 101 };
  }
}

function toMs(us: number): number {
  return Math.round(us) / 1000;
}

/** The histograms a fleet keeps. */
export const HISTOGRAM_NAMES = ['connect', 'tcpConnect', 'failover', 'reconnect', 'ackLatency'] as const;

/**
 * A fleet histogram name:
 * - `connect`: from the start of an agent's first connection attempt to its startup ACK;
 * - `tcpConnect`: TCP connect only (socket open), for every successful connect;
 * - `failover`: from a disconnect to the startup ACK on a different server, per agent and occurrence;
 * - `reconnect`: from a disconnect to the next startup ACK on any server (failovers included);
 * - `ackLatency`: from the time a keepalive was due (not sent: a late timer counts) to its ACK.
 */
export type HistogramName = (typeof HISTOGRAM_NAMES)[number];

/**
 * The fleet's event counts, so far or at the end. Once the fleet has stopped (nothing queued):
 * `eventsGenerated = eventsAccepted + eventsRefused`,
 * `eventsAccepted = eventsWritten + eventsEvicted + eventsCleared + eventsUnwritable`, hence
 * `eventsGenerated = eventsWritten + eventsDropped` (docs/load-testing.md, "Events").
 */
export interface FleetEventCounts {
  /** Events the workload generated (`sendEvent` calls, accepted or refused). */
  eventsGenerated: number;
  /** Events the agents' client buffers accepted (`stats().eventsAccepted` summed). */
  eventsAccepted: number;
  /** Events written to a connection, each once (`stats().eventsSent` summed; retransmissions not counted). */
  eventsWritten: number;
  /** Events dropped without being written, every reason: refused + evicted + cleared + unwritable. */
  eventsDropped: number;
  /** Events `sendEvent` refused: the buffer was full (`drop-newest`, `reject`), or the agent had stopped. */
  eventsRefused: number;
  /** Accepted events a newer one pushed out of a full buffer (`drop-oldest`). */
  eventsEvicted: number;
  /** Accepted events still queued when the agent stopped: the drain deadline cut them. */
  eventsCleared: number;
  /** Accepted events that could not be encoded (too large); the agent counts them as rejected. */
  eventsUnwritable: number;
}

/** The names of {@link FleetEventCounts}, in report order. */
export const EVENT_COUNT_KEYS = [
  'eventsGenerated',
  'eventsAccepted',
  'eventsWritten',
  'eventsDropped',
  'eventsRefused',
  'eventsEvicted',
  'eventsCleared',
  'eventsUnwritable',
] as const satisfies readonly (keyof FleetEventCounts)[];

/** @returns every event count at zero. */
export function emptyEventCounts(): FleetEventCounts {
  return { eventsGenerated: 0, eventsAccepted: 0, eventsWritten: 0, eventsDropped: 0, eventsRefused: 0, eventsEvicted: 0, eventsCleared: 0, eventsUnwritable: 0 };
}

/** Monotonic fleet counters: the {@link FleetEventCounts}, the managers' count, the loss and the reconnections. */
export interface FleetCounters extends FleetEventCounts {
  /** Events the managers received (known only when the managers are agentlink's mock managers). */
  eventsReceived: number;
  /** Events written but never received (`eventsWritten - eventsReceived`), as established at the end of the run. */
  eventsLost: number;
  /** Reconnections (every new session after the first, any reason). */
  reconnects: number;
  /** Failed connection attempts (refused, timed out, handshake failed). */
  connectFailures: number;
}

/**
 * One timeline bucket, `[t, t + bucketMs)`. Gauges are the last value sampled in the bucket (sampled at
 * its end); event counts are the events counted during the bucket, each at its own time.
 */
export interface TimelinePoint {
  /** Start of the bucket, in milliseconds since the start of the run. */
  t: number;
  /** Agents connected (ACKed) at the sample. */
  connected: number;
  /** Agents reconnecting or connecting at the sample. */
  reconnecting: number;
  /** Events the workload generated during the bucket. */
  generated: number;
  /** Events the agents' buffers accepted during the bucket. */
  accepted: number;
  /** Events written to the wire during the bucket. */
  written: number;
  /** Events dropped during the bucket (every reason). */
  dropped: number;
  /** Events received by the managers during the bucket. */
  received: number;
  /** Connected agents per manager node at the sample. */
  perNode: Record<string, number>;
}

/** Gauges the fleet passes to {@link FleetMetrics.sample}. */
export interface FleetGauges {
  /** Agents connected now. */
  connected: number;
  /** Agents connecting or reconnecting now. */
  reconnecting: number;
  /** Connected agents per node now. */
  perNode: Record<string, number>;
}

/** Everything {@link FleetMetrics} holds, as plain JSON (what workers send to the parent). */
export interface MetricsSnapshot {
  /** Counter values. */
  counters: FleetCounters;
  /** Each histogram as HdrHistogram V2 compressed base64, values in microseconds. */
  histograms: Record<HistogramName, string>;
  /** Width of a timeline bucket, in milliseconds. */
  bucketMs: number;
  /** The timeline, oldest bucket first. */
  timeline: TimelinePoint[];
}

/** Options of {@link FleetMetrics}. */
export interface FleetMetricsOptions {
  /**
   * Time source for timeline samples.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Width of one timeline bucket, in milliseconds.
   * @default 1000
   */
  bucketMs?: number;
}

function emptyCounters(): FleetCounters {
  return { ...emptyEventCounts(), eventsReceived: 0, eventsLost: 0, reconnects: 0, connectFailures: 0 };
}

/**
 * Collects a fleet's metrics: call the `record*` and `count*` methods as things happen (counts go
 * to the timeline bucket of their time), and {@link FleetMetrics.sample} at the end of each bucket
 * with the current gauges (see {@link nextSample}). Snapshots from
 * several workers or shards combine exactly with {@link FleetMetrics.merge}.
 */
export class FleetMetrics {
  /** The latency histograms, by name. */
  readonly histograms: Record<HistogramName, LatencyHistogram>;
  /** The counters (read them; change them through the `count*` methods). */
  readonly counters: FleetCounters = emptyCounters();
  /** Width of one timeline bucket, in milliseconds. */
  readonly bucketMs: number;
  readonly #clock: Clock;
  #startedAt: number;
  readonly #timeline = new Map<number, TimelinePoint>();
  #gauges: FleetGauges = { connected: 0, reconnecting: 0, perNode: {} };

  /**
   * @param options - clock and bucket width.
   */
  constructor(options: FleetMetricsOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    const bucketMs = options.bucketMs ?? DEFAULT_TIMELINE_BUCKET_MS;
    if (!Number.isFinite(bucketMs) || bucketMs <= 0) {
      throw new ToolError(`FleetMetrics bucketMs must be a positive number of milliseconds, got ${String(bucketMs)}`, 'ERR_USAGE');
    }
    this.bucketMs = bucketMs;
    this.#startedAt = this.#clock.monotonic();
    this.histograms = {
      connect: new LatencyHistogram(),
      tcpConnect: new LatencyHistogram(),
      failover: new LatencyHistogram(),
      reconnect: new LatencyHistogram(),
      ackLatency: new LatencyHistogram(),
    };
  }

  /** Marks the start of the run: timeline times are measured from here (also done by the constructor). */
  start(): void {
    this.#startedAt = this.#clock.monotonic();
  }

  /** @returns milliseconds since {@link FleetMetrics.start}. */
  elapsed(): number {
    return this.#clock.monotonic() - this.#startedAt;
  }

  /**
   * Records a first connection: attempt start to startup ACK.
   * @param ms - milliseconds.
   */
  recordConnect(ms: number): void {
    this.histograms.connect.record(ms);
  }

  /**
   * Records a TCP connect time (socket open).
   * @param ms - milliseconds.
   */
  recordTcpConnect(ms: number): void {
    this.histograms.tcpConnect.record(ms);
  }

  /**
   * Records the ACK of a keepalive.
   *
   * @param ms - milliseconds from the time the keepalive was due to its ACK.
   */
  recordAck(ms: number): void {
    this.histograms.ackLatency.record(ms);
  }

  /**
   * Records a reconnection: disconnect to the next startup ACK. Counts a reconnect; when `failover`
   * is true (the ACK came from a different server) it is also recorded as a failover.
   *
   * @param ms - milliseconds from the disconnect to the ACK.
   * @param failover - whether the agent landed on another server.
   */
  recordReconnect(ms: number, failover: boolean): void {
    this.counters.reconnects++;
    this.histograms.reconnect.record(ms);
    if (failover) this.histograms.failover.record(ms);
  }

  /**
   * Adds to the event counts (what they grew by since the last call), in the timeline bucket of
   * `atMs` (generated, accepted, written and dropped; the drop reasons are totals only).
   *
   * @param delta - the growth of each count.
   * @param atMs - when they were counted, in milliseconds since the start; defaults to now.
   */
  countEvents(delta: Partial<FleetEventCounts>, atMs = this.elapsed()): void {
    let any = false;
    for (const k of EVENT_COUNT_KEYS) {
      const n = delta[k] ?? 0;
      this.counters[k] += n;
      any ||= n !== 0;
    }
    if (!any) return;
    const point = this.#bucketAt(atMs);
    point.generated += delta.eventsGenerated ?? 0;
    point.accepted += delta.eventsAccepted ?? 0;
    point.written += delta.eventsWritten ?? 0;
    point.dropped += delta.eventsDropped ?? 0;
  }

  /**
   * Counts events the managers received, in the timeline bucket of `atMs`.
   *
   * @param n - events received by the managers.
   * @param atMs - when they were counted, in milliseconds since the start; defaults to now.
   */
  countReceived(n = 1, atMs = this.elapsed()): void {
    this.counters.eventsReceived += n;
    this.#bucketAt(atMs).received += n;
  }

  /**
   * Counts events established as lost.
   *
   * @param n - events established as lost.
   */
  countLost(n = 1): void {
    this.counters.eventsLost += n;
  }

  /**
   * Counts failed connection attempts.
   *
   * @param n - failed connection attempts.
   */
  countConnectFailure(n = 1): void {
    this.counters.connectFailures += n;
  }

  /**
   * Sets the gauges of the timeline bucket that holds `atMs` (a later sample in the same bucket
   * replaces them). Event counts are not sampled: each `count*` call adds to the bucket of its own
   * time, so a bucket's counts are exactly those of `[t, t + bucketMs)`.
   *
   * @param gauges - connected and reconnecting agents, and connected agents per node.
   * @param atMs - milliseconds since the start; defaults to {@link FleetMetrics.elapsed}.
   * @returns the bucket's point.
   */
  sample(gauges: FleetGauges, atMs = this.elapsed()): TimelinePoint {
    const point = this.#bucketAt(atMs);
    point.connected = gauges.connected;
    point.reconnecting = gauges.reconnecting;
    point.perNode = { ...gauges.perNode };
    this.#gauges = { connected: gauges.connected, reconnecting: gauges.reconnecting, perNode: { ...gauges.perNode } };
    return point;
  }

  /** The bucket holding `atMs`, created with the last sampled gauges (they hold until the next sample). */
  #bucketAt(atMs: number): TimelinePoint {
    const t = Math.max(0, Math.floor(atMs / this.bucketMs) * this.bucketMs);
    let point = this.#timeline.get(t);
    if (!point) {
      const g = this.#gauges;
      point = { ...emptyPoint(t), connected: g.connected, reconnecting: g.reconnecting, perNode: { ...g.perNode } };
      this.#timeline.set(t, point);
    }
    return point;
  }

  /** @returns the timeline, oldest bucket first (copies). */
  timeline(): TimelinePoint[] {
    return [...this.#timeline.values()].sort((a, b) => a.t - b.t).map((p) => ({ ...p, perNode: { ...p.perNode } }));
  }

  /** @returns counters, encoded histograms and timeline as plain JSON. */
  snapshot(): MetricsSnapshot {
    return {
      counters: { ...this.counters },
      histograms: {
        connect: this.histograms.connect.encode(),
        tcpConnect: this.histograms.tcpConnect.encode(),
        failover: this.histograms.failover.encode(),
        reconnect: this.histograms.reconnect.encode(),
        ackLatency: this.histograms.ackLatency.encode(),
      },
      bucketMs: this.bucketMs,
      timeline: this.timeline(),
    };
  }

  /**
   * Combines snapshots (from workers or shards) exactly: counters and histograms add up, timeline
   * buckets at the same time add up (gauges and deltas alike, since each snapshot covers different agents).
   *
   * @param snapshots - at least one snapshot; all must use the same bucket width.
   * @returns the combined snapshot.
   * @throws {@link agentlink!ToolError} `ERR_USAGE` for no snapshots, different bucket widths, or a bad histogram.
   */
  static merge(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
    const first = snapshots[0];
    if (!first) throw new ToolError('nothing to merge: give at least one metrics snapshot', 'ERR_USAGE');
    const bucketMs = first.bucketMs;
    const counters = emptyCounters();
    const hist = {} as Record<HistogramName, LatencyHistogram>;
    for (const name of HISTOGRAM_NAMES) hist[name] = new LatencyHistogram();
    for (const [i, s] of snapshots.entries()) {
      if (s.bucketMs !== bucketMs) {
        throw new ToolError(
          `cannot merge timelines with different bucket widths (${bucketMs} ms and ${s.bucketMs} ms in input ${i + 1})`,
          'ERR_USAGE',
        );
      }
      for (const key of Object.keys(counters) as (keyof FleetCounters)[]) counters[key] += s.counters[key] ?? 0;
      for (const name of HISTOGRAM_NAMES) hist[name].merge(LatencyHistogram.decode(s.histograms[name] ?? '', `histograms.${name} of input ${i + 1}`));
    }
    return {
      counters,
      histograms: {
        connect: hist.connect.encode(),
        tcpConnect: hist.tcpConnect.encode(),
        failover: hist.failover.encode(),
        reconnect: hist.reconnect.encode(),
        ackLatency: hist.ackLatency.encode(),
      },
      bucketMs,
      timeline: mergeTimelines(snapshots.map((s) => s.timeline)),
    };
  }
}

/** The counts of a {@link TimelinePoint}, summed when timelines merge. */
export const TIMELINE_COUNTS = ['connected', 'reconnecting', 'generated', 'accepted', 'written', 'dropped', 'received'] as const satisfies readonly (keyof TimelinePoint)[];

function emptyPoint(t: number): TimelinePoint {
  return { t, connected: 0, reconnecting: 0, generated: 0, accepted: 0, written: 0, dropped: 0, received: 0, perNode: {} };
}

/**
 * Adds timelines bucket by bucket: points with the same `t` are summed field by field, and
 * `perNode` counts are summed per node.
 *
 * @param timelines - the timelines (same bucket width).
 * @returns the merged timeline, oldest first.
 */
export function mergeTimelines(timelines: readonly (readonly TimelinePoint[])[]): TimelinePoint[] {
  const byT = new Map<number, TimelinePoint>();
  for (const timeline of timelines) {
    for (const p of timeline) {
      let m = byT.get(p.t);
      if (!m) {
        m = emptyPoint(p.t);
        byT.set(p.t, m);
      }
      addCounts(m, p, TIMELINE_COUNTS);
      addRecord(m.perNode, p.perNode);
    }
  }
  return [...byT.values()].sort((a, b) => a.t - b.t);
}

/**
 * When to take the next timeline sample: at the end of the next bucket not sampled yet, so the
 * gauges are the bucket's last values and what is polled at the sample (drops, events the
 * managers received) covers the bucket that just ended. A timer that fires a little early or late
 * samples every bucket once; one late by more than a bucket skips the buckets gone by (they keep
 * the last gauges sampled; their counts are exact anyway).
 *
 * @param elapsed - milliseconds since the run start.
 * @param bucketMs - bucket width.
 * @param lastBucket - index of the last bucket sampled (-1 for none).
 * @returns the delay in milliseconds and the bucket index the sample is for (its start is
 *   `bucket * bucketMs`: pass that, not the time the timer fired, as the sample's time).
 */
export function nextSample(
  elapsed: number,
  bucketMs: number,
  lastBucket: number,
): {
  /** Milliseconds to wait. */
  delay: number;
  /** Index of the bucket the sample is for. */
  bucket: number;
} {
  const bucket = Math.max(Math.floor(elapsed / bucketMs), lastBucket + 1);
  return { delay: Math.max(0, (bucket + 1) * bucketMs - elapsed), bucket };
}

/**
 * Adds the numeric fields `keys` of `from` into `into` (sums of counters and gauges).
 *
 * @param into - the sum so far.
 * @param from - one part.
 * @param keys - the fields to add.
 */
export function addCounts<T, K extends keyof T>(into: T, from: Readonly<T>, keys: readonly K[]): void {
  for (const k of keys) (into[k] as number) += from[k] as number;
}

/**
 * Adds a record of counts into another, key by key (`perNode`, reasons by code).
 *
 * @param into - the sum so far.
 * @param from - one part.
 */
export function addRecord(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
