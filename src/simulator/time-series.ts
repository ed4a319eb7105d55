/**
 * `simulate --out FILE.ndjson`: the run's per-second time series, one JSON object a line, written
 * as the run goes (each line is written at the end of its second), so a run that is killed
 * still leaves every second it lived through, and `tail -f` follows it.
 *
 * @module
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { cannotWrite } from './outputs.js';
import type { ProgressSnapshot } from './progress.js';

/**
 * One line of the time series, for one timeline bucket: `t` is the bucket's start (milliseconds
 * since the start of the run); gauges and totals are those at the bucket's end, and
 * `eventsPerSec` is the rate over the bucket.
 */
export type TimeSeriesLine = { t: number } & Pick<ProgressSnapshot, 'connected' | 'reconnecting' | 'eventsGenerated' | 'eventsAccepted' | 'eventsWritten' | 'eventsDropped' | 'eventsReceived' | 'eventsPerSec' | 'perNode'>;

/** Appends the time series to a file, a line per sample. */
export class TimeSeriesWriter {
  #fd: number | undefined;
  readonly #path: string;
  readonly #log: (line: string) => void;

  /**
   * Creates (or truncates) the file.
   *
   * @param path - absolute path.
   * @param log - told when a write fails (the series stops there; the run goes on).
   * @throws {@link agentlink!ToolError} `ERR_USAGE` naming `--out` and the system error code.
   */
  constructor(path: string, log: (line: string) => void = () => undefined) {
    this.#path = path;
    this.#log = log;
    try {
      this.#fd = openSync(path, 'w');
    } catch (err) {
      throw cannotWrite({ flag: '--out', path }, err);
    }
  }

  /**
   * Writes one line.
   *
   * @param s - the sample, taken at the end of the bucket.
   * @param t - the bucket's start, in milliseconds since the start of the run.
   */
  write(s: ProgressSnapshot, t: number): void {
    if (this.#fd === undefined) return;
    const line: TimeSeriesLine = {
      t: Math.round(t),
      connected: s.connected,
      reconnecting: s.reconnecting,
      eventsGenerated: s.eventsGenerated,
      eventsAccepted: s.eventsAccepted,
      eventsWritten: s.eventsWritten,
      eventsDropped: s.eventsDropped,
      eventsReceived: s.eventsReceived,
      eventsPerSec: Math.round(s.eventsPerSec * 100) / 100,
      perNode: s.perNode,
    };
    try {
      writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    } catch (err) {
      // a full disk must not end the run: the report still says what happened
      this.#log(`--out '${this.#path}': cannot write (${(err as NodeJS.ErrnoException).code ?? 'error'}); the time series stops at ${line.t} ms`);
      this.close();
    }
  }

  /** Closes the file. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** The file's path. */
  get path(): string {
    return this.#path;
  }
}
