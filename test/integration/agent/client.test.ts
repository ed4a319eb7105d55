import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../src/index.js';
import type { AgentClientOptions, AgentlinkError } from '../../../src/index.js';
import { MockManager, KeyStore, TEST_CA_CERT } from '../../../src/testing/index.js';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function manager(opts: ConstructorParameters<typeof MockManager>[0] = {}): Promise<MockManager> {
  const m = new MockManager({ keys: [KEY], disconnectOnClose: true, ...opts });
  cleanups.push(() => m.close());
  await m.start();
  return m;
}

function agent(servers: MockManager[], extra: Partial<AgentClientOptions> = {}): AgentClient {
  const c = new AgentClient({
    agent: KEY,
    servers: servers.map((m) => ({ address: '127.0.0.1', port: m.port, protocol: m.protocols[0], maxRetries: 2, retryInterval: 100 })),
    notifyTime: 1000,
    timeReconnect: 3000,
    connectTimeout: 1000,
    handshakeTimeout: 2000,
    uname: 'Linux |itest |6.1 |#1 |x86_64',
    ...extra,
  });
  c.on('error', () => {});
  cleanups.push(() => c.stop({ drainTimeout: 0 }));
  return c;
}

function until(pred: () => boolean, timeout = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - start > timeout) return reject(new Error('condition not met in time'));
      setTimeout(tick, 10);
    };
    tick();
  });
}

describe('AgentClient against MockManager (TCP on 127.0.0.1)', () => {
  it('connects, becomes active and delivers events with their location', async () => {
    const m = await manager();
    const c = agent([m]);
    await c.start();
    await m.waitForAgents(1, { status: 'active' });
    c.sendEvent({ queue: '1', location: 'C:\\logs\\app.log', message: 'hello' });
    const [ev] = await m.waitForEvents((e) => e.message === 'hello');
    expect(ev).toMatchObject({ agentId: '001', queue: '1', location: 'C:\\logs\\app.log' });
    expect(m.agent('001')!.status).toBe('active');
  });

  it('fails over when a node is killed mid-stream; events queued meanwhile arrive exactly once and in order', async () => {
    const m1 = await manager({ name: 'node1' });
    const m2 = await manager({ name: 'node2' });
    const c = agent([m1, m2], { buffer: { eventsPerSecond: 1000 } });
    const failovers: string[] = [];
    c.on('failover', ({ from, to }) => failovers.push(`${from.port}->${to.port}`));
    await c.start();
    let n = 0;
    for (; n < 200; n++) c.send(`ev ${n}`, 'stream');
    await until(() => c.stats().buffer.queued === 0);
    for (; n < 300; n++) c.send(`ev ${n}`, 'stream'); // still draining when the node dies
    const lost = new Promise((resolve) => c.once('disconnected', resolve));
    await m1.close(); // node killed: connections reset, port closed
    await lost;
    for (; n < 400; n++) c.send(`ev ${n}`, 'stream'); // queued while disconnected
    await until(() => c.connected && c.server!.port === m2.port);
    await until(() => c.stats().buffer.queued === 0);
    await m2.waitForEvents((e) => e.message === 'ev 399');
    const all = [...m1.receivedEvents('001'), ...m2.receivedEvents('001')].filter((e) => e.location === 'stream').map((e) => Number(e.message.slice(3)));
    // in order and never twice
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    // everything queued while disconnected arrived exactly once
    const after = m2.receivedEvents('001').filter((e) => e.location === 'stream').map((e) => Number(e.message.slice(3)));
    for (let i = 300; i < 400; i++) expect(after.filter((x) => x === i)).toHaveLength(1);
    // anything missing is explained by the in-flight count
    const missing = 400 - all.length;
    expect(missing).toBeLessThanOrEqual(c.stats().eventsUnconfirmedOnLostConnections);
    expect(failovers).toEqual([`${m1.port}->${m2.port}`]);
  });

  it('detects a blackholed server within timeReconnect and moves on', async () => {
    const m1 = await manager({ name: 'node1' });
    const m2 = await manager({ name: 'node2' });
    const c = agent([m1, m2], { notifyTime: 200, timeReconnect: 600 });
    await c.start();
    const lostAt = new Promise<{ code: string; t: number }>((resolve) =>
      c.once('disconnected', ({ reason }) => resolve({ code: reason.code, t: Date.now() })),
    );
    const t0 = Date.now();
    await m1.setFaults({ blackhole: true, refuseConnections: true });
    const lost = await lostAt;
    expect(lost.code).toBe('ERR_SERVER_SILENT');
    expect(lost.t - t0).toBeLessThan(600 * 2 + 200);
    await until(() => c.connected && c.server!.port === m2.port);
  });

  it('reconnects when the manager sends force_reconnect', async () => {
    const m = await manager();
    const c = agent([m]);
    await c.start();
    await m.waitForAgents(1);
    expect(m.forceReconnect(['001'])).toBe(1);
    await until(() => c.stats().connects === 2 && c.connected);
  });

  it('works over UDP', async () => {
    const m = await manager({ protocols: ['udp'] });
    const c = agent([m]);
    await c.start();
    c.send('over udp', 'udp-test');
    const [ev] = await m.waitForEvents((e) => e.location === 'udp-test');
    expect(ev!.protocol).toBe('udp');
    expect(ev!.message).toBe('over udp');
  });

  it('answers manager requests over UDP with acks', async () => {
    const m = await manager({ protocols: ['udp'] });
    const c = agent([m]);
    await c.start();
    await m.waitForAgents(1);
    const reply = await m.request('001', 'agent', 'getconfig buffer', { timeout: 3000 });
    expect(JSON.parse(reply.replace(/^ok /, ''))).toEqual({ buffer: { disabled: 'no', queue_size: 5000, events_per_second: 500 } });
  });

  it('enrolls with authd, then connects with the new key', async () => {
    const store = new KeyStore();
    const m = await manager({ keys: store, authd: { password: 'topsecret' } });
    const c = new AgentClient({
      servers: [{ address: '127.0.0.1', port: m.port }],
      enrollment: { port: m.authdPort!, agentName: 'enrolled-1', password: 'topsecret', ca: TEST_CA_CERT, delayAfterEnrollment: 0, managerAddress: 'localhost' },
      uname: 'Linux |itest |6.1 |#1 |x86_64',
    });
    c.on('error', () => {});
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    await c.start();
    expect(c.identity!.name).toBe('enrolled-1');
    expect(store.findByName('enrolled-1')!.id).toBe(c.identity!.id);
    await m.waitForAgents(1, { ids: [c.identity!.id] });
  });

  it('keeps retrying cleanly when the manager rejects its key', async () => {
    const m = await manager();
    await m.setFaults({ rejectKeys: ['001'] });
    const c = agent([m]);
    const errors: AgentlinkError[] = [];
    c.on('error', (e) => errors.push(e));
    void c.start().catch(() => {});
    await until(() => errors.length >= 2);
    expect(c.state === 'reconnecting' || c.state === 'connecting').toBe(true);
    expect(errors.every((e) => e.code === 'ERR_CONNECTION_LOST' || e.code === 'ERR_HANDSHAKE_TIMEOUT')).toBe(true);
    expect(m.stats().connectionsClosed).toBeGreaterThanOrEqual(2);
  });

  it('treats a version error as a failed attempt with the manager message', async () => {
    const m = await manager();
    await m.setFaults({ versionError: true });
    const c = agent([m]);
    const err = new Promise<AgentlinkError>((resolve) => c.once('error', resolve));
    void c.start().catch(() => {});
    const e = (await err) as AgentlinkError & { managerMessage?: string };
    expect(e.code).toBe('ERR_HANDSHAKE_REJECTED');
    expect(e.managerMessage).toBe('Agent version must be lower or equal to manager version');
  });

  for (const mode of ['garbage', 'ciphertext'] as const) {
    it(`${mode} frames instead of ACKs: counted, the connection kept until timeReconnect passes without an ACK, then a reconnect`, async () => {
      const m = await manager();
      const c = agent([m], { notifyTime: 200, timeReconnect: 800 });
      const reasons: string[] = [];
      c.on('disconnected', ({ reason }) => reasons.push(reason.code));
      await c.start();
      await m.setFaults({ corruptFrames: true, corruptMode: mode });
      await until(() => c.stats().decodeErrors >= 2);
      expect(c.stats().disconnects).toBe(0);
      await until(() => c.stats().disconnects >= 1, 3000);
      expect(reasons[0]).toBe('ERR_SERVER_SILENT');
      await m.clearFaults();
      await until(() => c.connected && c.stats().connects >= 2);
      c.send('still alive', 'after-corruption');
      await m.waitForEvents((e) => e.location === 'after-corruption');
    });
  }

  it('an oversize frame: counted, and the agent reconnects at once (ERR_DECODE_FRAME_TOO_LARGE)', async () => {
    const m = await manager();
    const c = agent([m]);
    const reasons: string[] = [];
    c.on('disconnected', ({ reason }) => reasons.push(reason.code));
    await c.start();
    await m.setFaults({ corruptFrames: true, corruptMode: 'oversize' });
    await until(() => c.stats().disconnects >= 1);
    expect(reasons[0]).toBe('ERR_DECODE_FRAME_TOO_LARGE');
    expect(c.stats().decodeErrors).toBeGreaterThanOrEqual(1);
    await m.clearFaults();
    await until(() => c.connected && c.stats().connects >= 2);
    c.send('still alive', 'after-corruption');
    await m.waitForEvents((e) => e.location === 'after-corruption');
  });

  it('receives a shared merged.mg push and verifies its md5', async () => {
    const m = await manager({ sharedFiles: { default: [{ name: 'agent.conf', content: '<agent_config></agent_config>\n' }] } });
    const c = agent([m]);
    const file = new Promise<{ name: string; valid: boolean; content: Buffer; files?: { name: string }[] }>((resolve) => c.once('sharedFile', resolve));
    await c.start();
    const got = await file;
    expect(got.name).toBe('merged.mg');
    expect(got.valid).toBe(true);
    expect(createHash('md5').update(got.content).digest('hex')).toBe(m.sharedFilesSum('default'));
    expect(got.files!.map((f) => f.name)).toEqual(['agent.conf']);
    // the next keepalive reports the new sum, so the manager stops pushing
    await until(() => m.agent('001')!.mergedSum === m.sharedFilesSum('default'));
  });

  it('leaves no sockets or timers behind after stop()', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    const m = await manager();
    const c = agent([m]);
    await c.start();
    c.send('bye', 'x');
    await c.stop();
    await m.close();
    await new Promise((r) => setTimeout(r, 50));
    const after = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });
});
