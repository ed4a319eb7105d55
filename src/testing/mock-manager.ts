/**
 * A wazuh-remoted-compatible mock manager (protocol.md section 8): TCP and UDP listeners on one
 * port, the SDK's own codec, the remoted agent status model, manager commands, and switchable
 * faults.
 *
 * Like the scripted test servers of nats.js and ioredis it is a server, so it uses `node:net` and
 * `node:dgram` directly; the SDK's `Transport` abstraction is client-side only.
 *
 * @module
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';
import { unrefTimeout, systemClock } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../config/options.js';
import { ConfigError, DecodeError, RequestError, StateError } from '../errors.js';
import type { DecodeErrorCode } from '../errors.js';
import { silentLogger } from '../logger.js';
import {
  ACK_MESSAGE,
  FILE_CLOSE_MESSAGE,
  FORCE_RECONNECT_MESSAGE,
  FrameDecoder,
  MAX_FRAME_SIZE,
  PONG,
  buildErr,
  buildExecd,
  buildFileOpen,
  buildMergedMg,
  buildRequest,
  buildRequestAck,
  checkCounter,
  decodeSecureMessage,
  encodeSecureFrame,
  encodeSecureMessage,
  encodeTcpFrame,
  isPing,
  keyIpAllows,
  nextCounter,
  parseAgentMessage,
} from '../protocol/index.js';
import type {
  AgentKey,
  AgentMessage,
  CryptoMethod,
  DecodedSecureMessage,
  KeepaliveLabel,
  MessageCounter,
  ParsedKeepalive,
  ParsedUname,
} from '../protocol/index.js';
import { AsyncQueue } from './async-queue.js';
import { MockAuthd } from './authd.js';
import type { AgentStatusInfo, MockAuthdOptions } from './authd.js';
import { defaultFaults, mergeFaults, selects } from './faults.js';
import type { FaultsUpdate, ManagerFaults } from './faults.js';
import { KeyStore } from './keystore.js';

/**
 * Agent status as the manager reports it (protocol.md 8.5): `never_connected` (key known, never
 * seen) → `pending` (startup received) → `active` (keepalive received) → `disconnected` (shutdown
 * received, or no startup/keepalive for `agentsDisconnectionTime`).
 */
export type AgentStatus = 'never_connected' | 'pending' | 'active' | 'disconnected';

/** Transport of an agent's reply channel. */
export type ManagerProtocol = 'tcp' | 'udp';

/** What a {@link MockManager} knows about one agent (a snapshot). */
export interface AgentRecord {
  /** Agent id. */
  id: string;
  /** Agent name. */
  name: string;
  /** The key's `ip` field. */
  ip: string;
  /** The manager node that holds this record. */
  node: string;
  /**
   * Status per protocol.md 8.5. As in Wazuh, a closed TCP connection does not change it: an agent
   * that vanished stays `active` until `agentsDisconnectionTime` passes (unless `disconnectOnClose`
   * is set). Use {@link AgentRecord.connected} for the live view.
   */
  status: AgentStatus;
  /**
   * Whether the manager can reach the agent now: TCP, a registered socket that is still open; UDP,
   * a registered address, no shutdown, and heard from within `agentsDisconnectionTime`.
   */
  connected: boolean;
  /** Why the last startup was refused: `invalid_version` or `version_unreadable`; cleared by an accepted startup. */
  statusCode: 'invalid_version' | 'version_unreadable' | undefined;
  /** Transport of the reply channel. */
  protocol: ManagerProtocol | undefined;
  /** The cipher the agent last used (replies use it). */
  method: CryptoMethod | undefined;
  /** Agent version from the startup JSON or the keepalive uname. */
  version: string | undefined;
  /** The keepalive uname line. */
  uname: string | undefined;
  /** OS fields parsed from the uname line. */
  os: ParsedUname | undefined;
  /** Labels from the last keepalive. */
  labels: KeepaliveLabel[];
  /** merged.mg sum from the last keepalive (`x` for none). */
  mergedSum: string | undefined;
  /** agent.conf sum from the last keepalive. */
  configSum: string | undefined;
  /** `_agent_ip` from the last keepalive. */
  agentIp: string | undefined;
  /** The agent's first group (shared files come from it). */
  group: string;
  /** Source address of the reply channel. */
  remoteAddress: string | undefined;
  /** Source port of the reply channel. */
  remotePort: number | undefined;
  /** When the last valid message arrived (ms since the epoch; remoted's `rcvd`). */
  lastSeen: number | undefined;
  /** When the last keepalive arrived. */
  lastKeepalive: number | undefined;
  /** When the current reply channel was registered. */
  connectedAt: number | undefined;
  /** Events received. */
  events: number;
  /** Valid messages received (events and control messages). */
  messages: number;
  /** Wire bytes of valid messages (TCP frame headers included). */
  bytes: number;
  /** How many times a new reply channel was registered (connections that sent a control message). */
  sessions: number;
  /** Last counter received from the agent. */
  counter: MessageCounter | undefined;
}

/** An event received from an agent (protocol.md 4.1). */
export interface ReceivedEvent {
  /** Sender id. */
  agentId: string;
  /** Sender name. */
  agentName: string;
  /** Queue character (`1`, `8`, `f`, ...). */
  queue: string;
  /** Location, unescaped (`C:\logs\a.log`, not `C|:\logs\a.log`). */
  location: string;
  /** The log line or JSON, decoded as UTF-8. */
  message: string;
  /** Node that received it. */
  node: string;
  /** When it was received (ms since the epoch). */
  receivedAt: number;
  /** Transport it came over. */
  protocol: ManagerProtocol;
  /** `true` for events the manager generates itself (the `Agent stopped` event on shutdown). */
  generated: boolean;
}

/** A connection or datagram peer, in connection events. */
export interface PeerInfo {
  /** Connection number (TCP) or 0 (UDP). */
  connectionId: number;
  /** `tcp` or `udp`. */
  protocol: ManagerProtocol;
  /** Peer address. */
  remoteAddress: string;
  /** Peer port. */
  remotePort: number;
  /** The agent identified on this connection, when one was. */
  agentId: string | undefined;
}

/** Events of a {@link MockManager}. */
export interface MockManagerEvents {
  /** An agent's status changed. */
  agentStatus: [id: string, status: AgentStatus, previous: AgentStatus];
  /** An agent's live connection appeared or went away (see {@link AgentRecord.connected}). */
  agentConnection: [id: string, connected: boolean];
  /** An event was received. */
  event: [event: ReceivedEvent];
  /** A decoded control message arrived (startup, keepalive, shutdown, request replies, invalid ones). */
  control: [id: string, message: AgentMessage];
  /** A TCP connection was accepted. */
  connection: [peer: PeerInfo];
  /** A TCP connection closed. */
  disconnection: [peer: PeerInfo];
  /** A payload could not be decoded or was rejected (the TCP connection is closed when Wazuh would). */
  decodeError: [error: DecodeError, peer: PeerInfo];
  /** The manager stopped. */
  close: [];
}

/** One shared file given to {@link MockManager.pushSharedFile} or the `sharedFiles` option. */
export interface SharedFileInput {
  /** Name inside merged.mg (`agent.conf`, ...). */
  name: string;
  /** Content. */
  content: Buffer | string;
}

/** Options of `new MockManager(options)`. Milliseconds everywhere. */
export interface MockManagerOptions {
  /** Known agents: a shared {@link KeyStore}, key entries, or client.keys text. @default an empty store */
  keys?: KeyStore | readonly AgentKey[] | string;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /**
   * Transports. With both, TCP and UDP share one port number (TCP is bound first, UDP on its port;
   * with port 0 the pair is retried when UDP finds the port taken).
   * @default ['tcp']
   */
  protocols?: readonly ManagerProtocol[];
  /** Node name, recorded in events and records. @default 'node01' */
  name?: string;
  /** The manager version; startups from agents with a higher major.minor are refused. @default 'v4.14.7' */
  managerVersion?: string;
  /**
   * A second TCP connection for an agent whose registered socket has been silent longer than this
   * takes over (the old socket is closed); otherwise the new connection is closed (`Agent key already
   * in use`). 0 disables overtaking: the new connection is always closed (v4.4–v4.5 behaviour).
   * @default 60000
   */
  connectionOvertakeTime?: number;
  /** Check message counters (`remoted.verify_msg_id`); also switchable as a fault. @default false */
  verifyCounters?: boolean;
  /**
   * An agent with no startup or keepalive for this long becomes `disconnected`; the manager also
   * stops sending to agents not heard from for this long (protocol.md 8.3, 8.5).
   * @default 900000
   */
  agentsDisconnectionTime?: number;
  /**
   * Mark an agent `disconnected` as soon as its TCP connection closes (not Wazuh behaviour, where the
   * status waits for `agentsDisconnectionTime`; handy in tests).
   * @default false
   */
  disconnectOnClose?: boolean;
  /**
   * Run a {@link MockAuthd} on the same key store: `true` for its defaults, or its options (the key
   * store, host and agent status callback are filled in). Enrolled agents can connect at once; the
   * groups they ask for are recorded in the key store.
   * @default false
   */
  authd?: boolean | Partial<MockAuthdOptions>;
  /**
   * Shared files per group: after a keepalive whose merged.mg sum differs from the group's, the
   * manager pushes the group's merged.mg (protocol.md 4.6).
   * @default {}
   */
  sharedFiles?: Record<string, readonly SharedFileInput[]>;
  /** Logger (pino-compatible). Nothing is logged at info level per message. @default silent */
  logger?: Logger;
  /** Clock for timers and timestamps. @default the system clock */
  clock?: Clock;
  /** Most simultaneous TCP connections; more are closed at once (0: no limit). @default 0 */
  maxConnections?: number;
  /** A TCP connection that holds a partial frame longer than this is closed (slowloris guard). @default 60000 */
  frameDeadlineMs?: number;
  /** Bytes a connection may have queued for sending; further replies are dropped and counted (Wazuh `send_buffer_size`). @default 131072 */
  sendBufferSize?: number;
  /** Received events kept for {@link MockManager.receivedEvents} and {@link MockManager.waitForEvents} (oldest dropped). @default 100000 */
  eventHistory?: number;
  /** Default deadline of {@link MockManager.request}. @default 60000 */
  requestTimeout?: number;
  /** UDP request retransmission period (`request_rto`). @default 1000 */
  requestRetransmitMs?: number;
  /** UDP request attempts (`max_attempts`). @default 4 */
  requestMaxAttempts?: number;
  /** Pause after every 31 chunks of a shared-file push over UDP. @default 1000 */
  udpFilePauseMs?: number;
  /**
   * Receive buffer of the UDP socket, in bytes (the kernel caps it at `net.core.rmem_max`). A large
   * buffer keeps bursts from thousands of UDP agents from being dropped while the event loop is busy.
   * @default 4194304
   */
  udpReceiveBufferSize?: number;
}

/** Options of {@link MockManager.waitForAgents}. */
export interface WaitForAgentsOptions {
  /** Status to wait for. @default 'active' */
  status?: AgentStatus;
  /**
   * Also require a live connection. @default true for `pending` and `active`, false otherwise
   */
  connected?: boolean;
  /** Only these agents count. */
  ids?: readonly string[];
  /** Deadline; a timeout rejects with `StateError` `ERR_TIMEOUT`. @default 10000 */
  timeout?: number;
}

/** Options of {@link MockManager.waitForEvents}. */
export interface WaitForEventsOptions {
  /** How many matching events to wait for, with a predicate. @default 1 */
  count?: number;
  /** Deadline; a timeout rejects with `StateError` `ERR_TIMEOUT`. @default 10000 */
  timeout?: number;
}

/** Per-agent counters in {@link MockManagerStats}. */
export interface AgentStats {
  /** Events received. */
  events: number;
  /** Wire bytes received. */
  bytes: number;
  /** Last keepalive time (ms since the epoch). */
  lastKeepalive: number | undefined;
  /** Node name. */
  node: string;
  /** Status. */
  status: AgentStatus;
  /** Cipher in use. */
  method: CryptoMethod | undefined;
  /** Live connection. */
  connected: boolean;
  /** Reply channel transport. */
  protocol: ManagerProtocol | undefined;
  /** Reply channels registered. */
  sessions: number;
}

/** Counters of a {@link MockManager}. */
export interface MockManagerStats {
  /** Node name. */
  node: string;
  /** TCP connections open now. */
  connections: number;
  /** TCP connections accepted since start. */
  connectionsTotal: number;
  /** TCP connections the manager closed (decode errors, faults, overtake, slowloris, ...). */
  connectionsClosed: number;
  /** Agents with a live connection now. */
  connectedAgents: number;
  /** Per-agent counters for every agent seen (never-connected agents are left out). */
  agents: Record<string, AgentStats>;
  /** Events received. */
  eventsReceived: number;
  /** Valid messages received. */
  messagesReceived: number;
  /** Wire bytes received (everything, valid or not). */
  bytesIn: number;
  /** Wire bytes sent. */
  bytesOut: number;
  /** Messages sent (ACKs, commands, file chunks). */
  messagesSent: number;
  /** ACKs sent. */
  acksSent: number;
  /** Payloads rejected: unknown agent, bad format, decrypt, checksum, counter, oversize frame. */
  decodeErrors: number;
  /** Rejections by error code. */
  decodeErrorsByCode: Partial<Record<DecodeErrorCode, number>>;
  /** Messages from unknown agents, bad source IPs or rejected keys. */
  unknownAgents: number;
  /** TCP frames announcing more than 65536 bytes. */
  framesTooLarge: number;
  /** Connections closed for holding a partial frame longer than `frameDeadlineMs`. */
  slowConnectionsClosed: number;
  /** Second connections refused (`Agent key already in use`). */
  keyInUseRejections: number;
  /** Old connections closed by an overtake. */
  overtakes: number;
  /** Messages rejected by the counter check. */
  counterRejections: number;
  /** Control messages without a newline (no ACK). */
  invalidControl: number;
  /** Decrypted messages that are neither valid events nor valid control messages. */
  invalidMessages: number;
  /** `#ping` health checks answered. */
  pings: number;
  /** Replies dropped because the connection's send buffer was full or the agent unreachable. */
  sendDropped: number;
  /** Connections refused by `maxConnections`. */
  connectionsRefused: number;
  /** Largest partial frame held by one connection (bytes; at most one frame plus its header). */
  maxConnectionBuffered: number;
  /** Shared-file pushes completed. */
  filesPushed: number;
  /** Requests in flight. */
  pendingRequests: number;
}

type Channel = { kind: 'tcp'; conn: TcpConn } | { kind: 'udp'; address: string; port: number };

/** One accepted TCP connection. */
class TcpConn {
  readonly decoder = new FrameDecoder();
  agent: AgentState | undefined;
  messages = 0;
  partialSince = 0;
  closed = false;
  lastValidAt = 0;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** This connection as a reply channel (one object per connection, not per message). */
  readonly channel: Channel;

  constructor(
    readonly id: number,
    readonly socket: Socket,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.channel = { kind: 'tcp', conn: this };
  }
}

/** Per-agent state, kept small: 10 000 agents on one manager must be cheap. */
class AgentState {
  status: AgentStatus = 'never_connected';
  live = false;
  sock: TcpConn | undefined = undefined;
  udpPeer: { address: string; port: number } | undefined = undefined;
  protocol: ManagerProtocol | undefined = undefined;
  method: CryptoMethod | undefined = undefined;
  version: string | undefined = undefined;
  statusCode: AgentRecord['statusCode'] = undefined;
  keepalive: ParsedKeepalive | undefined = undefined;
  statusSince = 0;
  lastSeen = 0;
  lastControl = 0;
  lastKeepalive = 0;
  connectedAt = 0;
  events = 0;
  messages = 0;
  bytes = 0;
  sessions = 0;
  counter: MessageCounter | undefined = undefined;
  pushing = false;

  constructor(readonly key: AgentKey) {}
}

interface PendingRequest {
  counter: string;
  agent: AgentState;
  udp: boolean;
  message: string;
  attempts: number;
  acked: boolean;
  deadline: number;
  timer: TimerHandle | undefined;
  resolve: (response: string) => void;
  reject: (err: Error) => void;
}

interface Waiter {
  check: () => boolean;
  reject: (err: Error) => void;
}

interface MergedBundle {
  data: Buffer;
  md5: string;
}

type RunState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** Most `!id!` header bytes scanned: `!` + 8 digits + `!`. */
const MAX_ID_HEADER = 10;
const FILE_CHUNK = 900;
const UDP_CHUNKS_PER_PAUSE = 31;
const BIND_ATTEMPTS = 20;
const RELISTEN_DEADLINE_MS = 5000;
const DEFAULT_WAIT_TIMEOUT = 10_000;

/**
 * A wazuh-remoted-compatible manager for tests and simulations (protocol.md 8.8 and more).
 *
 * It listens on TCP (and optionally UDP on the same port), decodes every message with the SDK's
 * codec, tracks agent status (`never_connected` → `pending` → `active` → `disconnected`), answers
 * startups and keepalives with ACKs, records events, and can send `#!-force_reconnect`, requests,
 * active responses and shared files. Faults ({@link MockManager.setFaults}) make it refuse, hang,
 * reset, withhold or delay ACKs, corrupt frames, check counters, refuse versions or keys.
 *
 * Scales to 10 000 agents: per-agent state is a few fields, there are no per-agent timers (one
 * housekeeping timer), and per-connection memory is bounded by one frame.
 *
 * @example
 * ```ts
 * const keys = new KeyStore();
 * const [agent] = keys.generate(1);
 * await using manager = new MockManager({ keys });
 * await manager.start();
 * const client = new AgentClient({ agent, servers: [manager.address] });
 * await client.start();
 * await manager.waitForAgents(1);
 * client.sendEvent({ queue: '1', location: '/var/log/app.log', message: 'hello' });
 * const [event] = await manager.waitForEvents((e) => e.message === 'hello');
 * ```
 */
export class MockManager extends EventEmitter<MockManagerEvents> {
  /** The key store this manager reads (shared with authd and other cluster nodes). */
  readonly keyStore: KeyStore;
  /** Node name. */
  readonly name: string;

  readonly #host: string;
  readonly #requestedPort: number;
  readonly #protocols: readonly ManagerProtocol[];
  readonly #managerVersion: [number, number];
  readonly #overtakeTime: number;
  readonly #disconnectionTime: number;
  readonly #disconnectOnClose: boolean;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #maxConnections: number;
  readonly #frameDeadline: number;
  readonly #sendBufferSize: number;
  readonly #historyLimit: number;
  readonly #requestTimeout: number;
  readonly #rto: number;
  readonly #maxAttempts: number;
  readonly #udpFilePause: number;
  readonly #udpRecvBuffer: number;
  readonly #authdOption: true | Partial<MockAuthdOptions> | undefined;

  #state: RunState = 'new';
  #faults: ManagerFaults;
  #port = 0;
  #tcp: Server | undefined;
  #udp: UdpSocket | undefined;
  #authd: MockAuthd | undefined;
  #authdPort: number | undefined;
  #listenOp: Promise<void> = Promise.resolve();
  #connSeq = 0;
  readonly #conns = new Set<TcpConn>();
  readonly #partial = new Set<TcpConn>();
  readonly #agents = new Map<string, AgentState>();
  readonly #statusCounts = { pending: 0, active: 0, disconnected: 0 };
  #liveCount = 0;
  #counter: MessageCounter = { global: 0, local: 0 };
  #history: ReceivedEvent[] = [];
  #historyHead = 0;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #waiters = new Set<Waiter>();
  readonly #queues = new Set<AsyncQueue<ReceivedEvent>>();
  readonly #delayTimers = new Set<TimerHandle>();
  readonly #sleepers = new Set<() => void>();
  readonly #shared = new Map<string, MergedBundle>();
  #sweepTimer: TimerHandle | undefined;
  readonly #sweepPeriod: number;
  readonly #onKeyRemoved = (key: AgentKey): void => this.#forgetAgent(key.id);

  readonly #stats = {
    connectionsTotal: 0,
    connectionsClosed: 0,
    eventsReceived: 0,
    messagesReceived: 0,
    bytesIn: 0,
    bytesOut: 0,
    messagesSent: 0,
    acksSent: 0,
    decodeErrors: 0,
    unknownAgents: 0,
    framesTooLarge: 0,
    slowConnectionsClosed: 0,
    keyInUseRejections: 0,
    overtakes: 0,
    counterRejections: 0,
    invalidControl: 0,
    invalidMessages: 0,
    pings: 0,
    sendDropped: 0,
    connectionsRefused: 0,
    maxConnectionBuffered: 0,
    filesPushed: 0,
  };
  readonly #errorsByCode: Partial<Record<DecodeErrorCode, number>> = {};

  /**
   * @param options - see {@link MockManagerOptions}; every field is optional.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an impossible option value.
   */
  constructor(options: MockManagerOptions = {}) {
    super();
    const keys = options.keys;
    this.keyStore = keys instanceof KeyStore ? keys : new KeyStore(keys);
    this.name = options.name ?? 'node01';
    this.#host = options.host ?? '127.0.0.1';
    this.#requestedPort = intOption('port', options.port, 0, 0, 65535);
    const protocols = options.protocols ?? ['tcp'];
    if (protocols.length === 0 || protocols.some((p) => p !== 'tcp' && p !== 'udp')) {
      throw new ConfigError(`protocols must list 'tcp' and/or 'udp', got ${JSON.stringify(protocols)}`, {
        element: 'protocols',
        value: protocols,
      });
    }
    this.#protocols = [...new Set(protocols)];
    const version = options.managerVersion ?? 'v4.14.7';
    const mv = parseVersion(version);
    if (mv === undefined) {
      throw new ConfigError(`managerVersion must look like 'v4.14.7', got '${version}'`, { element: 'managerVersion', value: version });
    }
    this.#managerVersion = mv;
    this.#overtakeTime = intOption('connectionOvertakeTime', options.connectionOvertakeTime, 60_000, 0, 3_600_000);
    this.#disconnectionTime = intOption('agentsDisconnectionTime', options.agentsDisconnectionTime, 900_000, 1, 2 ** 31 - 1);
    this.#disconnectOnClose = options.disconnectOnClose ?? false;
    this.#log = (options.logger ?? silentLogger).child({ component: 'mock-manager', node: this.name });
    this.#clock = options.clock ?? systemClock;
    this.#maxConnections = intOption('maxConnections', options.maxConnections, 0, 0, 2 ** 31 - 1);
    this.#frameDeadline = intOption('frameDeadlineMs', options.frameDeadlineMs, 60_000, 1, 2 ** 31 - 1);
    this.#sendBufferSize = intOption('sendBufferSize', options.sendBufferSize, 131_072, 1, 2 ** 31 - 1);
    this.#historyLimit = intOption('eventHistory', options.eventHistory, 100_000, 0, 2 ** 31 - 1);
    this.#requestTimeout = intOption('requestTimeout', options.requestTimeout, 60_000, 1, 2 ** 31 - 1);
    this.#rto = intOption('requestRetransmitMs', options.requestRetransmitMs, 1000, 1, 2 ** 31 - 1);
    this.#maxAttempts = intOption('requestMaxAttempts', options.requestMaxAttempts, 4, 1, 1000);
    this.#udpFilePause = intOption('udpFilePauseMs', options.udpFilePauseMs, 1000, 0, 2 ** 31 - 1);
    this.#udpRecvBuffer = intOption('udpReceiveBufferSize', options.udpReceiveBufferSize, 4 * 1024 * 1024, 1024, 2 ** 31 - 1);
    this.#authdOption = options.authd === false ? undefined : options.authd;
    this.#faults = defaultFaults(options.verifyCounters ?? false);
    for (const [group, files] of Object.entries(options.sharedFiles ?? {})) this.setSharedFiles(group, files);
    this.#sweepPeriod = Math.max(10, Math.min(1000, Math.floor(Math.min(this.#frameDeadline, this.#disconnectionTime) / 2)));
    this.keyStore.on('removed', this.#onKeyRemoved);
  }

  // -------------------------------------------------------------------------------------------
  // Life cycle

  /**
   * Starts listening (and the authd mock when configured).
   *
   * @returns the bound ports: `tcp`, `udp` (the same number when both) and `authd`.
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when called twice; `ERR_CLOSED` after close.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` when the port cannot be bound (the message names it).
   */
  async start(): Promise<{ tcp?: number; udp?: number; authd?: number }> {
    if (this.#state === 'closing' || this.#state === 'closed') throw new StateError('MockManager is closed', 'ERR_CLOSED');
    if (this.#state !== 'new') throw new StateError('MockManager.start() was already called', 'ERR_INVALID_STATE');
    this.#state = 'starting';
    try {
      await this.#bind(this.#requestedPort);
      if (this.#authdOption !== undefined) await this.#startAuthd();
    } catch (err) {
      await this.#releaseListeners();
      this.#state = 'closed';
      throw err;
    }
    this.#state = 'running';
    this.#armSweep();
    this.#log.info({ host: this.#host, port: this.#port, protocols: this.#protocols }, 'mock manager listening');
    const out: { tcp?: number; udp?: number; authd?: number } = {};
    if (this.#protocols.includes('tcp')) out.tcp = this.#port;
    if (this.#protocols.includes('udp')) out.udp = this.#port;
    if (this.#authdPort !== undefined) out.authd = this.#authdPort;
    return out;
  }

  /** The bound port (TCP and UDP share it); 0 before `start()`. */
  get port(): number {
    return this.#port;
  }

  /** The listening address. */
  get host(): string {
    return this.#host;
  }

  /** Where agents connect, in the shape of an AgentClient `servers[]` entry (first protocol). */
  get address(): { address: string; port: number; protocol: ManagerProtocol } {
    return { address: this.#host, port: this.#port, protocol: this.#protocols[0] ?? 'tcp' };
  }

  /** The authd port, when an authd mock runs. */
  get authdPort(): number | undefined {
    return this.#authdPort;
  }

  /** The transports this manager serves. */
  get protocols(): readonly ManagerProtocol[] {
    return this.#protocols;
  }

  /** Whether the manager is started and not closed. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /**
   * Stops everything: listeners, every connection, authd, timers, pending requests and waits
   * (rejected with `StateError` `ERR_CLOSED`), and ends the `events()` iterators. Leaves no handle.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    this.#state = 'closing';
    this.#clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    for (const t of this.#delayTimers) this.#clock.clearTimeout(t);
    this.#delayTimers.clear();
    for (const wake of this.#sleepers) wake();
    this.#sleepers.clear();
    const closed = new StateError(`MockManager ${this.name} closed`, 'ERR_CLOSED');
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(new RequestError(`Request ${p.counter} to agent ${p.agent.key.id} aborted: manager closed`, { cause: closed }));
    }
    this.#pending.clear();
    for (const w of this.#waiters) w.reject(closed);
    this.#waiters.clear();
    await this.#listenOp.catch(() => undefined);
    await this.#releaseListeners();
    for (const q of this.#queues) q.end();
    this.#queues.clear();
    this.keyStore.off('removed', this.#onKeyRemoved);
    this.#state = 'closed';
    this.#log.info({ port: this.#port }, 'mock manager closed');
    this.emit('close');
  }

  /** Same as {@link MockManager.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #releaseListeners(): Promise<void> {
    const tasks: Promise<unknown>[] = [];
    const tcp = this.#tcp;
    this.#tcp = undefined;
    if (tcp !== undefined) tasks.push(new Promise<void>((resolve) => tcp.close(() => resolve())));
    for (const c of this.#conns) {
      c.closed = true;
      c.socket.destroy();
    }
    const udp = this.#udp;
    this.#udp = undefined;
    if (udp !== undefined) tasks.push(new Promise<void>((resolve) => udp.close(() => resolve())));
    const authd = this.#authd;
    this.#authd = undefined;
    if (authd !== undefined) tasks.push(Promise.resolve(authd.close()).catch(() => undefined));
    await Promise.all(tasks);
  }

  async #startAuthd(): Promise<void> {
    const opts = this.#authdOption === true ? {} : (this.#authdOption ?? {});
    const authd = new MockAuthd({ host: this.#host, statusOf: (id) => this.statusInfo(id), ...opts, keyStore: this.keyStore });
    authd.on('enrolled', (key, info) => {
      if (info.groups.length > 0) this.keyStore.setGroups(key.id, info.groups);
    });
    this.#authd = authd;
    const { port } = await authd.start();
    this.#authdPort = port;
  }

  /** The authd mock, when the `authd` option started one. */
  get authd(): MockAuthd | undefined {
    return this.#authd;
  }

  /**
   * An agent's status and since when it holds, in the shape {@link MockAuthd}'s replacement rules read.
   *
   * @param id - agent id.
   * @returns the status info, or undefined for an unknown id.
   */
  statusInfo(id: string): AgentStatusInfo | undefined {
    if (this.keyStore.get(id) === undefined) return undefined;
    const s = this.#agents.get(id);
    return s === undefined ? { status: 'never_connected', since: 0 } : { status: s.status, since: s.statusSince };
  }

  // -------------------------------------------------------------------------------------------
  // Listeners

  async #bind(requested: number): Promise<void> {
    const wantTcp = this.#protocols.includes('tcp');
    const wantUdp = this.#protocols.includes('udp');
    let lastErr: unknown;
    for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
      let port = requested;
      try {
        if (wantTcp) {
          this.#tcp = await this.#listenTcp(port);
          port = (this.#tcp.address() as { port: number }).port;
        }
        if (wantUdp) {
          this.#udp = await this.#bindUdp(port);
          port = this.#udp.address().port;
        }
        this.#port = port;
        return;
      } catch (err) {
        lastErr = err;
        await this.#releaseListeners();
        const code = (err as NodeJS.ErrnoException).code;
        if (!(requested === 0 && wantTcp && wantUdp && code === 'EADDRINUSE')) break;
      }
    }
    const detail = lastErr instanceof Error ? lastErr.message : String(lastErr);
    throw new ConfigError(`MockManager cannot listen on ${this.#host}:${requested}: ${detail}`, { element: 'port', value: requested, cause: lastErr });
  }

  #listenTcp(port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, (socket) => this.#onTcpConnection(socket));
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: this.#host, port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.#log.warn({ err: err.message }, 'TCP listener error'));
        resolve(server);
      });
    });
  }

  #bindUdp(port: number): Promise<UdpSocket> {
    return new Promise((resolve, reject) => {
      const sock = createSocket({ type: this.#host.includes(':') ? 'udp6' : 'udp4' });
      const onError = (err: Error): void => {
        sock.close();
        reject(err);
      };
      sock.once('error', onError);
      sock.bind({ address: this.#host, port, exclusive: true }, () => {
        sock.off('error', onError);
        try {
          sock.setRecvBufferSize(this.#udpRecvBuffer);
        } catch {
          // the kernel refused the size: keep its default
        }
        sock.on('error', (err) => this.#log.warn({ err: err.message }, 'UDP socket error'));
        sock.on('message', (msg, rinfo) => this.#onUdpMessage(msg, rinfo));
        resolve(sock);
      });
    });
  }

  /** Closes or reopens the TCP listener to follow the `refuseConnections` fault. */
  #applyRefuse(): Promise<void> {
    const op = this.#listenOp.then(async () => {
      if (this.#state !== 'running' || !this.#protocols.includes('tcp')) return;
      if (this.#faults.refuseConnections) {
        const tcp = this.#tcp;
        this.#tcp = undefined;
        if (tcp !== undefined) tcp.close();
        return;
      }
      if (this.#tcp !== undefined) return;
      const deadline = this.#clock.monotonic() + RELISTEN_DEADLINE_MS;
      for (;;) {
        try {
          const server = await this.#listenTcp(this.#port);
          if (this.#state !== 'running' || this.#faults.refuseConnections) {
            server.close();
            return;
          }
          this.#tcp = server;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.#clock.monotonic() > deadline) {
            this.#log.error({ err: (err as Error).message, port: this.#port }, 'cannot listen again after refuseConnections');
            return;
          }
          await this.#sleep(50);
        }
      }
    });
    this.#listenOp = op.catch(() => undefined);
    return this.#listenOp;
  }

  // -------------------------------------------------------------------------------------------
  // TCP input

  #onTcpConnection(socket: Socket): void {
    if (this.#state !== 'running' || this.#faults.refuseConnections) {
      socket.destroy();
      return;
    }
    if (this.#maxConnections > 0 && this.#conns.size >= this.#maxConnections) {
      this.#stats.connectionsRefused++;
      socket.destroy();
      return;
    }
    const conn = new TcpConn(++this.#connSeq, socket);
    this.#conns.add(conn);
    this.#stats.connectionsTotal++;
    socket.on('data', (chunk: Buffer) => this.#onTcpData(conn, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.#onTcpClose(conn));
    this.#log.debug({ conn: conn.id, peer: `${conn.remoteAddress}:${conn.remotePort}` }, 'connection accepted');
    this.emit('connection', this.#peer(conn));
  }

  #onTcpData(conn: TcpConn, chunk: Buffer): void {
    this.#stats.bytesIn += chunk.length;
    if (conn.closed) return;
    try {
      conn.decoder.decode(chunk, (payload) => {
        conn.partialSince = 0;
        if (!conn.closed) this.#onTcpPayload(conn, payload);
      });
    } catch (err) {
      if (err instanceof DecodeError && err.code === 'ERR_DECODE_FRAME_TOO_LARGE') {
        this.#stats.framesTooLarge++;
        this.#reject(err, conn.channel, conn.agent?.key.id);
      } else {
        this.#log.error({ err: (err as Error).message, conn: conn.id }, 'unexpected failure on a TCP connection');
        this.#closeConn(conn);
      }
      return;
    }
    if (conn.closed) return;
    const buffered = conn.decoder.buffered;
    if (buffered > this.#stats.maxConnectionBuffered) this.#stats.maxConnectionBuffered = buffered;
    if (buffered > 0) {
      if (conn.partialSince === 0) {
        conn.partialSince = this.#clock.monotonic();
        this.#partial.add(conn);
      }
    } else if (conn.partialSince !== 0 || this.#partial.has(conn)) {
      conn.partialSince = 0;
      this.#partial.delete(conn);
    }
  }

  #onTcpPayload(conn: TcpConn, payload: Buffer): void {
    const f = this.#faults;
    if (f.blackhole === true) return;
    if (isPing(payload)) {
      this.#stats.pings++;
      this.#write(conn, encodeTcpFrame(Buffer.from(PONG, 'latin1')));
      return;
    }
    const channel = conn.channel;
    const key = this.#identify(payload, conn.remoteAddress, channel);
    if (key === undefined) return;
    const agent = this.#agentState(key);
    if (selects(f.blackhole, key.id)) return;

    // Connection overtake (protocol.md 8.2), checked before decryption as remoted does.
    const old = agent.sock;
    if (old !== undefined && old !== conn && !old.closed) {
      const silent = this.#clock.now() - agent.lastSeen;
      if (this.#overtakeTime > 0 && silent > this.#overtakeTime) {
        this.#stats.overtakes++;
        this.#log.debug({ agentId: key.id, old: old.id, conn: conn.id }, 'connection overtake: closing the silent socket');
        this.#closeConn(old);
      } else {
        this.#stats.keyInUseRejections++;
        this.#log.warn({ agentId: key.id, conn: conn.id }, `Agent key already in use: agent ID '${key.id}'`);
        this.#closeConn(conn);
        return;
      }
    }

    const decoded = this.#decode(payload, key, channel);
    if (decoded === undefined) return;
    const previous = conn.agent;
    if (previous !== undefined && previous !== agent && previous.sock === conn) {
      // Another agent's messages on this connection: it no longer owns it.
      previous.sock = undefined;
      this.#setLive(previous, false);
    }
    conn.agent = agent;
    conn.messages++;
    conn.lastValidAt = this.#clock.monotonic();
    const closeAfter = f.closeAfterMessages > 0 && conn.messages >= f.closeAfterMessages;
    this.#accept(agent, decoded, payload.length + 4, channel, !closeAfter);
    if (closeAfter) this.#closeConn(conn);
  }

  #onTcpClose(conn: TcpConn): void {
    conn.closed = true;
    this.#conns.delete(conn);
    this.#partial.delete(conn);
    const agent = conn.agent;
    if (agent !== undefined && agent.sock === conn) {
      agent.sock = undefined;
      this.#setLive(agent, false);
      if (this.#disconnectOnClose && this.#state === 'running') this.#setStatus(agent, 'disconnected');
      for (const p of this.#pending.values()) {
        if (p.agent === agent && !p.udp) this.#finishRequest(p, new RequestError(`Request ${p.counter}: the connection of agent ${agent.key.id} closed`));
      }
    }
    this.#log.debug({ conn: conn.id, agentId: agent?.key.id }, 'connection closed');
    if (this.#state === 'running' || this.#state === 'closing') this.emit('disconnection', this.#peer(conn));
  }

  #closeConn(conn: TcpConn, reset = false): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#stats.connectionsClosed++;
    if (reset) conn.socket.resetAndDestroy();
    else conn.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------
  // UDP input

  #onUdpMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.#stats.bytesIn += msg.length;
    const f = this.#faults;
    if (this.#state !== 'running' || f.refuseConnections || f.blackhole === true) return;
    if (isPing(msg)) {
      this.#stats.pings++;
      this.#udpSend(Buffer.from(PONG, 'latin1'), rinfo.address, rinfo.port);
      return;
    }
    const channel: Channel = { kind: 'udp', address: rinfo.address, port: rinfo.port };
    const key = this.#identify(msg, rinfo.address, channel);
    if (key === undefined) return;
    if (selects(f.blackhole, key.id)) return;
    const decoded = this.#decode(msg, key, channel);
    if (decoded === undefined) return;
    this.#accept(this.#agentState(key), decoded, msg.length, channel, true);
  }

  #udpSend(payload: Buffer, address: string, port: number): boolean {
    const udp = this.#udp;
    if (udp === undefined) return false;
    this.#stats.bytesOut += payload.length;
    this.#stats.messagesSent++;
    udp.send(payload, port, address, (err) => {
      if (err) this.#log.debug({ err: err.message }, 'UDP send failed');
    });
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Shared decode path

  /** Finds the key of a payload by `!id!` header or source IP (protocol.md 3.3 steps 1–2). */
  #identify(payload: Buffer, sourceIp: string, channel: Channel): AgentKey | undefined {
    let key: AgentKey | undefined;
    if (payload[0] === 0x21) {
      let i = 1;
      const n = Math.min(payload.length, MAX_ID_HEADER);
      while (i < n && payload[i]! >= 0x30 && payload[i]! <= 0x39) i++;
      if (i === 1 || payload[i] !== 0x21) {
        this.#reject(new DecodeError("Bad '!id!' header (1403)", 'ERR_DECODE_FORMAT'), channel, undefined);
        return undefined;
      }
      const id = payload.toString('latin1', 1, i);
      key = this.keyStore.get(id);
      if (key === undefined || !keyIpAllows(key.ip, sourceIp) || this.#faults.rejectKeys.has(id)) {
        this.#stats.unknownAgents++;
        this.#reject(new DecodeError(`(1408): Invalid ID ${id} for the source ip: '${sourceIp}'`, 'ERR_DECODE_UNKNOWN_AGENT', { agentId: id }), channel, id);
        return undefined;
      }
      return key;
    }
    key = this.keyStore.findByIp(sourceIp);
    if (key === undefined || this.#faults.rejectKeys.has(key.id)) {
      this.#stats.unknownAgents++;
      this.#reject(
        new DecodeError(`(1213): Message from '${sourceIp}' not allowed. Cannot find the ID of the agent.`, 'ERR_DECODE_UNKNOWN_AGENT', { agentId: key?.id }),
        channel,
        key?.id,
      );
      return undefined;
    }
    return key;
  }

  /** Decrypts and checks counters; on failure counts, reports and closes (TCP) and returns undefined. */
  #decode(payload: Buffer, key: AgentKey, channel: Channel): DecodedSecureMessage | undefined {
    let decoded: DecodedSecureMessage;
    try {
      decoded = decodeSecureMessage(payload, { keys: [key] });
    } catch (err) {
      const e = err instanceof DecodeError ? err : new DecodeError(String(err), 'ERR_DECODE_FORMAT', { agentId: key.id, cause: err });
      this.#reject(e, channel, key.id);
      return undefined;
    }
    const agent = this.#agentState(key);
    const got: MessageCounter = { global: decoded.global, local: decoded.local };
    if (this.#faults.verifyCounters) {
      const verdict = checkCounter(agent.counter, got);
      if (verdict !== 'ok') {
        this.#stats.counterRejections++;
        const msg =
          verdict === 'duplicate'
            ? `(1407): Duplicated counter for '${key.name}'.`
            : `(1404): Authentication error. Counter went backwards for '${key.name}'.`;
        this.#reject(new DecodeError(msg, 'ERR_DECODE_COUNTER', { agentId: key.id }), channel, key.id);
        return undefined;
      }
    }
    agent.counter = got;
    return decoded;
  }

  #reject(err: DecodeError, channel: Channel, agentId: string | undefined): void {
    this.#stats.decodeErrors++;
    const code = err.code as DecodeErrorCode;
    this.#errorsByCode[code] = (this.#errorsByCode[code] ?? 0) + 1;
    const peer = channel.kind === 'tcp' ? this.#peer(channel.conn, agentId) : udpPeer(channel, agentId);
    this.#log.debug({ code, agentId, peer: `${peer.remoteAddress}:${peer.remotePort}` }, err.message);
    if (channel.kind === 'tcp') this.#closeConn(channel.conn);
    this.emit('decodeError', err, peer);
  }

  /** A valid message: update the agent and act on it. */
  #accept(agent: AgentState, decoded: DecodedSecureMessage, wireBytes: number, channel: Channel, reply: boolean): void {
    const now = this.#clock.now();
    agent.lastSeen = now;
    agent.messages++;
    agent.bytes += wireBytes;
    agent.method = decoded.method;
    this.#stats.messagesReceived++;

    let msg: AgentMessage;
    try {
      msg = parseAgentMessage(decoded.message);
    } catch (err) {
      this.#stats.invalidMessages++;
      this.#log.debug({ agentId: agent.key.id, err: (err as Error).message }, 'invalid message dropped');
      return;
    }
    if (msg.type === 'event') {
      this.#onEvent(agent, msg.queue, msg.location, msg.message, channel.kind);
      return;
    }

    this.#register(agent, channel);
    this.emit('control', agent.key.id, msg);
    switch (msg.type) {
      case 'startup':
        this.#onStartup(agent, msg, reply);
        break;
      case 'keepalive':
        this.#onKeepalive(agent, msg.info, reply);
        break;
      case 'shutdown':
        this.#onShutdown(agent, channel.kind);
        break;
      case 'request_reply':
        this.#onRequestReply(agent, msg.counter, msg.response, channel.kind === 'udp');
        break;
      case 'request_ack': {
        const p = this.#pending.get(msg.counter);
        if (p !== undefined && p.agent === agent) p.acked = true;
        break;
      }
      case 'invalid_control':
        this.#stats.invalidControl++;
        this.#log.debug({ agentId: agent.key.id }, 'Invalid message from agent');
        break;
    }
  }

  /** Records the agent's reply channel (control messages only, protocol.md 8.3). */
  #register(agent: AgentState, channel: Channel): void {
    if (channel.kind === 'tcp') {
      if (agent.sock !== channel.conn) {
        agent.sock = channel.conn;
        agent.udpPeer = undefined;
        agent.protocol = 'tcp';
        agent.sessions++;
        agent.connectedAt = this.#clock.now();
      }
    } else {
      const p = agent.udpPeer;
      if (p === undefined || p.address !== channel.address || p.port !== channel.port || !agent.live) {
        agent.udpPeer = { address: channel.address, port: channel.port };
        if (agent.sock !== undefined) agent.sock = undefined;
        agent.protocol = 'udp';
        agent.sessions++;
        agent.connectedAt = this.#clock.now();
      }
    }
    this.#setLive(agent, true);
  }

  #onStartup(agent: AgentState, msg: Extract<AgentMessage, { type: 'startup' }>, reply: boolean): void {
    agent.lastControl = this.#clock.now();
    const vf = this.#faults.versionError;
    let refusal: string | undefined;
    if (selects(vf, agent.key.id)) {
      refusal = typeof vf === 'string' ? vf : 'Agent version must be lower or equal to manager version';
      agent.statusCode = 'invalid_version';
    } else if (msg.versionError === 'missing') {
      refusal = "Couldn't retrieve version";
      agent.statusCode = 'version_unreadable';
    } else if (msg.version !== undefined) {
      const v = parseVersion(msg.version);
      if (v === undefined) {
        refusal = "Couldn't retrieve version";
        agent.statusCode = 'version_unreadable';
      } else if (compareVersion(v, this.#managerVersion) > 0) {
        refusal = 'Agent version must be lower or equal to manager version';
        agent.statusCode = 'invalid_version';
      }
    }
    if (refusal !== undefined) {
      this.#log.debug({ agentId: agent.key.id, version: msg.version }, `startup refused: ${refusal}`);
      if (reply) this.#sendControl(agent, buildErr(refusal));
      return;
    }
    agent.statusCode = undefined;
    if (msg.version !== undefined) agent.version = msg.version;
    this.#setStatus(agent, 'pending');
    if (reply) this.#ack(agent);
  }

  #onKeepalive(agent: AgentState, info: ParsedKeepalive, reply: boolean): void {
    const now = this.#clock.now();
    agent.lastControl = now;
    agent.lastKeepalive = now;
    agent.keepalive = info;
    if (info.version !== undefined) agent.version = info.version;
    this.#setStatus(agent, 'active');
    if (!reply) return;
    this.#ack(agent);
    const group = this.keyStore.groupsOf(agent.key.id)[0] ?? 'default';
    const bundle = this.#shared.get(group);
    if (bundle !== undefined && info.mergedSum !== bundle.md5 && !agent.pushing) {
      void this.#pushBundle(agent, bundle);
    }
  }

  #onShutdown(agent: AgentState, protocol: ManagerProtocol): void {
    this.#setStatus(agent, 'disconnected');
    if (protocol === 'udp') this.#setLive(agent, false);
    const k = agent.key;
    this.#recordEvent({
      agentId: k.id,
      agentName: k.name,
      queue: '1',
      location: 'wazuh-remoted',
      message: `ossec: Agent stopped: '${k.name}->${k.ip}'.`,
      node: this.name,
      receivedAt: this.#clock.now(),
      protocol,
      generated: true,
    });
  }

  #onEvent(agent: AgentState, queue: string, location: string, message: Buffer, protocol: ManagerProtocol): void {
    if (location.startsWith('keepalive')) return;
    agent.events++;
    this.#stats.eventsReceived++;
    this.#recordEvent({
      agentId: agent.key.id,
      agentName: agent.key.name,
      queue,
      location,
      message: message.toString('utf8'),
      node: this.name,
      receivedAt: this.#clock.now(),
      protocol,
      generated: false,
    });
  }

  #recordEvent(ev: ReceivedEvent): void {
    if (this.#historyLimit > 0) {
      this.#history.push(ev);
      if (this.#history.length - this.#historyHead > this.#historyLimit) {
        this.#historyHead++;
        if (this.#historyHead >= 4096 && this.#historyHead * 2 >= this.#history.length) {
          this.#history = this.#history.slice(this.#historyHead);
          this.#historyHead = 0;
        }
      }
    }
    for (const q of this.#queues) q.push(ev);
    this.emit('event', ev);
  }

  // -------------------------------------------------------------------------------------------
  // Status

  #agentState(key: AgentKey): AgentState {
    let s = this.#agents.get(key.id);
    if (s === undefined || s.key !== key) {
      if (s !== undefined) this.#forgetAgent(key.id);
      s = new AgentState(key);
      this.#agents.set(key.id, s);
    }
    return s;
  }

  #forgetAgent(id: string): void {
    const s = this.#agents.get(id);
    if (s === undefined) return;
    if (s.sock !== undefined) this.#closeConn(s.sock);
    this.#setLive(s, false);
    if (s.status !== 'never_connected') this.#statusCounts[s.status]--;
    this.#agents.delete(id);
  }

  #setStatus(agent: AgentState, to: AgentStatus): void {
    const from = agent.status;
    if (from === to) return;
    if (from !== 'never_connected') this.#statusCounts[from]--;
    if (to !== 'never_connected') this.#statusCounts[to]++;
    agent.status = to;
    agent.statusSince = this.#clock.now();
    this.#log.debug({ agentId: agent.key.id }, `agent ${from} -> ${to}`);
    this.emit('agentStatus', agent.key.id, to, from);
    this.#checkWaiters();
  }

  #setLive(agent: AgentState, live: boolean): void {
    if (agent.live === live) return;
    agent.live = live;
    this.#liveCount += live ? 1 : -1;
    this.emit('agentConnection', agent.key.id, live);
    this.#checkWaiters();
  }

  /**
   * Marks an agent `disconnected` without touching its connection (used by {@link MockCluster} when
   * the agent has moved to another node, where the real cluster has a single status per agent).
   *
   * @param id - the agent id.
   * @returns whether the status changed.
   */
  markDisconnected(id: string): boolean {
    const s = this.#agents.get(id);
    if (s === undefined || s.status === 'disconnected' || s.status === 'never_connected') return false;
    this.#setStatus(s, 'disconnected');
    if (s.protocol === 'udp') this.#setLive(s, false);
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Housekeeping: one timer for every agent and connection

  #armSweep(): void {
    this.#sweepTimer = unrefTimeout(this.#clock, () => this.#sweep(), this.#sweepPeriod);
  }

  #sweep(): void {
    this.#sweepTimer = undefined;
    if (this.#state !== 'running') return;
    const mono = this.#clock.monotonic();
    for (const c of this.#partial) {
      if (c.partialSince !== 0 && mono - c.partialSince > this.#frameDeadline) {
        this.#stats.slowConnectionsClosed++;
        this.#partial.delete(c);
        this.#log.debug({ conn: c.id }, 'closing a connection that held a partial frame too long');
        this.#closeConn(c);
      }
    }
    if (this.#statusCounts.active + this.#statusCounts.pending > 0 || this.#liveCount > 0) {
      const limit = this.#clock.now() - this.#disconnectionTime;
      for (const s of this.#agents.values()) {
        if ((s.status === 'active' || s.status === 'pending') && s.lastControl < limit) this.#setStatus(s, 'disconnected');
        if (s.live && s.protocol === 'udp' && s.lastSeen < limit) this.#setLive(s, false);
      }
    }
    this.#armSweep();
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  /** Where the manager can send to an agent now (protocol.md 8.3), or undefined. */
  #channelOf(agent: AgentState): Channel | undefined {
    if (agent.lastSeen === 0 || this.#clock.now() - agent.lastSeen > this.#disconnectionTime) return undefined;
    if (agent.sock !== undefined) return agent.sock.closed ? undefined : agent.sock.channel;
    if (agent.udpPeer !== undefined && agent.live) return { kind: 'udp', address: agent.udpPeer.address, port: agent.udpPeer.port };
    return undefined;
  }

  /** Encrypts a message for an agent with the manager's counter and the agent's method, and sends it. */
  #sendControl(agent: AgentState, message: string | Buffer): boolean {
    const ch = this.#channelOf(agent);
    if (ch === undefined) {
      this.#stats.sendDropped++;
      this.#log.debug({ agentId: agent.key.id }, `(1245): Sending message to disconnected agent '${agent.key.id}'.`);
      return false;
    }
    this.#counter = nextCounter(this.#counter);
    const opts = { key: agent.key, method: agent.method ?? 'aes', sender: 'manager', counter: this.#counter } as const;
    if (ch.kind === 'tcp') return this.#write(ch.conn, encodeSecureFrame(message, opts));
    return this.#udpSend(encodeSecureMessage(message, opts), ch.address, ch.port);
  }

  #write(conn: TcpConn, frame: Buffer): boolean {
    if (conn.closed) return false;
    if (conn.socket.writableLength > this.#sendBufferSize) {
      this.#stats.sendDropped++;
      return false;
    }
    conn.socket.write(frame);
    this.#stats.bytesOut += frame.length;
    this.#stats.messagesSent++;
    return true;
  }

  #ack(agent: AgentState): void {
    const f = this.#faults;
    const id = agent.key.id;
    if (selects(f.withholdAcks, id)) return;
    if (selects(f.corruptFrames, id)) {
      this.#sendCorrupt(agent);
      return;
    }
    if (f.ackDelayMs > 0) {
      const handle = unrefTimeout(
        this.#clock,
        () => {
          this.#delayTimers.delete(handle);
          if (this.#state === 'running' && this.#sendControl(agent, ACK_MESSAGE)) this.#stats.acksSent++;
        },
        f.ackDelayMs,
      );
      this.#delayTimers.add(handle);
      return;
    }
    if (this.#sendControl(agent, ACK_MESSAGE)) this.#stats.acksSent++;
  }

  #sendCorrupt(agent: AgentState): void {
    const ch = this.#channelOf(agent);
    if (ch === undefined) return;
    const mode = this.#faults.corruptMode;
    let payload: Buffer;
    if (mode === 'ciphertext') {
      const token = Buffer.from(agent.method === 'blowfish' ? ':' : '#AES:', 'latin1');
      payload = Buffer.concat([token, randomBytes(48)]);
    } else {
      payload = randomBytes(16 + randomInt(0, 64));
    }
    if (ch.kind === 'udp') {
      this.#udpSend(payload, ch.address, ch.port);
      return;
    }
    if (mode === 'oversize') {
      const frame = Buffer.alloc(4 + 16);
      frame.writeUInt32LE(MAX_FRAME_SIZE + 1 + randomInt(0, 1 << 20), 0);
      this.#write(ch.conn, frame);
      return;
    }
    this.#write(ch.conn, encodeTcpFrame(payload));
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /**
   * Sends a raw control message (any plaintext) to an agent, encrypted as remoted would.
   *
   * @param id - agent id.
   * @param plaintext - the message, e.g. `#!-syscheck restart`.
   * @returns whether it was sent (the agent is reachable and the send buffer not full).
   */
  send(id: string, plaintext: string | Buffer): boolean {
    const s = this.#agents.get(id);
    if (s === undefined || this.#state !== 'running') return false;
    return this.#sendControl(s, plaintext);
  }

  /**
   * Sends `#!-force_reconnect` (protocol.md 4.4).
   *
   * @param ids - agent ids, or `all` for every reachable agent.
   * @returns how many agents it was sent to.
   */
  forceReconnect(ids: readonly string[] | 'all'): number {
    return this.#broadcast(ids, FORCE_RECONNECT_MESSAGE);
  }

  /**
   * Sends an active-response command `#!-execd <payload>`.
   *
   * @param target - an agent id, or `all` for every agent heard from within `agentsDisconnectionTime`.
   * @param payload - the AR JSON as a string, or an object serialised compactly.
   * @returns how many agents it was sent to.
   */
  activeResponse(target: string | 'all', payload: string | object): number {
    return this.#broadcast(target === 'all' ? 'all' : [target], buildExecd(payload));
  }

  #broadcast(ids: readonly string[] | 'all', message: string): number {
    if (this.#state !== 'running') return 0;
    let sent = 0;
    const list = ids === 'all' ? this.#agents.values() : ids.map((id) => this.#agents.get(id));
    for (const s of list) {
      if (s === undefined) continue;
      if (ids === 'all' && this.#channelOf(s) === undefined) continue;
      if (this.#sendControl(s, message)) sent++;
    }
    return sent;
  }

  /**
   * Sends a request `#!-req <counter> <target> <command>` and waits for the agent's answer
   * (protocol.md 4.5). The counter is a random 32-bit lowercase hex value. Over UDP the request is
   * retransmitted every `requestRetransmitMs` until the agent's `#!-req <c> ack` or its response
   * arrives (up to `requestMaxAttempts` sends), and the manager acknowledges the response.
   *
   * @param id - agent id.
   * @param target - `agent`, `logcollector`, `com`, ...
   * @param command - e.g. `getconfig client`.
   * @param opts - `timeout` in milliseconds (default `requestTimeout`, 60 s).
   * @returns the response text after the counter (`ok {...}`, `err ...`, or getstate JSON).
   * @throws {@link agentlink!RequestError} `ERR_REQUEST` when the agent is unreachable, never acknowledges (UDP),
   *   its connection closes, the deadline passes, or the manager closes.
   */
  request(id: string, target: string, command: string, opts: { timeout?: number } = {}): Promise<string> {
    const agent = this.#agents.get(id);
    if (this.#state !== 'running') return Promise.reject(new RequestError(`Cannot send a request to agent ${id}: the manager is not running`));
    if (agent === undefined || this.#channelOf(agent) === undefined) {
      return Promise.reject(new RequestError(`Cannot send a request to agent ${id}: it is not connected`));
    }
    let counter: string;
    do counter = randomInt(0, 0x1_0000_0000).toString(16);
    while (this.#pending.has(counter));
    const message = buildRequest(counter, target, command);
    const udp = this.#channelOf(agent)?.kind === 'udp';
    const timeout = opts.timeout ?? this.#requestTimeout;
    return new Promise<string>((resolve, reject) => {
      const p: PendingRequest = {
        counter,
        agent,
        udp,
        message,
        attempts: 1,
        acked: false,
        deadline: this.#clock.monotonic() + timeout,
        timer: undefined,
        resolve,
        reject,
      };
      if (!this.#sendControl(agent, message)) {
        reject(new RequestError(`Could not send request ${counter} to agent ${id}`));
        return;
      }
      this.#pending.set(counter, p);
      this.#armRequest(p);
    });
  }

  #armRequest(p: PendingRequest): void {
    const remaining = p.deadline - this.#clock.monotonic();
    const wait = p.udp && !p.acked ? Math.min(this.#rto, remaining) : remaining;
    p.timer = unrefTimeout(this.#clock, () => this.#onRequestTimer(p), Math.max(0, wait));
  }

  #onRequestTimer(p: PendingRequest): void {
    p.timer = undefined;
    if (this.#pending.get(p.counter) !== p) return;
    const id = p.agent.key.id;
    if (this.#clock.monotonic() >= p.deadline) {
      this.#finishRequest(p, new RequestError(`Request ${p.counter} to agent ${id} timed out`));
      return;
    }
    if (p.udp && !p.acked) {
      if (p.attempts >= this.#maxAttempts) {
        this.#finishRequest(p, new RequestError(`Request ${p.counter} to agent ${id} was not acknowledged after ${p.attempts} attempts`));
        return;
      }
      p.attempts++;
      this.#sendControl(p.agent, p.message);
    }
    this.#armRequest(p);
  }

  #finishRequest(p: PendingRequest, result: string | Error): void {
    this.#clock.clearTimeout(p.timer);
    p.timer = undefined;
    this.#pending.delete(p.counter);
    if (typeof result === 'string') p.resolve(result);
    else p.reject(result);
  }

  #onRequestReply(agent: AgentState, counter: string, response: string, udp: boolean): void {
    if (udp) this.#sendControl(agent, buildRequestAck(counter));
    const p = this.#pending.get(counter);
    if (p === undefined || p.agent !== agent) return;
    this.#finishRequest(p, response);
  }

  /**
   * Sets (or with an empty list removes) the shared files of a group. Agents of that group whose
   * keepalive reports another merged.mg sum get the new bundle after their next keepalive.
   *
   * @param group - group name (`default` unless authd recorded other groups in the key store).
   * @param files - the files of the group's merged.mg.
   */
  setSharedFiles(group: string, files: readonly SharedFileInput[]): void {
    if (files.length === 0) {
      this.#shared.delete(group);
      return;
    }
    const data = buildMergedMg(files, group);
    this.#shared.set(group, { data, md5: createHash('md5').update(data).digest('hex') });
  }

  /**
   * The md5 of a group's merged.mg, as agents report it once they have it.
   *
   * @param group - group name.
   * @returns the sum, or undefined when the group has no shared files.
   */
  sharedFilesSum(group: string): string | undefined {
    return this.#shared.get(group)?.md5;
  }

  /**
   * Pushes a merged.mg built from `files` now (protocol.md 4.6): `#!-up file <md5> merged.mg\n`, the
   * content in chunks of at most 900 bytes, then `#!-close file `. Over UDP it pauses
   * `udpFilePauseMs` after every 31 chunks.
   *
   * @param target - an agent id, or `{ group }` for every reachable agent of that group.
   * @param files - the files to bundle.
   * @param group - group name written in the bundle's first line (defaults to `target.group`).
   * @returns how many agents received the whole push.
   */
  async pushSharedFile(target: string | { group: string }, files: readonly SharedFileInput[], group?: string): Promise<number> {
    const g = group ?? (typeof target === 'string' ? undefined : target.group);
    const data = buildMergedMg(files, g);
    const bundle: MergedBundle = { data, md5: createHash('md5').update(data).digest('hex') };
    const agents: AgentState[] = [];
    if (typeof target === 'string') {
      const s = this.#agents.get(target);
      if (s !== undefined) agents.push(s);
    } else {
      for (const s of this.#agents.values()) {
        if (this.keyStore.groupsOf(s.key.id)[0] === target.group && this.#channelOf(s) !== undefined) agents.push(s);
      }
    }
    const results = await Promise.all(agents.map((s) => this.#pushBundle(s, bundle)));
    return results.filter(Boolean).length;
  }

  async #pushBundle(agent: AgentState, bundle: MergedBundle): Promise<boolean> {
    if (this.#state !== 'running') return false;
    agent.pushing = true;
    try {
      if (!this.#sendControl(agent, buildFileOpen(bundle.md5, 'merged.mg'))) return false;
      const { data } = bundle;
      let chunks = 0;
      let off = 0;
      while (off < data.length) {
        const ch = this.#channelOf(agent);
        if (ch === undefined || this.#state !== 'running') return false;
        if (ch.kind === 'tcp' && ch.conn.socket.writableLength > this.#sendBufferSize / 2) {
          await this.#drain(ch.conn);
          continue;
        }
        if (!this.#sendControl(agent, data.subarray(off, Math.min(off + FILE_CHUNK, data.length)))) return false;
        off += FILE_CHUNK;
        chunks++;
        if (ch.kind === 'udp' && chunks % UDP_CHUNKS_PER_PAUSE === 0 && this.#udpFilePause > 0) await this.#sleep(this.#udpFilePause);
      }
      if (!this.#sendControl(agent, FILE_CLOSE_MESSAGE)) return false;
      this.#stats.filesPushed++;
      return true;
    } finally {
      agent.pushing = false;
    }
  }

  #drain(conn: TcpConn): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        conn.socket.off('drain', done);
        conn.socket.off('close', done);
        resolve();
      };
      conn.socket.once('drain', done);
      conn.socket.once('close', done);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimeout(handle);
        resolve();
      };
      const handle = unrefTimeout(this.#clock, wake, ms);
      this.#sleepers.add(wake);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  /** The faults in force now (read-only; change them with {@link MockManager.setFaults}). */
  get faults(): Readonly<ManagerFaults> {
    return this.#faults;
  }

  /**
   * Changes some faults at run time; the others keep their values.
   *
   * @param update - the fields to change (agent sets may be arrays).
   * @returns a promise that resolves once the listeners follow `refuseConnections` (never rejects).
   */
  setFaults(update: FaultsUpdate): Promise<void> {
    const before = this.#faults.refuseConnections;
    this.#faults = mergeFaults(this.#faults, update);
    this.#log.debug({ faults: Object.keys(update) }, 'faults changed');
    if (this.#faults.refuseConnections !== before) return this.#applyRefuse();
    return Promise.resolve();
  }

  /**
   * Turns every fault off (counter verification goes back to the `verifyCounters` option).
   *
   * @param verifyCounters - what the counter check returns to.
   * @returns as {@link MockManager.setFaults}.
   */
  clearFaults(verifyCounters = false): Promise<void> {
    const before = this.#faults.refuseConnections;
    this.#faults = defaultFaults(verifyCounters);
    if (before) return this.#applyRefuse();
    return Promise.resolve();
  }

  /**
   * Resets every TCP connection now (RST, not FIN).
   *
   * @returns how many connections were reset.
   */
  resetConnections(): number {
    let n = 0;
    for (const c of [...this.#conns]) {
      if (c.closed) continue;
      this.#closeConn(c, true);
      n++;
    }
    return n;
  }

  /**
   * Closes (RST) the TCP connection of some agents, as if each had failed.
   *
   * @param ids - agent ids.
   * @returns how many connections were reset.
   */
  disconnectAgents(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) {
      const s = this.#agents.get(id);
      if (s?.sock !== undefined && !s.sock.closed) {
        this.#closeConn(s.sock, true);
        n++;
      }
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Inspection

  /**
   * @returns a record for every key in the store, in store order (never-connected agents included).
   */
  agents(): AgentRecord[] {
    return this.keyStore.list().map((k) => this.#record(k, this.#agents.get(k.id)));
  }

  /**
   * @param id - agent id.
   * @returns the agent's record, or undefined when no key has this id.
   */
  agent(id: string): AgentRecord | undefined {
    const k = this.keyStore.get(id);
    return k === undefined ? undefined : this.#record(k, this.#agents.get(id));
  }

  /**
   * The status of an agent, cheaper than {@link MockManager.agent}.
   *
   * @param id - agent id.
   * @returns the status, or undefined for an unknown id.
   */
  statusOf(id: string): AgentStatus | undefined {
    if (this.keyStore.get(id) === undefined) return undefined;
    return this.#agents.get(id)?.status ?? 'never_connected';
  }

  /** @returns the ids of agents with a live connection. */
  connectedAgentIds(): string[] {
    const out: string[] = [];
    for (const s of this.#agents.values()) if (s.live) out.push(s.key.id);
    return out;
  }

  /** Number of agents with a live connection. */
  get connectedCount(): number {
    return this.#liveCount;
  }

  /**
   * Events kept in the history (the newest `eventHistory`), oldest first.
   *
   * @param id - only this agent's events.
   * @returns the events.
   */
  receivedEvents(id?: string): ReceivedEvent[] {
    const all = this.#history.slice(this.#historyHead);
    return id === undefined ? all : all.filter((e) => e.agentId === id);
  }

  /** Forgets the event history (counters are kept). */
  clearEvents(): void {
    this.#history = [];
    this.#historyHead = 0;
  }

  /**
   * Events received from now on, as an async iterator that ends when the manager closes (or on
   * `break`). Events not read are buffered, up to `bufferSize` (oldest dropped beyond).
   *
   * @param opts - `bufferSize` (default 100000); `replay: true` first yields the kept history.
   * @returns the iterator.
   */
  events(opts: { bufferSize?: number; replay?: boolean } = {}): AsyncIterableIterator<ReceivedEvent> {
    const q: AsyncQueue<ReceivedEvent> = new AsyncQueue<ReceivedEvent>(opts.bufferSize ?? 100_000, () => this.#queues.delete(q));
    if (opts.replay) for (const e of this.receivedEvents()) q.push(e);
    if (this.#state === 'closed' || this.#state === 'closing') q.end();
    else this.#queues.add(q);
    return q;
  }

  /**
   * Waits until at least `n` agents have a status (by default: `active` and connected).
   *
   * @param n - how many agents.
   * @param opts - status, connected, ids, timeout.
   * @returns the matching records.
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` after the deadline, `ERR_CLOSED` when the manager closes.
   */
  waitForAgents(n: number, opts: WaitForAgentsOptions = {}): Promise<AgentRecord[]> {
    const status = opts.status ?? 'active';
    const connected = opts.connected ?? (status === 'active' || status === 'pending');
    const ids = opts.ids === undefined ? undefined : new Set(opts.ids);
    const match = (s: AgentState): boolean => s.status === status && (!connected || s.live) && (ids === undefined || ids.has(s.key.id));
    const quick = (): boolean => {
      const c = status === 'never_connected' ? this.keyStore.size : this.#statusCounts[status];
      return c >= n && (!connected || this.#liveCount >= n);
    };
    const collect = (): AgentRecord[] | undefined => {
      if (!quick()) return undefined;
      const out: AgentRecord[] = [];
      if (status === 'never_connected') {
        for (const k of this.keyStore.list()) {
          const s = this.#agents.get(k.id);
          if ((s === undefined || s.status === 'never_connected') && !connected && (ids === undefined || ids.has(k.id))) out.push(this.#record(k, s));
        }
      } else {
        for (const s of this.#agents.values()) if (match(s)) out.push(this.#record(s.key, s));
      }
      return out.length >= n ? out : undefined;
    };
    const what = `${n} agent(s) ${status}${connected ? ' and connected' : ''}`;
    return this.#wait(collect, opts.timeout ?? DEFAULT_WAIT_TIMEOUT, () => {
      let have = 0;
      for (const s of this.#agents.values()) if (match(s)) have++;
      return `Timed out waiting for ${what} on ${this.name} (have ${have})`;
    });
  }

  /**
   * Waits for events: with a number, until that many events were received in all; with a
   * predicate, until `count` (default 1) kept or new events match it.
   *
   * @param what - a count, or a predicate.
   * @param opts - `count` for a predicate, `timeout`.
   * @returns the first matching events (exactly the number asked for).
   * @throws {@link agentlink!StateError} `ERR_TIMEOUT` after the deadline, `ERR_CLOSED` when the manager closes.
   */
  waitForEvents(what: number | ((e: ReceivedEvent) => boolean), opts: WaitForEventsOptions = {}): Promise<ReceivedEvent[]> {
    const pred = typeof what === 'number' ? () => true : what;
    const need = typeof what === 'number' ? what : (opts.count ?? 1);
    const found = this.receivedEvents().filter(pred);
    if (found.length >= need) return Promise.resolve(found.slice(0, need));
    if (this.#state === 'closed' || this.#state === 'closing') return Promise.reject(new StateError(`MockManager ${this.name} closed`, 'ERR_CLOSED'));
    return new Promise((resolve, reject) => {
      const onEvent = (e: ReceivedEvent): void => {
        if (!pred(e)) return;
        found.push(e);
        if (found.length >= need) finish();
      };
      const finish = (err?: Error): void => {
        this.off('event', onEvent);
        this.#clock.clearTimeout(timer);
        this.#waiters.delete(waiter);
        if (err) reject(err);
        else resolve(found.slice(0, need));
      };
      const waiter: Waiter = { check: () => false, reject: (err) => finish(err) };
      const timer = unrefTimeout(
        this.#clock,
        () => finish(new StateError(`Timed out waiting for ${need} event(s) on ${this.name} (have ${found.length})`, 'ERR_TIMEOUT')),
        opts.timeout ?? DEFAULT_WAIT_TIMEOUT,
      );
      this.#waiters.add(waiter);
      this.on('event', onEvent);
    });
  }

  #wait<T>(collect: () => T | undefined, timeout: number, describe: () => string): Promise<T> {
    const now = collect();
    if (now !== undefined) return Promise.resolve(now);
    if (this.#state === 'closed' || this.#state === 'closing') return Promise.reject(new StateError(`MockManager ${this.name} closed`, 'ERR_CLOSED'));
    return new Promise<T>((resolve, reject) => {
      const finish = (value: T | undefined, err?: Error): void => {
        this.#clock.clearTimeout(timer);
        this.#waiters.delete(waiter);
        if (err !== undefined) reject(err);
        else resolve(value as T);
      };
      const waiter: Waiter = {
        check: () => {
          const v = collect();
          if (v === undefined) return false;
          finish(v);
          return true;
        },
        reject: (err) => finish(undefined, err),
      };
      const timer = unrefTimeout(this.#clock, () => finish(undefined, new StateError(describe(), 'ERR_TIMEOUT')), timeout);
      this.#waiters.add(waiter);
    });
  }

  #checkWaiters(): void {
    if (this.#waiters.size === 0) return;
    for (const w of [...this.#waiters]) w.check();
  }

  /**
   * Counters and per-agent figures.
   *
   * @returns a snapshot.
   */
  stats(): MockManagerStats {
    const agents: Record<string, AgentStats> = {};
    for (const s of this.#agents.values()) {
      agents[s.key.id] = {
        events: s.events,
        bytes: s.bytes,
        lastKeepalive: s.lastKeepalive || undefined,
        node: this.name,
        status: s.status,
        method: s.method,
        connected: s.live,
        protocol: s.protocol,
        sessions: s.sessions,
      };
    }
    return {
      node: this.name,
      connections: this.#conns.size,
      connectedAgents: this.#liveCount,
      agents,
      ...this.#stats,
      decodeErrorsByCode: { ...this.#errorsByCode },
      pendingRequests: this.#pending.size,
    };
  }

  #record(k: AgentKey, s: AgentState | undefined): AgentRecord {
    const ka = s?.keepalive;
    return {
      id: k.id,
      name: k.name,
      ip: k.ip,
      node: this.name,
      status: s?.status ?? 'never_connected',
      connected: s?.live ?? false,
      statusCode: s?.statusCode,
      protocol: s?.protocol,
      method: s?.method,
      version: s?.version,
      uname: ka?.uname,
      os: ka?.os,
      labels: ka?.labels ?? [],
      mergedSum: ka?.mergedSum,
      configSum: ka?.agentConfigSum,
      agentIp: ka?.agentIp,
      group: this.keyStore.groupsOf(k.id)[0] ?? 'default',
      remoteAddress: s?.sock?.remoteAddress ?? s?.udpPeer?.address,
      remotePort: s?.sock?.remotePort ?? s?.udpPeer?.port,
      lastSeen: s?.lastSeen || undefined,
      lastKeepalive: s?.lastKeepalive || undefined,
      connectedAt: s?.connectedAt || undefined,
      events: s?.events ?? 0,
      messages: s?.messages ?? 0,
      bytes: s?.bytes ?? 0,
      sessions: s?.sessions ?? 0,
      counter: s?.counter,
    };
  }

  #peer(conn: TcpConn, agentId = conn.agent?.key.id): PeerInfo {
    return { connectionId: conn.id, protocol: 'tcp', remoteAddress: conn.remoteAddress, remotePort: conn.remotePort, agentId };
  }
}

function udpPeer(ch: { address: string; port: number }, agentId: string | undefined): PeerInfo {
  return { connectionId: 0, protocol: 'udp', remoteAddress: ch.address, remotePort: ch.port, agentId };
}

function intOption(name: string, value: number | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`MockManager option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`, { element: name, value });
  }
  return value;
}

/** Parses `v4.14.7` / `4.14` into [major, minor]. */
function parseVersion(v: string): [number, number] | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function compareVersion(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}
