/**
 * The agent side of enrollment (protocol.md 7): one TLS connection to authd (port 1515) carries one
 * request line and one reply. {@link enroll} makes one enrollment (with optional retries on
 * connection failures); {@link enrollWithFallback} is the start-up loop of protocol.md 7.6, over an
 * ordered host list with a growing back-off between rounds.
 *
 * @module
 */
import { isIP } from 'node:net';
import { connect as tlsConnect, DEFAULT_CIPHERS } from 'node:tls';
import type { ConnectionOptions, SecureVersion, TLSSocket } from 'node:tls';
import pRetry, { AbortError as PRetryAbortError } from 'p-retry';
import { systemClock } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../config/options.js';
import { DEFAULT_ENROLLMENT_PORT } from '../config/options.js';
import { AbortError, AgentlinkError, ConfigError, EnrollmentError } from '../errors.js';
import { buildEnrollmentRequest, parseEnrollmentResponse } from '../protocol/enrollment.js';
import { enrollmentKeyHash } from '../protocol/keys.js';
import type { AgentKey } from '../protocol/types.js';

/**
 * The TLS cipher list an enrollment uses when `ciphers` is not given: Node's default list
 * (`tls.DEFAULT_CIPHERS`), as `getconfig client` reports it (`ssl_cipher`).
 *
 * @returns the OpenSSL cipher list.
 */
export function enrollmentCiphers(): string {
  return DEFAULT_CIPHERS;
}

/** Default enrollment deadline (TCP connect, TLS handshake and reply), in milliseconds (`agent.recv_timeout`). */
export const DEFAULT_ENROLLMENT_TIMEOUT = 60_000;
/** Default delay before a retry of {@link enroll} after a connection failure, in milliseconds. */
export const DEFAULT_ENROLLMENT_RETRY_DELAY = 1_000;
/** First back-off of the start-up loop (protocol.md 7.6), in milliseconds; it grows by this much per round. */
export const ENROLLMENT_BACKOFF_STEP = 5_000;
/** Largest back-off of the start-up loop (protocol.md 7.6), in milliseconds. */
export const ENROLLMENT_BACKOFF_MAX = 60_000;
/** Largest reply accepted from authd, in bytes; more is a bad reply. */
const MAX_REPLY_SIZE = 65_536;
/** The shortest valid reply starts with one of these. */
const KEY_PREFIX = "OSSEC K:'";
const ERROR_PREFIX = 'ERROR';

/** Options of {@link enroll}. Secrets (`password`, `key`, the returned key) are never logged. */
export interface EnrollOptions {
  /** authd host name or IP address (`<manager_address>`). */
  host: string;
  /**
   * authd port (`<enrollment><port>`), 1 to 65535.
   * @default 1515
   */
  port?: number;
  /** Agent name: 2 to 128 characters of `[A-Za-z0-9._-]`, not starting with `.`. */
  name: string;
  /** Enrollment password (first line of `authd.pass`), longer than 2 characters. A secret. */
  password?: string | undefined;
  /** Groups to join (`<groups>`), sent as `G:'a,b'`. */
  groups?: readonly string[] | undefined;
  /** `<agent_address>` (an IP or CIDR) or `src` (`<use_source_ip>yes`): the IP the manager records. */
  agentAddress?: string | undefined;
  /** The key the agent already has: its hash is sent as `K:` so the manager will not replace a key it holds. */
  currentKey?: Pick<AgentKey, 'id' | 'name' | 'key'> | undefined;
  /**
   * Agent version sent as `V:`.
   * @default 'v4.14.7'
   */
  version?: string | undefined;
  /**
   * PEM CA certificate(s) (`<server_ca_path>`). When given, the manager's certificate must be signed
   * by it and match `host` (or `servername`); when omitted the certificate is not verified, as Wazuh does.
   */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** PEM client certificate (`<agent_certificate_path>`), for managers with `ssl_agent_ca`. */
  cert?: string | Buffer | undefined;
  /** PEM key of `cert` (`<agent_key_path>`). A secret. */
  key?: string | Buffer | undefined;
  /** Name checked against the manager's certificate and sent as SNI; defaults to `host` (no SNI for an IP). */
  servername?: string | undefined;
  /**
   * Oldest TLS version accepted. The default refuses SSLv3, TLS 1.0 and 1.1, as `<auto_method>no` does.
   * @default 'TLSv1.2'
   */
  minVersion?: SecureVersion | undefined;
  /** OpenSSL cipher list (`<ssl_cipher>`); Node's defaults when omitted. */
  ciphers?: string | undefined;
  /**
   * Deadline for the TCP connect, TLS handshake and reply of one attempt, in milliseconds; 0 disables it.
   * @default 60000
   */
  timeout?: number | undefined;
  /** Aborts the enrollment (and any retry wait): the promise rejects with {@link AbortError}. */
  signal?: AbortSignal | undefined;
  /**
   * Extra attempts after a connection failure (TCP, TLS, timeout, closed without reply). A refusal by
   * authd (`ERROR: …`) or a bad reply is never retried.
   * @default 0
   */
  retries?: number | undefined;
  /**
   * Milliseconds between attempts (constant).
   * @default 1000
   */
  retryDelay?: number | undefined;
  /** Clock for the deadline timer. @default systemClock */
  clock?: Clock | undefined;
  /** Logger (pino-compatible); only the host, port, name, attempt and authd's reason are logged. */
  logger?: Logger | undefined;
}

/**
 * Enrolls with authd: connects over TLS, sends the request line, and reads until a complete
 * `OSSEC K:'…'` arrives or authd closes the connection.
 *
 * @param options - host, name, credentials, TLS settings, deadline, retries and abort signal.
 * @returns the new key, as authd sent it (`{ id, name, ip, key }`). A secret: store it, do not log it.
 * @throws {@link ConfigError} `ERR_CONFIG` for an invalid option (before anything is sent).
 * @throws {@link EnrollmentError} `ERR_ENROLLMENT_REJECTED` when authd refuses (`managerMessage` holds
 *   its reason, e.g. `Invalid password`), `ERR_ENROLLMENT_CONNECTION` for a TCP/TLS failure, a
 *   certificate that does not verify, a timeout or a close without reply, `ERR_ENROLLMENT_RESPONSE`
 *   for a reply that is not valid.
 * @throws {@link AbortError} when `signal` aborts.
 * @example
 * ```ts
 * const key = await enroll({ host: 'manager.example', name: 'web-01', password: process.env.AUTHD_PASS });
 * await writeFile('client.keys', `${key.id} ${key.name} ${key.ip} ${key.key}\n`, { mode: 0o640 });
 * ```
 */
export async function enroll(options: EnrollOptions): Promise<AgentKey> {
  const plan = resolvePlan(options);
  const { signal } = options;
  const retries = options.retries ?? 0;
  const retryDelay = options.retryDelay ?? DEFAULT_ENROLLMENT_RETRY_DELAY;
  checkInteger(retries, 'enrollment.retries', 0);
  checkInteger(retryDelay, 'enrollment.retryDelay', 0);
  throwIfAborted(signal);
  const log = options.logger;
  try {
    return await pRetry(
      async (attempt) => {
        log?.debug({ host: plan.host, port: plan.port, name: options.name, attempt }, 'Requesting a key from authd');
        try {
          return await attemptOnce(plan, signal);
        } catch (err) {
          if (err instanceof EnrollmentError && err.code === 'ERR_ENROLLMENT_CONNECTION') {
            log?.debug({ host: plan.host, port: plan.port, attempt, code: err.code }, err.message);
            throw err;
          }
          if (err instanceof EnrollmentError && err.code === 'ERR_ENROLLMENT_REJECTED') {
            log?.warn({ host: plan.host, port: plan.port, reason: err.managerMessage }, err.message);
          }
          throw new PRetryAbortError(err as Error);
        }
      },
      { retries, minTimeout: retryDelay, factor: 1, signal },
    );
  } catch (err) {
    if (err instanceof AgentlinkError) throw err;
    if (signal?.aborted === true) throw new AbortError('Enrollment aborted', { cause: signal.reason });
    throw new EnrollmentError(`Enrollment with [${plan.host}]:${plan.port} failed: ${String(err)}`, 'ERR_ENROLLMENT_CONNECTION', { cause: err });
  }
}

/**
 * The back-off after a failed round of the start-up loop (protocol.md 7.6): 5 s after the first
 * round, 5 s more after each further round, at most 60 s.
 *
 * @param round - the failed round, from 1 (values below 1 or NaN count as 1).
 * @returns the delay in milliseconds: 5000, 10000, … 60000.
 */
export function enrollmentBackoffDelay(round: number): number {
  const r = Number.isNaN(round) ? 1 : Math.max(1, Math.floor(round));
  return Math.min(ENROLLMENT_BACKOFF_STEP * r, ENROLLMENT_BACKOFF_MAX);
}

/** An enrollment target of {@link enrollWithFallback}: a host name or address, or a host with its own port. */
export type EnrollmentTarget = string | { host: string; port?: number | undefined };

/** One failed attempt of {@link enrollWithFallback}. */
export interface EnrollmentAttemptFailure {
  /** The host tried. */
  host: string;
  /** The port tried. */
  port: number;
  /** The round, from 1. */
  round: number;
  /** Why it failed. */
  error: EnrollmentError;
}

/** Options of {@link enrollWithFallback}: those of {@link enroll}, with a host list instead of one host. */
export interface EnrollWithFallbackOptions extends Omit<EnrollOptions, 'host'> {
  /**
   * Hosts in the order to try: `<manager_address>` first when configured, then each `<server><address>`.
   * An entry may carry its own port; plain host names use `port`.
   */
  hosts: readonly EnrollmentTarget[];
  /**
   * Rounds over `hosts` before giving up with the last error; 1 tries each host once.
   * @default Infinity (until success or abort, as the Wazuh agent does)
   */
  maxRounds?: number | undefined;
  /**
   * Wait after the `round`-th failed round, in milliseconds.
   * @default enrollmentBackoffDelay (5 s, 10 s, … 60 s)
   */
  backoff?: ((round: number) => number) | undefined;
  /** Called after every failed attempt (for progress reporting). */
  onAttemptFailed?: ((failure: EnrollmentAttemptFailure) => void) | undefined;
}

/**
 * The start-up enrollment loop of protocol.md 7.6: tries each host in order; after a round where all
 * failed (refusals included, as the Wazuh agent does), waits {@link enrollmentBackoffDelay} and starts
 * again, until one succeeds, `maxRounds` is reached, or `signal` aborts. The wait uses `clock`, so
 * fake timers apply.
 *
 * @param options - the host list and everything {@link enroll} takes.
 * @returns the new key.
 * @throws {@link ConfigError} for invalid options or an empty host list.
 * @throws {@link EnrollmentError} the last failure, when `maxRounds` rounds failed.
 * @throws {@link AbortError} when `signal` aborts.
 */
export async function enrollWithFallback(options: EnrollWithFallbackOptions): Promise<AgentKey> {
  const { hosts, maxRounds = Infinity, backoff = enrollmentBackoffDelay, onAttemptFailed, ...rest } = options;
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new ConfigError('enrollment needs at least one host (managerAddress or a server address)', { element: 'enrollment.managerAddress' });
  }
  if (maxRounds !== Infinity) checkInteger(maxRounds, 'enrollment.maxRounds', 1);
  const targets = hosts.map((t) => (typeof t === 'string' ? { ...rest, host: t } : { ...rest, host: t.host, port: t.port ?? rest.port }));
  for (const target of targets) resolvePlan(target); // validate everything before the first connection
  const clock = rest.clock ?? systemClock;
  let last: EnrollmentError | undefined;
  for (let round = 1; round <= maxRounds; round++) {
    for (const target of targets) {
      try {
        return await enroll(target);
      } catch (err) {
        if (!(err instanceof EnrollmentError)) throw err;
        last = err;
        const { host } = target;
        const port = target.port ?? DEFAULT_ENROLLMENT_PORT;
        rest.logger?.warn({ host, port, round, code: err.code }, `Enrollment attempt failed: ${err.message}`);
        onAttemptFailed?.({ host, port, round, error: err });
      }
    }
    if (round >= maxRounds) break;
    await sleep(clock, backoff(round), rest.signal);
  }
  throw last!;
}

// --- one attempt ---------------------------------------------------------------------------

interface Plan {
  host: string;
  port: number;
  request: string;
  timeout: number;
  clock: Clock;
  tls: ConnectionOptions;
}

function resolvePlan(o: EnrollOptions): Plan {
  if (typeof o.host !== 'string' || o.host.length === 0 || /[\s/]/.test(o.host)) {
    throw new ConfigError(`invalid enrollment host '${String(o.host)}': expected a host name or IP address`, { element: 'enrollment.managerAddress', value: o.host });
  }
  const port = o.port ?? DEFAULT_ENROLLMENT_PORT;
  checkInteger(port, 'enrollment.port', 1, 65535);
  const timeout = o.timeout ?? DEFAULT_ENROLLMENT_TIMEOUT;
  checkInteger(timeout, 'enrollment.timeout', 0);
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new ConfigError('enrollment client certificate needs both cert and key', { element: o.cert === undefined ? 'enrollment.cert' : 'enrollment.key' });
  }
  const request = buildEnrollmentRequest({
    name: o.name,
    version: o.version,
    password: o.password,
    groups: o.groups,
    agentAddress: o.agentAddress,
    keyHash: o.currentKey === undefined ? undefined : enrollmentKeyHash(o.currentKey),
  });
  const servername = o.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
  const tls: ConnectionOptions = {
    host: o.host,
    port,
    minVersion: o.minVersion ?? 'TLSv1.2',
    rejectUnauthorized: o.ca !== undefined,
    ...(o.ca !== undefined ? { ca: o.ca } : {}),
    ...(o.cert !== undefined ? { cert: o.cert, key: o.key } : {}),
    ...(servername !== undefined ? { servername } : {}),
    ...(o.ciphers !== undefined ? { ciphers: o.ciphers } : {}),
  };
  return { host: o.host, port, request, timeout, clock: o.clock ?? systemClock, tls };
}

function attemptOnce(plan: Plan, signal: AbortSignal | undefined): Promise<AgentKey> {
  return new Promise<AgentKey>((resolve, reject) => {
    const where = `[${plan.host}]:${plan.port}`;
    let settled = false;
    let timer: TimerHandle | undefined;
    let socket: TLSSocket | undefined;
    const chunks: Buffer[] = [];
    let size = 0;

    const finish = (err: Error | undefined, key?: AgentKey): void => {
      if (settled) return;
      settled = true;
      plan.clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket?.destroy();
      if (err !== undefined) reject(err);
      else resolve(key!);
    };
    const onAbort = (): void => finish(new AbortError('Enrollment aborted', { cause: signal?.reason }));
    const connectionError = (detail: string, cause?: unknown): EnrollmentError =>
      new EnrollmentError(`Enrollment connection to ${where} failed: ${detail}`, 'ERR_ENROLLMENT_CONNECTION', { cause });

    /** Settles once the reply is complete; `closed` says authd closed the connection. */
    const evaluate = (closed: boolean): void => {
      if (settled) return;
      const text = Buffer.concat(chunks, size).toString('latin1');
      if (text.length === 0) {
        if (closed) finish(connectionError('authd closed the connection without replying'));
        return;
      }
      const complete =
        closed ||
        (text.startsWith(KEY_PREFIX) && text.indexOf("'", KEY_PREFIX.length) >= 0) ||
        (text.startsWith(ERROR_PREFIX) && text.includes('Unable to add agent')) ||
        !couldBeReply(text);
      if (!complete) return;
      try {
        const reply = parseEnrollmentResponse(text);
        if (reply.ok) finish(undefined, reply.key);
        else {
          finish(
            new EnrollmentError(`${reply.reason} (from manager)`, 'ERR_ENROLLMENT_REJECTED', { managerMessage: reply.reason }),
          );
        }
      } catch (err) {
        finish(err as Error);
      }
    };

    if (signal?.aborted === true) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (plan.timeout > 0) {
      timer = plan.clock.setTimeout(() => finish(connectionError(`no reply within ${plan.timeout} ms`)), plan.timeout);
    }
    try {
      socket = tlsConnect(plan.tls);
    } catch (err) {
      finish(connectionError(err instanceof Error ? err.message : String(err), err));
      return;
    }
    socket.once('secureConnect', () => {
      socket!.write(plan.request);
    });
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REPLY_SIZE) {
        finish(new EnrollmentError(`authd at ${where} sent more than ${MAX_REPLY_SIZE} bytes without a complete reply`, 'ERR_ENROLLMENT_RESPONSE'));
        return;
      }
      chunks.push(chunk);
      evaluate(false);
    });
    socket.once('end', () => evaluate(true));
    socket.once('close', () => evaluate(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after a complete reply changes nothing: the reply is evaluated first.
      if (size > 0) evaluate(false);
      finish(connectionError(`${err.message}${err.code ? ` (${err.code})` : ''}`, err));
    });
  });
}

/** Whether `text` can still become `OSSEC K:'…` or `ERROR…`. */
function couldBeReply(text: string): boolean {
  const n1 = Math.min(text.length, KEY_PREFIX.length);
  const n2 = Math.min(text.length, ERROR_PREFIX.length);
  return text.slice(0, n1) === KEY_PREFIX.slice(0, n1) || text.slice(0, n2) === ERROR_PREFIX.slice(0, n2);
}

function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new AbortError('Enrollment aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(new AbortError('Enrollment aborted', { cause: signal?.reason }));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError('Enrollment aborted', { cause: signal.reason });
}

function checkInteger(value: number, element: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`invalid ${element} ${String(value)}: expected an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`, {
      element,
      value,
    });
  }
}
