/**
 * The MockManager on real sockets with several frames in one read: their AES bodies are decrypted
 * together ('payloads'), and what the manager does with each frame is what it does with frames that
 * come one by one (events in order, a rejection closing the connection before the frames after it, a
 * corrupt frame after good ones, a key replaced halfway).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeTcpFrame } from '../../../src/protocol/framing.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import type { MockManagerOptions } from '../../../src/testing/index.js';
import type { AgentKey, MessageCounter } from '../../../src/index.js';
import { until } from './fixtures.js';
import { RawAgent } from './raw-agent.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/**
 * A started manager with `count` keys, an active raw agent on it with the first, and the events it
 * records: their messages, and the same with the agent id in front.
 */
async function setUp(
  opts: MockManagerOptions = {},
  count = 1,
): Promise<{ m: MockManager; key: AgentKey; keys: AgentKey[]; a: RawAgent; events: string[]; byAgent: string[] }> {
  const store = new KeyStore();
  const keys = store.generate(count);
  const m = new MockManager({ keys: store, ...opts });
  closers.push(() => m.close());
  await m.start();
  const events: string[] = [];
  const byAgent: string[] = [];
  m.on('event', (e) => {
    events.push(e.message);
    byAgent.push(`${e.agentId} ${e.message}`);
  });
  const a = await RawAgent.tcp(keys[0]!, m.port);
  closers.push(() => a.close());
  await a.activate();
  await m.waitForAgents(1);
  return { m, key: keys[0]!, keys, a, events, byAgent };
}

/** Frames of events `from`..`to` (their text is `event <n>`), with the agent's next counters unless given. */
function eventFrames(a: RawAgent, from: number, to: number, counter?: (n: number) => MessageCounter): Buffer[] {
  const out: Buffer[] = [];
  for (let n = from; n <= to; n++) out.push(encodeTcpFrame(a.encode(`1:/var/log/app.log:event ${n}`, counter?.(n))));
  return out;
}

const texts = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `event ${from + i}`);

describe('MockManager with several frames in one read', () => {
  it('records every event of a batch in order, and one by one after it, as when they come one at a time', async () => {
    const { m, a, events } = await setUp();
    a.writeRaw(Buffer.concat(eventFrames(a, 1, 12)));
    await until(() => events.length === 12);
    for (const f of eventFrames(a, 13, 15)) {
      a.writeRaw(f);
      await until(() => events.length >= 13);
    }
    a.writeRaw(Buffer.concat(eventFrames(a, 16, 40)));
    await until(() => events.length === 40);
    expect(events).toEqual(texts(1, 40));
    expect(m.stats().decodeErrors).toBe(0);
    // the agent's keepalive after the batches is still answered
    a.send('#!-agent startup {"version":"v4.14.7"}');
    expect((await a.next()).text).toBe('#!-agent ack ');
  });

  it('stops at a frame it rejects: the frames before it are recorded, none after it (the connection is closed)', async () => {
    const { m, a, events } = await setUp({ verifyCounters: true });
    const frames = eventFrames(a, 1, 3);
    // frame 4 repeats frame 3's counter: a duplicate, rejected with the connection
    frames.push(encodeTcpFrame(a.encode('1:/var/log/app.log:event 4', a.counter)));
    frames.push(...eventFrames(a, 5, 8));
    a.writeRaw(Buffer.concat(frames));
    expect(await a.waitClosed()).toBe(true);
    expect(events).toEqual(texts(1, 3));
    expect(m.stats().counterRejections).toBe(1);
  });

  it('records the frames before a corrupt one in the same read, then reports the corrupt one and closes', async () => {
    const { m, a, events } = await setUp();
    const tooLarge = Buffer.alloc(4);
    tooLarge.writeUInt32LE(70_000, 0);
    a.writeRaw(Buffer.concat([...eventFrames(a, 1, 5), tooLarge]));
    expect(await a.waitClosed()).toBe(true);
    expect(events).toEqual(texts(1, 5));
    expect(m.stats().framesTooLarge).toBe(1);
  });

  it('handles frames of two agents in one read, each with its own key', async () => {
    const { m, keys, a, byAgent: events } = await setUp({}, 2);
    const [k1, k2] = keys;
    // agent 2 handshakes on its own socket and leaves it; its codec then writes through agent 1's
    const b = await RawAgent.tcp(k2!, m.port);
    closers.push(() => b.close());
    await b.activate();
    b.close();
    await until(() => m.agent(k2!.id)?.connected === false);
    a.writeRaw(Buffer.concat([...eventFrames(a, 1, 3), ...eventFrames(b, 4, 6), ...eventFrames(a, 7, 8)]));
    await until(() => events.length === 8);
    expect(events).toEqual([
      ...texts(1, 3).map((t) => `${k1!.id} ${t}`),
      ...texts(4, 6).map((t) => `${k2!.id} ${t}`),
      ...texts(7, 8).map((t) => `${k1!.id} ${t}`),
    ]);

    // agent 2's key replaced while the first frame of a batch is handled: the next frames are
    // decrypted again with the new key (which fails, as it would have one frame at a time)
    m.once('event', () => {
      m.keyStore.remove(k2!.id);
      m.keyStore.add({ ...k2!, key: 'f'.repeat(64) });
    });
    const decodeErrors: string[] = [];
    m.on('decodeError', (err) => decodeErrors.push(err.code));
    a.writeRaw(Buffer.concat(eventFrames(b, 9, 12)));
    expect(await a.waitClosed()).toBe(true);
    expect(events.slice(8)).toEqual([`${k2!.id} event 9`]);
    expect(decodeErrors).toHaveLength(1);
    expect(decodeErrors[0]).toMatch(/^ERR_DECODE_(DECRYPT|COMPRESSION|CHECKSUM)$/);
  });
});
