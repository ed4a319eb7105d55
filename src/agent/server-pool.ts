/**
 * The ordered server list of an agent, with a cursor and per-server counters.
 *
 * Pure: no sockets, no timers, no clock (callers pass `now`). The cursor is Wazuh's `rip_id`
 * (protocol.md 5.3): the index of the server the agent last connected to, 0 at start-up, and the
 * server every reconnection cycle starts from.
 *
 * @module
 */
import type { ResolvedServer } from '../config/options.js';
import { ConfigError } from '../errors.js';

/** Counters kept for one server of a {@link ServerPool}. */
export interface ServerStats {
  /** Connection attempts started on this server. */
  attempts: number;
  /** Attempts that failed (connect, handshake) on this server. */
  failures: number;
  /** Attempts that succeeded (connected) on this server. */
  connects: number;
  /** Time (as passed by the caller, usually epoch ms) of the last attempt; undefined before the first. */
  lastAttemptAt: number | undefined;
  /** Time of the last successful connect; undefined before the first. */
  lastSuccessAt: number | undefined;
  /** Message of the last failure's error; undefined when the last attempt did not fail or gave no error. */
  lastError: string | undefined;
}

/** A copy of a {@link ServerPool}'s state, safe to hand to hooks and policies. */
export interface ServerPoolSnapshot {
  /** The cursor (`rip_id`) at the time of the snapshot. */
  index: number;
  /** Every server in configuration order, with its counters. */
  servers: ReadonlyArray<ResolvedServer & ServerStats>;
}

/**
 * An ordered, cyclic list of servers with a cursor and per-server attempt counters.
 *
 * @example
 * ```ts
 * const pool = new ServerPool(options.servers);
 * pool.recordAttempt(pool.index, Date.now());
 * pool.recordFailure(pool.index, err, Date.now());
 * const next = pool.next(); // the following server, wrapping to the first
 * ```
 */
export class ServerPool {
  /** The servers in configuration (failover) order. Never empty. */
  readonly servers: readonly ResolvedServer[];
  readonly #stats: ServerStats[];
  #index = 0;

  /**
   * @param servers - the ordered server list; a copy is kept unless it is frozen (resolved options
   *   share one frozen list between the clients of a fleet).
   * @throws `ERR_CONFIG` ({@link ConfigError}) when the list is empty.
   */
  constructor(servers: readonly ResolvedServer[]) {
    if (servers.length === 0) {
      throw new ConfigError('The server list is empty: give at least one server in `servers`', {
        element: 'servers',
        value: servers,
      });
    }
    this.servers = Object.isFrozen(servers) ? servers : Object.freeze([...servers]);
    this.#stats = this.servers.map(() => ({
      attempts: 0,
      failures: 0,
      connects: 0,
      lastAttemptAt: undefined,
      lastSuccessAt: undefined,
      lastError: undefined,
    }));
  }

  /** The cursor: Wazuh's `rip_id`, the server last connected to (0 at start). */
  get index(): number {
    return this.#index;
  }

  /** The server under the cursor. */
  get current(): ResolvedServer {
    return this.servers[this.#index]!;
  }

  /** The number of servers (at least 1). */
  get size(): number {
    return this.servers.length;
  }

  /**
   * Moves the cursor to `index`, wrapped modulo {@link ServerPool.size} (negative values count from the end).
   *
   * @param index - any integer; non-integers are truncated, non-finite values select 0.
   * @returns the selected server.
   */
  select(index: number): ResolvedServer {
    this.#index = this.#wrap(index);
    return this.current;
  }

  /**
   * Advances the cursor to the following server, wrapping from the last to the first.
   *
   * @returns the new current server.
   */
  next(): ResolvedServer {
    return this.select(this.#index + 1);
  }

  /**
   * Records that an attempt on server `index` started.
   *
   * @param index - server index (wrapped modulo size).
   * @param now - the time to record, usually `clock.now()`.
   */
  recordAttempt(index: number, now: number): void {
    const s = this.#stats[this.#wrap(index)]!;
    s.attempts++;
    s.lastAttemptAt = now;
  }

  /**
   * Records a successful connect to server `index` and moves the cursor there (`rip_id` is updated
   * at connect time, protocol.md 5.3).
   *
   * @param index - server index (wrapped modulo size).
   * @param now - the time to record.
   */
  recordSuccess(index: number, now: number): void {
    const i = this.#wrap(index);
    const s = this.#stats[i]!;
    s.connects++;
    s.lastSuccessAt = now;
    s.lastError = undefined;
    this.#index = i;
  }

  /**
   * Records a failed attempt on server `index`. The cursor does not move.
   *
   * @param index - server index (wrapped modulo size).
   * @param error - why it failed, when known; its message is kept as `lastError`.
   * @param now - the time of the failure (kept as `lastAttemptAt` when no attempt was recorded yet).
   */
  recordFailure(index: number, error: Error | undefined, now: number): void {
    const s = this.#stats[this.#wrap(index)]!;
    s.failures++;
    s.lastError = error?.message;
    if (s.lastAttemptAt === undefined) s.lastAttemptAt = now;
  }

  /**
   * @param index - server index (wrapped modulo size).
   * @returns a copy of that server's counters.
   */
  stats(index: number): ServerStats {
    return { ...this.#stats[this.#wrap(index)]! };
  }

  /** @returns a copy of the cursor and of every server with its counters. */
  snapshot(): ServerPoolSnapshot {
    return {
      index: this.#index,
      servers: this.servers.map((server, i) => ({ ...server, ...this.#stats[i]! })),
    };
  }

  #wrap(index: number): number {
    const n = this.servers.length;
    if (!Number.isFinite(index)) return 0;
    const i = Math.trunc(index) % n;
    return i < 0 ? i + n : i;
  }
}
