import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../../src/testing/async-queue.js';
import { defaultFaults, mergeFaults, selects } from '../../../src/testing/faults.js';

describe('faults', () => {
  it('start with everything off, counter checks following the option', () => {
    const f = defaultFaults();
    expect(f).toMatchObject({ refuseConnections: false, blackhole: false, withholdAcks: false, ackDelayMs: 0, closeAfterMessages: 0, corruptFrames: false, verifyCounters: false, versionError: false });
    expect(f.rejectKeys.size).toBe(0);
    expect(defaultFaults(true).verifyCounters).toBe(true);
  });

  it('merge only the given fields and turn id arrays into sets', () => {
    const f = mergeFaults(defaultFaults(), { withholdAcks: ['001', '002'], ackDelayMs: 25.7, rejectKeys: ['009'] });
    expect(f.withholdAcks).toEqual(new Set(['001', '002']));
    expect(f.ackDelayMs).toBe(25);
    expect(f.rejectKeys.has('009')).toBe(true);
    expect(f.blackhole).toBe(false);
    const g = mergeFaults(f, { ackDelayMs: -5, closeAfterMessages: Number.NaN, versionError: 'nope' });
    expect(g.ackDelayMs).toBe(0);
    expect(g.closeAfterMessages).toBe(0);
    expect(g.versionError).toBe('nope');
    expect(g.withholdAcks).toBe(f.withholdAcks);
  });

  it('select every agent with true, none with false, the listed ones with a set, all with a message string', () => {
    expect(selects(true, '001')).toBe(true);
    expect(selects(false, '001')).toBe(false);
    expect(selects(new Set(['001']), '001')).toBe(true);
    expect(selects(new Set(['001']), '002')).toBe(false);
    expect(selects(new Set(['001']), undefined)).toBe(false);
    expect(selects('custom message', '002')).toBe(true);
  });
});

describe('AsyncQueue', () => {
  it('hands pushed values to waiting and later readers in order, then ends', async () => {
    const q = new AsyncQueue<number>(10);
    const first = q.next();
    q.push(1);
    q.push(2);
    q.push(3);
    expect(await first).toEqual({ value: 1, done: false });
    q.end();
    q.push(4);
    const rest: number[] = [];
    for await (const v of q) rest.push(v);
    expect(rest).toEqual([2, 3]);
  });

  it('drops the oldest values beyond its limit and counts them', async () => {
    const q = new AsyncQueue<number>(3);
    for (let i = 0; i < 5; i++) q.push(i);
    expect(q.dropped).toBe(2);
    expect(q.size).toBe(3);
    expect((await q.next()).value).toBe(2);
  });

  it('calls its return hook once on break', async () => {
    let returned = 0;
    const q = new AsyncQueue<number>(5, () => returned++);
    q.push(1);
    q.push(2);
    for await (const v of q) {
      expect(v).toBe(1);
      break;
    }
    q.end();
    expect(returned).toBe(1);
    expect((await q.next()).done).toBe(true);
  });
});
