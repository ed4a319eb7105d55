/**
 * The agent's send path: encodes plaintexts with the agent key and the message counter (persisted
 * in the counter store), writes them on the current connection, and builds the keepalive, event and
 * buffer-state messages.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { Clock } from '../clock.js';
import type { CounterStore, ResolvedAgentClientOptions } from '../config/options.js';
import { AgentlinkError, ConnectionError, DecodeError, StateError, toConnectionError } from '../errors.js';
import { buildEvent, bufferStateEvent } from '../protocol/messages.js';
import { encodeSecureMessage, nextCounter } from '../protocol/secure.js';
import type { EncodeSecureMessageOptions } from '../protocol/secure.js';
import type { AgentKey, MessageCounter } from '../protocol/types.js';
import type { BufferLevel } from './client-buffer.js';
import { serverRef } from './connection.js';
import type { AgentConnection } from './connection.js';
import { agentKeepaliveText } from './notify.js';
import type { AgentCounters } from './stats.js';
import type { AgentClientEvents, AgentEvent } from './types.js';

/** Buffer-state messages kept while disconnected (sent after the next handshake). */
const MAX_PENDING_LEVEL_MESSAGES = 16;

/** What an {@link AgentSender} needs from its agent. */
export interface AgentSenderDeps {
  /** The resolved options. */
  options: ResolvedAgentClientOptions;
  /** Where the message counter persists. */
  counterStore: CounterStore;
  /** Time source (the keepalive time, the `_agent_ip` refresh). */
  clock: Clock;
  /** Random source of the message's random field. */
  random: () => number;
  /** The agent's counters. */
  stats: AgentCounters;
  /** Where `error` and `drop` events go. */
  events: EventEmitter<AgentClientEvents>;
  /** The agent key; undefined before enrollment. */
  key(): AgentKey | undefined;
}

/** Writes the agent's messages. One per agent; the connection is given at each call. */
export class AgentSender {
  readonly #d: AgentSenderDeps;
  #counter: MessageCounter = { global: 0, local: 0 };
  #agentIp: string | undefined;
  #agentIpAt: number | undefined;
  readonly #pendingLevelMessages: string[] = [];
  /** The encoder's options, reused for every message of one key (counter and random change). */
  #encode: EncodeSecureMessageOptions | undefined;
  /** Whether a counter save is scheduled for the end of this turn. */
  #saveScheduled = false;
  readonly #onSaveError = (err: unknown): void => {
    this.#d.events.emit('error', err instanceof AgentlinkError ? err : new StateError('Counter store save failed', 'ERR_INVALID_STATE', { cause: err }));
  };

  /** @param deps - options, counter store, clock, counters and the agent's emitter. */
  constructor(deps: AgentSenderDeps) {
    this.#d = deps;
  }

  /** Loads the message counter from the store (before the first connection). */
  async load(): Promise<void> {
    this.#counter = await this.#d.counterStore.load();
  }

  /** @returns the counter store's flush (a store failure is emitted as `error`, not thrown). */
  flush(): Promise<void> {
    this.#saveCounter();
    return (this.#d.counterStore.flush?.() ?? Promise.resolve()).catch((err: unknown) => {
      this.#d.events.emit('error', err instanceof AgentlinkError ? err : new StateError('Counter store flush failed', 'ERR_INVALID_STATE', { cause: err }));
    });
  }

  /**
   * Encodes and writes one plaintext (bypassing the client buffer). The counter goes to the store
   * once per turn of the event loop, after the turn's messages: the store sees every turn's last
   * counter, as the frames of that turn leave together.
   *
   * @param text - the plaintext.
   * @param conn - the connection to write on.
   * @throws `ConnectionError` `ERR_CONNECTION_LOST` without a connection or key; codec errors for text that cannot be encoded.
   */
  write(text: string, conn: AgentConnection | undefined): void {
    const key = this.#d.key();
    if (!conn || !key) {
      throw new ConnectionError('Not connected', 'ERR_CONNECTION_LOST');
    }
    let o = this.#encode;
    if (o === undefined || o.key !== key) {
      o = { key, method: this.#d.options.cryptoMethod, sender: 'agent', counter: this.#counter, compressionLevel: this.#d.options.compressionLevel };
      this.#encode = o;
    }
    const counter = nextCounter(this.#counter);
    o.counter = counter;
    o.random = Math.floor(this.#d.random() * 65536);
    const payload = encodeSecureMessage(text, o);
    this.#counter = counter;
    conn.transport.send(payload);
    const stats = this.#d.stats;
    stats.bytesOut += payload.length;
    stats.messagesOut++;
    if (!this.#saveScheduled) {
      this.#saveScheduled = true;
      process.nextTick(saveCounterLater, this);
    }
  }

  /** Hands the current counter to the store, if a save is due. */
  #saveCounter(): void {
    if (!this.#saveScheduled) return;
    this.#saveScheduled = false;
    void this.#d.counterStore.save(this.#counter).catch(this.#onSaveError);
  }

  /** @internal The end-of-turn counter save. */
  saveCounterNow(): void {
    this.#saveCounter();
  }

  /**
   * Writes one event. An event that can never be encoded (too large, bad queue) is dropped, counted
   * as rejected and emitted; it still counts as handled so the buffer moves on.
   *
   * @param event - the event.
   * @param conn - the connection.
   * @param again - a retransmission (counted in `eventsRetransmitted`, not `eventsSent`).
   * @returns true (handled).
   */
  sendEvent(event: AgentEvent, conn: AgentConnection, again = false): boolean {
    try {
      this.write(buildEvent({ queue: event.queue ?? '1', location: event.location, message: event.message }), conn);
    } catch (err) {
      const error = err instanceof AgentlinkError ? err : new DecodeError('Event could not be encoded', 'ERR_DECODE_MESSAGE', { cause: err });
      const events = this.#d.events;
      events.emit('error', error);
      this.#d.stats.eventsRejected++;
      events.emit('drop', { event, reason: 'rejected' });
      return true;
    }
    conn.eventsSent++;
    if (again) this.#d.stats.eventsRetransmitted++;
    else this.#d.stats.eventsSent++;
    return true;
  }

  /**
   * Writes a keepalive and marks it as a confirmation barrier on the connection.
   *
   * @param conn - the connection.
   * @param mergedSum - MD5 of the last `merged.mg`.
   */
  sendKeepalive(conn: AgentConnection, mergedSum: string | undefined, dueAt?: number): void {
    const now = this.#d.clock.now();
    const o = this.#d.options;
    if (this.#agentIp === undefined || o.ipUpdateInterval <= o.notifyTime || this.#agentIpAt === undefined || now - this.#agentIpAt >= o.ipUpdateInterval) {
      this.#agentIp = conn.transport.localAddress;
      this.#agentIpAt = now;
    }
    try {
      this.write(agentKeepaliveText(o, mergedSum, this.#agentIp), conn);
    } catch (err) {
      this.#d.events.emit('error', err instanceof AgentlinkError ? err : toConnectionError(err, serverRef(conn.server), 'io'));
      return;
    }
    conn.markBarrier(dueAt ?? this.#d.clock.monotonic());
    this.#d.stats.lastKeepaliveAt = now;
  }

  /**
   * Sends Wazuh's buffer-state event for a level change (protocol.md 5.8: falling from full/flooded
   * to warning sends nothing; reaching normal sends `normal`); kept for the next connection when
   * there is none now.
   *
   * @param level - the new level.
   * @param previous - the level before.
   * @param conn - the connection when connected.
   */
  bufferLevel(level: BufferLevel, previous: BufferLevel, conn: AgentConnection | undefined): void {
    let msg: string | undefined;
    if (level === 'normal') msg = bufferStateEvent('normal');
    else if (level === 'warning') msg = previous === 'normal' ? bufferStateEvent('warning') : undefined;
    else msg = bufferStateEvent(level);
    if (!msg) return;
    if (conn) {
      try {
        this.write(msg, conn);
        return;
      } catch {
        // fall through: sent after the next handshake
      }
    }
    if (this.#pendingLevelMessages.length < MAX_PENDING_LEVEL_MESSAGES) this.#pendingLevelMessages.push(msg);
  }

  /**
   * Writes the buffer-state messages kept while disconnected.
   *
   * @param conn - the new connection.
   */
  sendPendingLevels(conn: AgentConnection): void {
    for (const text of this.#pendingLevelMessages.splice(0)) this.write(text, conn);
  }
}

function saveCounterLater(sender: AgentSender): void {
  sender.saveCounterNow();
}
