/**
 * What the reliability runs watch in their own process: a clock that knows its pending timers,
 * the active handles by type (and the sockets among them, by address), and the memory trend.
 *
 * @module
 */
import { systemClock } from 'agentlink';
import type { Clock, TimerHandle } from 'agentlink';

/**
 * A clock over the system clock that knows which of its timers are still pending, and with
 * `trace` where each was set (a stack frame per timer: slow, for hunting a leak only).
 */
export class CountingClock implements Clock {
  readonly #live = new Map<TimerHandle, string>();
  readonly #trace: boolean;

  /** @param trace - remember where each timer was set, for {@link CountingClock.pendingOrigins}. */
  constructor(trace = false) {
    this.#trace = trace;
  }

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = systemClock.setTimeout(() => {
      this.#live.delete(handle);
      fn();
    }, ms);
    this.#live.set(handle, this.#trace ? (new Error().stack?.split('\n').slice(2, 5).join(' <') ?? '?').replace(/\s+/g, ' ') : '');
    return handle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.#live.delete(handle);
    systemClock.clearTimeout(handle);
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pending(): number {
    return this.#live.size;
  }

  /** @returns where the pending timers were set, with how many from each place (empty without `trace`). */
  pendingOrigins(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.#trace) return out;
    for (const o of this.#live.values()) out[o] = (out[o] ?? 0) + 1;
    return out;
  }
}

/** @returns the active handles and requests of this process by type (`TCPSocketWrap`, `Timeout`, ...). */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/**
 * @param before - counts by type before.
 * @param after - counts by type after.
 * @returns the types whose count is above `before`, with the excess.
 */
export function excessResources(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

/**
 * The open TCP sockets of this process, as `local -> remote` with the name of a known port, so a
 * socket left after a teardown says whose it is (an agent's, a proxy's upstream, a node's).
 *
 * @param names - port → name (`proxy1`, `node2`).
 * @returns one line per socket, e.g. `127.0.0.1:40112 -> 127.0.0.1:39001 (node1), destroyed false`.
 */
export function openSockets(names: ReadonlyMap<number, string>): string[] {
  // process._getActiveHandles() is undocumented but stable since Node 0.x; used here for diagnostics only
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const out: string[] = [];
  for (const h of handles) {
    const s = h as { remotePort?: number; remoteAddress?: string; localPort?: number; localAddress?: string; destroyed?: boolean; connecting?: boolean; readyState?: string };
    // net.Socket (TCP or pipe); servers have listen(), stdio pipes have a fixed fd
    if (typeof (h as { listen?: unknown }).listen === 'function' || s.readyState === undefined || typeof (h as { fd?: unknown }).fd === 'number') continue;
    const name = (p: number | undefined): string => (p !== undefined && names.has(p) ? ` (${names.get(p)})` : '');
    out.push(
      `${s.localAddress ?? '?'}:${s.localPort ?? '?'}${name(s.localPort)} -> ${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}${name(s.remotePort)}` +
        `, ${s.readyState}${s.connecting ? ', connecting' : ''}${s.destroyed ? ', destroyed' : ''}`,
    );
  }
  return out;
}

/**
 * Slope of the least-squares line through `points`.
 *
 * @param points - `[x, y]` pairs.
 * @returns dy/dx, or 0 with fewer than two distinct x.
 */
export function leastSquaresSlope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** One memory sample. */
export interface MemorySample {
  /** Milliseconds after the fleet start. */
  t: number;
  /** `process.memoryUsage().heapUsed`, bytes. */
  heapUsed: number;
  /** `process.memoryUsage().rss`, bytes. */
  rss: number;
  /** `process.memoryUsage().external` (C++ objects bound to JS objects, Buffers included), bytes. */
  external: number;
}

/** The memory trend of a run. */
export interface MemoryTrend {
  /** Whether a full GC ran before each sample. */
  gcForced: boolean;
  /** Samples after the warm-up. */
  samples: MemorySample[];
  /** Heap trend, KB per minute (least squares). */
  heapSlopeKBPerMin: number;
  /** RSS trend, KB per minute (least squares). */
  rssSlopeKBPerMin: number;
  /** `external` trend, KB per minute (least squares). */
  externalSlopeKBPerMin: number;
  /** Heap trend over the second half of the samples only, KB per minute. */
  heapSlopeLastHalfKBPerMin: number;
  /** RSS trend over the second half of the samples only, KB per minute (a plateau shows here as about 0). */
  rssSlopeLastHalfKBPerMin: number;
  /** First heap used, MB. */
  heapFirstMB: number;
  /** Last heap used, MB. */
  heapLastMB: number;
  /** First RSS, MB. */
  rssFirstMB: number;
  /** Last RSS, MB. */
  rssLastMB: number;
}

/** Samples the memory of this process on a timer (after a full GC when it has one). */
export class MemorySampler {
  readonly #samples: MemorySample[] = [];
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #gc: (() => void) | undefined;
  readonly #elapsed: () => number;
  #timer: TimerHandle | undefined;

  /**
   * @param clock - clock of the sampling timer.
   * @param everyMs - sampling period.
   * @param gc - run before each sample, when given.
   * @param elapsed - the time stamped on each sample.
   */
  constructor(clock: Clock, everyMs: number, gc: (() => void) | undefined, elapsed: () => number) {
    this.#clock = clock;
    this.#everyMs = everyMs;
    this.#gc = gc;
    this.#elapsed = elapsed;
  }

  /** Takes a sample every period from now on. */
  start(): void {
    this.#timer = this.#clock.setTimeout(() => this.#sample(), this.#everyMs);
  }

  /** Stops sampling. Idempotent. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sample(): void {
    this.#timer = this.#clock.setTimeout(() => this.#sample(), this.#everyMs);
    this.#gc?.();
    const m = process.memoryUsage();
    this.#samples.push({ t: Math.round(this.#elapsed()), heapUsed: m.heapUsed, rss: m.rss, external: m.external });
  }

  /**
   * @param warmupMs - samples before this time are left out.
   * @returns the samples after the warm-up and their slopes.
   */
  trend(warmupMs: number): MemoryTrend {
    const kept = this.#samples.filter((s) => s.t >= warmupMs);
    const slope = (list: MemorySample[], pick: (s: MemorySample) => number): number =>
      Math.round(leastSquaresSlope(list.map((s) => [s.t / 60_000, pick(s) / 1024])) * 10) / 10;
    const lastHalf = kept.slice(Math.floor(kept.length / 2));
    const mb = (b: number | undefined): number => Math.round(((b ?? 0) / 1048576) * 10) / 10;
    return {
      gcForced: this.#gc !== undefined,
      samples: kept,
      heapSlopeKBPerMin: slope(kept, (s) => s.heapUsed),
      rssSlopeKBPerMin: slope(kept, (s) => s.rss),
      externalSlopeKBPerMin: slope(kept, (s) => s.external),
      heapSlopeLastHalfKBPerMin: slope(lastHalf, (s) => s.heapUsed),
      rssSlopeLastHalfKBPerMin: slope(lastHalf, (s) => s.rss),
      heapFirstMB: mb(kept[0]?.heapUsed),
      heapLastMB: mb(kept[kept.length - 1]?.heapUsed),
      rssFirstMB: mb(kept[0]?.rss),
      rssLastMB: mb(kept[kept.length - 1]?.rss),
    };
  }
}

/** Resolves after `ms` of real time, or at once when the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
