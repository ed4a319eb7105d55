/**
 * Terminal output of a fleet run: live progress (redrawn in place on a TTY, one plain line per
 * interval otherwise) and the final summary table.
 *
 * @module
 */
import { clearScreenDown, moveCursor } from 'node:readline';
import type { Writable } from 'node:stream';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { FleetReport } from './report.js';
import { describeChaosEvent } from './report.js';
import { formatErrorCounts } from './verdicts.js';

/** What the progress display shows; the fleet passes a fresh one to {@link ProgressReporter.update}. */
export interface ProgressSnapshot {
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** Planned run length in milliseconds; 0 when the run lasts until interrupted. */
  durationMs: number;
  /** Agents in the fleet. */
  agents: number;
  /** Agents connected now. */
  connected: number;
  /** Agents connecting or reconnecting now. */
  reconnecting: number;
  /** Events the workload generated so far. */
  eventsGenerated: number;
  /** Events the agents' client buffers accepted so far. */
  eventsAccepted: number;
  /** Events written to the wire so far. */
  eventsWritten: number;
  /** Events dropped so far (refused by full buffers, evicted, cleared at stop). */
  eventsDropped: number;
  /** Events the managers received so far; `null` when unknown (managers that are not ours). */
  eventsReceived: number | null;
  /** Recent generation rate, events per second. */
  eventsPerSec: number;
  /** Connected agents per node. */
  perNode: Record<string, number>;
}

/** Options of {@link ProgressReporter}. */
export interface ProgressReporterOptions {
  /** Where to write (usually `process.stderr`). */
  stream: NodeJS.WritableStream | Writable;
  /**
   * Milliseconds between redraws (TTY) or lines (not a TTY).
   * @default 1000
   */
  intervalMs?: number;
  /**
   * Whether to redraw in place with ANSI cursor movement.
   * @default the stream's `isTTY`
   */
  isTTY?: boolean;
  /**
   * Timer source.
   * @default systemClock
   */
  clock?: Clock;
}

const NUMBER = new Intl.NumberFormat('en-US');
const RATE = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** `mm:ss`, or `h:mm:ss` from one hour. */
function clockTime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

function nodeEntries(perNode: Record<string, number>): [string, number][] {
  return Object.entries(perNode).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * Formats a snapshot as one plain line (what a non-TTY stream gets every interval).
 *
 * @param s - the snapshot.
 * @returns the line, without a newline.
 */
export function formatProgressLine(s: ProgressSnapshot): string {
  const time = s.durationMs > 0 ? `${clockTime(s.elapsedMs)}/${clockTime(s.durationMs)}` : clockTime(s.elapsedMs);
  const nodes = nodeEntries(s.perNode)
    .map(([n, c]) => `${n}=${c}`)
    .join(' ');
  return (
    `[${time}] agents=${s.agents} connected=${s.connected} reconnecting=${s.reconnecting} ` +
    `generated=${s.eventsGenerated} accepted=${s.eventsAccepted} written=${s.eventsWritten} dropped=${s.eventsDropped} ` +
    `received=${s.eventsReceived ?? '?'} eps=${s.eventsPerSec.toFixed(1)}` +
    (nodes ? ` ${nodes}` : '')
  );
}

function bar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/**
 * Formats a snapshot as the multi-line TTY display.
 *
 * @param s - the snapshot.
 * @param columns - terminal width, to wrap the per-node line.
 * @returns the lines.
 */
export function formatProgressBlock(s: ProgressSnapshot, columns = 80): string[] {
  const lines: string[] = [];
  if (s.durationMs > 0) {
    const remaining = Math.max(0, s.durationMs - s.elapsedMs);
    const pct = Math.min(100, Math.floor((s.elapsedMs / s.durationMs) * 100));
    lines.push(`elapsed ${clockTime(s.elapsedMs)}  remaining ${clockTime(remaining)}  ${bar(s.elapsedMs / s.durationMs, 20)} ${pct}%`);
  } else {
    lines.push(`elapsed ${clockTime(s.elapsedMs)}  (until interrupted)`);
  }
  lines.push(
    `agents ${NUMBER.format(s.agents)}  connected ${NUMBER.format(s.connected)}  reconnecting ${NUMBER.format(s.reconnecting)}  ` +
      `${bar(s.agents > 0 ? s.connected / s.agents : 0, 10)}`,
  );
  lines.push(
    `events generated ${NUMBER.format(s.eventsGenerated)}  accepted ${NUMBER.format(s.eventsAccepted)}  written ${NUMBER.format(s.eventsWritten)}  ` +
      `dropped ${NUMBER.format(s.eventsDropped)}  received ${s.eventsReceived === null ? '?' : NUMBER.format(s.eventsReceived)}  ${RATE.format(s.eventsPerSec)}/s`,
  );
  const width = Math.max(20, columns - 1);
  let line = 'nodes';
  for (const [node, n] of nodeEntries(s.perNode)) {
    const cell = `  ${node} ${NUMBER.format(n)}`;
    if (line.length + cell.length > width && line !== 'nodes') {
      lines.push(line);
      line = '     ';
    }
    line += cell;
  }
  if (line.trim() !== 'nodes') lines.push(line);
  return lines.map((l) => (l.length > width ? l.slice(0, width) : l));
}

/**
 * Live progress of a fleet run. On a TTY it redraws a small block in place every interval; on
 * anything else (a file, a CI log) it writes one plain line per interval. The timer is unref'd and
 * cleared by {@link ProgressReporter.stop}.
 *
 * @example
 * ```ts
 * const progress = new ProgressReporter({ stream: process.stderr, intervalMs: 1000 });
 * progress.start();
 * fleet.on('tick', () => progress.update(fleet.progress()));
 * // ...
 * progress.stop(fleet.progress());
 * ```
 */
export class ProgressReporter {
  readonly #stream: NodeJS.WritableStream | Writable;
  readonly #intervalMs: number;
  readonly #isTTY: boolean;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  #snapshot: ProgressSnapshot | undefined;
  #drawnLines = 0;
  #running = false;

  /**
   * @param options - stream, interval, TTY mode and clock.
   */
  constructor(options: ProgressReporterOptions) {
    this.#stream = options.stream;
    this.#intervalMs = Math.max(1, options.intervalMs ?? 1000);
    this.#isTTY = options.isTTY ?? (options.stream as { isTTY?: boolean }).isTTY === true;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Sets what the next redraw shows.
   *
   * @param snapshot - the current state.
   */
  update(snapshot: ProgressSnapshot): void {
    this.#snapshot = snapshot;
  }

  /** Starts drawing every interval (a second call does nothing). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  /**
   * Stops drawing and draws a last time: in place on a TTY, as a last line otherwise.
   *
   * @param final - the final state; defaults to the last {@link ProgressReporter.update}.
   */
  stop(final?: ProgressSnapshot): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const wasRunning = this.#running;
    this.#running = false;
    if (final) this.#snapshot = final;
    if (wasRunning || final) this.#draw();
    this.#drawnLines = 0;
  }

  #schedule(): void {
    this.#timer = unrefTimeout(
      this.#clock,
      () => {
        if (!this.#running) return;
        this.#draw();
        this.#schedule();
      },
      this.#intervalMs,
    );
  }

  #draw(): void {
    const s = this.#snapshot;
    if (!s) return;
    const stream = this.#stream;
    if (!this.#isTTY) {
      stream.write(`${formatProgressLine(s)}\n`);
      return;
    }
    if (this.#drawnLines > 0) {
      moveCursor(stream as NodeJS.WritableStream, 0, -this.#drawnLines);
      clearScreenDown(stream as NodeJS.WritableStream);
    }
    // a terminal may report 0 columns (an unset pty size): lay out for 80 then
    const lines = formatProgressBlock(s, (stream as { columns?: number }).columns || 80);
    stream.write(`${lines.join('\n')}\n`);
    this.#drawnLines = lines.length;
  }
}

function fmtMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/**
 * Renders the end-of-run summary of a report as a text table (box-drawing characters).
 *
 * @param report - the report.
 * @returns the table, one row per line, ending with a newline.
 */
export function renderSummaryTable(report: FleetReport): string {
  const rows: ([string, string] | 'sep')[] = [];
  const pct = (n: number, of: number): string => (of > 0 ? ` (${((n / of) * 100).toFixed(1)} %)` : '');
  const a = report.agents;
  rows.push(['agents', NUMBER.format(a.total)]);
  rows.push(['connected at end', `${NUMBER.format(a.connected)}${pct(a.connected, a.total)}`]);
  if (a.neverConnected > 0) rows.push(['never connected', NUMBER.format(a.neverConnected)]);
  rows.push('sep');
  const e = report.events;
  rows.push(['events generated', NUMBER.format(e.generated)]);
  rows.push(['events accepted', `${NUMBER.format(e.accepted)}${pct(e.accepted, e.generated)}`]);
  rows.push(['events written', `${NUMBER.format(e.written)}${pct(e.written, e.generated)}`]);
  rows.push(['events dropped', `${NUMBER.format(e.dropped)}${pct(e.dropped, e.generated)}`]);
  for (const [reason, n] of Object.entries(e.droppedBy)) if (n > 0) rows.push([`  ${reason}`, NUMBER.format(n)]);
  rows.push(['events received', e.received === null ? 'unknown (not our managers)' : `${NUMBER.format(e.received)}${pct(e.received, e.written)}`]);
  if (e.lost !== null) {
    rows.push(['events lost', NUMBER.format(e.lost)]);
    for (const [cause, n] of Object.entries(report.lostExplained)) if (n > 0) rows.push([`  ${cause}`, NUMBER.format(n)]);
  }
  rows.push('sep');
  const lat = (label: string, s: FleetReport['connect']): void => {
    rows.push([label, s.count === 0 ? 'none' : `p50 ${fmtMs(s.p50Ms)}  p99 ${fmtMs(s.p99Ms)}  max ${fmtMs(s.maxMs)}  (n=${NUMBER.format(s.count)})`]);
  };
  lat('connect', report.connect);
  lat('failover', report.failover);
  rows.push(['reconnects', NUMBER.format(report.reconnects.total)]);
  if (report.connectFailures > 0) rows.push(['failed attempts', NUMBER.format(report.connectFailures)]);
  const errors = formatErrorCounts(report.errors, 6);
  if (errors !== '') rows.push(['errors', errors]);
  const dist = nodeEntries(report.distribution);
  if (dist.length > 0) {
    rows.push('sep');
    for (const [node, n] of dist) rows.push([`on ${node}`, `${NUMBER.format(n)}${pct(n, a.connected)}`]);
  }
  if (report.chaos.length > 0) {
    rows.push('sep');
    for (const c of report.chaos) {
      rows.push([`chaos at ${clockTime(c.at)}`, describeChaosEvent(c)]);
    }
  }
  if (report.limits.hit.length > 0) {
    rows.push('sep');
    for (const l of report.limits.hit) rows.push([`limit ${l.limit}`, `${NUMBER.format(l.count)}× ${l.message}`]);
  }
  if (report.shard.count > 1) rows.push(['shards', `${report.shards.join(', ')} of ${report.shard.count}`]);

  const w0 = Math.max(...rows.map((r) => (r === 'sep' ? 0 : r[0].length)));
  const w1 = Math.max(...rows.map((r) => (r === 'sep' ? 0 : r[1].length)));
  const line = (l: string, m: string, r: string): string => `${l}${'─'.repeat(w0 + 2)}${m}${'─'.repeat(w1 + 2)}${r}`;
  const out = [line('┌', '┬', '┐')];
  for (const r of rows) {
    if (r === 'sep') out.push(line('├', '┼', '┤'));
    else out.push(`│ ${r[0].padEnd(w0)} │ ${r[1].padEnd(w1)} │`);
  }
  out.push(line('└', '┴', '┘'));
  return `${out.join('\n')}\n`;
}
