/**
 * Settle and count: the one routine that waits for a run to come to rest (every agent back after
 * the chaos, the managers done reading the last frames after the fleet stopped, a herd
 * reconnected), and the one event reconciliation (`generated = received + dropped + lost`, and the
 * loss within the unconfirmed bound) used by `simulate` and the reliability soak.
 *
 * @module
 */
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import type { FleetEventCounts } from './metrics.js';

/** Options of {@link settle}. Milliseconds everywhere. */
export interface SettleOptions<T> {
  /** Takes a reading (connected agents, events received, ...). */
  read: () => T | Promise<T>;
  /** Whether the reading is at rest; `previous` is the reading before (undefined the first time). */
  steady: (value: T, previous: T | undefined) => boolean;
  /** A reading this good ends the wait at once, steady or not. */
  enough?: (value: T) => boolean;
  /**
   * How long `steady` must hold without a break.
   * @default 0
   */
  quietMs?: number;
  /** Give up after this long. */
  timeoutMs: number;
  /**
   * Time between two readings.
   * @default 50
   */
  pollMs?: number;
  /**
   * Clock of the waits.
   * @default systemClock
   */
  clock?: Clock;
}

/** What {@link settle} saw. */
export interface SettleResult<T> {
  /** The last reading. */
  value: T;
  /** Whether it came to rest (or was enough) before the timeout. */
  settled: boolean;
  /** Start to the moment the reading came to rest and stayed so (null when it did not). */
  afterMs: number | null;
}

/**
 * Polls a reading until it is at rest for `quietMs` in a row, is enough, or the time is up.
 *
 * @param options - the reading, what counts as rest, and the times.
 * @returns the last reading, whether it settled, and when.
 */
export async function settle<T>(options: SettleOptions<T>): Promise<SettleResult<T>> {
  const clock = options.clock ?? systemClock;
  const quiet = options.quietMs ?? 0;
  const poll = options.pollMs ?? 50;
  const start = clock.monotonic();
  const deadline = start + options.timeoutMs;
  let previous: T | undefined;
  let since: number | undefined;
  for (;;) {
    const value = await options.read();
    const now = clock.monotonic();
    if (options.enough?.(value)) return { value, settled: true, afterMs: Math.round(now - start) };
    if (options.steady(value, previous)) since ??= now;
    else since = undefined;
    if (since !== undefined && now - since >= quiet) return { value, settled: true, afterMs: Math.round(since - start) };
    if (now >= deadline) return { value, settled: false, afterMs: null };
    previous = value;
    await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(poll, Math.max(1, deadline - now))));
  }
}

/** The event counts of one agent, or of a whole fleet taken as one. */
export interface EventCounts {
  /** Events the workload generated (`sendEvent` calls). */
  generated: number;
  /** Events written to a connection. */
  written: number;
  /** Events dropped with a counted reason (buffer overflow, refused, cleared at stop). */
  dropped: number;
  /** Events written to connections that were lost before an ACK confirmed them. */
  unconfirmed: number;
  /** Events the managers received. */
  received: number;
}

/** The reconciliation of {@link accountEvents}: the totals, the loss, and what does not add up. */
export interface EventAccount extends EventCounts {
  /** Written and never received (`written - received`, summed; negative parts count as unexplained). */
  lost: number;
  /** `generated = received + dropped + lost`. */
  balanced: boolean;
  /** Events that no count explains: loss beyond the agent's own unconfirmed count, more received than written, generated ≠ written + dropped. */
  unexplained: number;
  /** Rows (agents) with an unexplained part. */
  rowsUnexplained: number;
}

/**
 * Reconciles event counts, row by row (an agent each, or one row for a fleet): per row
 * `generated = written + dropped` and `0 <= written - received <= unconfirmed`, then the totals.
 *
 * @param rows - the counts of each agent (or one row of totals).
 * @returns the sums, the loss, whether they balance, and what is unexplained.
 */
export function accountEvents(rows: Iterable<EventCounts>): EventAccount {
  const a: EventAccount = { generated: 0, written: 0, dropped: 0, unconfirmed: 0, received: 0, lost: 0, balanced: true, unexplained: 0, rowsUnexplained: 0 };
  for (const r of rows) {
    const lost = r.written - r.received;
    a.generated += r.generated;
    a.written += r.written;
    a.dropped += r.dropped;
    a.unconfirmed += r.unconfirmed;
    a.received += r.received;
    a.lost += lost;
    const beyond = Math.max(0, lost - r.unconfirmed) + Math.max(0, -lost) + Math.abs(r.generated - r.written - r.dropped);
    if (beyond > 0) {
      a.rowsUnexplained++;
      a.unexplained += beyond;
    }
  }
  a.balanced = a.generated === a.received + a.dropped + a.lost;
  return a;
}

/**
 * Checks the identities of a stopped fleet's event counts (docs/load-testing.md, "Events"): every
 * generated event was accepted or refused, every accepted one was written, evicted, cleared or found
 * unwritable, and `dropped` is the sum of its reasons (so `generated = written + dropped`).
 *
 * @param c - the counts, after the fleet stopped (nothing queued).
 * @returns one line per identity that does not hold (an accounting error), none when all hold.
 */
export function eventIdentityProblems(c: FleetEventCounts): string[] {
  const out: string[] = [];
  const refusedOrAccepted = c.eventsAccepted + c.eventsRefused;
  if (c.eventsGenerated !== refusedOrAccepted) {
    out.push(
      `event accounting error: ${c.eventsGenerated} events were generated but the agents accepted ${c.eventsAccepted} and refused ${c.eventsRefused} (${refusedOrAccepted}); generated = accepted + refused does not hold`,
    );
  }
  const handled = c.eventsWritten + c.eventsEvicted + c.eventsCleared + c.eventsUnwritable;
  if (c.eventsAccepted !== handled) {
    out.push(
      `event accounting error: the agents accepted ${c.eventsAccepted} events but account for ${handled} (written ${c.eventsWritten} + evicted ${c.eventsEvicted} + cleared ${c.eventsCleared} + unwritable ${c.eventsUnwritable}); accepted = written + evicted + cleared + unwritable does not hold`,
    );
  }
  const reasons = c.eventsRefused + c.eventsEvicted + c.eventsCleared + c.eventsUnwritable;
  if (c.eventsDropped !== reasons) {
    out.push(`event accounting error: ${c.eventsDropped} events dropped but the reasons add up to ${reasons} (refused + evicted + cleared + unwritable)`);
  }
  return out;
}
