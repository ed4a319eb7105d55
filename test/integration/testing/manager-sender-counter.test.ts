/**
 * What the real Wazuh agent needed from MockManager: a sender counter that survives a restart
 * (agents with `remoted.verify_msg_id=1` refuse repeated counters), and the raw control messages.
 * A raw agent on real sockets reads the counters of the manager's messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCounterStore, MemoryCounterStore } from '../../../src/index.js';
import { decodeSecureMessage } from '../../../src/protocol/secure.js';
import type { AgentKey } from '../../../src/index.js';
import { KeyStore, MockCluster, MockManager } from '../../../src/testing/index.js';
import type { AgentMessage } from '../../../src/protocol/messages.js';
import { ACK, KEEPALIVE, RawAgent, STARTUP } from './raw-agent.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Handshakes a raw agent and returns the counter of the manager's ACK, as one number. */
async function ackCounter(key: AgentKey, port: number): Promise<number> {
  const a = await RawAgent.tcp(key, port);
  closers.push(() => a.close());
  a.send('#!-agent startup {"version":"v4.14.7"}');
  const reply = await a.next();
  const d = decodeSecureMessage(reply.raw, { keys: [key] });
  expect(d.message.toString('latin1')).toBe(ACK);
  a.close();
  return d.global * 10_000 + d.local;
}

describe('the manager sender counter', () => {
  it('starts at 0:1 with a new store, and a manager started again on the same store continues it', async () => {
    const keys = new KeyStore();
    const [key] = keys.generate(1);
    const store = new MemoryCounterStore();
    const first = new MockManager({ keys, counterStore: store });
    closers.push(() => first.close());
    await first.start();
    expect(await ackCounter(key!, first.port)).toBe(1);
    expect(await ackCounter(key!, first.port)).toBe(2);
    await first.close();
    expect(await store.load()).toEqual({ global: 0, local: 2 });

    const again = new MockManager({ keys, counterStore: store });
    closers.push(() => again.close());
    await again.start();
    expect(await ackCounter(key!, again.port)).toBe(3);

    // without the store, a new manager starts over (what a real agent checking counters refuses)
    const fresh = new MockManager({ keys });
    closers.push(() => fresh.close());
    await fresh.start();
    expect(await ackCounter(key!, fresh.port)).toBe(1);
  });

  it('a FileCounterStore keeps the counter in a file, in Wazuh\'s sender_counter format', async () => {
    const keys = new KeyStore();
    const [key] = keys.generate(1);
    const dir = await mkdtemp(join(tmpdir(), 'agentlink-sender-counter-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'sender_counter');
    const first = new MockManager({ keys, counterStore: new FileCounterStore(path) });
    closers.push(() => first.close());
    await first.start();
    expect(await ackCounter(key!, first.port)).toBe(1);
    await first.close();
    expect(await readFile(path, 'utf8')).toMatch(/^0:1:?/);
    const again = new MockManager({ keys, counterStore: new FileCounterStore(path) });
    closers.push(() => again.close());
    await again.start();
    expect(await ackCounter(key!, again.port)).toBe(2);
  });

  it('MockCluster.restart keeps each node\'s counter; nodes count on their own', async () => {
    const keys = new KeyStore();
    const [key] = keys.generate(1);
    const cluster = new MockCluster({ nodes: 2, keys });
    closers.push(() => cluster.close());
    await cluster.start();
    const [n1, n2] = cluster.servers();
    expect(await ackCounter(key!, n1!.port)).toBe(1);
    expect(await ackCounter(key!, n1!.port)).toBe(2);
    expect(await ackCounter(key!, n2!.port)).toBe(1);
    await cluster.restart('node1');
    expect(await ackCounter(key!, n1!.port)).toBe(3);
  });

  it('a store that cannot be read fails start() with its error', async () => {
    const broken = { load: () => Promise.reject(new Error('disk gone')), save: () => Promise.resolve() };
    const m = new MockManager({ counterStore: broken });
    closers.push(() => m.close());
    await expect(m.start()).rejects.toThrow('disk gone');
  });
});

describe('raw control messages', () => {
  /** A started manager with one key, and a raw agent connected to it; `onStarted` runs before the agent connects. */
  async function managerAndAgent(onStarted: (m: MockManager) => void = () => undefined): Promise<{ m: MockManager; key: AgentKey; a: RawAgent }> {
    const keys = new KeyStore();
    const [key] = keys.generate(1);
    const m = new MockManager({ keys });
    closers.push(() => m.close());
    await m.start();
    onStarted(m);
    const a = await RawAgent.tcp(key!, m.port);
    closers.push(() => a.close());
    return { m, key: key!, a };
  }

  it('the control event carries the decrypted text, and the record keeps the last keepalive as sent', async () => {
    const seen: { message: AgentMessage; raw: string }[] = [];
    const { m, key, a } = await managerAndAgent((started) => started.on('control', (_id, message, raw) => seen.push({ message, raw })));
    expect(await a.handshake()).toBe(ACK);
    // a line the parser ignores: neither a label, a sum nor the uname
    const keepalive = KEEPALIVE.replace('x merged.mg\n', 'x merged.mg\nsomething new from a future agent\n');
    a.send(keepalive);
    await m.waitForAgents(1);
    expect(seen.map((s) => s.raw)).toEqual(['#!-agent startup {"version":"v4.14.7"}', keepalive]);
    expect(seen.map((s) => s.message.type)).toEqual(['startup', 'keepalive']);
    expect(m.agent(key.id)?.keepaliveText).toBe(keepalive);
  });

  it('keeps the last keepalive with no control listener, and starts giving the text to one added later', async () => {
    const { m, key, a } = await managerAndAgent();
    await a.activate();
    await m.waitForAgents(1);
    expect(m.agent(key.id)?.keepaliveText).toBe(KEEPALIVE);
    const seen: string[] = [];
    m.on('control', (_id, _message, raw) => seen.push(raw));
    a.send(STARTUP);
    expect((await a.next()).text).toBe(ACK);
    expect(seen).toEqual([STARTUP]);
  });
});
