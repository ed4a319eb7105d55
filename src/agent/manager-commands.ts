/**
 * What the agent does with what the manager sends: decoding (an undecodable payload is counted,
 * reported and dropped, as wazuh-agentd does), then requests (`#!-req`, with the UDP reply retransmissions), active responses
 * (`#!-execd`), shared files (`#!-up file` … `#!-close file `, md5 verified, `merged.mg` unpacked)
 * and any other message. The startup reply, ACKs and `force_reconnect` change the connection: they
 * go back to {@link AgentClient} through {@link ManagerCommandsOwner}.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'eventemitter3';
import { unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Logger } from '../config/options.js';
import { AgentlinkError, ConnectionError, DecodeError } from '../errors.js';
import { decodeSecureMessage } from '../protocol/secure.js';
import type { AgentKey } from '../protocol/types.js';
import { buildRequestAck, buildRequestReply, parseManagerMessage } from '../protocol/messages.js';
import type { ManagerMessage } from '../protocol/messages.js';
import { parseMergedMg, sanitizeSharedFileName } from '../protocol/merged.js';
import type { AgentClient } from './client.js';
import { serverRef } from './connection.js';
import type { AgentConnection } from './connection.js';
import type { Handshake } from './handshake.js';
import type { AgentCounters } from './stats.js';
import type { AgentClientEvents, SharedFile } from './types.js';

/** Largest shared file accepted in memory (bytes). */
export const MAX_SHARED_FILE = 64 * 1024 * 1024;
/** UDP request-reply sends at most (protocol.md 4.5; remoted's `max_attempts`). */
export const UDP_REQUEST_ATTEMPTS = 4;
/** Milliseconds between UDP request-reply retransmissions (remoted's `request_rto`). */
export const UDP_REQUEST_RTO = 1000;

/** The manager messages {@link ManagerCommands} handles. */
export type ManagerCommand = Exclude<ManagerMessage, { type: 'ack' } | { type: 'force_reconnect' }>;

/** What {@link ManagerCommands} calls back into: the {@link AgentClient} that owns it. */
export interface ManagerCommandsOwner {
  /** Where the typed events go. */
  readonly events: EventEmitter<AgentClientEvents>;
  /** Encodes and writes one message on the current connection; throws when not connected. */
  sendControl(text: string): void;
  /** The agent key that decrypts the manager's messages; undefined before enrollment. */
  key(): AgentKey | undefined;
  /** The startup message waiting for its reply (then only that reply is read: protocol.md 5.2). */
  handshake(): Handshake | undefined;
  /**
   * The established connection must go (`#!-force_reconnect`; `forced`: closed gracefully). The
   * owner reconnects.
   */
  connectionLost(reason: AgentlinkError, forced: boolean): void;
  /** The agent's counters (bytes and messages in, decode errors). */
  readonly stats: AgentCounters;
  /** Whether `conn` is still the current connection. */
  isCurrent(conn: object): boolean;
  /** A message that refreshes the server's liveness arrived (shared-file chunks count). */
  touch(): void;
  /** The built-in answer to an `agent` request, or undefined. */
  builtInRequest(command: string): string | undefined;
  /** The agent's logger (it changes at enrollment). */
  logger(): Logger;
}

interface OpenFile {
  name: string;
  md5: string;
  chunks: Buffer[];
  size: number;
}

/**
 * Handles the manager's commands for one agent. State: the shared file being received, the
 * `merged.mg` checksum the keepalive reports, and the UDP request replies still being
 * retransmitted (one unref'd timer each, cleared by {@link ManagerCommands.reset}).
 */
export class ManagerCommands {
  readonly #owner: ManagerCommandsOwner;
  readonly #clock: Clock;
  #openFile: OpenFile | undefined;
  #mergedSum: string | undefined;
  /** UDP replies waiting for their `request_ack`; created by the first one (a fleet holds thousands of agents that never get one). */
  #udpRequests: Map<string, { timer: TimerHandle | undefined; attempts: number; payload: string }> | undefined;

  /**
   * @param owner - the agent.
   * @param clock - clock of the retransmission timers.
   */
  constructor(owner: ManagerCommandsOwner, clock: Clock) {
    this.#owner = owner;
    this.#clock = clock;
  }

  /** MD5 of the last valid `merged.mg`, reported in the keepalive; undefined before one arrived. */
  get mergedSum(): string | undefined {
    return this.#mergedSum;
  }

  /**
   * Handles one payload of the current connection: decodes it, then hands the startup reply, ACKs
   * and `force_reconnect` to the owner and handles the rest.
   *
   * @param payload - the encrypted payload (a TCP frame body or a UDP datagram).
   * @param conn - the connection it came on (compared with {@link ManagerCommandsOwner.isCurrent}).
   */
  receive(payload: Buffer, conn: AgentConnection): void {
    const owner = this.#owner;
    const key = owner.key();
    if (!owner.isCurrent(conn) || !key) return;
    let plaintext: Buffer;
    try {
      plaintext = decodeSecureMessage(payload, { keys: [key] }).message;
    } catch (err) {
      owner.stats.bytesIn += payload.length;
      owner.stats.decodeErrors++;
      const error = err instanceof AgentlinkError ? err : new DecodeError('Undecodable payload from the manager', 'ERR_DECODE_FORMAT', { cause: err });
      owner.logger().warn({ code: error.code }, `Bad message from the manager: ${error.message}`);
      owner.events.emit('error', error);
      // As wazuh-agentd (receiver.c: warn and read on): the frame is dropped and the connection kept;
      // only a frame that breaks the stream (oversize) or the silence of timeReconnect ends it.
      // A bad reply to the startup fails that attempt, as agentd's handshake does.
      owner.handshake()?.fail(error);
      return;
    }
    owner.stats.bytesIn += payload.length;
    owner.stats.messagesIn++;
    let msg: ManagerMessage;
    try {
      msg = parseManagerMessage(plaintext);
    } catch (err) {
      // a malformed request or file header: reported and counted, the connection stays
      owner.stats.decodeErrors++;
      owner.events.emit('error', err instanceof AgentlinkError ? err : new DecodeError('Malformed manager message', 'ERR_DECODE_MESSAGE', { cause: err }));
      owner.handshake()?.malformed();
      return;
    }
    const handshake = owner.handshake();
    if (handshake) {
      if (handshake.reply(msg)) this.#acked(conn);
      return;
    }
    if (msg.type !== 'data') owner.touch();
    if (msg.type === 'ack') {
      this.#acked(conn);
    } else if (msg.type === 'force_reconnect') {
      owner.logger().info({}, 'Wazuh Agent will be reconnected because a reconnect message was received');
      owner.events.emit('forceReconnect');
      owner.connectionLost(new ConnectionError('The manager asked the agent to reconnect', 'ERR_CONNECTION_LOST', { server: serverRef(conn.server) }), true);
    } else {
      this.#handle(msg, conn, conn.server.protocol === 'udp');
    }
  }

  /** An ACK (of the startup or of a keepalive) confirms every event written before that message. */
  #acked(conn: AgentConnection): void {
    const dueAt = conn.acked();
    const stats = this.#owner.stats;
    stats.acks++;
    stats.lastAckAt = this.#clock.now();
    this.#owner.events.emit('ack', { latency: dueAt === undefined ? undefined : Math.max(0, this.#clock.monotonic() - dueAt) });
  }

  #handle(msg: ManagerCommand, conn: object, udp: boolean): void {
    const events = this.#owner.events;
    switch (msg.type) {
      case 'request':
        this.#openFile = undefined;
        this.#onRequest(msg.counter, msg.target, msg.command, conn, udp);
        return;
      case 'request_ack': {
        const pending = this.#udpRequests?.get(msg.counter);
        if (pending) {
          this.#clock.clearTimeout(pending.timer);
          this.#udpRequests!.delete(msg.counter);
        }
        return;
      }
      case 'execd': {
        let json: unknown;
        try {
          const end = msg.payload.lastIndexOf('}');
          json = JSON.parse(end >= 0 ? msg.payload.slice(0, end + 1) : msg.payload);
        } catch {
          json = undefined;
        }
        events.emit('activeResponse', { payload: msg.payload, json });
        return;
      }
      case 'file_open':
        this.#openFile = undefined;
        try {
          this.#openFile = { name: sanitizeSharedFileName(msg.name), md5: msg.md5, chunks: [], size: 0 };
        } catch (err) {
          this.#owner.stats.decodeErrors++; // a refused file name ('..', NUL) is bad data from the manager, counted as such
          events.emit('error', err instanceof AgentlinkError ? err : new DecodeError('Bad shared file name', 'ERR_DECODE_MESSAGE', { cause: err }));
        }
        return;
      case 'file_close':
        this.#finishOpenFile();
        return;
      case 'data': {
        const file = this.#openFile;
        if (file) {
          this.#owner.touch(); // shared-file chunks refresh available_server too (protocol.md 5.5)
          if (file.size + msg.data.length > MAX_SHARED_FILE) {
            this.#openFile = undefined;
            this.#owner.stats.decodeErrors++;
            events.emit('error', new DecodeError(`Shared file '${file.name}' exceeds ${MAX_SHARED_FILE} bytes; discarded`, 'ERR_DECODE_SIZE'));
            return;
          }
          file.chunks.push(Buffer.from(msg.data));
          file.size += msg.data.length;
        } else {
          events.emit('message', { text: msg.data.toString('latin1'), kind: 'data' });
        }
        return;
      }
      case 'err':
        events.emit('message', { text: msg.raw, kind: 'control' });
        return;
      case 'module':
        events.emit('message', { text: `${msg.module} ${msg.payload}`.trim(), kind: 'module' });
        return;
      case 'control':
        this.#openFile = undefined;
        this.#owner.logger().warn({}, 'Unknown message received from server.');
        events.emit('message', { text: msg.text, kind: 'control' });
        return;
    }
  }

  /** The connection is gone: stops the UDP reply retransmissions and discards a partial shared file. Idempotent. */
  reset(): void {
    if (this.#udpRequests !== undefined) {
      for (const pending of this.#udpRequests.values()) this.#clock.clearTimeout(pending.timer);
      this.#udpRequests = undefined;
    }
    this.#openFile = undefined;
  }

  #finishOpenFile(): void {
    const file = this.#openFile;
    this.#openFile = undefined;
    if (!file) return;
    const content = Buffer.concat(file.chunks, file.size);
    const md5 = createHash('md5').update(content).digest('hex');
    const valid = md5 === file.md5;
    const shared: SharedFile = { name: file.name, content, md5: file.md5, valid };
    if (valid && file.name === 'merged.mg') {
      try {
        shared.files = parseMergedMg(content).files;
        this.#mergedSum = md5;
      } catch (err) {
        this.#owner.events.emit('error', err instanceof AgentlinkError ? err : new DecodeError('merged.mg could not be unpacked', 'ERR_DECODE_MESSAGE', { cause: err }));
        try {
          this.#owner.sendControl('1:wazuh-agent:wazuh: Could not unmerge shared file.');
        } catch {
          // not connected any more
        }
      }
    }
    if (!valid) this.#owner.logger().warn({ file: file.name }, 'Shared file checksum mismatch: discarded');
    this.#owner.events.emit('sharedFile', shared);
  }

  #onRequest(counter: string, target: string, command: string, conn: object, udp: boolean): void {
    if (!this.#owner.isCurrent(conn)) return;
    if (udp) this.#trySend(buildRequestAck(counter));
    let replied = false;
    const reply = (response: string) => {
      if (replied) return;
      replied = true;
      const text = buildRequestReply(counter, response);
      this.#trySend(text);
      if (udp && this.#owner.isCurrent(conn)) this.#retransmitUdpReply(counter, text, 1);
    };
    if (target === 'agent') {
      const builtIn = this.#owner.builtInRequest(command);
      if (builtIn !== undefined) {
        reply(builtIn);
        return;
      }
    }
    const events = this.#owner.events;
    if (events.listenerCount('request') > 0) {
      events.emit('request', { counter, target, command, reply });
      return;
    }
    reply(target === 'agent' ? 'err Unrecognized command' : 'err No such file or directory');
  }

  #retransmitUdpReply(counter: string, text: string, attempts: number): void {
    if (attempts >= UDP_REQUEST_ATTEMPTS) {
      this.#udpRequests?.delete(counter);
      return;
    }
    const timer = unrefTimeout(
      this.#clock,
      () => {
        if (!this.#udpRequests?.has(counter)) return;
        this.#trySend(text);
        this.#retransmitUdpReply(counter, text, attempts + 1);
      },
      UDP_REQUEST_RTO,
    );
    (this.#udpRequests ??= new Map()).set(counter, { timer, attempts, payload: text });
  }

  #trySend(text: string): void {
    try {
      this.#owner.sendControl(text);
    } catch (err) {
      this.#owner.events.emit('error', err instanceof AgentlinkError ? err : new ConnectionError('Send failed', 'ERR_CONNECTION_LOST', { cause: err }));
    }
  }
}
