/**
 * A push-to-pull queue behind the test kit's `events()` iterators.
 *
 * @module
 */

/**
 * An async iterator fed by {@link AsyncQueue.push} and finished by {@link AsyncQueue.end}. Values
 * pushed while nobody waits are buffered up to `limit` (the oldest are dropped beyond it, and
 * counted in {@link AsyncQueue.dropped}).
 *
 * @internal
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #buffer: T[] = [];
  #head = 0;
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #ended = false;
  readonly #limit: number;
  readonly #onReturn: (() => void) | undefined;
  /** Values dropped because the buffer was full. */
  dropped = 0;

  /**
   * @param limit - most values kept while nobody reads.
   * @param onReturn - called once when the iterator ends (by `end()`, `return()` or a `break`).
   */
  constructor(limit: number, onReturn?: () => void) {
    this.#limit = Math.max(1, limit);
    this.#onReturn = onReturn;
  }

  /** Number of values waiting to be read. */
  get size(): number {
    return this.#buffer.length - this.#head;
  }

  /**
   * Adds a value (ignored after the end).
   *
   * @param value - the value.
   */
  push(value: T): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      w({ value, done: false });
      return;
    }
    this.#buffer.push(value);
    if (this.size > this.#limit) {
      this.#head++;
      this.dropped++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      this.#buffer.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Ends the iterator once the buffered values are read. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const w = this.#waiter;
    if (w !== undefined && this.size === 0) {
      this.#waiter = undefined;
      w({ value: undefined, done: true });
    }
    this.#onReturn?.();
  }

  /** @returns the next value, or done once ended and drained. */
  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.#buffer[this.#head] as T;
      this.#buffer[this.#head] = undefined as T;
      this.#head++;
      if (this.#head === this.#buffer.length) {
        this.#buffer.length = 0;
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Stops the iteration (what `break` in a `for await` calls). */
  return(): Promise<IteratorResult<T>> {
    this.#buffer.length = 0;
    this.#head = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** @returns this iterator. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
