/**
 * An agent's enrollment (protocol.md 7.6): at startup when it has no key, and once after each
 * failed round of a server; then the wait of `delayAfterEnrollment` before connecting.
 *
 * @module
 */
import { unrefTimeout } from '../clock.js';
import type { Clock } from '../clock.js';
import type { AgentIdentity, Logger, ResolvedAgentClientOptions } from '../config/options.js';
import { AgentlinkError } from '../errors.js';
import type { enrollWithFallback, EnrollWithFallbackOptions } from '../enrollment/client.js';
import type { AgentKey } from '../protocol/types.js';
import { Wait } from './wait.js';

/**
 * Builds the options of one enrollment: at startup every known host (the enrollment manager
 * address, then each server's), after a failed round only that round's server, once.
 *
 * @param o - the resolved agent options.
 * @param phase - `startup` (no key yet) or `round` (a whole round of a server failed).
 * @param host - the server of that round.
 * @param current - the key in use (re-enrollment keeps its name).
 * @param runtime - clock, abort signal and logger.
 * @returns the options for `enrollWithFallback`.
 */
export function enrollmentRequest(
  o: ResolvedAgentClientOptions,
  phase: 'startup' | 'round',
  host: string | undefined,
  current: AgentKey | undefined,
  runtime: { clock: Clock; signal: AbortSignal; logger: Logger },
): EnrollWithFallbackOptions {
  const e = o.enrollment;
  const hosts = host ? [host] : [...(e.managerAddress ? [e.managerAddress] : []), ...o.servers.map((s) => s.address)];
  return {
    hosts: [...new Set(hosts)],
    port: e.port,
    name: current?.name ?? e.agentName,
    ...(e.password !== undefined ? { password: e.password } : {}),
    groups: e.groups,
    ...(e.agentAddress !== undefined ? { agentAddress: e.agentAddress } : {}),
    ...(current ? { currentKey: current } : {}),
    ...(e.ca !== undefined ? { ca: e.ca } : {}),
    ...(e.cert !== undefined ? { cert: e.cert } : {}),
    ...(e.key !== undefined ? { key: e.key } : {}),
    timeout: e.timeout,
    clock: runtime.clock,
    signal: runtime.signal,
    ...(phase === 'round' ? { maxRounds: 1 } : {}),
    logger: runtime.logger,
  };
}

/** What an {@link AgentEnroller} needs from its agent. */
export interface AgentEnrollerDeps {
  /** The resolved options. */
  options: ResolvedAgentClientOptions;
  /** The enrollment function. */
  enroll: typeof enrollWithFallback;
  /** Clock of the enrollment's waits and of `delayAfterEnrollment`. */
  clock: Clock;
  /** Receives the new key as soon as it arrives (before `delayAfterEnrollment`). */
  onEnrolled(key: AgentIdentity): void;
  /** Told about a failed enrollment after a round (the agent carries on with its old key). */
  onError(error: AgentlinkError): void;
  /** Whether the enrollment's waits keep the process alive (see {@link AgentEnroller.setRef}). */
  ref: boolean;
}

/** Runs an agent's enrollments; {@link AgentEnroller.teardown} aborts the one in progress and its delay. */
export class AgentEnroller {
  readonly #d: AgentEnrollerDeps;
  readonly #controller = new AbortController();
  readonly #delay: Wait;
  #ref: boolean;

  /** @param deps - options, enrollment function, clock and callbacks. */
  constructor(deps: AgentEnrollerDeps) {
    this.#d = deps;
    this.#ref = deps.ref;
    this.#delay = new Wait(deps.clock, deps.ref);
  }

  /**
   * Whether the waits (between enrollment rounds, after enrollment) keep the process alive. An
   * enrollment already running keeps the timers it started with, and its TLS socket keeps the process
   * alive until it ends (at most `enrollment.timeout`).
   *
   * @param ref - true to keep the process alive.
   */
  setRef(ref: boolean): void {
    this.#ref = ref;
    this.#delay.setRef(ref);
  }

  /**
   * Enrolls, hands the key to `onEnrolled`, then waits `delayAfterEnrollment`.
   *
   * @param phase - `startup` (no key yet) or `round` (a whole round of `host` failed).
   * @param host - the server of that round.
   * @param current - the key in use.
   * @param logger - the agent's logger.
   * @throws what the enrollment throws (an `AbortError` after {@link AgentEnroller.teardown}).
   */
  async run(phase: 'startup' | 'round', host: string | undefined, current: AgentKey | undefined, logger: Logger): Promise<void> {
    const d = this.#d;
    const clock = this.#ref ? d.clock : unrefClock(d.clock);
    const key = await d.enroll(enrollmentRequest(d.options, phase, host, current, { clock, signal: this.#controller.signal, logger }));
    d.onEnrolled(key);
    const delay = d.options.enrollment.delayAfterEnrollment;
    if (delay > 0 && !this.#controller.signal.aborted) await this.#delay.sleep(delay);
  }

  /**
   * One enrollment after a failed round on `host`; a failure other than an abort goes to `onError`.
   *
   * @param host - the server of that round.
   * @param current - the key in use.
   * @param logger - the agent's logger.
   */
  async afterRound(host: string, current: AgentKey | undefined, logger: Logger): Promise<void> {
    try {
      await this.run('round', host, current, logger);
    } catch (err) {
      if (err instanceof AgentlinkError && err.code !== 'ERR_ABORTED') this.#d.onError(err);
    }
  }

  /** Aborts the enrollment in progress and ends the delay at once. Idempotent. */
  teardown(): void {
    this.#controller.abort();
    this.#delay.wake();
  }
}

/** The same clock, with every timer unref'd. */
function unrefClock(clock: Clock): Clock {
  return {
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    setTimeout: (fn, ms) => unrefTimeout(clock, fn, ms),
    clearTimeout: (handle) => clock.clearTimeout(handle),
  };
}
