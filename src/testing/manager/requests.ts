/**
 * Manager requests `#!-req <counter> <target> <command>` (protocol.md 4.5): the pending table, the
 * UDP retransmission, the deadline, and the agent's reply.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { unrefTimeout } from '../../clock.js';
import type { TimerHandle } from '../../clock.js';
import { RequestError } from '../../errors.js';
import { buildRequest } from '../../protocol/index.js';
import type { ManagerContext } from './context.js';
import type { Outbox } from './outbox.js';
import type { AgentEntry, Registry } from './registry.js';

interface PendingRequest {
  counter: string;
  agent: AgentEntry;
  udp: boolean;
  message: string;
  attempts: number;
  acked: boolean;
  deadline: number;
  timer: TimerHandle | undefined;
  resolve: (response: string) => void;
  reject: (err: Error) => void;
}

/** Requests in flight. */
export class Requests {
  readonly #ctx: ManagerContext;
  readonly #registry: Registry;
  readonly #outbox: Outbox;
  readonly #pending = new Map<string, PendingRequest>();

  constructor(ctx: ManagerContext, registry: Registry, outbox: Outbox) {
    this.#ctx = ctx;
    this.#registry = registry;
    this.#outbox = outbox;
  }

  /** Requests in flight. */
  get size(): number {
    return this.#pending.size;
  }

  /** Sends a request and waits for the answer (see {@link MockManager.request}). */
  request(id: string, target: string, command: string, timeout: number): Promise<string> {
    const agent = this.#registry.get(id);
    if (!this.#ctx.running) return Promise.reject(new RequestError(`Cannot send a request to agent ${id}: the manager is not running`));
    const channel = agent === undefined ? undefined : this.#registry.channelOf(agent);
    if (agent === undefined || channel === undefined) {
      return Promise.reject(new RequestError(`Cannot send a request to agent ${id}: it is not connected`));
    }
    let counter: string;
    do counter = randomInt(0, 0x1_0000_0000).toString(16);
    while (this.#pending.has(counter));
    const message = buildRequest(counter, target, command);
    return new Promise<string>((resolve, reject) => {
      const p: PendingRequest = {
        counter,
        agent,
        udp: channel.kind === 'udp',
        message,
        attempts: 1,
        acked: false,
        deadline: this.#ctx.opts.clock.monotonic() + timeout,
        timer: undefined,
        resolve,
        reject,
      };
      if (!this.#outbox.sendControl(agent, message)) {
        reject(new RequestError(`Could not send request ${counter} to agent ${id}`));
        return;
      }
      this.#pending.set(counter, p);
      this.#arm(p);
    });
  }

  /** The agent's `#!-req <counter> ack` (UDP): stop retransmitting. */
  onAck(agent: AgentEntry, counter: string): void {
    const p = this.#pending.get(counter);
    if (p !== undefined && p.agent === agent) p.acked = true;
  }

  /** The agent's answer. */
  onReply(agent: AgentEntry, counter: string, response: string): void {
    const p = this.#pending.get(counter);
    if (p === undefined || p.agent !== agent) return;
    this.#finish(p, response);
  }

  /** The agent's TCP connection closed: its TCP requests fail. */
  failFor(agent: AgentEntry): void {
    for (const p of this.#pending.values()) {
      if (p.agent === agent && !p.udp) this.#finish(p, new RequestError(`Request ${p.counter}: the connection of agent ${agent.key.id} closed`));
    }
  }

  /** Rejects every request (the manager closes). */
  abortAll(cause: Error): void {
    for (const p of this.#pending.values()) {
      this.#ctx.opts.clock.clearTimeout(p.timer);
      p.reject(new RequestError(`Request ${p.counter} to agent ${p.agent.key.id} aborted: manager closed`, { cause }));
    }
    this.#pending.clear();
  }

  #arm(p: PendingRequest): void {
    const remaining = p.deadline - this.#ctx.opts.clock.monotonic();
    const wait = p.udp && !p.acked ? Math.min(this.#ctx.opts.rto, remaining) : remaining;
    p.timer = unrefTimeout(this.#ctx.opts.clock, () => this.#onTimer(p), Math.max(0, wait));
  }

  #onTimer(p: PendingRequest): void {
    p.timer = undefined;
    if (this.#pending.get(p.counter) !== p) return;
    const id = p.agent.key.id;
    if (this.#ctx.opts.clock.monotonic() >= p.deadline) {
      this.#finish(p, new RequestError(`Request ${p.counter} to agent ${id} timed out`));
      return;
    }
    if (p.udp && !p.acked) {
      if (p.attempts >= this.#ctx.opts.maxAttempts) {
        this.#finish(p, new RequestError(`Request ${p.counter} to agent ${id} was not acknowledged after ${p.attempts} attempts`));
        return;
      }
      p.attempts++;
      this.#outbox.sendControl(p.agent, p.message);
    }
    this.#arm(p);
  }

  #finish(p: PendingRequest, result: string | Error): void {
    this.#ctx.opts.clock.clearTimeout(p.timer);
    p.timer = undefined;
    this.#pending.delete(p.counter);
    if (typeof result === 'string') p.resolve(result);
    else p.reject(result);
  }
}
