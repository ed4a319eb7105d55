import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FaultProxy, KeyStore, MockManager } from '../../../src/testing/index.js';
import { sleep, until, useCleanup } from './fixtures.js';
import { ACK, KEEPALIVE, RawAgent, STARTUP } from './raw-agent.js';

const cleanup = useCleanup();

async function setup(proxyOpts: Partial<ConstructorParameters<typeof FaultProxy>[0]> = {}) {
  const keys = new KeyStore();
  const k = keys.generate(2);
  const m = new MockManager({ keys });
  cleanup(() => m.close());
  await m.start();
  const proxy = new FaultProxy({ target: { port: m.port }, ...proxyOpts });
  cleanup(() => proxy.close());
  await proxy.start();
  const agent = async (i = 0): Promise<RawAgent> => {
    const a = await RawAgent.tcp(k[i]!, proxy.port);
    cleanup(() => a.close());
    return a;
  };
  return { k, m, proxy, agent };
}

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('FaultProxy', () => {
  it('forwards both ways transparently', async () => {
    const { k, m, proxy, agent } = await setup();
    const a = await agent();
    expect(await a.handshake()).toBe(ACK);
    a.send(KEEPALIVE);
    expect((await a.next()).text).toBe(ACK);
    expect(m.agent(k[0]!.id)!.status).toBe('active');
    expect(proxy.connections).toBe(1);
    const s = proxy.stats();
    expect(s.bytesUp).toBeGreaterThan(0);
    expect(s.bytesDown).toBeGreaterThan(0);
  });

  it('adds latency per direction, switchable at run time', async () => {
    const { proxy, agent } = await setup({ latencyMs: { up: 0, down: 150 } });
    const a = await agent();
    let t0 = performance.now();
    a.send(STARTUP);
    expect((await a.next()).at - t0).toBeGreaterThanOrEqual(140);
    proxy.latencyMs = 0;
    t0 = performance.now();
    a.send(KEEPALIVE);
    const fast = (await a.next()).at - t0;
    proxy.latencyMs = { up: 100, down: 100 };
    t0 = performance.now();
    a.send(KEEPALIVE);
    const slow = (await a.next()).at - t0;
    expect(slow).toBeGreaterThanOrEqual(190);
    expect(fast).toBeLessThan(slow);
    expect(proxy.latencyMs).toEqual({ up: 100, down: 100 });
  });

  it('limits bandwidth', async () => {
    const { k, m, proxy, agent } = await setup({ bandwidthBytesPerSec: { up: 4000 } });
    const a = await agent();
    const t0 = performance.now();
    // Random (incompressible) payload: the frame is about 3 KB, so at 4000 B/s it needs ~0.7 s.
    const frame = a.encode(`1:x:${randomBytes(2400).toString('base64')}`);
    a.sendPayload(frame);
    await m.waitForEvents(1, { timeout: 5000 });
    const minimum = ((frame.length - 200) / 4000) * 1000;
    expect(minimum).toBeGreaterThan(500);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(minimum * 0.9);
    expect(m.receivedEvents(k[0]!.id)).toHaveLength(1);
    expect(proxy.bandwidthBytesPerSec).toEqual({ up: 4000, down: 0 });
  });

  it('blackhole keeps sockets open but forwards nothing; lifting it lets new data through', async () => {
    const { k, m, proxy, agent } = await setup();
    const a = await agent();
    await a.handshake();
    proxy.blackhole = true;
    a.send(KEEPALIVE);
    expect(await a.silentFor(150)).toBe(true);
    expect(a.closed).toBe(false);
    expect(m.agent(k[0]!.id)!.status).toBe('pending');
    expect(proxy.stats().bytesDropped).toBeGreaterThan(0);
    proxy.blackhole = false;
    a.send(KEEPALIVE);
    expect((await a.next()).text).toBe(ACK);
  });

  it('reset() sends RST to both sides', async () => {
    const { m, proxy, agent } = await setup();
    const a = await agent();
    await a.handshake();
    expect(proxy.reset()).toBe(1);
    expect(await a.waitClosed()).toBe(true);
    expect(a.errors).toContain('ECONNRESET');
    await until(() => m.stats().connections === 0);
    expect(proxy.connections).toBe(0);
  });

  it('cutMidFrame("up") delivers half of the next agent frame and closes: the manager records nothing', async () => {
    const { k, m, proxy, agent } = await setup();
    const a = await agent();
    await a.handshake();
    const received = m.stats().messagesReceived;
    expect(proxy.cutMidFrame('up')).toBe(1);
    a.send('1:x:this event is cut in half');
    expect(await a.waitClosed()).toBe(true);
    await until(() => m.stats().connections === 0);
    expect(m.stats().messagesReceived).toBe(received);
    expect(m.receivedEvents(k[0]!.id)).toHaveLength(0);
    expect(proxy.stats().cuts).toBe(1);
  });

  it('cutMidFrame("down") leaves the agent holding a partial frame, then closes', async () => {
    const { proxy, agent } = await setup();
    const a = await agent();
    expect(proxy.cutMidFrame('down')).toBe(1);
    a.send(STARTUP);
    expect(await a.waitClosed()).toBe(true);
    expect(a.inbox).toHaveLength(0);
    expect(a.bytesIn).toBeGreaterThan(4);
    expect(a.partialBytes).toBe(a.bytesIn);
  });

  it('refuse closes the listener (ECONNREFUSED) and keeps established connections; lifting it reopens the same port', async () => {
    const { proxy, agent } = await setup();
    const a = await agent();
    await a.handshake();
    const port = proxy.port;
    proxy.refuse = true;
    await proxy.ready();
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    a.send(KEEPALIVE);
    expect((await a.next()).text).toBe(ACK);
    proxy.refuse = false;
    await proxy.ready();
    const b = await agent(1);
    expect(await b.handshake()).toBe(ACK);
  });

  it('resets the client when the target is down', async () => {
    const { m, proxy, agent } = await setup();
    await m.close();
    const a = await agent();
    expect(await a.waitClosed()).toBe(true);
    expect(proxy.stats().targetFailures).toBe(1);
  });

  it('delivers delayed data before passing on a close', async () => {
    const { m, proxy, agent } = await setup({ latencyMs: { up: 0, down: 100 } });
    await m.setFaults({ closeAfterMessages: 2 });
    const a = await agent();
    a.send(STARTUP);
    await sleep(20);
    a.send(KEEPALIVE); // 2nd message: the manager closes without replying
    expect((await a.next()).text).toBe(ACK); // the delayed startup ACK still arrives
    expect(await a.waitClosed()).toBe(true);
    void proxy;
  });

  it('close() ends every connection', async () => {
    const { proxy, agent } = await setup({ latencyMs: 50 });
    const a = await agent();
    a.send(STARTUP);
    await proxy.close();
    expect(await a.waitClosed()).toBe(true);
    expect(proxy.connections).toBe(0);
  });
});
