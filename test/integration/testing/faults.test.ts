import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import type { MockManagerOptions } from '../../../src/testing/index.js';
import { until, useCleanup } from './fixtures.js';
import { ACK, KEEPALIVE, RawAgent, STARTUP } from './raw-agent.js';

const cleanup = useCleanup();

async function setup(count = 2, opts: MockManagerOptions = {}) {
  const keys = new KeyStore();
  const k = keys.generate(count);
  const m = new MockManager({ keys, ...opts });
  cleanup(() => m.close());
  await m.start();
  const agent = async (i = 0): Promise<RawAgent> => {
    const a = await RawAgent.tcp(k[i]!, m.port);
    cleanup(() => a.close());
    return a;
  };
  return { keys, k, m, agent };
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

describe('MockManager faults, seen by a raw agent', () => {
  it('refuseConnections: new connects get ECONNREFUSED, existing ones live on, and clearing listens again on the same port', async () => {
    const { m, agent } = await setup();
    const a = await agent(0);
    expect(await a.handshake()).toBe(ACK);
    const port = m.port;
    await m.setFaults({ refuseConnections: true });
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    a.send(KEEPALIVE);
    expect((await a.next()).text).toBe(ACK);
    await m.clearFaults();
    expect(m.port).toBe(port);
    const b = await agent(1);
    expect(await b.handshake()).toBe(ACK);
  });

  it('blackhole: accepts and reads but never answers or records; per-agent blackhole spares the others', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ blackhole: true });
    const a = await agent(0);
    a.send(STARTUP);
    expect(await a.silentFor(150)).toBe(true);
    expect(a.closed).toBe(false);
    expect(m.agent(k[0]!.id)!.status).toBe('never_connected');
    expect(m.stats().bytesIn).toBeGreaterThan(0);
    await m.setFaults({ blackhole: [k[0]!.id] });
    const b = await agent(1);
    expect(await b.handshake()).toBe(ACK);
    a.send(STARTUP);
    expect(await a.silentFor(100)).toBe(true);
  });

  it('resetConnections: every agent sees ECONNRESET at once', async () => {
    const { m, agent } = await setup();
    const a = await agent(0);
    const b = await agent(1);
    await a.handshake();
    await b.handshake();
    expect(m.resetConnections()).toBe(2);
    expect(await a.waitClosed()).toBe(true);
    expect(await b.waitClosed()).toBe(true);
    expect(a.errors).toContain('ECONNRESET');
    await until(() => m.stats().connections === 0);
  });

  it('withholdAcks for one agent: its startup is processed (pending) but not ACKed', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ withholdAcks: [k[0]!.id] });
    const a = await agent(0);
    const b = await agent(1);
    a.send(STARTUP);
    expect(await a.silentFor(150)).toBe(true);
    expect(m.agent(k[0]!.id)!.status).toBe('pending');
    expect(await b.handshake()).toBe(ACK);
    await m.setFaults({ withholdAcks: false });
    expect(await a.handshake()).toBe(ACK);
  });

  it('ackDelayMs delays each ACK', async () => {
    const { m, agent } = await setup();
    await m.setFaults({ ackDelayMs: 200 });
    const a = await agent(0);
    const t0 = performance.now();
    a.send(STARTUP);
    expect(await a.silentFor(100)).toBe(true);
    const r = await a.next();
    expect(r.text).toBe(ACK);
    expect(r.at - t0).toBeGreaterThanOrEqual(190);
  });

  it('closeAfterMessages closes the connection after n messages, recording all n', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ closeAfterMessages: 3 });
    const a = await agent(0);
    expect(await a.handshake()).toBe(ACK);
    a.send('1:x:one');
    a.send('1:x:two');
    a.send('1:x:three');
    expect(await a.waitClosed()).toBe(true);
    await until(() => m.receivedEvents(k[0]!.id).length === 2);
    expect(m.receivedEvents(k[0]!.id).map((e) => e.message)).toEqual(['one', 'two']);
  });

  for (const mode of ['ciphertext', 'garbage', 'oversize'] as const) {
    it(`corruptFrames (${mode}) sends something the agent cannot decode instead of the ACK`, async () => {
      const { m, agent } = await setup();
      await m.setFaults({ corruptFrames: true, corruptMode: mode });
      const a = await agent(0);
      a.send(STARTUP);
      if (mode === 'oversize') {
        expect(await a.waitClosed()).toBe(true);
        expect(a.frameErrors).toBe(1);
      } else {
        const r = await a.next();
        expect(r.text).toBeUndefined();
        expect(a.decodeFailures).toBe(1);
      }
    });
  }

  it('verifyCounters rejects a duplicated counter (1407) and one that goes backwards (1404), across connections', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ verifyCounters: true });
    const a = await agent(0);
    a.send(STARTUP, { global: 5, local: 10 });
    expect((await a.next()).text).toBe(ACK);
    a.send(KEEPALIVE, { global: 5, local: 10 });
    expect(await a.waitClosed()).toBe(true);
    const b = await agent(0);
    b.send(STARTUP, { global: 4, local: 9000 });
    expect(await b.waitClosed()).toBe(true);
    const c = await agent(0);
    c.send(STARTUP, { global: 5, local: 11 });
    expect((await c.next()).text).toBe(ACK);
    const s = m.stats();
    expect(s.counterRejections).toBe(2);
    expect(s.decodeErrorsByCode.ERR_DECODE_COUNTER).toBe(2);
    expect(m.agent(k[0]!.id)!.counter).toEqual({ global: 5, local: 11 });
  });

  it('accepts replayed counters when verifyCounters is off (the Wazuh default)', async () => {
    const { m, agent } = await setup();
    const a = await agent(0);
    a.send(STARTUP, { global: 1, local: 1 });
    expect((await a.next()).text).toBe(ACK);
    a.send(STARTUP, { global: 1, local: 1 });
    expect((await a.next()).text).toBe(ACK);
    expect(m.stats().counterRejections).toBe(0);
  });

  it('versionError answers startups with #!-err and no ACK (default or custom message, per agent)', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ versionError: [k[0]!.id] });
    const a = await agent(0);
    const b = await agent(1);
    expect(await a.handshake()).toBe('#!-err {"message":"Agent version must be lower or equal to manager version"}');
    expect(await b.handshake()).toBe(ACK);
    await m.setFaults({ versionError: 'Custom refusal' });
    expect(await b.handshake()).toBe('#!-err {"message":"Custom refusal"}');
    expect(await a.silentFor(50)).toBe(true);
  });

  it('rejectKeys treats an agent as unknown and closes its connection', async () => {
    const { k, m, agent } = await setup();
    await m.setFaults({ rejectKeys: [k[1]!.id] });
    const a = await agent(1);
    a.send(STARTUP);
    expect(await a.waitClosed()).toBe(true);
    expect(m.stats().unknownAgents).toBe(1);
    const b = await agent(0);
    expect(await b.handshake()).toBe(ACK);
    expect(m.faults.rejectKeys.has(k[1]!.id)).toBe(true);
    await m.clearFaults();
    expect(m.faults.rejectKeys.size).toBe(0);
  });

  it('disconnectAgents resets only the named agents', async () => {
    const { k, m, agent } = await setup();
    const a = await agent(0);
    const b = await agent(1);
    await a.handshake();
    await b.handshake();
    expect(m.disconnectAgents([k[0]!.id])).toBe(1);
    expect(await a.waitClosed()).toBe(true);
    expect(b.closed).toBe(false);
  });
});
