/**
 * The async-iterator view of an agent's state changes ({@link AgentClient.status}).
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { ResolvedServer } from '../config/options.js';
import type { AgentClient } from './client.js';
import type { AgentClientEvents, AgentState } from './types.js';

/**
 * Yields `current`, then every state change of `events`, with the server at that moment; ends after `closed`.
 *
 * @param events - the agent's emitter.
 * @param current - the state now.
 * @param server - reads the server in use.
 * @returns the iterator; leaving the loop removes its listener.
 */
export async function* stateChanges(
  events: EventEmitter<AgentClientEvents>,
  current: AgentState,
  server: () => ResolvedServer | undefined,
): AsyncGenerator<{ state: AgentState; server: ResolvedServer | undefined }, void, undefined> {
  const queue: AgentState[] = [current];
  let wake: (() => void) | undefined;
  const onChange = ({ to }: { from: AgentState; to: AgentState }) => {
    queue.push(to);
    wake?.();
  };
  events.on('stateChange', onChange);
  try {
    for (;;) {
      while (queue.length > 0) {
        const state = queue.shift()!;
        yield { state, server: server() };
        if (state === 'closed') return;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    events.off('stateChange', onChange);
  }
}
