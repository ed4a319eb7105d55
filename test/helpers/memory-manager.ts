/**
 * A MockManager on an in-memory network for AgentClient unit tests (fake timers, no sockets), with
 * what it received in arrival order: control messages (by type) and events (as `queue:location:message`).
 */
import type { AgentMessage, AgentKey } from '../../src/index.js';
import { MockManager } from '../../src/testing/index.js';
import type { MemoryNetwork } from '../../src/testing/index.js';

/** A manager and its log. */
export interface MemoryManager {
  m: MockManager;
  /** Everything received, in order: `control:<type>` or `event:<queue>:<location>:<message>`. */
  log: string[];
  /** Events received, as `queue:location:message`. */
  events(): string[];
  /** Control messages of a type received. */
  count(type: AgentMessage['type']): number;
}

/**
 * Starts a MockManager listening on `host:1514` of `network`. Close it after the test.
 *
 * @param network - the in-memory network.
 * @param host - its address there.
 * @param key - the agent key it accepts.
 * @returns the manager and its log.
 */
export async function memoryManager(network: MemoryNetwork, host: string, key: AgentKey): Promise<MemoryManager> {
  const m = new MockManager({ keys: [key], host, port: 1514, listener: network.listenerFactory });
  const log: string[] = [];
  m.on('control', (_id, msg) => log.push(`control:${msg.type}`));
  m.on('event', (e) => log.push(`event:${e.queue}:${e.location}:${e.message}`));
  await m.start();
  return {
    m,
    log,
    events: () => log.filter((l) => l.startsWith('event:')).map((l) => l.slice('event:'.length)),
    count: (type) => log.filter((l) => l === `control:${type}`).length,
  };
}
