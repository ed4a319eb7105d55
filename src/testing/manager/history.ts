/**
 * The events a {@link MockManager} received: a bounded history, live iterators and the `event` event.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import { AsyncQueue } from '../async-queue.js';
import type { MockManagerEvents, ReceivedEvent } from './types.js';

/** Keeps the newest `limit` events and feeds the iterators. */
export class EventHistory {
  readonly #limit: number;
  readonly #emitter: EventEmitter<MockManagerEvents>;
  #history: ReceivedEvent[] = [];
  #head = 0;
  readonly #queues = new Set<AsyncQueue<ReceivedEvent>>();
  #ended = false;

  constructor(limit: number, emitter: EventEmitter<MockManagerEvents>) {
    this.#limit = limit;
    this.#emitter = emitter;
  }

  /** Keeps an event, gives it to the iterators and emits `event`. */
  record(ev: ReceivedEvent): void {
    if (this.#limit > 0) {
      this.#history.push(ev);
      if (this.#history.length - this.#head > this.#limit) {
        this.#head++;
        if (this.#head >= 4096 && this.#head * 2 >= this.#history.length) {
          this.#history = this.#history.slice(this.#head);
          this.#head = 0;
        }
      }
    }
    for (const q of this.#queues) q.push(ev);
    this.#emitter.emit('event', ev);
  }

  /** @returns the kept events, oldest first (only `id`'s when given). */
  list(id?: string): ReceivedEvent[] {
    const all = this.#history.slice(this.#head);
    return id === undefined ? all : all.filter((e) => e.agentId === id);
  }

  /** Forgets the kept events. */
  clear(): void {
    this.#history = [];
    this.#head = 0;
  }

  /** An iterator of the events from now on (after the kept ones with `replay`). */
  iterate(opts: { bufferSize?: number; replay?: boolean }): AsyncIterableIterator<ReceivedEvent> {
    const q: AsyncQueue<ReceivedEvent> = new AsyncQueue<ReceivedEvent>(opts.bufferSize ?? 100_000, () => this.#queues.delete(q));
    if (opts.replay) for (const e of this.list()) q.push(e);
    if (this.#ended) q.end();
    else this.#queues.add(q);
    return q;
  }

  /** Ends every iterator; later ones end at once. */
  end(): void {
    this.#ended = true;
    for (const q of this.#queues) q.end();
    this.#queues.clear();
  }
}
