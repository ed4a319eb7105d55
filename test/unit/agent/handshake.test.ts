import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, AbortError } from '../../../src/index.js';
import type { ResolvedServer } from '../../../src/index.js';
import { Handshake } from '../../../src/agent/handshake.js';

const server: ResolvedServer = { address: 'manager', port: 1514, protocol: 'tcp', maxRetries: 5, retryInterval: 10_000 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Handshake: the wait for the startup ACK', () => {
  it('keeps handshakes made one after another apart: each settles its own promise and clears its own timer', async () => {
    const a = new Handshake(server, 5000, systemClock);
    const b = new Handshake(server, 5000, systemClock);
    const c = new Handshake(server, 5000, systemClock);
    expect(vi.getTimerCount()).toBe(3);
    expect(b.reply({ type: 'err', message: 'Invalid key', raw: '#!-err Invalid key' })).toBe(false);
    expect(a.reply({ type: 'ack' })).toBe(true);
    await expect(a.acked).resolves.toBeUndefined();
    await expect(b.acked).rejects.toMatchObject({ code: 'ERR_HANDSHAKE_REJECTED', managerMessage: 'Invalid key' });
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(5000);
    await expect(c.acked).rejects.toMatchObject({ code: 'ERR_HANDSHAKE_TIMEOUT' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('settles once: a late ACK or failure changes nothing, and a failure nobody awaited is not unhandled', async () => {
    vi.useRealTimers();
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const h = new Handshake(server, 5000, systemClock);
      h.fail(new AbortError('Client stopped'));
      h.reply({ type: 'ack' });
      h.malformed();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
      await expect(h.acked).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});
