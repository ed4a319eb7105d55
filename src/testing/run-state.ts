/**
 * The life cycle of the test kit's servers ({@link MockManager}, {@link MockCluster}): one state
 * union, changed only through a checked transition that logs `from -> to`, as the agent's is.
 *
 * @module
 */
import type { Logger } from '../logger.js';
import { StateError } from '../errors.js';

/** `new` → `starting` → `running` → `closing` → `closed`; `close()` may come at any point. */
export type RunState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** Allowed transitions: the only way a server's run state changes. */
export const RUN_TRANSITIONS: Readonly<Record<RunState, readonly RunState[]>> = {
  new: ['starting', 'closing'],
  starting: ['running', 'closing'],
  running: ['closing'],
  closing: ['closed'],
  closed: [],
};

/** Holds a run state and changes it through {@link RUN_TRANSITIONS}. */
export class RunStateHolder {
  #state: RunState = 'new';
  readonly #what: string;
  readonly #log: Logger;

  /**
   * @param what - the server, in log lines and errors (`MockManager node01`).
   * @param log - where `from -> to` is logged at debug level.
   */
  constructor(what: string, log: Logger) {
    this.#what = what;
    this.#log = log;
  }

  /** The state now. */
  get state(): RunState {
    return this.#state;
  }

  /** Whether `close()` has begun (`closing` or `closed`). */
  get closed(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  /**
   * Moves to `to`.
   *
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when the table does not allow it (a bug).
   */
  transition(to: RunState): void {
    const from = this.#state;
    if (!RUN_TRANSITIONS[from].includes(to)) throw new StateError(`${this.#what}: invalid state transition ${from} -> ${to}`, 'ERR_INVALID_STATE');
    this.#state = to;
    this.#log.debug({ from, to }, `${this.#what} ${from} -> ${to}`);
  }

  /**
   * Checks that `start()` may run and moves to `starting`.
   *
   * @throws {@link agentlink!StateError} `ERR_CLOSED` after close, `ERR_INVALID_STATE` when started twice.
   */
  beginStart(): void {
    if (this.closed) throw new StateError(`${this.#what} is closed`, 'ERR_CLOSED');
    if (this.#state !== 'new') throw new StateError(`${this.#what}.start() was already called`, 'ERR_INVALID_STATE');
    this.transition('starting');
  }
}
