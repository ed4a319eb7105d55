/**
 * What the {@link MockManager} sends: control messages encrypted as remoted does (the manager's
 * counter, kept in the `counterStore` option; the agent's cipher), over the agent's reply channel,
 * with the send-buffer limit.
 *
 * @module
 */
import { FRAME_HEADER_SIZE, encodeSecureMessage, nextCounter } from '../../protocol/index.js';
import type { MessageCounter } from '../../protocol/index.js';
import type { ManagerContext } from './context.js';
import type { AgentEntry, Channel, Registry } from './registry.js';

/** The manager's sending side. */
export class Outbox {
  readonly #ctx: ManagerContext;
  readonly #registry: Registry;
  #counter: MessageCounter = { global: 0, local: 0 };
  /** Logs a failed save of the sender counter (one function for every message). */
  readonly #onSaveError = (err: unknown): void => {
    this.#ctx.opts.logger.warn({ err: (err as Error).message }, 'the sender counter could not be saved');
  };

  constructor(ctx: ManagerContext, registry: Registry) {
    this.#ctx = ctx;
    this.#registry = registry;
  }

  /**
   * Encrypts a message for an agent and sends it over its reply channel.
   *
   * @returns whether it was sent (the agent is reachable and the send buffer not full).
   */
  sendControl(agent: AgentEntry, message: string | Buffer): boolean {
    const ch = this.#registry.channelOf(agent);
    if (ch === undefined) {
      this.#ctx.counters.sendDropped++;
      this.#ctx.opts.logger.debug({ agentId: agent.key.id }, `(1245): Sending message to disconnected agent '${agent.key.id}'.`);
      return false;
    }
    const counter = nextCounter(this.#counter);
    this.#counter = counter;
    this.#ctx.opts.counterStore.save(counter).catch(this.#onSaveError);
    const payload = encodeSecureMessage(message, { key: agent.key, method: agent.method ?? 'aes', sender: 'manager', counter });
    return this.send(ch, payload);
  }

  /** The counter of the last message sent (0:0 before any). */
  get counter(): MessageCounter {
    return this.#counter;
  }

  /** Continues from a stored counter (at start). */
  resume(counter: MessageCounter): void {
    this.#counter = { global: counter.global, local: counter.local };
  }

  /**
   * Sends a payload as is (a TCP frame body or a datagram).
   *
   * @returns whether it was sent; false when the channel is closed or its send buffer is over `sendBufferSize` (counted).
   */
  send(ch: Channel, payload: Buffer): boolean {
    const c = this.#ctx.counters;
    if (ch.kind === 'udp') {
      if (this.#ctx.listener?.sendDatagram(payload, ch) !== true) return false;
      c.bytesOut += payload.length;
      c.messagesSent++;
      return true;
    }
    const conn = ch.conn;
    if (conn.closed) return false;
    if (conn.bufferedOut > this.#ctx.opts.sendBufferSize) {
      c.sendDropped++;
      return false;
    }
    conn.send(payload);
    c.bytesOut += payload.length + FRAME_HEADER_SIZE;
    c.messagesSent++;
    return true;
  }
}
