/**
 * The connect attempt of a client transport (TCP, UDP, memory), written once: the state check, the
 * abort signal, the `connectTimeout` deadline, and one settle that clears them all, as undici's
 * connect timeout hands back its own clear function.
 *
 * @module
 */
import { unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { AbortError, ConnectionError, StateError } from '../errors.js';
import type { AgentlinkError } from '../errors.js';
import type { TransportConnectOptions, TransportState, TransportTarget } from './types.js';

/**
 * Formats a target the way Wazuh logs it: `'[addr]:port/tcp'`.
 *
 * @param target - the server.
 * @returns the text.
 */
export function where(target: TransportTarget): string {
  return `'[${target.address}]:${target.port}/${target.protocol}'`;
}

/** One pending connect. */
export interface ConnectGuard {
  /** Resolves or rejects with the connect's outcome. */
  readonly promise: Promise<void>;
  /** Whether the connect has not settled yet. */
  readonly pending: boolean;
  /**
   * Settles the connect: success without an error, failure with one. Clears the deadline and the
   * abort listener, runs the transport's `onSettle`, then settles the promise. Later calls do nothing.
   */
  settle(error?: AgentlinkError): void;
}

/**
 * Starts guarding a connect. When the connect cannot start (called twice, or the signal already
 * aborted) the guard is returned settled, with `onSettle` called for an abort only.
 *
 * @param kind - the transport's name in errors: `TCP`, `UDP` (its deadline covers the name lookup
 *   and the socket setup: "not ready"), `memory`.
 * @param target - the server.
 * @param state - the transport's state when `connect()` was called: anything but `idle` is refused.
 * @param options - `connectTimeout` (0: none) and `signal`.
 * @param clock - clock of the deadline.
 * @param onSettle - called once when the connect settles, before the promise does: on failure the
 *   transport moves to `closed` and releases its socket.
 * @returns the guard; give `guard.promise` to the caller of `connect()` and call `guard.settle()`
 *   from the socket's events. Check `guard.pending` before starting the socket.
 */
export function guardConnect(
  kind: 'TCP' | 'UDP' | 'memory',
  target: TransportTarget,
  state: TransportState,
  options: Pick<TransportConnectOptions, 'connectTimeout' | 'signal'>,
  clock: Clock,
  onSettle: (error: AgentlinkError | undefined) => void,
): ConnectGuard {
  const guard = new PendingConnect(clock, onSettle);
  if (state !== 'idle') {
    guard.refuse(new StateError(`connect() was already called on the ${kind} transport to ${where(target)} (state ${state})`, 'ERR_INVALID_STATE'));
    return guard;
  }
  const signal = options.signal;
  if (signal) {
    const onAbort = (): void => guard.settle(new AbortError(`Connect to ${where(target)} aborted`, { cause: signal.reason }));
    if (signal.aborted) {
      onAbort();
      return guard;
    }
    guard.listen(signal, onAbort);
  }
  const connectTimeout = options.connectTimeout;
  if (connectTimeout > 0) {
    guard.timer = unrefTimeout(
      clock,
      () =>
        guard.settle(
          new ConnectionError(`Unable to connect to ${where(target)}: ${kind === 'UDP' ? 'not ready' : 'no answer'} within connectTimeout (${connectTimeout} ms)`, 'ERR_CONNECT_TIMEOUT', {
            server: target,
          }),
        ),
      connectTimeout,
    );
  }
  return guard;
}

/** The settle functions of the promise built last, handed from {@link capture} to its constructor. */
let capturedResolve: (() => void) | undefined;
let capturedReject: ((err: AgentlinkError) => void) | undefined;

/** One executor for every guard's promise: a transport connects once per attempt, thousands a second. */
function capture(resolve: () => void, reject: (err: AgentlinkError) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** The {@link ConnectGuard} of {@link guardConnect}: its state in fields, no closure but the deadline's and the abort listener. */
class PendingConnect implements ConnectGuard {
  readonly promise: Promise<void>;
  pending = true;
  /** The `connectTimeout` deadline, when there is one. */
  timer: TimerHandle | undefined = undefined;
  readonly #resolve: () => void;
  readonly #reject: (err: AgentlinkError) => void;
  readonly #clock: Clock;
  readonly #onSettle: (error: AgentlinkError | undefined) => void;
  #signal: AbortSignal | undefined = undefined;
  #onAbort: (() => void) | undefined = undefined;

  constructor(clock: Clock, onSettle: (error: AgentlinkError | undefined) => void) {
    this.promise = new Promise<void>(capture);
    this.#resolve = capturedResolve!;
    this.#reject = capturedReject!;
    capturedResolve = capturedReject = undefined;
    this.#clock = clock;
    this.#onSettle = onSettle;
  }

  /** Settles on the signal's `abort` (the listener is removed when the connect settles). */
  listen(signal: AbortSignal, onAbort: () => void): void {
    this.#signal = signal;
    this.#onAbort = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** The connect could not start: rejects without running `onSettle`. */
  refuse(error: AgentlinkError): void {
    this.pending = false;
    this.#reject(error);
  }

  settle(error?: AgentlinkError): void {
    if (!this.pending) return;
    this.pending = false;
    this.#clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onSettle(error);
    if (error === undefined) this.#resolve();
    else this.#reject(error);
  }
}

/**
 * Detaches a socket left by a failed connect: its listeners go and its late errors are ignored.
 *
 * @param socket - a `net` or `dgram` socket.
 * @returns the socket, to close.
 */
export function detach<S extends { removeAllListeners(): unknown; on(event: 'error', listener: () => void): unknown }>(socket: S): S {
  socket.removeAllListeners();
  socket.on('error', () => {});
  return socket;
}
