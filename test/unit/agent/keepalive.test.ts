import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock, ConfigError } from '../../../src/index.js';
import type { Clock } from '../../../src/index.js';
import { Keepalive } from '../../../src/agent/keepalive.js';
import type { KeepaliveOwner } from '../../../src/agent/keepalive.js';

const NOTIFY = 20_000;
const RECONNECT = 60_000;

function recorder(): KeepaliveOwner & { sentAt: number[]; silent: Array<[number, number]> } {
  const start = Date.now();
  const o = {
    sentAt: [] as number[],
    silent: [] as Array<[number, number]>,
    sendKeepalive: () => {
      o.sentAt.push(Date.now() - start);
    },
    onServerSilent: (ms: number) => {
      o.silent.push([Date.now() - start, ms]);
    },
  };
  return o;
}

describe('Keepalive', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first keepalive at once, then one every notifyTime over 10 periods', () => {
    const owner = recorder();
    const ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT, clock: systemClock });
    ka.start();
    expect(owner.sentAt).toEqual([0]);
    expect(ka.running).toBe(true);
    // keep the server talking so the silence watch does not stop the cadence
    for (let k = 1; k <= 10; k++) {
      vi.advanceTimersByTime(NOTIFY - 1);
      expect(owner.sentAt).toHaveLength(k);
      vi.advanceTimersByTime(1);
      ka.touch();
    }
    expect(owner.sentAt).toEqual(Array.from({ length: 11 }, (_, k) => k * NOTIFY));
    expect(owner.silent).toEqual([]);
    ka.stop();
  });

  it('reports a silent server once at timeReconnect and stops itself, leaving no timers', () => {
    const owner = recorder();
    const ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    vi.advanceTimersByTime(RECONNECT - 1);
    expect(owner.silent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(owner.silent).toEqual([[RECONNECT, RECONNECT]]);
    expect(ka.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    const sent = owner.sentAt.length;
    vi.advanceTimersByTime(10 * RECONNECT);
    expect(owner.silent).toHaveLength(1);
    expect(owner.sentAt).toHaveLength(sent);
  });

  it('tells the owner when each keepalive was due, not when its late timer ran', () => {
    // a clock whose timers run only when the test says, after the time it chooses (an event loop running late)
    let mono = 1000;
    const timers: (() => void)[] = [];
    const clock: Clock = {
      now: () => mono,
      monotonic: () => mono,
      setTimeout: (fn) => {
        timers.push(fn);
        return timers.length;
      },
      clearTimeout: () => undefined,
    };
    const due: number[] = [];
    const ka = new Keepalive({ sendKeepalive: (d) => due.push(d), onServerSilent: () => undefined }, { notifyTime: NOTIFY, timeReconnect: RECONNECT, clock });
    ka.start();
    expect(due).toEqual([1000]); // the first keepalive leaves at once
    mono += NOTIFY + 300; // the timer runs 300 ms late
    timers[1]!(); // [0] is the silence watch, [1] the keepalive timer
    expect(due).toEqual([1000, 1000 + NOTIFY]);
    ka.stop();
  });

  it('never reports a server that answers every keepalive', () => {
    let ka: Keepalive | undefined;
    const owner = recorder();
    const send = owner.sendKeepalive;
    owner.sendKeepalive = (dueAt) => {
      send(dueAt);
      ka!.touch(); // the manager ACKs every keepalive (protocol.md 5.5)
    };
    ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    vi.advanceTimersByTime(10 * NOTIFY);
    vi.advanceTimersByTime(100 * NOTIFY);
    expect(owner.silent).toEqual([]);
    expect(owner.sentAt).toHaveLength(111);
    ka.stop();
  });

  it('measures silence from the last touch, re-arming lazily for the remainder', () => {
    const owner = recorder();
    const ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    vi.advanceTimersByTime(50_000);
    ka.touch();
    vi.advanceTimersByTime(59_999);
    expect(owner.silent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(owner.silent).toEqual([[110_000, RECONNECT]]);
  });

  it('does no timer work on touch()', () => {
    const ka = new Keepalive(recorder(), { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    expect(vi.getTimerCount()).toBe(2);
    const setSpy = vi.spyOn(globalThis, 'setTimeout');
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout');
    for (let k = 0; k < 1000; k++) ka.touch();
    expect(setSpy).not.toHaveBeenCalled();
    expect(clearSpy).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(2);
    expect(ka.lastContact).toBe(performance.now());
    ka.stop();
  });

  it('leaves no timers after stop(), which is idempotent', () => {
    const ka = new Keepalive(recorder(), { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    ka.stop();
    expect(vi.getTimerCount()).toBe(0);
    ka.stop();
    expect(ka.running).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('restarts cleanly when start() is called twice, with one timer pair', () => {
    const owner = recorder();
    const ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    vi.advanceTimersByTime(5_000);
    ka.start();
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(NOTIFY);
    expect(owner.sentAt).toEqual([0, 5_000, 25_000]);
    ka.stop();
  });

  it('leaves no timers when the owner stops it from inside sendKeepalive', () => {
    let ka: Keepalive | undefined;
    const owner: KeepaliveOwner = { sendKeepalive: () => ka!.stop(), onServerSilent: () => undefined };
    ka = new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: RECONNECT });
    ka.start();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('unrefs its timers and goes through the injected clock', () => {
    const unref = vi.fn();
    let now = 0;
    const pending: Array<{ fn: () => void; at: number }> = [];
    const clock: Clock = {
      now: () => now,
      monotonic: () => now,
      setTimeout: (fn, ms) => {
        pending.push({ fn, at: now + ms });
        return { unref };
      },
      clearTimeout: () => undefined,
    };
    const ka = new Keepalive(recorder(), { notifyTime: NOTIFY, timeReconnect: RECONNECT, clock });
    ka.start();
    expect(pending.map((p) => p.at).sort((a, b) => a - b)).toEqual([NOTIFY, RECONNECT]);
    expect(unref).toHaveBeenCalledTimes(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects a zero, negative or non-finite period with ERR_CONFIG naming the option', () => {
    const owner = recorder();
    expect(() => new Keepalive(owner, { notifyTime: 0, timeReconnect: RECONNECT })).toThrow(/notifyTime/);
    expect(() => new Keepalive(owner, { notifyTime: NOTIFY, timeReconnect: Number.NaN })).toThrow(ConfigError);
    expect(() => new Keepalive(owner, { notifyTime: -1, timeReconnect: RECONNECT })).toThrow(ConfigError);
  });
});
