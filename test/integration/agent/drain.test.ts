/**
 * stop() keeps its promise over real sockets: what is queued reaches the manager before
 * `#!-agent shutdown `, and only what the deadline cut is counted as cleared.
 */
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, DEFAULT_DRAIN_TIMEOUT, DEFAULT_EVENTS_PER_SECOND, DEFAULT_QUEUE_SIZE } from '../../../src/index.js';
import type { AgentClientOptions } from '../../../src/index.js';
import { MockManager } from '../../../src/testing/index.js';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };
const N = DEFAULT_QUEUE_SIZE;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A manager, a connected agent with default buffer settings, and the number of events received when the shutdown arrived. */
async function setup(extra: Partial<AgentClientOptions> = {}) {
  const m = new MockManager({ keys: [KEY], eventHistory: N + 10 });
  cleanups.push(() => m.close());
  await m.start();
  let atShutdown: number | undefined;
  m.on('agentStatus', (_id, status) => {
    if (status === 'disconnected') atShutdown ??= m.receivedEvents().length;
  });
  const c = new AgentClient({ agent: KEY, servers: [{ address: '127.0.0.1', port: m.port }], uname: 'Linux |drain |6.1 |#1 |x86_64', ...extra });
  c.on('error', () => {});
  cleanups.push(() => c.stop({ drainTimeout: 0 }));
  await c.start();
  return { m, c, atShutdown: () => atShutdown };
}

describe('stop() drains the client buffer', () => {
  it(`delivers ${N} queued events (a full queue at ${DEFAULT_EVENTS_PER_SECOND}/s) before the shutdown message, within the default drainTimeout`, async () => {
    const { m, c, atShutdown } = await setup();
    for (let i = 0; i < N; i++) expect(c.send(`e${i}`, 'drain')).toBe(true);
    const t0 = performance.now();
    await c.stop();
    const ms = performance.now() - t0;
    await m.waitForEvents((e) => e.message === `e${N - 1}`);
    const got = m.receivedEvents().filter((e) => e.location === 'drain').map((e) => e.message);
    expect(got).toEqual(Array.from({ length: N }, (_, i) => `e${i}`));
    await expect.poll(atShutdown).toBeDefined();
    expect(atShutdown()).toBeGreaterThanOrEqual(N); // the shutdown came after every event
    expect(c.stats().buffer.droppedByReason.cleared).toBe(0);
    expect(ms).toBeLessThan(DEFAULT_DRAIN_TIMEOUT);
    console.info(`stop() drained ${N} queued events in ${ms.toFixed(0)} ms (at the buffer rate it would take ${(N / DEFAULT_EVENTS_PER_SECOND).toFixed(0)} s)`);
  });

  it('with a deadline too short for the queue, delivers the oldest events in order and counts exactly the rest as cleared', async () => {
    const { m, c } = await setup();
    for (let i = 0; i < N; i++) c.send(`e${i}`, 'drain');
    await c.stop({ drainTimeout: 1 });
    const s = c.stats();
    const cleared = s.buffer.droppedByReason.cleared;
    expect(cleared).toBeGreaterThan(0);
    const sent = N - cleared;
    expect(s.eventsSent).toBe(sent);
    await m.waitForEvents((e) => e.message === `e${sent - 1}`);
    const got = m.receivedEvents().filter((e) => e.location === 'drain').map((e) => e.message);
    expect(got).toEqual(Array.from({ length: sent }, (_, i) => `e${i}`));
  });

  it(`at-least-once: delivers ${N} queued events and has them confirmed before the shutdown message`, async () => {
    const { m, c, atShutdown } = await setup({ delivery: 'at-least-once' });
    for (let i = 0; i < N; i++) c.send(`e${i}`, 'drain');
    const t0 = performance.now();
    await c.stop();
    const ms = performance.now() - t0;
    const s = c.stats();
    expect(s.buffer.droppedByReason.cleared).toBe(0);
    expect(s.eventsUnconfirmedOnLostConnections).toBe(0);
    await expect.poll(atShutdown).toBeDefined();
    expect(atShutdown()).toBeGreaterThanOrEqual(N);
    expect(m.receivedEvents().filter((e) => e.location === 'drain')).toHaveLength(N);
    console.info(
      `at-least-once stop() drained and confirmed ${N} events in ${ms.toFixed(0)} ms: window high water ${s.retransmitWindow.highWaterEvents} events / ${s.retransmitWindow.highWaterBytes} bytes, ${s.retransmitWindow.extraKeepalives} extra keepalives, ${s.retransmitWindow.fullStalls} full-window stalls`,
    );
  });

  it("resolves only once the socket is released: after the manager's FIN, not before", async () => {
    const m = new MockManager({ keys: [KEY] });
    cleanups.push(() => m.close());
    await m.start();
    // a relay that answers the agent's FIN 300 ms late, as a busy manager may
    let finSentAt: number | undefined;
    const relay = createServer({ allowHalfOpen: true }, (down) => {
      const up = createConnection({ host: '127.0.0.1', port: m.port });
      down.pipe(up);
      up.pipe(down, { end: false });
      down.on('end', () => setTimeout(() => {
        finSentAt = performance.now();
        down.end();
      }, 300));
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    cleanups.push(() => new Promise((resolve) => relay.close(resolve)));
    const c = new AgentClient({ agent: KEY, servers: [{ address: '127.0.0.1', port: (relay.address() as AddressInfo).port }], uname: 'Linux |drain |6.1 |#1 |x86_64' });
    c.on('error', () => {});
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    await c.start();
    c.send('last', 'drain');
    await c.stop();
    const stoppedAt = performance.now();
    expect(finSentAt).toBeDefined();
    expect(stoppedAt).toBeGreaterThanOrEqual(finSentAt!);
  });
});
