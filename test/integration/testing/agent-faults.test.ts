/**
 * Each test-kit fault, seen by the SDK's AgentClient: what the agent does when the manager (or the
 * network in front of it) misbehaves in that way.
 */
import { describe, expect, it } from 'vitest';
import { AgentClient, MemoryCounterStore } from '../../../src/index.js';
import type { AgentClientOptions, AgentlinkError, AgentKey } from '../../../src/index.js';
import { MockCluster, FaultProxy, KeyStore, MockManager } from '../../../src/testing/index.js';
import type { MockManagerOptions } from '../../../src/testing/index.js';
import { until, useCleanup } from './fixtures.js';

const cleanup = useCleanup();

async function manager(keys: KeyStore, opts: MockManagerOptions = {}): Promise<MockManager> {
  const m = new MockManager({ keys, ...opts });
  cleanup(() => m.close());
  await m.start();
  return m;
}

function client(key: AgentKey, ports: number[], extra: Partial<AgentClientOptions> = {}) {
  const c = new AgentClient({
    agent: key,
    servers: ports.map((port) => ({ address: '127.0.0.1', port, maxRetries: 2, retryInterval: 50 })),
    notifyTime: 300,
    timeReconnect: 1000,
    connectTimeout: 1000,
    handshakeTimeout: 1000,
    uname: 'Linux |faults |6.1 |#1 |x86_64',
    ...extra,
  });
  const errors: AgentlinkError[] = [];
  const reasons: string[] = [];
  c.on('error', (e) => errors.push(e));
  c.on('disconnected', ({ reason }) => reasons.push(reason.code));
  cleanup(() => c.stop({ drainTimeout: 0 }));
  return { c, errors, reasons };
}

describe('MockManager faults against AgentClient', () => {
  it('refuseConnections: the agent fails over to the next server, and comes back once the port listens again', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m1 = await manager(keys, { name: 'node1' });
    const m2 = await manager(keys, { name: 'node2' });
    await m1.setFaults({ refuseConnections: true });
    const { c } = client(k!, [m1.port, m2.port]);
    await c.start();
    expect(c.server!.port).toBe(m2.port);
    expect(c.stats().failedAttempts).toBeGreaterThanOrEqual(2);
    await m1.clearFaults();
    await m2.setFaults({ refuseConnections: true });
    m2.resetConnections();
    await until(() => c.connected && c.server!.port === m1.port, 5000);
  });

  it('resetConnections: the agent sees the connection lost and reconnects to the same server', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    const { c, reasons } = client(k!, [m.port]);
    await c.start();
    m.resetConnections();
    await until(() => c.stats().connects === 2, 5000);
    expect(reasons).toEqual(['ERR_CONNECTION_LOST']);
    expect(m.agent(k!.id)!.sessions).toBe(2);
  });

  it('withholdAcks: handshakes time out; withheld keepalive ACKs make a connected agent declare the server silent', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    await m.setFaults({ withholdAcks: true });
    const { c, errors, reasons } = client(k!, [m.port]);
    const started = c.start();
    await until(() => c.stats().failedAttempts >= 1, 5000);
    expect(errors.some((e) => e.code === 'ERR_HANDSHAKE_TIMEOUT')).toBe(true);
    expect(m.agent(k!.id)!.status).toBe('pending');
    await m.clearFaults();
    await started;
    await m.setFaults({ withholdAcks: [k!.id] });
    await until(() => reasons.includes('ERR_SERVER_SILENT'), 5000);
    await m.clearFaults();
    await until(() => c.connected, 5000);
  });

  it('ackDelayMs: the agent connects, but only after the delay', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    await m.setFaults({ ackDelayMs: 250 });
    const { c } = client(k!, [m.port]);
    const connected = new Promise<number>((resolve) => c.once('connected', ({ elapsed }) => resolve(elapsed)));
    await c.start();
    expect(await connected).toBeGreaterThanOrEqual(240);
  });

  it('closeAfterMessages: the agent keeps reconnecting and its events still arrive (or are counted as unconfirmed)', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    await m.setFaults({ closeAfterMessages: 5 });
    const { c, reasons } = client(k!, [m.port], { buffer: { eventsPerSecond: 1000 } });
    await c.start();
    // Two rounds of 10 events: each connection carries at least 5 messages, so each round ends one
    // connection, however fast the 10 events leave the client.
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 10; i++) c.send(`ev ${round}.${i}`, 'cut');
      await until(() => c.stats().buffer.queued === 0 && c.connected && c.stats().connects > round, 5000);
      await until(
        () => m.receivedEvents(k!.id).filter((e) => e.location === 'cut').length + c.stats().eventsUnconfirmedOnLostConnections >= 10 * round,
        5000,
      );
    }
    expect(reasons.filter((r) => r === 'ERR_CONNECTION_LOST').length).toBeGreaterThanOrEqual(2);
    const got = m.receivedEvents(k!.id).filter((e) => e.location === 'cut').map((e) => e.message);
    expect(new Set(got).size).toBe(got.length);
  });

  it('corruptFrames: the agent counts the bad frame, drops the connection and tries again', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    const { c } = client(k!, [m.port]);
    await c.start();
    await m.setFaults({ corruptFrames: true, corruptMode: 'oversize' });
    await until(() => c.stats().disconnects >= 1, 5000);
    await m.clearFaults();
    await until(() => c.connected && c.stats().connects >= 2, 5000);
  });

  it('verifyCounters: an agent whose counter restarts from zero is refused; one that persists its counter is accepted', async () => {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys, { verifyCounters: true });
    const store = new MemoryCounterStore();
    const first = client(k!, [m.port], { counterStore: store });
    await first.c.start();
    await first.c.stop({ drainTimeout: 0 });
    // Wait for the manager to see the close: a second connection for a key whose socket is still
    // registered would be refused (Agent key already in use).
    await until(() => m.stats().connections === 0);
    const persisted = client(k!, [m.port], { counterStore: store });
    await persisted.c.start();
    await persisted.c.stop({ drainTimeout: 0 });
    await until(() => m.stats().connections === 0);
    expect(m.stats().counterRejections).toBe(0);
    const fresh = client(k!, [m.port], { counterStore: new MemoryCounterStore() });
    void fresh.c.start().catch(() => undefined);
    await until(() => fresh.c.stats().failedAttempts >= 2, 5000);
    expect(fresh.c.connected).toBe(false);
    expect(m.stats().counterRejections).toBeGreaterThanOrEqual(2);
  });

  it('versionError and rejectKeys: every attempt fails, with the manager message or a closed connection', async () => {
    const keys = new KeyStore();
    const [k1, k2] = keys.generate(2);
    const m = await manager(keys);
    await m.setFaults({ versionError: [k1!.id], rejectKeys: [k2!.id] });
    const a = client(k1!, [m.port]);
    const b = client(k2!, [m.port]);
    void a.c.start().catch(() => undefined);
    void b.c.start().catch(() => undefined);
    await until(() => a.c.stats().failedAttempts >= 2 && b.c.stats().failedAttempts >= 2, 5000);
    const rejected = a.errors.find((e) => e.code === 'ERR_HANDSHAKE_REJECTED') as (AgentlinkError & { managerMessage?: string }) | undefined;
    expect(rejected?.managerMessage).toBe('Agent version must be lower or equal to manager version');
    expect(m.stats().unknownAgents).toBeGreaterThanOrEqual(2);
    await m.clearFaults();
    await until(() => a.c.connected && b.c.connected, 5000);
  });
});

describe('FaultProxy faults against AgentClient', () => {
  async function proxied(opts: Partial<ConstructorParameters<typeof FaultProxy>[0]> = {}) {
    const keys = new KeyStore();
    const [k] = keys.generate(1);
    const m = await manager(keys);
    const proxy = new FaultProxy({ target: { port: m.port }, ...opts });
    cleanup(() => proxy.close());
    await proxy.start();
    return { k: k!, m, proxy, ...client(k!, [proxy.port]) };
  }

  it('latency slows the handshake by both directions', async () => {
    const { c } = await proxied({ latencyMs: 120 });
    const connected = new Promise<number>((resolve) => c.once('connected', ({ elapsed }) => resolve(elapsed)));
    await c.start();
    expect(await connected).toBeGreaterThanOrEqual(230);
  });

  it('blackhole makes the agent declare the server silent after timeReconnect', async () => {
    const { c, proxy, reasons } = await proxied();
    await c.start();
    proxy.blackhole = true;
    await until(() => reasons.includes('ERR_SERVER_SILENT'), 5000);
    proxy.blackhole = false;
    await until(() => c.connected, 5000);
  });

  it('reset and cut mid-frame (both directions) make the agent reconnect', async () => {
    const { c, proxy, m, k } = await proxied();
    await c.start();
    proxy.reset();
    await until(() => c.stats().connects === 2, 5000);
    proxy.cutMidFrame('down');
    await until(() => c.stats().connects === 3, 5000); // the next keepalive ACK is cut
    proxy.cutMidFrame('up');
    c.send('cut me', 'proxy');
    await until(() => c.stats().connects === 4, 5000);
    expect(proxy.stats().cuts).toBe(2);
    expect(m.agent(k.id)!.connected).toBe(true);
  });
});

describe('MockCluster against AgentClient', () => {
  it('a killed node loses its agents to the next server; after restart and force_reconnect they stay on their current server (no balancer)', async () => {
    const keys = new KeyStore();
    const k = keys.generate(6);
    const cluster = new MockCluster({ nodes: 2, keys });
    cleanup(() => cluster.close());
    await cluster.start();
    const ports = cluster.servers().map((s) => s.port);
    const clients = k.map((key) => client(key, ports).c);
    await Promise.all(clients.map((c) => c.start()));
    await cluster.waitForAgents(6);
    expect(cluster.distribution()).toEqual({ node1: 6, node2: 0 });
    await cluster.kill('node1');
    await cluster.waitForAgents(6, { timeout: 5000 });
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 6 });
    await cluster.restart('node1');
    const r = await cluster.rebalance({ chunkSize: 2, chunkDelay: 20 });
    expect(r).toMatchObject({ moved: 3, balanced: false, excess: { node2: 3 } });
    await until(() => clients.every((c) => c.stats().connects >= 2) && clients.filter((c) => c.stats().connects === 3).length === 3, 5000);
    // Wazuh agents retry the server they were using first: without a balancer they come back to node2.
    await cluster.waitForAgents(6);
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 6 });
  });
});
