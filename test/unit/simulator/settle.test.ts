/**
 * Settle and count: the wait that `simulate`, the soak and the herd share ends when a reading has
 * been at rest for the quiet time, at once when it is enough, or at the deadline; the accounting
 * they share balances generated against received + dropped + lost and flags loss beyond an agent's
 * own unconfirmed count.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { accountEvents, settle } from 'agentlink/simulator';
import { eventIdentityProblems } from '../../../src/simulator/settle.js';

describe('settle()', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('ends once the reading has been steady for the quiet time, and says since when', async () => {
    const readings = [3, 5, 9, 9, 9, 9, 9, 9, 9];
    let i = 0;
    const p = settle({ read: () => readings[Math.min(i++, readings.length - 1)]!, steady: (v, prev) => v === prev, quietMs: 200, timeoutMs: 5000, pollMs: 100 });
    await vi.advanceTimersByTimeAsync(1000);
    // 9 first read at 200 ms, the same again at 300 ms: steady from 300, quiet until 500
    await expect(p).resolves.toEqual({ value: 9, settled: true, afterMs: 300 });
  });

  test('a break in the quiet starts it over', async () => {
    const readings = [1, 1, 2, 2, 2, 2];
    let i = 0;
    const p = settle({ read: () => readings[Math.min(i++, readings.length - 1)]!, steady: (v) => v === 2 || v === 1, quietMs: 250, timeoutMs: 5000, pollMs: 100 });
    await vi.advanceTimersByTimeAsync(1000);
    await expect(p).resolves.toMatchObject({ settled: true, afterMs: 0 });
    let j = 0;
    const flaky = [true, false, true, true, true, true];
    const q = settle({ read: () => flaky[Math.min(j++, flaky.length - 1)]!, steady: (v) => v, quietMs: 250, timeoutMs: 5000, pollMs: 100 });
    await vi.advanceTimersByTimeAsync(1000);
    await expect(q).resolves.toMatchObject({ settled: true, afterMs: 200 });
  });

  test('a reading that is enough ends the wait at once', async () => {
    let n = 0;
    const p = settle({ read: () => (n += 10), enough: (v) => v >= 30, steady: () => false, quietMs: 10_000, timeoutMs: 60_000, pollMs: 50 });
    await vi.advanceTimersByTimeAsync(100);
    await expect(p).resolves.toEqual({ value: 30, settled: true, afterMs: 100 });
  });

  test('gives up at the deadline with the last reading', async () => {
    let n = 0;
    const p = settle({ read: () => n++, steady: () => false, timeoutMs: 1000, pollMs: 100 });
    await vi.advanceTimersByTimeAsync(2000);
    await expect(p).resolves.toEqual({ value: 10, settled: false, afterMs: null });
  });
});

describe('accountEvents()', () => {
  test('sums the rows and balances generated = received + dropped + lost', () => {
    const a = accountEvents([
      { generated: 100, written: 95, dropped: 5, unconfirmed: 4, received: 92 },
      { generated: 50, written: 50, dropped: 0, unconfirmed: 0, received: 50 },
    ]);
    expect(a).toEqual({ generated: 150, written: 145, dropped: 5, unconfirmed: 4, received: 142, lost: 3, balanced: true, unexplained: 0, rowsUnexplained: 0 });
  });

  test('loss beyond an agent’s own unconfirmed count is unexplained even when the totals would cover it', () => {
    const a = accountEvents([
      { generated: 10, written: 10, dropped: 0, unconfirmed: 0, received: 8 },
      { generated: 10, written: 10, dropped: 0, unconfirmed: 5, received: 10 },
    ]);
    expect(a).toMatchObject({ lost: 2, unconfirmed: 5, balanced: true, unexplained: 2, rowsUnexplained: 1 });
  });

  test('more received than written, and generated ≠ written + dropped, are unexplained', () => {
    expect(accountEvents([{ generated: 10, written: 10, dropped: 0, unconfirmed: 0, received: 11 }])).toMatchObject({ lost: -1, unexplained: 1, rowsUnexplained: 1 });
    expect(accountEvents([{ generated: 12, written: 10, dropped: 0, unconfirmed: 0, received: 10 }])).toMatchObject({ balanced: false, unexplained: 2, rowsUnexplained: 1 });
  });
});

describe('eventIdentityProblems()', () => {
  const ok = { eventsGenerated: 100, eventsAccepted: 90, eventsRefused: 10, eventsWritten: 80, eventsEvicted: 2, eventsCleared: 7, eventsUnwritable: 1, eventsDropped: 20 };

  test('counts that add up are no problem', () => {
    expect(eventIdentityProblems(ok)).toEqual([]);
  });

  test('each identity that does not hold is one line naming the counts', () => {
    expect(eventIdentityProblems({ ...ok, eventsAccepted: 91 })).toEqual([
      'event accounting error: 100 events were generated but the agents accepted 91 and refused 10 (101); generated = accepted + refused does not hold',
      'event accounting error: the agents accepted 91 events but account for 90 (written 80 + evicted 2 + cleared 7 + unwritable 1); accepted = written + evicted + cleared + unwritable does not hold',
    ]);
    expect(eventIdentityProblems({ ...ok, eventsWritten: 79 })).toHaveLength(1);
    expect(eventIdentityProblems({ ...ok, eventsDropped: 19 })).toEqual(['event accounting error: 19 events dropped but the reasons add up to 20 (refused + evicted + cleared + unwritable)']);
  });
});
