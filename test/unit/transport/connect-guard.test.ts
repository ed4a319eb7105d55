import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, ConnectionError } from '../../../src/index.js';
import { guardConnect } from '../../../src/transport/connect-guard.js';
import type { TransportState } from '../../../src/index.js';

const target = { address: 'manager', port: 1514, protocol: 'tcp' as const };

function guard(extra: { state?: TransportState; connectTimeout?: number; signal?: AbortSignal } = {}) {
  const settled: (string | undefined)[] = [];
  const g = guardConnect('TCP', target, extra.state ?? 'idle', { connectTimeout: extra.connectTimeout ?? 1000, signal: extra.signal }, systemClock, (e) =>
    settled.push(e?.code),
  );
  g.promise.catch(() => undefined);
  return { g, settled };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('guardConnect: one connect attempt, settled once', () => {
  it('fails with ERR_CONNECT_TIMEOUT at the deadline, naming the target, and clears its own timer', async () => {
    const { g, settled } = guard();
    await vi.advanceTimersByTimeAsync(999);
    expect(g.pending).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    await expect(g.promise).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT', message: expect.stringContaining("'[manager]:1514/tcp'") });
    expect(settled).toEqual(['ERR_CONNECT_TIMEOUT']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves on success, clears the deadline and the abort listener, and ignores later settles', async () => {
    const ac = new AbortController();
    const { g, settled } = guard({ signal: ac.signal });
    g.settle();
    g.settle(new ConnectionError('late', 'ERR_CONNECT'));
    ac.abort();
    await expect(g.promise).resolves.toBeUndefined();
    expect(settled).toEqual([undefined]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('aborts with the signal, before or during the attempt', async () => {
    const ac = new AbortController();
    const during = guard({ signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(during.g.promise).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const before = guard({ signal: ac.signal });
    expect(before.g.pending).toBe(false);
    await expect(before.g.promise).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(before.settled).toEqual(['ERR_ABORTED']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a second connect with ERR_INVALID_STATE without touching the transport', async () => {
    const { g, settled } = guard({ state: 'open' });
    expect(g.pending).toBe(false);
    await expect(g.promise).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(settled).toEqual([]);
  });

  it('has no deadline with connectTimeout 0', async () => {
    const { g } = guard({ connectTimeout: 0 });
    expect(vi.getTimerCount()).toBe(0);
    g.settle();
    await expect(g.promise).resolves.toBeUndefined();
  });

  it('keeps guards made one after another apart: each settles its own promise and removes its own listener', async () => {
    const ac = new AbortController();
    const a = guard({ signal: ac.signal });
    const b = guard({ signal: ac.signal });
    const c = guard();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(2);
    b.g.settle(new ConnectionError('refused', 'ERR_CONNECT'));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    a.g.settle();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    await expect(a.g.promise).resolves.toBeUndefined();
    await expect(b.g.promise).rejects.toMatchObject({ code: 'ERR_CONNECT' });
    expect([a.g.pending, b.g.pending, c.g.pending]).toEqual([false, false, true]);
    expect([a.settled, b.settled, c.settled]).toEqual([[undefined], ['ERR_CONNECT'], []]);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(c.g.promise).rejects.toMatchObject({ code: 'ERR_CONNECT_TIMEOUT' });
  });
});
