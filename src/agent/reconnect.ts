/**
 * Reconnect planning: which server to try next and after how long.
 *
 * Pure and deterministic given the injected `random()`: no timers, no clock. The AgentClient asks
 * {@link ReconnectPlanner.start} for the first attempt of a cycle and {@link ReconnectPlanner.fail}
 * after each failed attempt, then sleeps `delay` and tries `server`.
 *
 * @module
 */
import type { ReconnectContext, ReconnectDecision, ResolvedReconnect, ResolvedServer } from '../config/options.js';
import { ConfigError, StateError } from '../errors.js';

/** One planned connection attempt. */
export interface PlannedAttempt {
  /** Index of the server to try, into the configured server list. */
  server: number;
  /** Milliseconds to wait before the attempt (0: at once). */
  delay: number;
  /** 1-based number of this attempt since the cycle started ({@link ReconnectPlanner.start} plans attempt 1). */
  attempt: number;
  /** Full rounds over the server list completed since the cycle started (0 in the first round). */
  round: number;
  /**
   * Set only by the `wazuh` strategy, on the attempt planned right after the planner moved off a server
   * because all its `maxRetries` attempts failed: the index of that exhausted server. The client runs
   * the protocol.md 7.6 enrollment attempt against it, before sleeping `delay`.
   */
  serverExhausted?: number;
}

/**
 * Randomises a delay downwards by up to a fraction of it.
 *
 * @param base - the delay in milliseconds.
 * @param jitter - the fraction (clamped to 0..1) that is randomised; 0 returns `base` unchanged, 1 is
 *   "full jitter" (uniform in `[0, base]`).
 * @param random - a source of uniform numbers in `[0, 1)`, like `Math.random`.
 * @returns a number uniform in `[base × (1 − jitter), base]`.
 */
export function applyJitter(base: number, jitter: number, random: () => number): number {
  const j = clampJitter(jitter);
  if (j === 0 || base <= 0) return Math.max(0, base);
  return base * (1 - j) + base * j * unit(random);
}

/**
 * Plans reconnection attempts for one of the strategies of `ResolvedReconnect`.
 *
 * **`wazuh`** (protocol.md 5.3, exactly): a cycle starts on server `from` (the last connected one,
 * `rip_id`). On server `cur` the agent makes `maxRetries(cur)` attempts; after every failed attempt it
 * waits `retryInterval(cur)`; after the `maxRetries(cur)`-th failure it waits `retryInterval(cur)` once
 * more and moves to `cur + 1`, wrapping to 0 after the last server. That attempt carries
 * `serverExhausted = cur`. With three servers, `maxRetries` 5 and `retryInterval` 10 s, attempts run on
 * s0 at t = 0, 10, 20, 30, 40 s, on s1 at 50 … 90 s, on s2 at 100 … 140 s, on s0 again at 150 s.
 * With `jitter` j > 0 every wait is uniform in `[retryInterval × (1 − j), retryInterval]`. A round
 * completes each time every server has been exhausted once more.
 *
 * **`backoff`**: the next server after each failure (cyclic from `from`). A round completes when every
 * server has failed once since the previous round boundary; inside a round the next attempt is
 * immediate (delay 0, the list is bounded so this cannot loop hot); at the boundary of round r
 * (r = 1, 2, …) the delay is `min(maxDelay, initialDelay × factor^(r−1))`, jittered with
 * {@link applyJitter} (jitter 1: uniform in `[0, d]`). With one server every failure is a boundary.
 * With `maxAttempts` > 0, {@link ReconnectPlanner.fail} returns `false` at that many failures.
 *
 * **`custom`**: after every failure the policy function is called with a {@link ReconnectContext}
 * (`attempt` = failures so far in this cycle, 1 for the first retry; `serverIndex` = the server just
 * tried; `attemptsOnServer` = consecutive attempts on it, counting the failed one; `round` = rounds
 * completed, counted as for `backoff`; `error`; `servers`). Its `server` is wrapped modulo the list
 * size (omitted or not finite: the same server again), its `delay` is used when it is a finite number
 * ≥ 0 and is 0 otherwise. Returning `false` gives up. A policy that throws, or returns something that is
 * neither `false` nor an object, also gives up; the reason is kept in {@link ReconnectPlanner.policyError}.
 *
 * **Start delay** ({@link ReconnectPlanner.start}): reason `initial` (process start) is always 0.
 * Reason `lost` (connection lost or forced): `wazuh` waits 0 without jitter and uniform
 * `[0, jitter × retryInterval(from)]` with it; `backoff` waits uniform `[0, jitter × initialDelay]`;
 * `custom` waits 0.
 */
export class ReconnectPlanner {
  readonly #reconnect: ResolvedReconnect;
  readonly #servers: readonly ResolvedServer[];
  readonly #random: () => number;
  #active = false;
  #gaveUp = false;
  #server = 0;
  #attempt = 0;
  #failures = 0;
  #attemptsOnServer = 0;
  #round = 0;
  #exhaustedCount = 0;
  #exhausted: number | undefined;
  /** Which servers failed in the current round (`backoff`, `custom`); made at the first failure that counts. */
  #failedInRound: boolean[] | undefined;
  #failedInRoundCount = 0;
  #policyError: Error | undefined;

  /**
   * @param reconnect - the resolved strategy.
   * @param servers - the server list, in configuration order (at least one).
   * @param random - uniform source in `[0, 1)` used for jitter; `Math.random` when omitted.
   * @throws `ERR_CONFIG` ({@link ConfigError}) when the server list is empty.
   */
  constructor(reconnect: ResolvedReconnect, servers: readonly ResolvedServer[], random: () => number = Math.random) {
    if (servers.length === 0) {
      throw new ConfigError('The server list is empty: give at least one server in `servers`', { element: 'servers', value: servers });
    }
    this.#reconnect = reconnect;
    this.#servers = servers;
    this.#random = random;
  }

  /** Attempts planned on the current server in its current stint, counting the latest planned one (0 before `start`). */
  get attemptsOnServer(): number {
    return this.#attemptsOnServer;
  }

  /** Full rounds over the server list completed since the cycle started. */
  get round(): number {
    return this.#round;
  }

  /** 1-based number of the latest planned attempt in this cycle (0 before `start`). */
  get attempt(): number {
    return this.#attempt;
  }

  /** Failed attempts reported through {@link ReconnectPlanner.fail} in this cycle. */
  get failures(): number {
    return this.#failures;
  }

  /** Index of the server of the latest planned attempt. */
  get server(): number {
    return this.#server;
  }

  /** The server the latest {@link ReconnectPlanner.fail} moved off after exhausting its retries (`wazuh` only), else undefined. */
  get exhaustedServer(): number | undefined {
    return this.#exhausted;
  }

  /** Whether the planner gave up (`fail` returned false) in this cycle. */
  get gaveUp(): boolean {
    return this.#gaveUp;
  }

  /** Why a custom policy made the planner give up by throwing or returning an invalid value, else undefined. */
  get policyError(): Error | undefined {
    return this.#policyError;
  }

  /**
   * Starts a cycle (resetting every counter) from server `from`, the last connected one.
   *
   * @param from - server index (wrapped modulo the list size).
   * @param reason - `initial` at process start, `lost` after a lost or forced-closed connection.
   * @returns the first attempt (attempt 1, round 0).
   */
  start(from: number, reason: 'initial' | 'lost'): PlannedAttempt {
    const server = this.#wrap(from, 0);
    this.#active = true;
    this.#gaveUp = false;
    this.#server = server;
    this.#attempt = 1;
    this.#failures = 0;
    this.#attemptsOnServer = 1;
    this.#round = 0;
    this.#exhaustedCount = 0;
    this.#exhausted = undefined;
    this.#failedInRound?.fill(false);
    this.#failedInRoundCount = 0;
    this.#policyError = undefined;
    let delay = 0;
    if (reason === 'lost') {
      const r = this.#reconnect;
      if (r.strategy === 'wazuh') delay = clampJitter(r.jitter) * this.#servers[server]!.retryInterval * unit(this.#random);
      else if (r.strategy === 'backoff') delay = clampJitter(r.jitter) * r.initialDelay * unit(this.#random);
    }
    return { server, delay, attempt: 1, round: 0 };
  }

  /**
   * Reports that the latest planned attempt failed.
   *
   * @param error - why it failed, when known (passed to a custom policy).
   * @returns the next attempt, or `false` to give up (backoff `maxAttempts` reached, custom policy
   *   returned false or misbehaved). After giving up it keeps returning false until the next `start`.
   * @throws `ERR_INVALID_STATE` ({@link StateError}) when called before {@link ReconnectPlanner.start}.
   */
  fail(error: Error | undefined): PlannedAttempt | false {
    if (!this.#active) throw new StateError('ReconnectPlanner.fail() called before start()', 'ERR_INVALID_STATE');
    if (this.#gaveUp) return false;
    this.#failures++;
    this.#exhausted = undefined;
    const cur = this.#server;
    const r = this.#reconnect;
    let next: number;
    let delay: number;
    if (r.strategy === 'wazuh') {
      const server = this.#servers[cur]!;
      delay = applyJitter(server.retryInterval, r.jitter, this.#random);
      if (this.#attemptsOnServer < Math.max(1, server.maxRetries)) {
        next = cur;
      } else {
        this.#exhausted = cur;
        this.#exhaustedCount++;
        if (this.#exhaustedCount % this.#servers.length === 0) this.#round++;
        next = (cur + 1) % this.#servers.length;
      }
    } else if (r.strategy === 'backoff') {
      const boundary = this.#markFailed(cur);
      if (r.maxAttempts > 0 && this.#failures >= r.maxAttempts) return this.#giveUp();
      next = (cur + 1) % this.#servers.length;
      delay = boundary ? applyJitter(Math.min(r.maxDelay, r.initialDelay * r.factor ** (this.#round - 1)), r.jitter, this.#random) : 0;
    } else {
      this.#markFailed(cur);
      const ctx: ReconnectContext = {
        attempt: this.#failures,
        serverIndex: cur,
        servers: this.#servers,
        error,
        attemptsOnServer: this.#attemptsOnServer,
        round: this.#round,
      };
      let decision: ReconnectDecision | false;
      try {
        decision = r.policy(ctx);
      } catch (err) {
        this.#policyError = new ConfigError('The reconnect policy function threw; giving up', { element: 'reconnect', cause: err });
        return this.#giveUp();
      }
      if (decision === false) return this.#giveUp();
      if (typeof decision !== 'object' || decision === null) {
        this.#policyError = new ConfigError(
          `The reconnect policy function returned ${String(decision)}; it must return { server?, delay } or false`,
          { element: 'reconnect', value: decision },
        );
        return this.#giveUp();
      }
      next = decision.server === undefined ? cur : this.#wrap(decision.server, cur);
      const d = decision.delay;
      delay = typeof d === 'number' && Number.isFinite(d) && d >= 0 ? d : 0;
    }
    this.#attemptsOnServer = next === cur && this.#exhausted === undefined ? this.#attemptsOnServer + 1 : 1;
    this.#server = next;
    this.#attempt++;
    const plan: PlannedAttempt = { server: next, delay, attempt: this.#attempt, round: this.#round };
    if (this.#exhausted !== undefined) plan.serverExhausted = this.#exhausted;
    return plan;
  }

  /** Marks a failure on `index` for the backoff/custom round count; returns true when it completed a round. */
  #markFailed(index: number): boolean {
    const failed = (this.#failedInRound ??= this.#servers.map(() => false));
    if (!failed[index]) {
      failed[index] = true;
      this.#failedInRoundCount++;
    }
    if (this.#failedInRoundCount < this.#servers.length) return false;
    this.#round++;
    failed.fill(false);
    this.#failedInRoundCount = 0;
    return true;
  }

  #giveUp(): false {
    this.#gaveUp = true;
    return false;
  }

  #wrap(index: number, fallback: number): number {
    if (typeof index !== 'number' || !Number.isFinite(index)) return fallback;
    const n = this.#servers.length;
    const i = Math.trunc(index) % n;
    return i < 0 ? i + n : i;
  }
}

function clampJitter(jitter: number): number {
  if (!Number.isFinite(jitter) || jitter <= 0) return 0;
  return jitter >= 1 ? 1 : jitter;
}

/** One draw from `random`, forced into [0, 1] so a bad source cannot make delays negative or huge. */
function unit(random: () => number): number {
  const x = random();
  if (!Number.isFinite(x) || x <= 0) return 0;
  return x >= 1 ? 1 : x;
}
