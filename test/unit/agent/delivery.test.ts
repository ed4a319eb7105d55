import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentClient, systemClock, ConfigError } from '../../../src/index.js';
import { AgentConnection } from '../../../src/agent/connection.js';
import { RetransmitWindow } from '../../../src/agent/delivery.js';
import type { AgentClientOptions, Transport } from '../../../src/index.js';
import { resolveOptions } from '../../../src/config/resolve.js';
import { createMemoryNetwork } from '../../../src/testing/index.js';
import { memoryManager } from '../../helpers/memory-manager.js';
import type { MemoryManager } from '../../helpers/memory-manager.js';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };
const ev = (message: string) => ({ location: 'app', message });

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function window(limits: { maxEvents?: number; maxBytes?: number; barrierInterval?: number } = {}) {
  const calls = { barriers: 0, resumes: 0 };
  const w: RetransmitWindow = new RetransmitWindow(
    { maxEvents: limits.maxEvents ?? 100, maxBytes: limits.maxBytes ?? 1_000_000, barrierInterval: limits.barrierInterval ?? 20_000 },
    {
      sendBarrier: () => {
        calls.barriers++;
        w.barrier();
      },
      resume: () => calls.resumes++,
    },
    systemClock,
  );
  return { w, calls };
}

describe('RetransmitWindow', () => {
  it('holds written events until an ACK confirms the oldest, and reports them in order for a resend', () => {
    const { w } = window();
    for (let i = 0; i < 5; i++) w.written(ev(`e${i}`));
    expect(w.size).toBe(5);
    w.confirm(2);
    expect(w.events().map((e) => e.message)).toEqual(['e2', 'e3', 'e4']);
    expect(w.stats()).toMatchObject({ events: 3, bytes: 3 * ('app'.length + 2), highWaterEvents: 5 });
    w.confirm(3);
    expect(w.stats()).toMatchObject({ events: 0, bytes: 0 });
  });

  it('sends a barrier at once when the events written since the last one reach half of maxEvents', () => {
    const { w, calls } = window({ maxEvents: 8 });
    for (let i = 0; i < 3; i++) w.written(ev(`e${i}`));
    expect(calls.barriers).toBe(0);
    w.written(ev('e3'));
    expect(calls.barriers).toBe(1);
    for (let i = 4; i < 7; i++) w.written(ev(`e${i}`));
    expect(calls.barriers).toBe(1); // 3 since the last barrier
    expect(w.stats().extraKeepalives).toBe(1);
  });

  it('sends a barrier at half of maxBytes too', () => {
    const { w, calls } = window({ maxBytes: 2000 });
    w.written({ location: 'a', message: 'x'.repeat(600) });
    expect(calls.barriers).toBe(0);
    w.written({ location: 'a', message: 'x'.repeat(600) });
    expect(calls.barriers).toBe(1);
  });

  it('sends a barrier barrierInterval after the first event not yet covered, unless a keepalive came first', async () => {
    const { w, calls } = window({ barrierInterval: 1000 });
    w.written(ev('a'));
    await vi.advanceTimersByTimeAsync(999);
    w.written(ev('b'));
    expect(calls.barriers).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.barriers).toBe(1);
    w.written(ev('c'));
    await vi.advanceTimersByTimeAsync(500);
    w.barrier(); // a regular keepalive covers 'c'
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls.barriers).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('when full, counts one stall, sends a barrier for what is not covered, and resumes the sender once an ACK makes room', () => {
    const { w, calls } = window({ maxEvents: 4, barrierInterval: 60_000 });
    w.written(ev('a')); // 1 < 2
    w.barrier();
    w.written(ev('b'));
    w.written(ev('c')); // 2 since the barrier: half of 4, barrier
    w.written(ev('d'));
    expect(w.full).toBe(true);
    const before = calls.barriers;
    w.stall();
    w.stall();
    expect(w.stats().fullStalls).toBe(1);
    expect(calls.barriers).toBe(before + 1); // 'd' was not covered
    w.confirm(1);
    expect(w.full).toBe(false);
    expect(calls.resumes).toBe(1);
  });

  it('waitEmpty resolves true once everything is confirmed and false at the deadline; clear() returns what was left', async () => {
    const { w } = window();
    w.written(ev('a'));
    w.written(ev('b'));
    const confirmed = w.waitEmpty(1000);
    w.confirm(2);
    await expect(confirmed).resolves.toBe(true);
    w.written(ev('c'));
    const late = w.waitEmpty(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(late).resolves.toBe(false);
    expect(w.clear()).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('AgentConnection confirmations', () => {
  const transport = {} as Transport;
  const server = { address: 'm', port: 1514, protocol: 'tcp' as const, maxRetries: 5, retryInterval: 10_000 };

  it('pairs each ACK with the oldest barrier: an ACK confirms the events written before its keepalive', () => {
    const confirmed: number[] = [];
    const c = new AgentConnection(transport, 0, server, { onBarrier: () => {}, onConfirm: (n) => confirmed.push(n) });
    c.markBarrier(); // startup, 0 events
    c.eventsSent = 3;
    c.markBarrier();
    c.eventsSent = 5;
    c.markBarrier();
    c.eventsSent = 9;
    c.acked();
    expect(c.confirmed).toBe(0);
    c.acked();
    expect(c.confirmed).toBe(3);
    c.acked();
    expect(c.confirmed).toBe(5);
    expect(c.unconfirmed).toBe(4);
    expect(confirmed).toEqual([3, 2]);
  });

  it('never confirms too much when more than 64 barriers wait for their ACKs', () => {
    const c = new AgentConnection(transport, 0, server);
    for (let i = 0; i < 100; i++) {
      c.eventsSent = i * 10;
      c.markBarrier();
    }
    // ACKs of the first 63 barriers confirm exactly up to each; the later ones up to the 64th at most
    for (let i = 0; i < 63; i++) c.acked();
    expect(c.confirmed).toBe(620);
    for (let i = 0; i < 37; i++) c.acked();
    expect(c.confirmed).toBe(630);
    expect(c.confirmed).toBeLessThanOrEqual(990);
  });
});

async function agentOn(servers: string[], extra: Partial<AgentClientOptions> = {}) {
  const network = createMemoryNetwork();
  const managers: MemoryManager[] = [];
  for (const s of servers) managers.push(await memoryManager(network, s, KEY));
  const client = new AgentClient(
    { agent: KEY, servers: servers.map((address) => ({ address, port: 1514 })), uname: 'Linux |t |6.1 |#1 |x86_64', ...extra },
    { transport: network.factory },
  );
  client.on('error', () => {});
  clients.push(client);
  cleanups.push(...managers.map((m) => () => m.m.close()));
  return { managers: managers as [MemoryManager, ...MemoryManager[]], client };
}

const messages = (m: MemoryManager) => m.events().filter((t) => t.startsWith('1:app:')).map((t) => t.slice('1:app:'.length));
const withholdAcks = (m: MemoryManager, on: boolean) => m.m.setFaults({ withholdAcks: on });

const clients: AgentClient[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

describe('AgentClient delivery', () => {
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.stop({ drainTimeout: 0 });
    for (const fn of cleanups.splice(0)) await fn();
  });

  it("at-least-once: what the lost connection did not confirm is written again first, in order, on the next one", async () => {
    const { managers, client } = await agentOn(['a', 'b'], { delivery: 'at-least-once', reconnect: { strategy: 'backoff', initialDelay: 100, jitter: 0 } });
    const [a, b] = managers as [MemoryManager, MemoryManager];
    await client.start();
    for (let i = 0; i < 5; i++) client.send(`confirmed ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(21_000); // the next keepalive's ACK confirms them
    expect(client.stats().retransmitWindow.events).toBe(0);
    await withholdAcks(a, true); // the manager reads but no longer confirms
    for (let i = 0; i < 5; i++) client.send(`unconfirmed ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(100);
    expect(messages(a)).toHaveLength(10);
    expect(client.stats().retransmitWindow.events).toBe(5);
    await a.m.setFaults({ refuseConnections: true });
    a.m.disconnectAgents([KEY.id]);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 3; i++) client.send(`after ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(2000);
    expect(messages(b)).toEqual([...[0, 1, 2, 3, 4].map((i) => `unconfirmed ${i}`), 'after 0', 'after 1', 'after 2']);
    const s = client.stats();
    expect(s.eventsRetransmitted).toBe(5);
    expect(s.eventsUnconfirmedOnLostConnections).toBe(0);
    expect(s.retransmitWindow.events).toBe(3); // the resent five were confirmed by the keepalive that followed them
    await vi.advanceTimersByTimeAsync(20_000);
    expect(client.stats().retransmitWindow.events).toBe(0);
  });

  it('at-most-once: nothing is written again; what was unconfirmed is counted', async () => {
    const { managers, client } = await agentOn(['a', 'b'], { reconnect: { strategy: 'backoff', initialDelay: 100, jitter: 0 } });
    const [a, b] = managers as [MemoryManager, MemoryManager];
    await client.start();
    await vi.advanceTimersByTimeAsync(10);
    await withholdAcks(a, true);
    for (let i = 0; i < 5; i++) client.send(`unconfirmed ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(100);
    await a.m.setFaults({ refuseConnections: true });
    a.m.disconnectAgents([KEY.id]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(messages(b)).toEqual([]);
    expect(client.stats()).toMatchObject({ eventsRetransmitted: 0, eventsUnconfirmedOnLostConnections: 5 });
  });

  it('a full window holds back sending (the client buffer keeps the events) until an ACK makes room', async () => {
    const { managers: [m], client } = await agentOn(['m'], { delivery: 'at-least-once', retransmit: { maxEvents: 10 }, notifyTime: 60_000 });
    await client.start();
    await vi.advanceTimersByTimeAsync(10);
    await withholdAcks(m, true);
    for (let i = 0; i < 25; i++) client.send(`e${i}`, 'app');
    await vi.advanceTimersByTimeAsync(1000);
    expect(messages(m)).toHaveLength(10);
    let s = client.stats();
    expect(s.buffer.queued).toBe(15);
    expect(s.retransmitWindow).toMatchObject({ events: 10, fullStalls: 1 });
    // the barriers sent so far (at 5 events, and at the stall) are ACKed now
    const pending = m.count('keepalive') - 1; // the first keepalive was ACKed before the ACKs were withheld
    await withholdAcks(m, false);
    for (let i = 0; i < pending; i++) m.m.send(KEY.id, '#!-agent ack ');
    await vi.advanceTimersByTimeAsync(1000);
    expect(messages(m)).toEqual(Array.from({ length: 25 }, (_, i) => `e${i}`));
    s = client.stats();
    expect(s.buffer.queued).toBe(0);
    expect(s.retransmitWindow.highWaterEvents).toBe(10);
  });

  it('sends a barrier keepalive barrierInterval after events start flowing, between the regular keepalives', async () => {
    const { managers: [m], client } = await agentOn(['m'], { delivery: 'at-least-once', retransmit: { barrierInterval: 500 }, notifyTime: 20_000 });
    await client.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(m.count('keepalive')).toBe(1);
    client.send('x', 'app');
    await vi.advanceTimersByTimeAsync(499);
    expect(m.count('keepalive')).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(m.count('keepalive')).toBe(2);
    expect(client.stats().retransmitWindow).toMatchObject({ events: 0, extraKeepalives: 1 });
    await vi.advanceTimersByTimeAsync(5000); // nothing written since: no more extra keepalives
    expect(m.count('keepalive')).toBe(2);
  });

  it('stop() has the manager confirm the window before the shutdown message; what stays unconfirmed at the deadline is counted', async () => {
    const { managers: [m], client } = await agentOn(['m'], { delivery: 'at-least-once' });
    await client.start();
    for (let i = 0; i < 3; i++) client.send(`e${i}`, 'app');
    await client.stop({ drainTimeout: 1000 });
    const seq = m.log.filter((l) => l.startsWith('control:') || l.startsWith('event:1:app:')); // not the manager's own 'Agent stopped'
    expect(seq.slice(-3)).toEqual(['event:1:app:e2', 'control:keepalive', 'control:shutdown']); // the barrier, ACKed before the shutdown
    expect(client.stats()).toMatchObject({ eventsUnconfirmedOnLostConnections: 0, retransmitWindow: { events: 0 } });

    const second = await agentOn(['m2'], { delivery: 'at-least-once' });
    await second.client.start();
    await withholdAcks(second.managers[0], true);
    for (let i = 0; i < 3; i++) second.client.send(`e${i}`, 'app');
    const stopping = second.client.stop({ drainTimeout: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(second.client.stats().eventsUnconfirmedOnLostConnections).toBe(3);
  });

  it('refuses at-least-once with a UDP server: an ACKed keepalive does not prove earlier datagrams arrived', () => {
    const bad = () => resolveOptions({ agent: KEY, servers: [{ address: 'a' }, { address: 'b', protocol: 'udp' }], delivery: 'at-least-once' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/servers\[1\] uses UDP/);
    expect(() => resolveOptions({ agent: KEY, servers: [{ address: 'b', protocol: 'udp' }] })).not.toThrow();
  });
});
