/**
 * What a started agent does to its process and at stop(): which of its timers and sockets keep the
 * process alive (ref/unref, `persistent`), how start() is bounded, and how stop() drains.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentClient, systemClock } from '../../../src/index.js';
import type { Clock, TimerHandle, AgentClientOptions, Transport, TransportFactory } from '../../../src/index.js';
import { createMemoryNetwork } from '../../../src/testing/index.js';
import { memoryManager } from '../../helpers/memory-manager.js';
import type { MemoryManager } from '../../helpers/memory-manager.js';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
const managers: MemoryManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.m.close();
  vi.useRealTimers();
});

async function manager(network: ReturnType<typeof createMemoryNetwork>): Promise<MemoryManager> {
  const m = await memoryManager(network, 'm', KEY);
  managers.push(m);
  return m;
}

/** The system clock (faked timers), remembering every handle with its delay. */
function recordingClock(): Clock & { handles: { handle: TimerHandle; ms: number }[] } {
  const handles: { handle: TimerHandle; ms: number }[] = [];
  return {
    handles,
    now: () => systemClock.now(),
    monotonic: () => systemClock.monotonic(),
    setTimeout: (fn, ms) => {
      const handle = systemClock.setTimeout(fn, ms);
      handles.push({ handle, ms });
      return handle;
    },
    clearTimeout: (h) => systemClock.clearTimeout(h),
  };
}

/** Memory transports with ref()/unref() recording what the agent asked for. */
function refTracking(): { factory: TransportFactory; refs: boolean[]; network: ReturnType<typeof createMemoryNetwork> } {
  const network = createMemoryNetwork();
  const refs: boolean[] = [];
  const factory: TransportFactory = (target, options) => {
    const t: Transport = network.factory(target, options);
    t.ref = () => void refs.push(true);
    t.unref = () => void refs.push(false);
    return t;
  };
  return { factory, refs, network };
}

const hasRef = (h: TimerHandle) => (h as { hasRef(): boolean }).hasRef();

function agent(extra: Partial<AgentClientOptions>, runtime: ConstructorParameters<typeof AgentClient>[1]): AgentClient {
  const c = new AgentClient(
    { agent: KEY, servers: [{ address: 'm', port: 1514, retryInterval: 10_000 }], uname: 'Linux |t |6.1 |#1 |x86_64', ...extra },
    runtime,
  );
  c.on('error', () => {});
  return c;
}

describe('what keeps the process alive', () => {
  it('a started agent that waits to reconnect holds the process with its retry timer; unref() lets go, ref() holds again', async () => {
    const clock = recordingClock();
    const { factory } = refTracking(); // nothing listens on m: every connect fails
    const c = agent({}, { transport: factory, clock });
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    const retry = clock.handles.find((h) => h.ms === 10_000)!;
    expect(retry).toBeDefined();
    expect(hasRef(retry.handle)).toBe(true);
    c.unref();
    expect(hasRef(retry.handle)).toBe(false);
    c.ref();
    expect(hasRef(retry.handle)).toBe(true);
    await c.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('persistent: false starts unref\'d: the retry timer and every socket let the process exit', async () => {
    const clock = recordingClock();
    const { factory, refs } = refTracking();
    const c = agent({ persistent: false }, { transport: factory, clock });
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    expect(hasRef(clock.handles.find((h) => h.ms === 10_000)!.handle)).toBe(false);
    expect(refs).toEqual([false]);
    await c.stop();
  });

  it('the socket follows ref() and unref() while connected; timers of a connected agent never hold the process themselves', async () => {
    const clock = recordingClock();
    const { factory, refs, network } = refTracking();
    await manager(network);
    const c = agent({}, { transport: factory, clock });
    await c.start();
    expect(refs).toEqual([true]);
    c.unref();
    c.ref();
    expect(refs).toEqual([true, false, true]);
    c.send('x', 'app');
    // handshake, keepalive, silence and buffer timers: the socket holds the process, not them
    expect(clock.handles.length).toBeGreaterThan(2);
    expect(clock.handles.filter((h) => hasRef(h.handle))).toEqual([]);
    await c.stop();
  });
});

describe('start({ signal })', () => {
  it('rejects with ERR_ABORTED (cause: the reason) and stops the agent when the signal fires before any ACK', async () => {
    const { factory } = refTracking();
    const c = agent({}, { transport: factory });
    const controller = new AbortController();
    const started = c.start({ signal: controller.signal });
    await vi.advanceTimersByTimeAsync(25_000);
    controller.abort(new Error('gave up waiting'));
    await expect(started).rejects.toMatchObject({ code: 'ERR_ABORTED', cause: { message: 'gave up waiting' } });
    await c.closed;
    expect(c.state).toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is ignored once the agent is connected', async () => {
    const { factory, network } = refTracking();
    await manager(network);
    const c = agent({}, { transport: factory });
    const controller = new AbortController();
    await c.start({ signal: controller.signal });
    controller.abort();
    await vi.advanceTimersByTimeAsync(100);
    expect(c.state).toBe('connected');
    await c.stop();
  });
});

describe('stop() drains', () => {
  it('delivers every queued event before the shutdown message, without waiting for the buffer rate', async () => {
    const { factory, network } = refTracking();
    const m = await manager(network);
    const c = agent({}, { transport: factory });
    await c.start();
    for (let i = 0; i < 20; i++) c.send(`e${i}`, 'app');
    // no fake time passes here: at the buffer's rate (500/s, bursts of 5 every 10 ms) stop() would hang
    await c.stop();
    const seq = m.log.filter((l) => l.startsWith('control:') || l.startsWith('event:1:app:')); // not the manager's own 'Agent stopped'
    expect(seq.filter((l) => l.startsWith('event:'))).toEqual(Array.from({ length: 20 }, (_, i) => `event:1:app:e${i}`));
    expect(seq.at(-1)).toBe('control:shutdown');
    expect(c.stats().buffer.droppedByReason.cleared).toBe(0);
  });

  it('clears at once what is queued when the agent is not connected at stop()', async () => {
    const { factory } = refTracking();
    const c = agent({}, { transport: factory });
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(10);
    for (let i = 0; i < 7; i++) c.send(`e${i}`, 'app');
    await c.stop();
    expect(c.stats().buffer.droppedByReason.cleared).toBe(7);
  });

  it('cuts at the deadline what a full at-least-once window held back, and counts only that as cleared', async () => {
    const { factory, network } = refTracking();
    const m = await manager(network);
    const c = agent({ delivery: 'at-least-once', retransmit: { maxEvents: 10 } }, { transport: factory });
    await c.start();
    await vi.advanceTimersByTimeAsync(10);
    await m.m.setFaults({ withholdAcks: true });
    for (let i = 0; i < 30; i++) c.send(`e${i}`, 'app');
    const stopping = c.stop({ drainTimeout: 2000 });
    await vi.advanceTimersByTimeAsync(2000);
    await stopping;
    const s = c.stats();
    expect(m.events().filter((t) => t.startsWith('1:app:'))).toHaveLength(10);
    expect(s.buffer.droppedByReason.cleared).toBe(20);
    expect(s.eventsUnconfirmedOnLostConnections).toBe(10);
    expect(m.log.filter((l) => l.startsWith('control:')).at(-1)).toBe('control:shutdown');
  });
});

describe('closed', () => {
  it('is one promise, asked before start, that resolves when the agent stops', async () => {
    const { factory, network } = refTracking();
    await manager(network);
    const c = agent({}, { transport: factory });
    const closed = c.closed;
    expect(c.closed).toBe(closed);
    let done = false;
    void closed.then(() => (done = true));
    await c.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(done).toBe(false);
    await c.stop();
    expect(done).toBe(true);
    expect(c.closed).toBe(closed);
  });

  it('is settled when first asked after the agent closed, also from a closed listener, and stop() again resolves', async () => {
    const { factory, network } = refTracking();
    await manager(network);
    const c = agent({}, { transport: factory });
    const fromListener: Promise<void>[] = [];
    c.on('closed', () => fromListener.push(c.closed));
    await c.start();
    await c.stop();
    expect(fromListener).toHaveLength(1);
    await expect(fromListener[0]).resolves.toBeUndefined();
    await expect(c.closed).resolves.toBeUndefined();
    await expect(c.stop()).resolves.toBeUndefined();
  });

  it('resolves for a stop() made while another stop() drains', async () => {
    const { factory, network } = refTracking();
    await manager(network);
    const c = agent({}, { transport: factory });
    await c.start();
    c.send('e', 'app');
    const first = c.stop({ drainTimeout: 1000 });
    const second = c.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    expect(c.state).toBe('closed');
  });
});
