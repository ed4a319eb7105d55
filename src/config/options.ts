/**
 * AgentClient options: one options type, one set of exported defaults, resolved once by
 * `resolveOptions()`. Milliseconds everywhere in the API; the ossec.conf parser converts
 * Wazuh's seconds. Defaults follow the Wazuh 4.14 agent unless noted.
 *
 * @module
 */
import type { AgentKey, CryptoMethod } from '../protocol/types.js';
import type { Logger } from '../logger.js';
import type { UnameInfo } from '../protocol/uname.js';

/** The logger type lives beside its factory in `logger.ts`; re-exported here for the option types' readers. */
export type { Logger } from '../logger.js';

/** Default manager port for agent connections (remoted). */
export const DEFAULT_PORT = 1514;
/** Default transport protocol. */
export const DEFAULT_PROTOCOL = 'tcp';
/** Default connection attempts per server per round (`<max_retries>`). */
export const DEFAULT_MAX_RETRIES = 5;
/** Default milliseconds between attempts on one server (`<retry_interval>` 10 s). */
export const DEFAULT_RETRY_INTERVAL = 10_000;
/** Default keepalive period in milliseconds (`<notify_time>` 20 s, Wazuh 4.13+). */
export const DEFAULT_NOTIFY_TIME = 20_000;
/** Default silence after which the server is lost, in milliseconds (`<time-reconnect>` 60 s). */
export const DEFAULT_TIME_RECONNECT = 60_000;
/** Default wait for the startup ACK in milliseconds (`agent.recv_timeout` 60 s). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 60_000;
/** Default TCP connect deadline in milliseconds (not in Wazuh: a dead host must not stall for minutes). */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;
/** Default cipher (`<crypto_method>`). */
export const DEFAULT_CRYPTO_METHOD: CryptoMethod = 'aes';
/** Default zlib level of each message: Wazuh's 9. */
export { DEFAULT_COMPRESSION_LEVEL } from '../protocol/secure.js';
/** Highest `compressionLevel`. */
export const MAX_COMPRESSION_LEVEL = 9;
/** Default periodic forced reconnect in milliseconds; 0 disables it (`<force_reconnect_interval>`). */
export const DEFAULT_FORCE_RECONNECT_INTERVAL = 0;
/** Default client buffer capacity in events (`<client_buffer><queue_size>`). */
export const DEFAULT_QUEUE_SIZE = 5000;
/** Default client buffer drain rate in events per second (`<client_buffer><events_per_second>`). */
export const DEFAULT_EVENTS_PER_SECOND = 500;
/** Effective minimum drain rate (`agent.min_eps`): lower values are raised to this. */
export const MIN_EVENTS_PER_SECOND = 50;
/** Buffer usage (percent) at which the `90%` warning fires (`agent.warn_level`). */
export const DEFAULT_BUFFER_WARN_LEVEL = 90;
/** Buffer usage (percent) at or below which the buffer is back to normal (`agent.normal_level`). */
export const DEFAULT_BUFFER_NORMAL_LEVEL = 70;
/** Milliseconds the buffer may stay full before it counts as flooded (`agent.tolerance` 15 s). */
export const DEFAULT_BUFFER_TOLERANCE = 15_000;
/** Default overflow policy: drop the new event, as Wazuh does. */
export const DEFAULT_OVERFLOW = 'drop-newest';
/** Default enrollment (authd) port. */
export const DEFAULT_ENROLLMENT_PORT = 1515;
/** Default wait after a successful enrollment before connecting, in milliseconds (`<delay_after_enrollment>` 20 s). */
export const DEFAULT_DELAY_AFTER_ENROLLMENT = 20_000;
/** Default reconnect strategy. */
export const DEFAULT_RECONNECT_STRATEGY = 'wazuh';
/** Default first delay of the `backoff` strategy, in milliseconds. */
export const DEFAULT_BACKOFF_INITIAL_DELAY = 1_000;
/** Default cap of the `backoff` strategy delay, in milliseconds. */
export const DEFAULT_BACKOFF_MAX_DELAY = 60_000;
/** Default backoff growth factor per full round over the server list. */
export const DEFAULT_BACKOFF_FACTOR = 2;
/** Default jitter (0: none). A fraction of each delay that is randomised. */
export const DEFAULT_JITTER = 0;
/** Default `_agent_ip` refresh in milliseconds (`<ip_update_interval>`); 0 refreshes at every keepalive. */
export const DEFAULT_IP_UPDATE_INTERVAL = 0;
/** The Wazuh version agentlink reports (startup JSON, uname suffix, enrollment `V:`). */
export const DEFAULT_AGENT_VERSION = 'v4.14.7';
/** Default jitter of the `backoff` strategy (1: full jitter). */
export const DEFAULT_BACKOFF_JITTER = 1;
/** Default give-up limit of the `backoff` strategy in failed attempts in a row; 0 never gives up. */
export const DEFAULT_BACKOFF_MAX_ATTEMPTS = 0;
/** Default `<auto_restart>`: reload when a new shared configuration arrives. */
export const DEFAULT_AUTO_RESTART = true;
/** Default `ip` of an `agent` identity given without one (the value enrollment writes to client.keys). */
export const DEFAULT_KEY_IP = 'any';
/** Default `persistent`: a started agent keeps the Node.js process alive until `stop()`, as a socket does. */
export const DEFAULT_PERSISTENT = true;
/** Default delivery guarantee: Wazuh's (what sat in socket buffers when a connection died is lost, and counted). */
export const DEFAULT_DELIVERY: DeliveryMode = 'at-most-once';
/** Default `retransmit.maxEvents`: events written but not yet confirmed that the at-least-once window holds. */
export const DEFAULT_RETRANSMIT_MAX_EVENTS = 1000;
/** Default `retransmit.maxBytes`: bytes (UTF-8 of location and message) the at-least-once window holds. */
export const DEFAULT_RETRANSMIT_MAX_BYTES = 1_048_576;
/** Default `drainTimeout` of `stop()`, in milliseconds: a full default queue (5000 events) even at the default 500 events per second. */
export const DEFAULT_DRAIN_TIMEOUT = 10_000;
/** Largest delay a Node.js timer accepts, in milliseconds (about 24.8 days): the upper bound of every duration option. */
export const MAX_TIMER_DELAY = 2_147_483_647;
/** Smallest `handshakeTimeout` in milliseconds (`agent.recv_timeout` range 1 to 600 s). */
export const MIN_HANDSHAKE_TIMEOUT = 1_000;
/** Largest `handshakeTimeout` in milliseconds (`agent.recv_timeout` range 1 to 600 s). */
export const MAX_HANDSHAKE_TIMEOUT = 600_000;
/** Largest client buffer `queueSize` in events. */
export const MAX_QUEUE_SIZE = 100_000;
/** Largest `retransmit.maxEvents`. */
export const MAX_RETRANSMIT_EVENTS = 1_000_000;
/** Largest configurable `eventsPerSecond`. */
export const MAX_EVENTS_PER_SECOND = 1000;
/** Most enrollment groups accepted. */
export const MAX_ENROLLMENT_GROUPS = 128;

/** One manager in the ordered server list. */
export interface ServerOptions {
  /** Host name or IP address (`<server><address>`). Required. */
  address: string;
  /**
   * Port (`<server><port>`), 1 to 65535.
   * @default 1514
   */
  port?: number;
  /**
   * Transport (`<server><protocol>`).
   * @default 'tcp'
   */
  protocol?: 'tcp' | 'udp';
  /**
   * Connection attempts on this server per round before moving to the next (`<max_retries>`), at least 1.
   * Used by the `wazuh` strategy.
   * @default 5
   */
  maxRetries?: number;
  /**
   * Milliseconds between attempts on this server (`<retry_interval>`, seconds there), at least 1.
   * @default 10000
   */
  retryInterval?: number;
}

/** A server with every field filled. */
export interface ResolvedServer {
  /** Host name or IP address. */
  address: string;
  /** Port. */
  port: number;
  /** Transport. */
  protocol: 'tcp' | 'udp';
  /** Attempts per round. */
  maxRetries: number;
  /** Milliseconds between attempts. */
  retryInterval: number;
}

/**
 * What the agent promises about each event it wrote to a connection: `at-most-once` (Wazuh's
 * behaviour: what sat in socket buffers when a connection died is lost and counted) or
 * `at-least-once` (events are kept until a keepalive ACK confirms them and resent on the next
 * connection: never lost, sometimes duplicated). See docs/reliability.md.
 */
export type DeliveryMode = 'at-most-once' | 'at-least-once';

/** The retransmit window of `delivery: 'at-least-once'` (ignored with `at-most-once`). */
export interface RetransmitOptions {
  /**
   * Most events kept written but unconfirmed. At half of it the agent sends a barrier keepalive at
   * once; when it is full, sending waits for an ACK (the client buffer holds the rest). Nothing is dropped from it.
   * @default 1000
   */
  maxEvents?: number;
  /**
   * Most bytes (UTF-8 length of location and message) kept written but unconfirmed; same rules as `maxEvents`.
   * @default 1048576
   */
  maxBytes?: number;
  /**
   * While events flow, a barrier keepalive follows the first unconfirmed event within this many
   * milliseconds, so the window stays small between the regular keepalives; 0 means `notifyTime`.
   * @default notifyTime
   */
  barrierInterval?: number;
}

/** Resolved {@link RetransmitOptions}. */
export interface ResolvedRetransmitOptions {
  /** Most unconfirmed events. */
  maxEvents: number;
  /** Most unconfirmed bytes. */
  maxBytes: number;
  /** Barrier keepalive interval while events flow (ms). */
  barrierInterval: number;
}

/** Overflow policy of the client buffer when it is full. */
export type OverflowPolicy = 'drop-newest' | 'drop-oldest' | 'reject';

/** Client buffer (`<client_buffer>`). */
export interface BufferOptions {
  /**
   * Send events at once with no rate limit and no queue (`<disabled>yes`).
   * @default false
   */
  disabled?: boolean;
  /**
   * Capacity in events (`<queue_size>`), 1 to 100000.
   * @default 5000
   */
  queueSize?: number;
  /**
   * Drain rate in events per second (`<events_per_second>`), 1 to 1000; values below 50 are raised to 50 as Wazuh does.
   * @default 500
   */
  eventsPerSecond?: number;
  /**
   * What happens to an event when the buffer is full: `drop-newest` (Wazuh), `drop-oldest`, or `reject`
   * (`send` returns false and nothing is queued; also counted). Every drop is counted and emitted.
   * @default 'drop-newest'
   */
  overflow?: OverflowPolicy;
  /**
   * Milliseconds the buffer may stay full before it is reported as flooded (`agent.tolerance`).
   * @default 15000
   */
  tolerance?: number;
}

/** Client buffer with every field filled. */
export interface ResolvedBufferOptions {
  /** Buffer disabled. */
  disabled: boolean;
  /** Capacity in events. */
  queueSize: number;
  /** Effective drain rate (at least 50). */
  eventsPerSecond: number;
  /** Overflow policy. */
  overflow: OverflowPolicy;
  /** Milliseconds full before flooded. */
  tolerance: number;
}

/** What a reconnect policy function is told. */
export interface ReconnectContext {
  /** Attempts since the last successful connection (1 for the first retry). */
  attempt: number;
  /** Index of the server that was last tried. */
  serverIndex: number;
  /** The server list, in configuration order. */
  servers: readonly ResolvedServer[];
  /** Why the last attempt failed or the connection was lost. */
  error: Error | undefined;
  /** Attempts made on the current server in this round. */
  attemptsOnServer: number;
  /** Full rounds over the server list completed since the last success. */
  round: number;
}

/** What a reconnect policy decides: which server to try next and after how long. */
export interface ReconnectDecision {
  /** Index into the server list; unchanged when omitted. */
  server?: number;
  /** Milliseconds to wait before the attempt. */
  delay: number;
}

/** A custom reconnect policy: return the next server and delay, or `false` to give up. */
export type ReconnectPolicyFunction = (ctx: ReconnectContext) => ReconnectDecision | false;

/** Reconnect strategy. */
export type ReconnectOptions =
  | {
      /** Wazuh's walk (protocol.md 5.3): `maxRetries` tries `retryInterval` apart per server, then the next, cyclically. */
      strategy: 'wazuh';
      /**
       * Fraction (0 to 1) of each delay that is randomised, so a fleet does not reconnect in lockstep.
       * @default 0
       */
      jitter?: number;
    }
  | {
      /** Next server after each failure; exponential delay with full jitter after each full round. */
      strategy: 'backoff';
      /**
       * First delay in milliseconds.
       * @default 1000
       */
      initialDelay?: number;
      /**
       * Delay cap in milliseconds.
       * @default 60000
       */
      maxDelay?: number;
      /**
       * Growth factor per full round.
       * @default 2
       */
      factor?: number;
      /**
       * Fraction (0 to 1) of each delay that is randomised; 1 is full jitter.
       * @default 1
       */
      jitter?: number;
      /**
       * Give up after this many failed attempts in a row; 0 never gives up.
       * @default 0
       */
      maxAttempts?: number;
    }
  | ReconnectPolicyFunction;

/** Enrollment with authd (`<client><enrollment>`). */
export interface EnrollmentOptions {
  /**
   * Enroll when no key is configured, and after a failed round over a server (protocol.md 7.6).
   * @default true when no key is given
   */
  enabled?: boolean;
  /** authd host (`<manager_address>`); the server addresses are tried in order when omitted. */
  managerAddress?: string;
  /**
   * authd port (`<port>`).
   * @default 1515
   */
  port?: number;
  /** Agent name (`<agent_name>`); defaults to the host name with invalid characters removed. */
  agentName?: string;
  /** Groups (`<groups>`), sent as `G:'a,b'`. */
  groups?: string[];
  /** Agent address (`<agent_address>`), an IP or CIDR, or `src` (`<use_source_ip>yes`). */
  agentAddress?: string;
  /** Enrollment password (the first line of `authorization_pass_path`). A secret: never logged. */
  password?: string;
  /** PEM CA certificate(s): when given, the manager certificate is verified (`<server_ca_path>`). */
  ca?: string | Buffer;
  /** PEM client certificate (`<agent_certificate_path>`). */
  cert?: string | Buffer;
  /** PEM client key (`<agent_key_path>`). A secret: never logged. */
  key?: string | Buffer;
  /**
   * Milliseconds to wait after a successful enrollment before connecting (`<delay_after_enrollment>`).
   * @default 20000
   */
  delayAfterEnrollment?: number;
  /**
   * TLS connect and read deadline in milliseconds (`agent.recv_timeout`).
   * @default 60000
   */
  timeout?: number;
}

/** Keepalive labels (`<labels>`): `hidden` labels travel with a `!` prefix. */
export interface AgentLabel {
  /** Label key. */
  key: string;
  /** Label value. */
  value: string;
  /** Hidden label (`!"key":value`). */
  hidden?: boolean;
}

/** The agent identity: id, name, key and key IP (a client.keys entry). */
export type AgentIdentity = AgentKey;

/** The agent identity as given in options: a client.keys entry whose `ip` may be left out. */
export interface AgentIdentityOptions {
  /** Agent id, 1 to 8 digits, exactly as in client.keys (`"001"`). */
  id: string;
  /** Agent name: 2 to 128 characters of `[A-Za-z0-9._-]`, not starting with `.`. */
  name: string;
  /** The raw key (at most 127 characters, normally 64 hex). A secret: never logged. */
  key: string;
  /**
   * `any`, an IP address or a CIDR block; a single IPv4 host means no `!id!` header (protocol.md 3.1 step 9).
   * @default 'any'
   */
  ip?: string;
}

/** Where the sender counter persists, so it never goes backwards across restarts (protocol.md 3.5). */
export interface CounterStore {
  /** Reads the last stored counter; `{ global: 0, local: 0 }` when there is none. Rejects with `CounterStoreError` on corrupt data. */
  load(): Promise<MessageCounterValue>;
  /** Stores the counter. Called after sends; implementations may coalesce writes but must never persist a smaller value. */
  save(counter: MessageCounterValue): Promise<void>;
  /** Flushes pending writes. */
  flush?(): Promise<void>;
}

/** A counter value as stored: see {@link CounterStore}. */
export interface MessageCounterValue {
  /** Global counter. */
  global: number;
  /** Local counter. */
  local: number;
}

/** Options of `new AgentClient(options)`. Milliseconds everywhere. */
export interface AgentClientOptions {
  /**
   * The agent identity and key (a client.keys entry). Give this, or `keys`, or enable enrollment.
   * `ip` decides whether the `!id!` header is sent (protocol.md 3.1 step 9).
   */
  agent?: AgentIdentityOptions;
  /**
   * client.keys text: the first entry is the agent's, as Wazuh agents read it. Every line must be
   * valid (a bad id, name or IP, a missing key or an id used twice throws `ERR_CONFIG_KEYS`).
   */
  keys?: string;
  /** The ordered server list; its order is the failover order. At least one. */
  servers: ServerOptions[];
  /**
   * Keepalive period in milliseconds (`<notify_time>`); 0 means the default.
   * @default 20000
   */
  notifyTime?: number;
  /**
   * The server is lost when no control message arrived for this long, in milliseconds (`<time-reconnect>`);
   * 0 means the default; raised to 3 × notifyTime when it is not above notifyTime.
   * @default 60000
   */
  timeReconnect?: number;
  /**
   * Wait for the startup ACK, in milliseconds (`agent.recv_timeout`).
   * @default 60000
   */
  handshakeTimeout?: number;
  /**
   * TCP connect deadline in milliseconds; 0 means none (not in Wazuh).
   * @default 10000
   */
  connectTimeout?: number;
  /**
   * Cipher (`<crypto_method>`).
   * @default 'aes'
   */
  cryptoMethod?: CryptoMethod;
  /**
   * zlib level of each message, an integer from 0 to 9 (not in Wazuh's configuration: Wazuh always
   * uses 9). Every level gives a standard zlib stream that any manager accepts. 0 stores the message
   * uncompressed (zlib header, one stored block, Adler-32) without compressing at all: about a fifth
   * more bytes on the wire for a fraction of the CPU, for load generators.
   * @default 9
   */
  compressionLevel?: number;
  /**
   * Reconnect strategy or policy function.
   * @default { strategy: 'wazuh' }
   */
  reconnect?: ReconnectOptions;
  /**
   * Reconnect periodically after this many milliseconds connected, so a load balancer can rebalance
   * (`<force_reconnect_interval>`); 0 disables it.
   * @default 0
   */
  forceReconnectInterval?: number;
  /**
   * Refresh of the keepalive's `_agent_ip`, in milliseconds (`<ip_update_interval>`); 0 refreshes at every keepalive.
   * @default 0
   */
  ipUpdateInterval?: number;
  /** Client buffer options (`<client_buffer>`). */
  buffer?: BufferOptions;
  /** Enrollment options (`<enrollment>`); enrollment is on by default when no key is given. */
  enrollment?: EnrollmentOptions;
  /** Labels reported in every keepalive (`<labels>`). */
  labels?: AgentLabel[] | Record<string, string>;
  /** Host description for the keepalive; defaults to this host's values from `node:os`. */
  uname?: UnameInfo | string;
  /**
   * Version reported to the manager (startup JSON, uname suffix).
   * @default 'v4.14.7'
   */
  version?: string;
  /** MD5 of the agent's shared `agent.conf`, reported as ` / <md5>` in the keepalive when set. */
  agentConfigSum?: string;
  /** Where the sender counter persists; in memory by default. */
  counterStore?: CounterStore;
  /** pino-compatible logger; silent by default. Secrets are never logged. */
  logger?: Logger;
  /** Aborting this signal stops the agent (like `stop()` with no drain). */
  signal?: AbortSignal;
  /**
   * Whether a started agent keeps the Node.js process alive until `stop()`, as a `net.Socket` does
   * (its socket while connected, its retry timer while it waits to reconnect). `false` is the same
   * as calling `unref()` before `start()`: for embedders whose process must exit on its own.
   * @default true
   */
  persistent?: boolean;
  /**
   * Delivery guarantee of the events written to a connection. `'at-least-once'` needs TCP servers
   * (refused with UDP, where an ACKed keepalive does not prove that each earlier datagram arrived).
   * @default 'at-most-once'
   */
  delivery?: DeliveryMode;
  /** The retransmit window of `delivery: 'at-least-once'`. */
  retransmit?: RetransmitOptions;
  /** Local address to bind sockets to (spreads source addresses over 127.0.0.0/8 in large fleets). */
  localAddress?: string;
  /** `<config-profile>`, kept for `getconfig client`. */
  configProfile?: string;
  /**
   * Whether a new shared configuration triggers a reload (`<auto_restart>`); agentlink only reports it in `getconfig`.
   * @default true
   */
  autoRestart?: boolean;
}

/** Resolved reconnect strategy (functions are kept as given). */
export type ResolvedReconnect =
  | { strategy: 'wazuh'; jitter: number }
  | { strategy: 'backoff'; initialDelay: number; maxDelay: number; factor: number; jitter: number; maxAttempts: number }
  | { strategy: 'custom'; policy: ReconnectPolicyFunction };

/** Resolved enrollment options. */
export interface ResolvedEnrollmentOptions {
  /** Enrollment on or off. */
  enabled: boolean;
  /** authd host, when set. */
  managerAddress: string | undefined;
  /** authd port. */
  port: number;
  /** Agent name. */
  agentName: string;
  /** Groups. */
  groups: string[];
  /** Agent address, or `src`, when set. */
  agentAddress: string | undefined;
  /** Password, when set. */
  password: string | undefined;
  /** CA for verifying the manager. */
  ca: string | Buffer | undefined;
  /** Client certificate. */
  cert: string | Buffer | undefined;
  /** Client key. */
  key: string | Buffer | undefined;
  /** Milliseconds after enrollment before connecting. */
  delayAfterEnrollment: number;
  /** TLS deadline in milliseconds. */
  timeout: number;
}

/** Every option validated and filled: what `resolveOptions()` returns and `AgentClient` runs on. */
export interface ResolvedAgentClientOptions {
  /** Identity; undefined until enrollment gives one. */
  agent: AgentIdentity | undefined;
  /** Servers in failover order, at least one. */
  servers: ResolvedServer[];
  /** Keepalive period (ms). */
  notifyTime: number;
  /** Silence limit (ms), already raised by the 3x rule. */
  timeReconnect: number;
  /** Startup ACK wait (ms). */
  handshakeTimeout: number;
  /** TCP connect deadline (ms), 0 for none. */
  connectTimeout: number;
  /** Cipher. */
  cryptoMethod: CryptoMethod;
  /** zlib level of each message (0 to 9). */
  compressionLevel: number;
  /** Reconnect strategy. */
  reconnect: ResolvedReconnect;
  /** Periodic reconnect (ms), 0 off. */
  forceReconnectInterval: number;
  /** `_agent_ip` refresh (ms), 0 every keepalive. */
  ipUpdateInterval: number;
  /** Client buffer. */
  buffer: ResolvedBufferOptions;
  /** Enrollment. */
  enrollment: ResolvedEnrollmentOptions;
  /** Labels in order. */
  labels: AgentLabel[];
  /** Uname line without the ` - Wazuh vX` suffix, or structured info. */
  uname: UnameInfo | string;
  /** Version string, e.g. `v4.14.7`. */
  version: string;
  /** agent.conf MD5, when set. */
  agentConfigSum: string | undefined;
  /** Counter store (in memory when not given). */
  counterStore: CounterStore | undefined;
  /** Logger (silent when not given). */
  logger: Logger | undefined;
  /** Abort signal. */
  signal: AbortSignal | undefined;
  /** Whether a started agent keeps the process alive. */
  persistent: boolean;
  /** Delivery guarantee. */
  delivery: DeliveryMode;
  /** Retransmit window (used with `at-least-once`). */
  retransmit: ResolvedRetransmitOptions;
  /** Local bind address. */
  localAddress: string | undefined;
  /** `<config-profile>`. */
  configProfile: string | undefined;
  /** `<auto_restart>`. */
  autoRestart: boolean;
}
