/**
 * Half-open connections: a manager that vanishes without FIN or RST must be detected by the
 * agent's `timeReconnect` rule (protocol.md 5.5), the socket destroyed, and the agent must carry on
 * elsewhere. TCP keepalive is on for every agent socket as a second line of defence.
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentClient } from '../../../src/index.js';
import type { AgentClientOptions } from '../../../src/index.js';
import { DEFAULT_TCP_KEEPALIVE_DELAY } from '../../../src/transport/tcp.js';
import { FaultProxy, KeyStore, MockManager } from '../../../src/testing/index.js';
import type { Cleanups } from './helpers.js';
import { ScriptedTcpManager, runCleanups, until } from './helpers.js';

const NOTIFY = 200;
const TIME_RECONNECT = 600;

const cleanups: Cleanups = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await runCleanups(cleanups);
});

const keys = new KeyStore();
const [KEY] = keys.generate(1);

async function manager(name: string): Promise<MockManager> {
  const m = new MockManager({ keys, name, disconnectOnClose: true });
  cleanups.push(() => m.close());
  await m.start();
  return m;
}

function agent(ports: number[], extra: Partial<AgentClientOptions> = {}): AgentClient {
  const c = new AgentClient({
    agent: KEY!,
    servers: ports.map((port) => ({ address: '127.0.0.1', port, maxRetries: 1, retryInterval: 50 })),
    notifyTime: NOTIFY,
    timeReconnect: TIME_RECONNECT,
    connectTimeout: 1000,
    handshakeTimeout: 1000,
    uname: 'Linux |reliability |6.1 |#1 |x86_64',
    buffer: { eventsPerSecond: 1000 },
    ...extra,
  });
  c.on('error', () => {});
  cleanups.push(() => c.stop({ drainTimeout: 0 }));
  return c;
}

describe('half-open connections', () => {
  it('detects a blackholed path (FaultProxy, no FIN/RST) within timeReconnect, destroys that socket and reconnects to the next server', async () => {
    const keepAlive = vi.spyOn(net.Socket.prototype, 'setKeepAlive');
    const m1 = await manager('node1');
    const m2 = await manager('node2');
    const proxy = new FaultProxy({ target: { port: m1.port } });
    cleanups.push(() => proxy.close());
    const { port: proxyPort } = await proxy.start();

    const c = agent([proxyPort, m2.port]);
    await c.start();
    expect(c.server?.port).toBe(proxyPort);
    // TCP keepalive is enabled on the agent socket with the documented idle delay.
    expect(keepAlive).toHaveBeenCalledWith(true, DEFAULT_TCP_KEEPALIVE_DELAY);
    await m1.waitForAgents(1, { timeout: 3000 });

    const proxyClosed = new Promise<number>((resolve) => proxy.once('close', () => resolve(Date.now())));
    const lost = new Promise<{ code: string; at: number }>((resolve) =>
      c.once('disconnected', ({ reason }) => resolve({ code: reason.code, at: Date.now() })),
    );
    // Events keep flowing while the path is dead: they are the in-flight loss the agent must count.
    let n = 0;
    const ticker = setInterval(() => c.send(`ev ${n++}`, 'half-open'), 20);
    cleanups.push(() => clearInterval(ticker));
    await until(() => m1.receivedEvents().some((e) => e.location === 'half-open'), 3000, 'first event at node1');

    const t0 = Date.now();
    proxy.blackhole = true; // both directions dropped; sockets stay open
    const { code, at } = await lost;
    const detectedAfter = at - t0;
    expect(code).toBe('ERR_SERVER_SILENT');
    // Detected no later than timeReconnect after the last contact (which is before t0), with 2x tolerance.
    expect(detectedAfter).toBeLessThanOrEqual(2 * TIME_RECONNECT);
    // The agent destroyed its socket: the proxy sees the client side close.
    const closedAt = await proxyClosed;
    expect(closedAt - t0).toBeLessThanOrEqual(2 * TIME_RECONNECT + 500);

    await until(() => c.connected && c.server?.port === m2.port, 4000, 'reconnected to node2');
    await m2.waitForAgents(1, { timeout: 3000 });
    clearInterval(ticker);
    const last = `ev ${n - 1}`;
    await m2.waitForEvents((e) => e.message === last, { timeout: 4000 });

    // No silent loss: whatever node1 never recorded is within the in-flight count of the lost connection.
    const got = new Set([...m1.receivedEvents(), ...m2.receivedEvents()].filter((e) => e.location === 'half-open').map((e) => e.message));
    const sent = c.stats().eventsSent;
    const missing = sent - got.size;
    expect(missing).toBeGreaterThanOrEqual(0);
    expect(missing).toBeLessThanOrEqual(c.stats().eventsUnconfirmedOnLostConnections);
    console.info(
      `[reliability] blackhole detected after ${detectedAfter} ms (timeReconnect ${TIME_RECONNECT}, notifyTime ${NOTIFY}); ` +
        `events sent ${sent}, missing ${missing}, counted unconfirmed ${c.stats().eventsUnconfirmedOnLostConnections}`,
    );
  });

  it('detects a raw server that ACKs the startup, then stops reading and never answers, and moves on', async () => {
    const stuck = new ScriptedTcpManager(KEY!);
    stuck.afterHandshake = 'silent';
    cleanups.push(() => stuck.close());
    const stuckPort = await stuck.start();
    const m2 = await manager('node2');

    const c = agent([stuckPort, m2.port]);
    const t0 = Date.now();
    await c.start(); // the startup ACK arrives, so the agent is connected to the stuck server
    expect(c.server?.port).toBe(stuckPort);
    stuck.stopListening(); // the host is gone: its established socket stays half-open, new connects are refused
    const reason = await new Promise<string>((resolve) => c.once('disconnected', ({ reason: r }) => resolve(r.code)));
    const detectedAfter = Date.now() - t0;
    expect(reason).toBe('ERR_SERVER_SILENT');
    expect(detectedAfter).toBeLessThanOrEqual(2 * TIME_RECONNECT);
    // The agent destroyed its side: once the stuck server reads again, it finds its socket closed
    // (a paused socket learns of the agent's RST only when it reads).
    stuck.conns[0]!.socket.resume();
    await until(() => stuck.conns[0]!.closed, 2000, 'stuck socket closed by the agent');
    await until(() => c.connected && c.server?.port === m2.port, 4000, 'reconnected to node2');
    c.send('after the stuck server', 'half-open');
    await m2.waitForEvents((e) => e.message === 'after the stuck server', { timeout: 3000 });
    console.info(`[reliability] silent raw server detected after ${detectedAfter} ms`);
  });

  it('a handshake to a server that accepts but never answers fails within handshakeTimeout, not timeReconnect', async () => {
    const m1 = await manager('node1');
    const m2 = await manager('node2');
    await m1.setFaults({ blackhole: true });
    const c = agent([m1.port, m2.port], { handshakeTimeout: 1000 }); // the smallest value accepted
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    const t0 = Date.now();
    await c.start();
    const elapsed = Date.now() - t0;
    expect(c.server?.port).toBe(m2.port);
    expect(errors).toContain('ERR_HANDSHAKE_TIMEOUT');
    expect(elapsed).toBeLessThan(2 * 1000 + 500);
  });
});
