/**
 * The public types of the {@link MockManager}: options, records, events and counters.
 *
 * @module
 */
import type { Clock } from '../../clock.js';
import type { CounterStore } from '../../config/options.js';
import type { Logger } from '../../logger.js';
import type { DecodeError, DecodeErrorCode } from '../../errors.js';
import type { AgentKey, AgentMessage, CryptoMethod, KeepaliveLabel, MessageCounter, ParsedUname } from '../../protocol/index.js';
import type { ListenerFactory } from '../../transport/listener.js';
import type { MockAuthdOptions } from '../authd.js';
import type { KeyStore } from '../keystore.js';
import type { MockManager } from './mock-manager.js';

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
  /**
   * The last keepalive exactly as the agent sent it (`#!-`, the uname line, labels, sums, agent IP,
   * newlines): for what the parsed fields leave out.
   */
  keepaliveText: string | undefined;
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
  /**
   * A decoded control message arrived (startup, keepalive, shutdown, request replies, invalid ones):
   * parsed, and `raw`, the decrypted text exactly as sent (`#!-` included).
   */
  control: [id: string, message: AgentMessage, raw: string];
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
  /** Address to listen on (on an in-memory network: any string). @default '127.0.0.1' */
  host?: string;
  /**
   * How the manager listens: on real sockets ({@link agentlink!listenNode}), or, with the
   * `listenerFactory` of a network from `createMemoryNetwork()`, on that in-memory network (agents
   * then connect with the network's `factory`). The authd mock always uses a real TLS socket.
   * @default listenNode
   */
  listener?: ListenerFactory;
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
   * Where the manager's own sender counter lives (remoted's `queue/rids/sender_counter`): loaded by
   * `start()`, saved after every message sent, flushed by `close()`. A manager started again with the
   * same store continues its counter, so agents that check the manager's counters
   * (`remoted.verify_msg_id=1` on a Wazuh agent) accept its messages instead of refusing them as
   * duplicates (1407). `FileCounterStore` writes Wazuh's file format. `MockCluster` gives each node a
   * store its restarts keep.
   * @default a new `MemoryCounterStore`: the counter starts at 0:0 with every MockManager
   */
  counterStore?: CounterStore;
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
