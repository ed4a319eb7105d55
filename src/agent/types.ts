/**
 * The public types of an {@link AgentClient}: its states, events, counters, stop options and
 * injected runtime.
 *
 * @module
 */
import type { ResolvedServer } from '../config/options.js';
import type { Clock } from '../clock.js';
import type { AgentlinkError } from '../errors.js';
import type { enrollWithFallback } from '../enrollment/client.js';
import type { TransportFactory } from '../transport/types.js';
import type { BufferLevel, ClientBufferStats, DropReason } from './client-buffer.js';
import type { RetransmitWindowStats } from './delivery.js';
import type { AgentClient } from './client.js';

/** Connection states of an {@link AgentClient}. */
export type AgentState = 'idle' | 'connecting' | 'handshaking' | 'connected' | 'reconnecting' | 'closing' | 'closed';

/** Allowed transitions: the only way `state` changes. */
export const AGENT_TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  idle: ['connecting', 'closing'],
  connecting: ['handshaking', 'reconnecting', 'closing'],
  handshaking: ['connected', 'reconnecting', 'closing'],
  connected: ['reconnecting', 'closing'],
  reconnecting: ['connecting', 'closing'],
  closing: ['closed'],
  closed: [],
};

/** An event for the manager: `<queue>:<location>:<message>` (protocol.md 4.1). */
export interface AgentEvent {
  /**
   * Queue character (`1` log lines, `8` syscheck, `f` Windows events, ...).
   * @default '1'
   */
  queue?: string;
  /** Where the event came from: a file path, `syscheck`, `EventChannel`, ... (escaped on the wire). */
  location: string;
  /** The log line or JSON text. */
  message: string;
}

/** A manager request (`#!-req`) delivered to the program. */
export interface ManagerRequest {
  /** The request counter (lowercase hex), echoed in the reply. */
  counter: string;
  /** The target module (`agent`, `logcollector`, `syscheck`, `wmodules`, ...). */
  target: string;
  /** The command text after the target. */
  command: string;
  /** Sends the reply (e.g. `ok {...}` or `err ...`); only the first call counts. */
  reply(response: string): void;
}

/** A shared file pushed by the manager (`#!-up file` … `#!-close file `). */
export interface SharedFile {
  /** File name, sanitised as Wazuh does (`/` and a leading `.` become `-`). */
  name: string;
  /** The whole content. */
  content: Buffer;
  /** The MD5 announced by the manager. */
  md5: string;
  /** Whether the content matches the announced MD5 (a mismatching file is discarded by Wazuh). */
  valid: boolean;
  /** For `merged.mg`: the files it holds. */
  files?: { name: string; content: Buffer }[];
}

/** Why the agent left a server. */
export type DisconnectReason = AgentlinkError;

/** Typed events of an {@link AgentClient}. */
export interface AgentClientEvents {
  /** Every state change. */
  stateChange: [change: { from: AgentState; to: AgentState }];
  /** The startup ACK arrived: the agent is connected. */
  connected: [info: { server: ResolvedServer; serverIndex: number; attempt: number; elapsed: number }];
  /** A connection was lost or left. */
  disconnected: [info: { server: ResolvedServer; serverIndex: number; reason: DisconnectReason }];
  /** The agent is connected to a different server than before. */
  failover: [info: { from: ResolvedServer; to: ResolvedServer; reason: DisconnectReason | undefined; elapsed: number }];
  /** A (re)connection attempt is scheduled. */
  reconnectScheduled: [info: { server: ResolvedServer; serverIndex: number; delay: number; attempt: number }];
  /**
   * A `#!-agent ack ` arrived. For the ACK of a keepalive, `latency` is the milliseconds from the
   * time the keepalive was due (not sent: a late timer counts) to the ACK; undefined for the startup's.
   */
  ack: [info: { latency: number | undefined }];
  /** The client buffer changed level (Wazuh sends the matching buffer event to the manager). */
  bufferLevel: [info: { level: BufferLevel; previous: BufferLevel }];
  /** An event was dropped; every drop is counted in `stats()`. */
  drop: [info: { event: AgentEvent; reason: DropReason }];
  /** The manager sent `#!-force_reconnect`. */
  forceReconnect: [];
  /** The manager sent a request. `agent getconfig`/`getstate` are answered built in. */
  request: [request: ManagerRequest];
  /** The manager sent an active response (`#!-execd`). */
  activeResponse: [info: { payload: string; json: unknown }];
  /** The manager pushed a shared file. */
  sharedFile: [file: SharedFile];
  /** Any other manager message (module commands, unknown control messages). */
  message: [info: { text: string; kind: 'module' | 'control' | 'data' }];
  /** A non-fatal problem: bad data from the manager, a failed attempt, a store failure. */
  error: [error: AgentlinkError];
  /** The client is closed; `reason` is set when it gave up or failed. */
  closed: [info: { reason: AgentlinkError | undefined }];
}

/** Counters and current state, from {@link AgentClient.stats}. */
export interface AgentClientStats {
  /** Current state. */
  state: AgentState;
  /** The server in use or being tried. */
  server: ResolvedServer | undefined;
  /** Index of that server in the list. */
  serverIndex: number;
  /** Bytes received (payloads). */
  bytesIn: number;
  /** Bytes sent (payloads). */
  bytesOut: number;
  /** Messages received and decoded. */
  messagesIn: number;
  /** Messages sent (events and control). */
  messagesOut: number;
  /** Events written to a connection. */
  eventsSent: number;
  /** Events accepted by `sendEvent`. */
  eventsAccepted: number;
  /**
   * Events the client refused itself, each also emitted as `drop` with reason `rejected`: sent after
   * `stop()`, or impossible to encode (too large for one message, a bad queue). Drops by the client
   * buffer are counted in `buffer.droppedByReason`.
   */
  eventsRejected: number;
  /** ACKs received. */
  acks: number;
  /** Successful connections (startup ACKed). */
  connects: number;
  /** Connections lost or left after being established. */
  disconnects: number;
  /** Connections that landed on a different server than the previous one. */
  failovers: number;
  /** Failed connection attempts. */
  failedAttempts: number;
  /** Successful connections per server index. */
  connectsPerServer: number[];
  /**
   * Data from the manager that failed to decode or was refused: undecodable payloads, oversize TCP
   * frames, malformed requests or file headers, refused shared-file names, shared files above 64 MiB.
   */
  decodeErrors: number;
  /**
   * Events written to connections that were then lost before the manager confirmed reading them
   * (an ACK to a later keepalive confirms everything sent before it). An upper bound of what the
   * protocol may have lost in flight. With `delivery: 'at-least-once'` these events are written again
   * on the next connection instead, so only those still unconfirmed when the agent stops count here.
   */
  eventsUnconfirmedOnLostConnections: number;
  /**
   * Events written again on a new connection because the previous one was lost before the manager
   * confirmed them (`delivery: 'at-least-once'`); an upper bound of the duplicates the manager may see.
   * Not counted in `eventsSent`.
   */
  eventsRetransmitted: number;
  /** The at-least-once retransmit window; all zeros with `at-most-once`. */
  retransmitWindow: RetransmitWindowStats;
  /** Client buffer counters. */
  buffer: ClientBufferStats;
  /** Wall-clock time of the last ACK. */
  lastAckAt: number | undefined;
  /** Wall-clock time of the last keepalive sent. */
  lastKeepaliveAt: number | undefined;
}

/** Options of {@link AgentClient.start}. */
export interface StartOptions {
  /**
   * Bounds the wait for the first ACK: when it aborts first, `start()` rejects with an `AbortError`
   * (its `cause` is the signal's reason) and the agent stops. Ignored once connected; for the
   * agent's whole life use the `signal` option.
   */
  signal?: AbortSignal;
}

/** Options of {@link AgentClient.stop}. */
export interface StopOptions {
  /**
   * Deadline in milliseconds to deliver what is queued before the shutdown message. Queued events go
   * out at once, in order, without the buffer's `eventsPerSecond` limit (as fast as the connection
   * takes them); with `delivery: 'at-least-once'` the agent also waits, within the same deadline, for
   * the manager to confirm them. Only events still queued at the deadline (or when the connection is
   * lost meanwhile, or when the agent was not connected at `stop()`) are dropped, with reason
   * `cleared` (counted and emitted). 0 sends nothing queued. The default leaves time for a full
   * default queue (5000 events) even at the buffer's 500 events per second; a flush is much faster.
   * @default 10000
   */
  drainTimeout?: number;
}

/** Injected collaborators, for tests and the fleet simulator. */
export interface AgentRuntime {
  /** Builds transports; real TCP/UDP sockets by default. */
  transport?: TransportFactory;
  /** Time source for every timer. */
  clock?: Clock;
  /** Random source (jitter), `Math.random` by default. */
  random?: () => number;
  /** Enrollment function; the built-in TLS client by default. */
  enroll?: typeof enrollWithFallback;
}
