/**
 * No silent loss: every event handed to `sendEvent()` either reaches the manager, or is dropped
 * with a reason that is both emitted (`drop`) and counted in `stats()`, or was in flight on a
 * connection that died (bounded by `eventsUnconfirmedOnLostConnections`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, MAX_MESSAGE_SIZE } from '../../../src/index.js';
import type { DropReason } from '../../../src/agent/client-buffer.js';
import type { AgentKey } from '../../../src/index.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import type { Cleanups } from './helpers.js';
import { runCleanups, until } from './helpers.js';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

describe('event accounting', () => {
  it('accounts for every event: delivered, dropped with a counted reason, or lost in flight within the unconfirmed count', async () => {
    const keys = new KeyStore();
    const [key] = keys.generate(1) as [AgentKey];
    const m = new MockManager({ keys, disconnectOnClose: true });
    cleanups.push(() => m.close());
    await m.start();
    const c = new AgentClient({
      agent: key,
      servers: [{ address: '127.0.0.1', port: m.port, maxRetries: 50, retryInterval: 50 }],
      notifyTime: 200,
      timeReconnect: 1000,
      buffer: { queueSize: 40, eventsPerSecond: 500 },
      uname: 'Linux |accounting |6.1 |#1 |x86_64',
    });
    c.on('error', () => {});
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    const dropped: Record<DropReason, string[]> = { full: [], evicted: [], rejected: [], cleared: [] };
    c.on('drop', ({ event, reason }) => dropped[reason].push(event.message));
    await c.start();

    let n = 0;
    const attempt = (message = `ev ${n}`): boolean => {
      n++;
      return c.send(message, 'acct');
    };
    // 1. events that can never be encoded: too large for one secure message, and a bad queue
    attempt('y'.repeat(MAX_MESSAGE_SIZE + 10));
    n++;
    c.sendEvent({ queue: 'QQ', location: 'acct', message: `ev ${n - 1}` });
    await until(() => dropped.rejected.length === 2, 3000, 'unencodable events rejected');
    // 2. more than the queue holds at once: the excess is dropped as 'full'
    for (let i = 0; i < 120; i++) attempt();
    // 3. the connection dies while events are in flight
    for (let i = 0; i < 30; i++) attempt();
    await until(() => m.receivedEvents().filter((e) => e.location === 'acct').length > 0, 3000, 'first events');
    m.disconnectAgents([key.id]);
    for (let i = 0; i < 20; i++) attempt();
    await until(() => c.stats().connects === 2 && c.stats().buffer.queued === 0, 5000, 'reconnected and drained');
    // 4. stop with events still queued and no drain time: dropped as 'cleared'
    for (let i = 0; i < 30; i++) attempt();
    await c.stop({ drainTimeout: 0 });
    // What the client wrote before stop() is still on its way: the manager has read it all once it
    // sees the connection close (TCP delivers in order).
    await until(() => m.agent(key.id)?.connected === false, 3000, 'the manager saw the connection close');
    // 5. after stop: refused as 'rejected'
    for (let i = 0; i < 5; i++) attempt();

    const received = new Set(m.receivedEvents().filter((e) => e.location === 'acct').map((e) => e.message));
    const s = c.stats();
    const emitted = Object.values(dropped).reduce((a, d) => a + d.length, 0);
    // every emitted drop is counted in stats(), by reason
    expect(s.buffer.droppedByReason.full).toBe(dropped.full.length);
    expect(s.buffer.droppedByReason.cleared).toBe(dropped.cleared.length);
    expect(s.buffer.dropped + s.eventsRejected).toBe(emitted);
    expect(s.eventsRejected).toBe(dropped.rejected.length - s.buffer.droppedByReason.rejected);
    expect(dropped.full.length).toBeGreaterThan(0);
    expect(dropped.rejected.length).toBe(2 + 5);
    // nothing is both delivered and dropped
    for (const msg of Object.values(dropped).flat()) expect(received.has(msg)).toBe(false);
    // and what is neither was in flight on the connection that died
    const unaccounted = n - received.size - emitted;
    expect(unaccounted).toBeGreaterThanOrEqual(0);
    expect(unaccounted).toBeLessThanOrEqual(s.eventsUnconfirmedOnLostConnections);
    console.info(
      `[reliability] accounting: ${n} events, ${received.size} delivered, drops ${JSON.stringify(s.buffer.droppedByReason)} + ${s.eventsRejected} rejected by the client, ` +
        `${unaccounted} lost in flight (unconfirmed count ${s.eventsUnconfirmedOnLostConnections})`,
    );
  });
});
