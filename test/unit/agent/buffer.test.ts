import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, ConfigError } from '../../../src/index.js';
import type { ResolvedBufferOptions } from '../../../src/index.js';
import { ClientBuffer } from '../../../src/agent/client-buffer.js';
import type { BufferLevel, DropReason } from '../../../src/agent/client-buffer.js';

function options(over: Partial<ResolvedBufferOptions & { warnLevel: number; normalLevel: number }> = {}) {
  return { disabled: false, queueSize: 5000, eventsPerSecond: 500, overflow: 'drop-newest' as const, tolerance: 15_000, ...over };
}

/** A buffer with a recording sink; `accept` decides what send() returns. */
function make(over: Parameters<typeof options>[0] = {}) {
  const sent: number[] = [];
  const sentAt: number[] = [];
  const levels: Array<[BufferLevel, BufferLevel, number]> = [];
  const drops: Array<[number, DropReason]> = [];
  const t0 = Date.now();
  const sink = { accept: (_item: number) => true as boolean };
  const buffer = new ClientBuffer<number>(options(over), {
    send: (item) => {
      if (!sink.accept(item)) return false;
      sent.push(item);
      sentAt.push(Date.now() - t0);
      return true;
    },
    clock: systemClock,
  });
  buffer.on('level', (level, previous) => levels.push([level, previous, buffer.size]));
  buffer.on('drop', (item, reason) => drops.push([item, reason]));
  return { buffer, sent, sentAt, levels, drops, sink };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

describe('ClientBuffer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts paused and delivers queued items in push order once resumed', () => {
    const { buffer, sent } = make();
    expect(buffer.paused).toBe(true);
    for (const n of range(1, 100)) expect(buffer.push(n)).toBe(true);
    expect(sent).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    buffer.resume();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(range(1, 100));
    expect(buffer.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drains 500 items in one second at 500 events per second, within one tick', () => {
    const { buffer, sent, sentAt } = make({ eventsPerSecond: 500 });
    for (const n of range(1, 2000)) buffer.push(n);
    buffer.resume();
    vi.advanceTimersByTime(1000);
    // one tick at 500 eps is 10 ms = 5 items
    expect(sent.length).toBeGreaterThanOrEqual(495);
    expect(sent.length).toBeLessThanOrEqual(505);
    vi.advanceTimersByTime(3000);
    expect(sent).toEqual(range(1, 2000));
    // no sliding one-second window holds more than the rate plus one tick's burst
    for (let i = 0; i < sentAt.length; i++) {
      let j = i;
      while (j < sentAt.length && sentAt[j]! < sentAt[i]! + 1000) j++;
      expect(j - i).toBeLessThanOrEqual(505);
    }
  });

  it('drains at the minimum rate of 50 events per second', () => {
    const { buffer, sent } = make({ eventsPerSecond: 50 });
    for (const n of range(1, 200)) buffer.push(n);
    buffer.resume();
    vi.advanceTimersByTime(1000);
    expect(sent.length).toBeGreaterThanOrEqual(49);
    expect(sent.length).toBeLessThanOrEqual(51);
  });

  it('sends a lone item at once and arms no timer while empty', () => {
    const { buffer, sent } = make();
    buffer.resume();
    expect(vi.getTimerCount()).toBe(0);
    buffer.push(7);
    expect(sent).toEqual([7]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    buffer.push(8);
    expect(sent).toEqual([7, 8]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms at most one timer for a backlog, and none once paused', () => {
    const { buffer } = make();
    buffer.resume();
    for (const n of range(1, 1000)) buffer.push(n);
    expect(vi.getTimerCount()).toBe(1);
    buffer.pause();
    expect(vi.getTimerCount()).toBe(0);
    buffer.push(1001);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('moves through warning, full, flooded and back to normal exactly as Wazuh buffer.c', () => {
    const { buffer, levels, drops } = make({ queueSize: 10, eventsPerSecond: 50, tolerance: 15_000 });
    for (const n of range(1, 9)) buffer.push(n);
    expect(levels).toEqual([]);
    buffer.push(10); // finds 9 queued = 90 %: warning, and is stored
    expect(levels).toEqual([['warning', 'normal', 9]]);
    expect(buffer.size).toBe(10);
    expect(buffer.push(11)).toBe(false); // finds it full: full, and is dropped
    expect(levels.at(-1)).toEqual(['full', 'warning', 10]);
    vi.advanceTimersByTime(14_999);
    expect(buffer.push(12)).toBe(false);
    expect(buffer.level).toBe('full');
    vi.advanceTimersByTime(1);
    expect(buffer.push(13)).toBe(false); // a push tolerance ms after becoming full: flooded
    expect(levels.at(-1)).toEqual(['flooded', 'full', 10]);
    expect(drops).toEqual([[11, 'full'], [12, 'full'], [13, 'full']]);

    buffer.resume();
    vi.advanceTimersByTime(1000);
    // falling levels are checked on dispatch, on the count before the item left: 9 -> warning, 7 -> normal
    expect(levels).toEqual([
      ['warning', 'normal', 9],
      ['full', 'warning', 10],
      ['flooded', 'full', 10],
      ['warning', 'flooded', 8],
      ['normal', 'warning', 6],
    ]);
    expect(buffer.level).toBe('normal');
  });

  it('floods at once when full with tolerance 0', () => {
    const { buffer, levels } = make({ queueSize: 4, tolerance: 0 });
    for (const n of range(1, 5)) buffer.push(n);
    // 3 of 4 queued is 75 %, below the warning level: the fifth push finds it full and floods at once
    expect(levels.map(([l, p]) => [l, p])).toEqual([
      ['full', 'normal'],
      ['flooded', 'full'],
    ]);
  });

  it('goes from normal straight to full when the warning threshold is at capacity', () => {
    const { buffer, levels } = make({ queueSize: 4, warnLevel: 100, normalLevel: 50 });
    for (const n of range(1, 5)) buffer.push(n);
    expect(levels.map(([l, p]) => [l, p])).toEqual([['full', 'normal']]);
  });

  it('drops the newest item under drop-newest and counts it', () => {
    const { buffer, drops } = make({ queueSize: 3, overflow: 'drop-newest' });
    expect(range(1, 5).map((n) => buffer.push(n))).toEqual([true, true, true, false, false]);
    expect(drops).toEqual([[4, 'full'], [5, 'full']]);
    expect(buffer.clear()).toEqual([1, 2, 3]);
    expect(buffer.stats()).toMatchObject({ accepted: 3, dropped: 2, droppedByReason: { full: 2, evicted: 0, rejected: 0, cleared: 0 } });
  });

  it('evicts the oldest item under drop-oldest and accepts the new one', () => {
    const { buffer, drops } = make({ queueSize: 3, overflow: 'drop-oldest' });
    expect(range(1, 5).map((n) => buffer.push(n))).toEqual([true, true, true, true, true]);
    expect(drops).toEqual([[1, 'evicted'], [2, 'evicted']]);
    expect(buffer.size).toBe(3);
    expect(buffer.clear()).toEqual([3, 4, 5]);
    expect(buffer.stats()).toMatchObject({ accepted: 5, dropped: 2, droppedByReason: { evicted: 2 } });
  });

  it('rejects the new item under reject and counts it as rejected', () => {
    const { buffer, drops } = make({ queueSize: 2, overflow: 'reject' });
    expect(range(1, 3).map((n) => buffer.push(n))).toEqual([true, true, false]);
    expect(drops).toEqual([[3, 'rejected']]);
    expect(buffer.stats().droppedByReason.rejected).toBe(1);
  });

  it('keeps an item the sink refused at the head, pauses, and resumes in order', () => {
    const { buffer, sent, sink } = make();
    let refuse = true;
    sink.accept = (item) => !(item === 3 && refuse);
    for (const n of range(1, 6)) buffer.push(n);
    buffer.resume();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([1, 2]);
    expect(buffer.paused).toBe(true);
    expect(buffer.size).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
    buffer.push(7);
    refuse = false;
    buffer.resume();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(range(1, 7));
  });

  it('keeps order across pause and resume in the middle of a backlog', () => {
    const { buffer, sent } = make({ eventsPerSecond: 100 });
    for (const n of range(1, 300)) buffer.push(n);
    buffer.resume();
    vi.advanceTimersByTime(500);
    buffer.pause();
    const before = sent.length;
    expect(before).toBeGreaterThan(0);
    vi.advanceTimersByTime(10_000);
    expect(sent.length).toBe(before);
    for (const n of range(301, 310)) buffer.push(n);
    buffer.resume();
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual(range(1, 310));
  });

  it('treats a throwing sink as a refusal and reports the error', () => {
    const errors: unknown[] = [];
    const buffer = new ClientBuffer<number>(options(), {
      send: () => {
        throw new Error('socket gone');
      },
      onError: (e) => errors.push(e),
    });
    buffer.resume();
    expect(buffer.push(1)).toBe(true);
    expect(buffer.size).toBe(1);
    expect(buffer.paused).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('resolves drain() true once empty, at the drain rate', async () => {
    const { buffer, sent } = make({ eventsPerSecond: 100 });
    await expect(buffer.drain(10)).resolves.toBe(true);
    for (const n of range(1, 50)) buffer.push(n);
    buffer.resume();
    const done = buffer.drain(5000);
    let settled: boolean | undefined;
    void done.then((v) => (settled = v));
    await vi.advanceTimersByTimeAsync(300);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(300);
    expect(settled).toBe(true);
    expect(sent).toHaveLength(50);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves drain() false at the deadline when the buffer is paused', async () => {
    const { buffer } = make();
    buffer.push(1);
    const done = buffer.drain(1000);
    await vi.advanceTimersByTimeAsync(1000);
    await expect(done).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clear(reason) counts every item as dropped; clear() hands them back uncounted', () => {
    const { buffer, drops, levels } = make({ queueSize: 10 });
    for (const n of range(1, 10)) buffer.push(n);
    expect(buffer.clear('cleared')).toEqual(range(1, 10));
    expect(drops).toHaveLength(10);
    expect(drops.every(([, r]) => r === 'cleared')).toBe(true);
    expect(levels.at(-1)?.[0]).toBe('normal');
    buffer.push(11);
    expect(buffer.clear()).toEqual([11]);
    expect(buffer.stats()).toMatchObject({ queued: 0, accepted: 11, dropped: 10, highWater: 10 });
  });

  it('teardown clears timers, settles drains, and is idempotent; resume after it does nothing', async () => {
    const { buffer, sent } = make();
    for (const n of range(1, 100)) buffer.push(n);
    buffer.resume();
    const done = buffer.drain(60_000);
    expect(vi.getTimerCount()).toBe(2);
    buffer.teardown();
    buffer.teardown();
    expect(vi.getTimerCount()).toBe(0);
    await expect(done).resolves.toBe(false);
    buffer.resume();
    vi.advanceTimersByTime(10_000);
    const count = sent.length;
    expect(count).toBeLessThan(100);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds and drains 100 000 items in order without losing any', () => {
    const { buffer, sent } = make({ queueSize: 100_000, eventsPerSecond: 1000 });
    for (const n of range(1, 100_000)) buffer.push(n);
    expect(buffer.push(0)).toBe(false);
    buffer.resume();
    vi.advanceTimersByTime(101_000);
    expect(sent.length).toBe(100_000);
    expect(sent.every((v, k) => v === k + 1)).toBe(true);
    expect(buffer.stats()).toMatchObject({ highWater: 100_000, sent: 100_000, dropped: 1 });
  });

  describe('disabled', () => {
    it('sends at once with no rate limit and no timer', () => {
      const { buffer, sent, levels } = make({ disabled: true, queueSize: 10 });
      buffer.resume();
      for (const n of range(1, 500)) buffer.push(n);
      expect(sent).toEqual(range(1, 500));
      expect(vi.getTimerCount()).toBe(0);
      expect(levels).toEqual([]);
    });

    it('queues while the sink cannot send, up to queueSize, and delivers in order on resume', () => {
      const { buffer, sent, sink, drops, levels } = make({ disabled: true, queueSize: 5 });
      let up = false;
      sink.accept = () => up;
      buffer.resume();
      for (const n of range(1, 7)) buffer.push(n);
      expect(sent).toEqual([]);
      expect(buffer.size).toBe(5);
      expect(drops).toEqual([[6, 'full'], [7, 'full']]);
      up = true;
      buffer.resume();
      expect(sent).toEqual(range(1, 5));
      expect(levels).toEqual([]);
    });
  });

  it('rejects impossible options with ERR_CONFIG naming the option', () => {
    const send = () => true;
    expect(() => new ClientBuffer(options({ queueSize: 0 }), { send })).toThrow(/buffer\.queueSize/);
    expect(() => new ClientBuffer(options({ eventsPerSecond: 0 }), { send })).toThrow(ConfigError);
    expect(() => new ClientBuffer(options({ tolerance: -1 }), { send })).toThrow(/tolerance/);
    expect(() => new ClientBuffer({ ...options(), overflow: 'nope' as never }, { send })).toThrow(/overflow/);
    expect(() => new ClientBuffer(options({ warnLevel: 50, normalLevel: 60 }), { send })).toThrow(/normalLevel/);
  });
});
