/**
 * Sender-counter stores (protocol.md 3.5): the `(global, local)` pair must never go backwards across
 * restarts, so that the agent keeps working against managers that verify message counters.
 *
 * @module
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { CounterStore, MessageCounterValue } from '../config/options.js';
import { CounterStoreError } from '../errors.js';

/** Largest global counter (32-bit unsigned, as Wazuh). */
const MAX_GLOBAL = 0xffff_ffff;
/** Largest local counter that fits the 4-digit field. */
const MAX_LOCAL = 9999;
const COUNTER_TEXT = /^(\d{1,10}):(\d{1,4}):\s*$/;

/**
 * Orders two counters: first by `global`, then by `local`.
 *
 * @param a - a counter.
 * @param b - another counter.
 * @returns a negative number when `a` is older than `b`, 0 when equal, positive when newer.
 */
export function compareCounters(a: MessageCounterValue, b: MessageCounterValue): number {
  return a.global !== b.global ? a.global - b.global : a.local - b.local;
}

/**
 * Formats a counter as Wazuh's `queue/rids/sender_counter` file does: `"<global>:<local>:"`.
 *
 * @param counter - the counter.
 * @returns the file text, with no newline.
 */
export function formatCounterText(counter: MessageCounterValue): string {
  return `${counter.global}:${counter.local}:`;
}

/**
 * Parses the text of a `sender_counter` file (`"<global>:<local>:"`, trailing whitespace allowed).
 *
 * @param text - the file content.
 * @returns the counter, or undefined when the text is not a valid counter.
 */
export function parseCounterText(text: string): MessageCounterValue | undefined {
  const m = COUNTER_TEXT.exec(text);
  if (!m) return undefined;
  const global = Number(m[1]);
  const local = Number(m[2]);
  if (global > MAX_GLOBAL || local > MAX_LOCAL) return undefined;
  return { global, local };
}

function validCounter(c: MessageCounterValue | undefined): boolean {
  return (
    c !== undefined &&
    Number.isInteger(c.global) &&
    Number.isInteger(c.local) &&
    c.global >= 0 &&
    c.global <= MAX_GLOBAL &&
    c.local >= 0 &&
    c.local <= MAX_LOCAL
  );
}

/**
 * A counter store in memory: the default. It never goes backwards within the process, but forgets
 * everything at exit.
 */
export class MemoryCounterStore implements CounterStore {
  #value: MessageCounterValue;

  /**
   * @param initial - the starting value.
   * @default initial { global: 0, local: 0 }
   */
  constructor(initial: MessageCounterValue = { global: 0, local: 0 }) {
    this.#value = { global: initial.global, local: initial.local };
  }

  /** @returns a copy of the highest value saved (or the initial one). */
  load(): Promise<MessageCounterValue> {
    return Promise.resolve({ ...this.#value });
  }

  /**
   * Keeps `counter` when it is newer than the stored value; older values are ignored.
   *
   * @param counter - the counter after the latest send.
   * @returns a promise that rejects with {@link CounterStoreError} for a counter that is not two
   *   non-negative integers in range.
   */
  save(counter: MessageCounterValue): Promise<void> {
    if (!validCounter(counter)) return Promise.reject(invalidCounter(counter, undefined));
    if (compareCounters(counter, this.#value) > 0) this.#value = { global: counter.global, local: counter.local };
    return Promise.resolve();
  }

  /** Nothing to flush. */
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Options of a {@link FileCounterStore}. */
export interface FileCounterStoreOptions {
  /**
   * Coalesces writes: a save arms one timer and the newest value is written when it fires.
   * 0 writes on every save, as Wazuh does. With a value above 0 a crash without `flush()` can leave the
   * file up to this long behind the counters already sent: see `skipAheadOnLoad`.
   * @default 1000
   */
  flushIntervalMs?: number;
  /**
   * What `load()` does when the file is corrupt: `throw` rejects with {@link CounterStoreError} (the
   * client decides; the store never resets backwards); `skip-ahead` reads the backup `<path>.bak` (kept
   * only in this mode, written after each write of the main file), adds `skipAheadMargin` to its
   * global counter, writes that value back and returns it. With no valid backup it rejects too.
   * @default 'throw'
   */
  onCorrupt?: 'throw' | 'skip-ahead';
  /**
   * Global steps (each 9997 messages) added to the backup value by `onCorrupt: 'skip-ahead'`.
   * @default 100
   */
  skipAheadMargin?: number;
  /**
   * Global steps added to the stored value by every `load()`, to cover messages sent but not yet
   * written when the process crashed (one step covers 9997 messages, more than one `flushIntervalMs`
   * of traffic at any Wazuh rate). 0 returns the stored value unchanged.
   * @default 0
   */
  skipAheadOnLoad?: number;
  /**
   * fsync the temporary file before the rename (durable across power loss, slower).
   * @default false
   */
  fsync?: boolean;
  /**
   * Clock for the coalescing timer.
   * @default systemClock
   */
  clock?: Clock;
  /** Told when a timer-driven write fails (the value stays pending and is retried by the next save or flush). */
  onError?: (error: CounterStoreError) => void;
}

/**
 * A counter store in a file, in Wazuh's `queue/rids/sender_counter` format (`"<global>:<local>:"`).
 *
 * Writes are atomic: the text goes to `<path>.tmp-<pid>` and is renamed over the file, so a reader or
 * a crash never sees a partial file. A value that is not newer than the highest value loaded, saved or
 * already on disk is never written. Writes are serialised, and coalesced per `flushIntervalMs`.
 *
 * @example
 * ```ts
 * const store = new FileCounterStore('/var/lib/myagent/sender_counter');
 * const client = new AgentClient({ ...options, counterStore: store });
 * ```
 */
export class FileCounterStore implements CounterStore {
  /** The counter file. */
  readonly path: string;
  readonly #flushIntervalMs: number;
  readonly #onCorrupt: 'throw' | 'skip-ahead';
  readonly #skipAheadMargin: number;
  readonly #skipAheadOnLoad: number;
  readonly #fsync: boolean;
  readonly #clock: Clock;
  readonly #onError: ((error: CounterStoreError) => void) | undefined;
  /** Highest value known to be on disk (loaded or written). */
  #persisted: MessageCounterValue | undefined;
  /** Highest value saved and not yet written. */
  #pending: MessageCounterValue | undefined;
  #timer: TimerHandle | undefined;
  #chain: Promise<void> = Promise.resolve();

  /**
   * @param path - the counter file; its directory must exist.
   * @param options - coalescing, corruption handling, fsync, clock.
   */
  constructor(path: string, options: FileCounterStoreOptions = {}) {
    this.path = path;
    const interval = options.flushIntervalMs ?? 1000;
    this.#flushIntervalMs = Number.isFinite(interval) && interval > 0 ? interval : 0;
    this.#onCorrupt = options.onCorrupt ?? 'throw';
    this.#skipAheadMargin = Math.max(1, Math.trunc(options.skipAheadMargin ?? 100));
    this.#skipAheadOnLoad = Math.max(0, Math.trunc(options.skipAheadOnLoad ?? 0));
    this.#fsync = options.fsync ?? false;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError;
  }

  /** The backup file used by `onCorrupt: 'skip-ahead'`. */
  get backupPath(): string {
    return `${this.path}.bak`;
  }

  /**
   * Reads the stored counter.
   *
   * @returns `{ global: 0, local: 0 }` when the file does not exist, else the stored value (plus
   *   `skipAheadOnLoad` global steps).
   * @throws `ERR_COUNTER_STORE` ({@link CounterStoreError}) when the file cannot be read, or is corrupt
   *   (the message names the path and the content) and `onCorrupt` is `throw` or no backup helps.
   */
  async load(): Promise<MessageCounterValue> {
    const text = await this.#read(this.path);
    let value: MessageCounterValue | undefined;
    if (text === undefined) {
      const backup = this.#onCorrupt === 'skip-ahead' ? await this.#readBackup() : undefined;
      // A backup without its main file means the main file was removed: recover as from corruption.
      value = backup === undefined ? { global: 0, local: 0 } : this.#skip(backup, this.#skipAheadMargin);
    } else {
      value = parseCounterText(text);
      if (value === undefined) {
        const backup = this.#onCorrupt === 'skip-ahead' ? await this.#readBackup() : undefined;
        if (backup === undefined) {
          throw new CounterStoreError(
            `Corrupt sender counter file '${this.path}': expected "<global>:<local>:", found ${JSON.stringify(text.slice(0, 64))}` +
              (this.#onCorrupt === 'skip-ahead' ? ` and no valid backup in '${this.backupPath}'` : ''),
            { path: this.path },
          );
        }
        value = this.#skip(backup, this.#skipAheadMargin);
      }
    }
    if (this.#skipAheadOnLoad > 0 && (value.global > 0 || value.local > 0)) value = this.#skip(value, this.#skipAheadOnLoad);
    const onDisk = text === undefined ? undefined : parseCounterText(text);
    this.#persisted = onDisk;
    if (onDisk === undefined || compareCounters(value, onDisk) > 0) {
      if (value.global > 0 || value.local > 0) {
        // Write the recovered or skipped-ahead value back so the file is valid and never behind.
        this.#raisePending(value);
        await this.flush();
      }
    }
    return { ...value };
  }

  /**
   * Records `counter` when it is newer than everything known; writes it now (`flushIntervalMs` 0) or
   * when the coalescing timer fires.
   *
   * @param counter - the counter after the latest send.
   * @returns a promise that resolves once the value is queued (or written, with `flushIntervalMs` 0);
   *   rejects with {@link CounterStoreError} for an invalid counter or (immediate mode) a failed write.
   */
  save(counter: MessageCounterValue): Promise<void> {
    if (!validCounter(counter)) return Promise.reject(invalidCounter(counter, this.path));
    if (!this.#raisePending(counter)) return Promise.resolve();
    if (this.#flushIntervalMs === 0) return this.#enqueueWrite();
    if (this.#timer === undefined) {
      this.#timer = unrefTimeout(
        this.#clock,
        () => {
          this.#timer = undefined;
          this.#enqueueWrite().catch((err: unknown) => this.#onError?.(err as CounterStoreError));
        },
        this.#flushIntervalMs,
      );
    }
    return Promise.resolve();
  }

  /**
   * Writes the pending value now (if any) and waits for every write in progress.
   *
   * @throws `ERR_COUNTER_STORE` ({@link CounterStoreError}) when the write fails (the value stays pending).
   */
  flush(): Promise<void> {
    this.#cancelTimer();
    return this.#enqueueWrite();
  }

  /** Flushes and stops the coalescing timer. */
  async close(): Promise<void> {
    await this.flush();
    this.#cancelTimer();
  }

  /** Raises the pending value to `c` when `c` is newer than every known value; returns whether it did. */
  #raisePending(c: MessageCounterValue): boolean {
    const high = this.#pending ?? this.#persisted;
    if (high !== undefined && compareCounters(c, high) <= 0) return false;
    this.#pending = { global: c.global, local: c.local };
    return true;
  }

  #enqueueWrite(): Promise<void> {
    const next = this.#chain.then(() => this.#writePending());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #writePending(): Promise<void> {
    const value = this.#pending;
    if (value === undefined) return;
    if (this.#persisted === undefined) {
      // Saved before load(): never overwrite a newer value already on disk.
      const text = await this.#read(this.path).catch(() => undefined);
      const onDisk = text === undefined ? undefined : parseCounterText(text);
      if (onDisk !== undefined) this.#persisted = onDisk;
    }
    if (this.#persisted !== undefined && compareCounters(value, this.#persisted) <= 0) {
      if (this.#pending === value) this.#pending = undefined;
      return;
    }
    // A newer value saved while this write awaited the read above stays pending: its own write follows.
    if (this.#pending === value) this.#pending = undefined;
    try {
      await this.#atomicWrite(this.path, value);
      this.#persisted = value;
      if (this.#onCorrupt === 'skip-ahead') await this.#atomicWrite(this.backupPath, value);
    } catch (err) {
      // Keep the value pending (unless a newer one arrived meanwhile) so the next flush retries it.
      if (this.#pending === undefined || compareCounters(value, this.#pending) > 0) this.#pending = value;
      throw err instanceof CounterStoreError
        ? err
        : new CounterStoreError(`Cannot write sender counter file '${this.path}': ${(err as Error).message}`, { path: this.path, cause: err });
    }
  }

  async #atomicWrite(path: string, value: MessageCounterValue): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      const fh = await open(tmp, 'w', 0o640);
      try {
        await fh.writeFile(formatCounterText(value));
        if (this.#fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new CounterStoreError(`Cannot write sender counter file '${path}': ${(err as Error).message}`, { path, cause: err });
    }
  }

  async #read(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'latin1');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CounterStoreError(`Cannot read sender counter file '${path}': ${(err as Error).message}`, { path, cause: err });
    }
  }

  async #readBackup(): Promise<MessageCounterValue | undefined> {
    const text = await this.#read(this.backupPath).catch(() => undefined);
    return text === undefined ? undefined : parseCounterText(text);
  }

  #skip(value: MessageCounterValue, steps: number): MessageCounterValue {
    return { global: Math.min(MAX_GLOBAL, value.global + steps), local: 0 };
  }

  #cancelTimer(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function invalidCounter(counter: unknown, path: string | undefined): CounterStoreError {
  let shown: string;
  try {
    shown = JSON.stringify(counter) ?? String(counter);
  } catch {
    shown = String(counter);
  }
  return new CounterStoreError(
    `Invalid sender counter ${shown}: global must be an integer 0..${MAX_GLOBAL} and local an integer 0..${MAX_LOCAL}`,
    path === undefined ? undefined : { path },
  );
}
