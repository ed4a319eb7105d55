/**
 * Every error agentlink throws or emits is an {@link AgentlinkError} with a stable `code`.
 * Subclasses group the codes by failure domain so callers can `instanceof` the domain and
 * `switch` on the code. The codes are listed, with causes and remedies, in `docs/errors.md`.
 *
 * @module
 */

/** Every stable error code agentlink uses. */
export const ERROR_CODES = {
  // decoding (protocol/)
  /** A payload or message does not follow the wire format (missing `:`, bad `!id!` header, bad counters). */
  ERR_DECODE_FORMAT: 'ERR_DECODE_FORMAT',
  /** The `!id!` header names an agent that no key is known for, or the source IP matches no key. */
  ERR_DECODE_UNKNOWN_AGENT: 'ERR_DECODE_UNKNOWN_AGENT',
  /** The ciphertext does not decrypt with the key (bad length, bad PKCS#7 padding, no `!` prefix). */
  ERR_DECODE_DECRYPT: 'ERR_DECODE_DECRYPT',
  /** The decrypted data is not a valid zlib stream, or inflates to too little or too much. */
  ERR_DECODE_COMPRESSION: 'ERR_DECODE_COMPRESSION',
  /** The MD5 checksum inside the message does not match its content. */
  ERR_DECODE_CHECKSUM: 'ERR_DECODE_CHECKSUM',
  /** The message counter was replayed or went backwards (counter verification on). */
  ERR_DECODE_COUNTER: 'ERR_DECODE_COUNTER',
  /** A payload or message is empty, truncated, or larger than the protocol allows. */
  ERR_DECODE_SIZE: 'ERR_DECODE_SIZE',
  /** A TCP frame announced a length above 65536 bytes. */
  ERR_DECODE_FRAME_TOO_LARGE: 'ERR_DECODE_FRAME_TOO_LARGE',
  /** A decrypted plaintext does not follow the grammar of the message it claims to be. */
  ERR_DECODE_MESSAGE: 'ERR_DECODE_MESSAGE',

  // encoding (protocol/)
  /** A message cannot be encoded: empty, more than 65408 bytes, or compressing to more than 65524 bytes. */
  ERR_ENCODE_SIZE: 'ERR_ENCODE_SIZE',

  // configuration (config/)
  /** An option or ossec.conf element has an impossible value. */
  ERR_CONFIG: 'ERR_CONFIG',
  /** The ossec.conf text is not well-formed XML. */
  ERR_CONFIG_XML: 'ERR_CONFIG_XML',
  /** client.keys text has an invalid line. */
  ERR_CONFIG_KEYS: 'ERR_CONFIG_KEYS',

  // connection (transport/, agent/)
  /** The TCP connect or UDP socket setup failed (refused, unreachable, DNS). */
  ERR_CONNECT: 'ERR_CONNECT',
  /** The TCP connect did not complete within `connectTimeout`. */
  ERR_CONNECT_TIMEOUT: 'ERR_CONNECT_TIMEOUT',
  /** The connection closed or failed while in use. */
  ERR_CONNECTION_LOST: 'ERR_CONNECTION_LOST',
  /** No `#!-agent ack ` arrived within `handshakeTimeout`. */
  ERR_HANDSHAKE_TIMEOUT: 'ERR_HANDSHAKE_TIMEOUT',
  /** The manager answered the startup message with `#!-err` (for example a version error). */
  ERR_HANDSHAKE_REJECTED: 'ERR_HANDSHAKE_REJECTED',
  /** The manager answered the startup message with something other than an ACK. */
  ERR_HANDSHAKE_UNEXPECTED: 'ERR_HANDSHAKE_UNEXPECTED',
  /** No control message arrived for `timeReconnect`: the server is treated as lost. */
  ERR_SERVER_SILENT: 'ERR_SERVER_SILENT',
  /** The reconnect policy returned `false`: the agent gave up. */
  ERR_RECONNECT_GAVE_UP: 'ERR_RECONNECT_GAVE_UP',
  /** A payload is larger than the transport carries (a UDP datagram above 65507 bytes, a TCP frame above 65536). */
  ERR_MESSAGE_TOO_LARGE: 'ERR_MESSAGE_TOO_LARGE',

  // life cycle
  /** The operation was aborted through an AbortSignal or `stop()`. */
  ERR_ABORTED: 'ERR_ABORTED',
  /** The object is closed (or closing) and cannot do what was asked. */
  ERR_CLOSED: 'ERR_CLOSED',
  /** The call is not valid in the current state (for example `start()` twice). */
  ERR_INVALID_STATE: 'ERR_INVALID_STATE',
  /** A wait did not complete within its deadline. */
  ERR_TIMEOUT: 'ERR_TIMEOUT',

  // enrollment (enrollment/)
  /** The manager's authd refused the enrollment; `managerMessage` holds its `ERROR: …` text. */
  ERR_ENROLLMENT_REJECTED: 'ERR_ENROLLMENT_REJECTED',
  /** The enrollment connection failed (TCP, TLS, certificate verification, timeout). */
  ERR_ENROLLMENT_CONNECTION: 'ERR_ENROLLMENT_CONNECTION',
  /** authd answered with something that is not a valid `OSSEC K:'…'` reply. */
  ERR_ENROLLMENT_RESPONSE: 'ERR_ENROLLMENT_RESPONSE',

  // persistence
  /** The counter store could not be read or written, or holds corrupt data. */
  ERR_COUNTER_STORE: 'ERR_COUNTER_STORE',

  // manager requests
  /** A `#!-req` request to an agent failed or timed out. */
  ERR_REQUEST: 'ERR_REQUEST',

  // tools
  /** A command-line usage error (unknown flag, malformed value). */
  ERR_USAGE: 'ERR_USAGE',
  /** A required external program (haproxy, nginx, chromium) is missing or failed to start. */
  ERR_EXTERNAL_PROGRAM: 'ERR_EXTERNAL_PROGRAM',
  /** A system limit (open files, ephemeral ports) was reached. */
  ERR_RESOURCE_LIMIT: 'ERR_RESOURCE_LIMIT',
  /** A test-kit server (remoted, authd, a fault proxy) cannot listen on its address and port. */
  ERR_LISTEN: 'ERR_LISTEN',
} as const;

/** One of the stable error codes in {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Options accepted by every agentlink error constructor. */
export interface AgentlinkErrorOptions {
  /** The underlying error, kept as `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error agentlink throws or emits.
 *
 * @example
 * ```ts
 * try { decodeSecureMessage(buf, { keys }); }
 * catch (err) {
 *   if (err instanceof AgentlinkError && err.code === 'ERR_DECODE_CHECKSUM') { ... }
 * }
 * ```
 */
export class AgentlinkError extends Error {
  /** Stable, documented code: switch on this, never on the message. */
  readonly code: ErrorCode;

  /**
   * @param message - what went wrong and, where it helps, what to change.
   * @param code - the stable code.
   * @param options - `cause` to keep the underlying error.
   */
  constructor(message: string, code: ErrorCode, options?: AgentlinkErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Codes a {@link DecodeError} can carry. */
export type DecodeErrorCode =
  | 'ERR_DECODE_FORMAT'
  | 'ERR_DECODE_UNKNOWN_AGENT'
  | 'ERR_DECODE_DECRYPT'
  | 'ERR_DECODE_COMPRESSION'
  | 'ERR_DECODE_CHECKSUM'
  | 'ERR_DECODE_COUNTER'
  | 'ERR_DECODE_SIZE'
  | 'ERR_DECODE_FRAME_TOO_LARGE'
  | 'ERR_DECODE_MESSAGE';

/** Bad bytes on the wire: a frame, payload or message that cannot be decoded. */
export class DecodeError extends AgentlinkError {
  /** The agent id from the `!id!` header, when it was read before the failure. */
  readonly agentId: string | undefined;

  /**
   * @param message - what was wrong and where (offset, field).
   * @param code - which check failed.
   * @param options - `cause`, and the `agentId` when known.
   */
  constructor(message: string, code: DecodeErrorCode, options?: AgentlinkErrorOptions & { agentId?: string | undefined }) {
    super(message, code, options);
    this.agentId = options?.agentId;
  }
}

/** Codes a {@link ConfigError} can carry. */
export type ConfigErrorCode = 'ERR_CONFIG' | 'ERR_CONFIG_XML' | 'ERR_CONFIG_KEYS';

/** An impossible option, a bad ossec.conf element, or a bad client.keys line. */
export class ConfigError extends AgentlinkError {
  /** The option path (`servers[0].port`) or XML element (`client/server/port`) at fault. */
  readonly element: string | undefined;
  /** The offending value, as given (never a secret: secrets are replaced by `[redacted]`). */
  readonly value: unknown;

  /**
   * @param message - what was wrong and what is allowed.
   * @param options - the `element` and `value` at fault, and `cause`.
   * @param code - `ERR_CONFIG` unless the XML or the keys file is at fault.
   */
  constructor(
    message: string,
    options?: AgentlinkErrorOptions & { element?: string; value?: unknown },
    code: ConfigErrorCode = 'ERR_CONFIG',
  ) {
    super(message, code, options);
    this.element = options?.element;
    this.value = options?.value;
  }
}

/** Codes an {@link EncodeError} can carry. */
export type EncodeErrorCode = 'ERR_ENCODE_SIZE';

/** A message the codec cannot encode, the twin of {@link DecodeError}: it says which limit and by how much. */
export class EncodeError extends AgentlinkError {
  /**
   * @param message - which limit the message breaks, with its size.
   * @param code - the encoding failure.
   * @param options - `cause`.
   */
  constructor(message: string, code: EncodeErrorCode, options?: AgentlinkErrorOptions) {
    super(message, code, options);
  }
}

/** Codes a {@link ConnectionError} can carry. */
export type ConnectionErrorCode =
  | 'ERR_CONNECT'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_CONNECTION_LOST'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_HANDSHAKE_REJECTED'
  | 'ERR_HANDSHAKE_UNEXPECTED'
  | 'ERR_SERVER_SILENT'
  | 'ERR_RECONNECT_GAVE_UP'
  | 'ERR_MESSAGE_TOO_LARGE';

/** Where a connection-level failure happened. */
export interface ServerRef {
  /** Host name or IP address. */
  address: string;
  /** Port number. */
  port: number;
  /** `tcp` or `udp`. */
  protocol: 'tcp' | 'udp';
}

/** A failure to connect, to complete the handshake, or to keep a connection. */
export class ConnectionError extends AgentlinkError {
  /** The server involved, when there is one. */
  readonly server: ServerRef | undefined;
  /** The `#!-err` message text, for `ERR_HANDSHAKE_REJECTED`. */
  readonly managerMessage: string | undefined;

  /**
   * @param message - what failed, naming the server.
   * @param code - which stage failed.
   * @param options - the `server`, the manager's message, and `cause`.
   */
  constructor(
    message: string,
    code: ConnectionErrorCode,
    options?: AgentlinkErrorOptions & { server?: ServerRef | undefined; managerMessage?: string },
  ) {
    super(message, code, options);
    this.server = options?.server;
    this.managerMessage = options?.managerMessage;
  }
}

/** Codes an {@link EnrollmentError} can carry. */
export type EnrollmentErrorCode = 'ERR_ENROLLMENT_REJECTED' | 'ERR_ENROLLMENT_CONNECTION' | 'ERR_ENROLLMENT_RESPONSE';

/** Enrollment with authd (port 1515) failed. */
export class EnrollmentError extends AgentlinkError {
  /** authd's reason without the `ERROR: ` prefix, for `ERR_ENROLLMENT_REJECTED` (e.g. `Invalid password`). */
  readonly managerMessage: string | undefined;

  /**
   * @param message - what failed.
   * @param code - rejected by the manager, connection failure, or bad response.
   * @param options - authd's message and `cause`.
   */
  constructor(message: string, code: EnrollmentErrorCode, options?: AgentlinkErrorOptions & { managerMessage?: string }) {
    super(message, code, options);
    this.managerMessage = options?.managerMessage;
  }
}

/** The operation was aborted (AbortSignal, `stop()`, `close()`). */
export class AbortError extends AgentlinkError {
  /**
   * @param message - what was aborted.
   * @param options - the abort reason as `cause`.
   */
  constructor(message = 'The operation was aborted', options?: AgentlinkErrorOptions) {
    super(message, 'ERR_ABORTED', options);
  }
}

/** Codes a {@link StateError} can carry. */
export type StateErrorCode = 'ERR_CLOSED' | 'ERR_INVALID_STATE' | 'ERR_TIMEOUT';

/** A call made in a state that does not allow it, or a wait that ran out of time. */
export class StateError extends AgentlinkError {
  /**
   * @param message - what was asked and why it is not possible now.
   * @param code - closed, invalid state, or timeout.
   * @param options - `cause`.
   */
  constructor(message: string, code: StateErrorCode, options?: AgentlinkErrorOptions) {
    super(message, code, options);
  }
}

/** The sender-counter store could not be read or written, or held corrupt data. */
export class CounterStoreError extends AgentlinkError {
  /** The file involved, for file-backed stores. */
  readonly path: string | undefined;

  /**
   * @param message - what failed.
   * @param options - the file `path` and `cause`.
   */
  constructor(message: string, options?: AgentlinkErrorOptions & { path?: string }) {
    super(message, 'ERR_COUNTER_STORE', options);
    this.path = options?.path;
  }
}

/** A `#!-req` request to an agent failed, was answered with `err`, or timed out. */
export class RequestError extends AgentlinkError {
  /**
   * @param message - what failed.
   * @param options - `cause`.
   */
  constructor(message: string, options?: AgentlinkErrorOptions) {
    super(message, 'ERR_REQUEST', options);
  }
}

/** Codes a {@link ToolError} can carry. */
export type ToolErrorCode = 'ERR_USAGE' | 'ERR_EXTERNAL_PROGRAM' | 'ERR_RESOURCE_LIMIT' | 'ERR_LISTEN';

/**
 * A CLI usage error, a missing external program, a system limit reached by the simulator, or a
 * test-kit server that cannot listen.
 */
export class ToolError extends AgentlinkError {
  /**
   * @param message - one line saying what to change.
   * @param code - usage, external program, resource limit, or listen failure.
   * @param options - `cause`.
   */
  constructor(message: string, code: ToolErrorCode, options?: AgentlinkErrorOptions) {
    super(message, code, options);
  }
}

/**
 * Turns a Node.js socket error into a {@link ConnectionError}, keeping it as `cause`.
 *
 * @param err - the error from `node:net`, `node:dgram` or `node:dns`.
 * @param server - the server being reached.
 * @param stage - `connect` (while connecting) or `io` (while connected).
 * @returns the translated error (an AgentlinkError is returned as is).
 */
export function toConnectionError(err: unknown, server: ServerRef | undefined, stage: 'connect' | 'io'): AgentlinkError {
  if (err instanceof AgentlinkError) return err;
  const where = server ? `[${server.address}]:${server.port}/${server.protocol}` : 'the server';
  const sysCode = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (stage === 'connect') {
    return new ConnectionError(`Unable to connect to '${where}': ${detail}${sysCode ? ` (${sysCode})` : ''}`, 'ERR_CONNECT', {
      server,
      cause: err,
    });
  }
  return new ConnectionError(`Lost connection with '${where}': ${detail}`, 'ERR_CONNECTION_LOST', { server, cause: err });
}

const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (choose another, or 0 for a free one)',
  EADDRNOTAVAIL: 'the address is not one of this host\'s',
  EACCES: 'not allowed (ports below 1024 need privileges)',
};

/**
 * Turns the failure of a server's `listen()` or `bind()` into a {@link ToolError} `ERR_LISTEN` that
 * names the listener, where it tried to listen and the system code, keeping the error as `cause`.
 *
 * @param err - the error from `node:net`, `node:dgram` or `node:tls`.
 * @param listener - which server: `remoted`, `authd`, `FaultProxy`.
 * @param host - the address it tried.
 * @param port - the port it tried (0: any free port).
 * @returns the translated error (an AgentlinkError is returned as is).
 */
export function toListenError(err: unknown, listener: string, host: string, port: number): AgentlinkError {
  if (err instanceof AgentlinkError) return err;
  const sysCode = (err as NodeJS.ErrnoException | undefined)?.code;
  const detail = (sysCode !== undefined ? LISTEN_HINTS[sysCode] : undefined) ?? (err instanceof Error ? err.message : String(err));
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new ToolError(`${listener} cannot listen on ${where}: ${detail}${sysCode !== undefined ? ` (${sysCode})` : ''}`, 'ERR_LISTEN', { cause: err });
}
